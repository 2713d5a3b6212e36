package embedded

import (
	"github.com/herokuevents/herokuevents/shared/api"
	"github.com/herokuevents/herokuevents/shared/config"
	"github.com/herokuevents/herokuevents/shared/metric"
	"github.com/herokuevents/herokuevents/shared/partner"
	"github.com/herokuevents/herokuevents/shared/queue"
	"github.com/herokuevents/herokuevents/shared/secret"
	"github.com/herokuevents/herokuevents/shared/sink"
)

// Queue names of the legacy add-on partner notifications.
const (
	PartnerQueue = "partner"
	PartnerDLQ   = PartnerQueue + "-dlq"
)

// newPartner builds the operator's partner API (/v1/partners, /v1/apps,
// /v1/platform/events) and the partnernotify role consuming the partner
// queue. The delivery Backoff of the options, when set, spaces its retries
// too.
func newPartner(store config.Store, sealer secret.Sealer, egress *sink.Egress, op api.Operator, q queue.Sender, metrics metric.Recorder, o Options) (*partner.Server, *partner.Notifier, error) {
	srv, err := partner.New(partner.Options{
		Store:    store,
		Sealer:   sealer,
		Queue:    q,
		Operator: op,
		URLCheck: egress.CheckURL,
		Logger:   o.Logger,
	})
	if err != nil {
		return nil, nil, err
	}
	n, err := partner.NewNotifier(partner.NotifierOptions{
		Store:   store,
		Sealer:  sealer,
		Client:  egress.Client(o.DeliveryTimeout),
		Requeue: q,
		Backoff: o.Backoff,
		Logger:  o.Logger,
		Metrics: metrics,
	})
	if err != nil {
		return nil, nil, err
	}
	return srv, n, nil
}
