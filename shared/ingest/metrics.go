package ingest

import (
	"context"

	"github.com/herokuevents/herokuevents/shared/config"
	"github.com/herokuevents/herokuevents/shared/metric"
)

// countAccepted records an accepted event (Ingested, platform webhook: the
// publish URL) with its tenant and the publication or subscription it was
// posted to.
func (h *Handler) countAccepted(ctx context.Context, rt route) {
	if rt.kind == "publication" {
		h.o.Metrics.Count(ctx, metric.Ingested, 1, metric.DimPlatform, config.PlatformWebhook,
			metric.LabelTenant, rt.tenant, metric.LabelPublication, rt.id)
		return
	}
	h.o.Metrics.Count(ctx, metric.Ingested, 1, metric.DimPlatform, config.PlatformWebhook,
		metric.LabelTenant, rt.tenant, metric.LabelSubscription, rt.id)
}
