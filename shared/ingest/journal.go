package ingest

import (
	"context"
	"time"

	"github.com/herokuevents/herokuevents/shared/event"
	"github.com/herokuevents/herokuevents/shared/journal"
)

// record appends to the journal that ev was accepted at the publish URL
// for the route's subscription or publication.
func (h *Handler) record(ctx context.Context, rt route, ev event.Event, at time.Time) {
	if h.o.Journal == nil {
		return
	}
	e := journal.Entry{Tenant: rt.tenant, EventID: ev.ID, Time: at, Stage: journal.Accepted, Via: journal.ViaPublish}
	if rt.kind == "publication" {
		e.Publication, e.PublicationName = rt.id, rt.name
	} else {
		e.Subscription, e.SubscriptionName = rt.id, rt.name
	}
	_ = h.o.Journal.Append(ctx, e) // an Async only enqueues
}
