package filter

import (
	"cmp"
	"context"

	"github.com/herokuevents/herokuevents/shared/config"
	"github.com/herokuevents/herokuevents/shared/event"
	"github.com/herokuevents/herokuevents/shared/journal"
)

// Reasons a stream did not pass an event on, as the delivery log says.
const (
	reasonDropped   = "the filter dropped it (deleted())"
	reasonNoStreams = "the subscription has no streams"
)

// recorder writes one routed event's decisions to the journal; without a
// journal it does nothing.
type recorder struct {
	h       *Handler
	ctx     context.Context
	r       event.Routed
	subName string
	entries []journal.Entry
}

// record starts the journal of routing r. Events of polled subscriptions
// (generate, salesforce) never went through ingest: their acceptance is
// recorded here, at the event's time.
func (h *Handler) record(ctx context.Context, r event.Routed) *recorder {
	rec := &recorder{h: h, ctx: ctx, r: r}
	if h.o.Journal == nil {
		return rec
	}
	sub, ok := h.subscription(ctx, r.Tenant, r.Subscription)
	if !ok {
		return rec // deleted meanwhile, or unreadable: the routing says what follows
	}
	rec.subName = sub.name
	if via := sub.via; via != "" && r.Replay == nil { // a replay accepts nothing new
		rec.add(journal.Entry{Stage: journal.Accepted, Via: via, Time: cmp.Or(r.Event.Time, h.o.Now())})
	}
	return rec
}

// subInfo is what the journal needs of a subscription; neither changes
// for a subscription id.
type subInfo struct {
	name string
	via  string // how its events come in when not through ingest
}

// subscription returns what the journal needs of a subscription, read
// once per id.
func (h *Handler) subscription(ctx context.Context, tenant, id string) (subInfo, bool) {
	key := tenant + "/" + id
	if v, ok := h.subs.Load(key); ok {
		return v.(subInfo), true
	}
	sub, err := config.Read[config.Subscription](ctx, h.o.Store, tenant, config.KindSubscription, id)
	if err != nil {
		return subInfo{}, false
	}
	info := subInfo{name: sub.Value.Name}
	switch sub.Value.Platform {
	case config.PlatformGenerate:
		info.via = journal.ViaGenerate
	case config.PlatformSalesforce:
		info.via = journal.ViaSalesforce
	}
	h.subs.Store(key, info)
	return info, true
}

func (rec *recorder) add(e journal.Entry) {
	if rec.h.o.Journal == nil {
		return
	}
	e.Tenant, e.EventID = rec.r.Tenant, rec.r.Event.ID
	e.Subscription, e.SubscriptionName = rec.r.Subscription, rec.subName
	if e.Time.IsZero() {
		e.Time = rec.h.o.Now()
	}
	rec.entries = append(rec.entries, e)
}

// routed records that stream s passed the event on.
func (rec *recorder) routed(s config.Stream) {
	rec.add(journal.Entry{Stage: journal.Routed, Publication: s.Publication})
}

// filteredOut records that stream s did not pass the event on, and why.
func (rec *recorder) filteredOut(s config.Stream, why string) {
	rec.add(journal.Entry{Stage: journal.FilteredOut, Publication: s.Publication, Reason: why})
}

// done records the end of routing: no streams, or a dead letter when a
// filter failed; then writes the entries.
func (rec *recorder) done(streams int, err error) {
	switch {
	case streams == 0:
		rec.add(journal.Entry{Stage: journal.FilteredOut, Reason: reasonNoStreams})
	case err != nil:
		rec.add(journal.Entry{Stage: journal.DeadLettered, Reason: err.Error()})
	}
	if len(rec.entries) > 0 {
		_ = rec.h.o.Journal.Append(rec.ctx, rec.entries...) // an Async only enqueues
	}
}

// filterError is the reason of a stream whose filter failed.
func filterError(err error) string { return "the filter failed: " + err.Error() }
