package embedded

import (
	"context"

	"github.com/herokuevents/herokuevents/shared/partner"
)

// Queue names of the legacy add-on partner notifications.
const (
	PartnerQueue = "partner"
	PartnerDLQ   = PartnerQueue + "-dlq"
)

func init() { Register(wirePartner) }

// wirePartner adds the operator's partner API (/v1/partners, /v1/apps,
// /v1/platform/events) and the partnernotify role consuming the partner
// queue with PartnernotifyFunction's numbers from template.yaml. The
// delivery Backoff of the options, when set, spaces its retries too.
func wirePartner(_ context.Context, e *Env) error {
	settings, err := e.Settings("PartnernotifyFunction")
	if err != nil {
		return err
	}
	q, dlq := e.Queues.Queue(PartnerQueue), e.Queues.Queue(PartnerDLQ)
	partner.New(partner.Options{
		Store:    e.Store,
		Sealer:   e.Sealer,
		Queue:    q,
		Operator: e.Operator,
		URLCheck: e.Egress.CheckURL,
		Logger:   e.Logger,
	}).Mount(e.Mux)
	h := &partner.Notifier{
		Store:   e.Store,
		Sealer:  e.Sealer,
		Client:  e.Egress.Client(e.DeliveryTimeout),
		Requeue: q,
		Backoff: e.Backoff,
		Logger:  e.Logger,
	}
	e.Go(func(ctx context.Context) error { return q.Consume(ctx, h, settings, dlq) })
	return nil
}
