package deliver

import (
	"cmp"
	"context"

	"github.com/herokuevents/herokuevents/shared/metric"
	"github.com/herokuevents/herokuevents/shared/queue"
)

// failure is what the metrics of a failed delivery name: its tenant,
// publication id and platform, as far as they are known when it fails.
type failure struct {
	tenant, publication, platform string
}

// countFailed records a failed attempt (Failed) and, when the failure is
// permanent, its dead letter (DeadLettered), each with its one dimension
// set; a delivery that failed before its publication was read counts under
// platform "unknown".
func (h *Handler) countFailed(ctx context.Context, err error, f failure) {
	platform := cmp.Or(f.platform, "unknown")
	h.metrics().Count(ctx, metric.Failed, 1, metric.DimPlatform, platform,
		metric.LabelTenant, f.tenant, metric.LabelPublication, f.publication)
	if queue.IsPermanent(err) {
		h.metrics().Count(ctx, metric.DeadLettered, 1, metric.DimReason, metric.ReasonPermanent,
			metric.LabelTenant, f.tenant, metric.LabelPublication, f.publication)
	}
}
