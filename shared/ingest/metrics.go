package ingest

import (
	"context"

	"github.com/herokuevents/herokuevents/shared/config"
	"github.com/herokuevents/herokuevents/shared/metric"
)

// countAccepted records n accepted events (Ingested, platform webhook: the
// publish URL) with its tenant and the publication or subscription it was
// posted to.
func (h *Handler) countAccepted(ctx context.Context, rt route, n int) {
	if n == 0 {
		return
	}
	if rt.kind == "publication" {
		h.o.Metrics.Count(ctx, metric.Ingested, n, metric.DimPlatform, config.PlatformWebhook,
			metric.LabelTenant, rt.tenant, metric.LabelPublication, rt.id)
		return
	}
	h.o.Metrics.Count(ctx, metric.Ingested, n, metric.DimPlatform, config.PlatformWebhook,
		metric.LabelTenant, rt.tenant, metric.LabelSubscription, rt.id)
}
