package deliver

import (
	"cmp"
	"context"
	"time"

	"github.com/herokuevents/herokuevents/shared/config"
	"github.com/herokuevents/herokuevents/shared/event"
	"github.com/herokuevents/herokuevents/shared/journal"
	"github.com/herokuevents/herokuevents/shared/queue"
	"github.com/herokuevents/herokuevents/shared/sink"
)

// attempt is what handle learns of one message, for the journal.
type attempt struct {
	d      *event.Delivery
	pub    config.Publication
	called bool
	start  time.Time
	took   time.Duration
	seen   *sink.Observed
	perr   error
	class  sink.Class
	status int
	next   time.Time // when the retry is scheduled
}

// observe returns ctx under sink.Observe, for the publisher's call.
func (a *attempt) observe(ctx context.Context) context.Context {
	ctx, a.seen = sink.Observe(ctx)
	return ctx
}

// published records that the publisher was called at start, took that
// long and returned perr.
func (a *attempt) published(start time.Time, took time.Duration, perr error) {
	a.called, a.start, a.took, a.perr = true, start, took, perr
	if perr != nil {
		a.class, a.status, _ = classify(perr)
	}
}

// record appends to the journal what became of the message handled with
// result err: an attempt and its outcome once the publisher was called, a
// dead letter when the message was set aside before. Nothing is recorded
// without a journal or for a message that could not be read.
func (h *Handler) record(ctx context.Context, a *attempt, err error) {
	if h.Journal == nil || a.d == nil || a.d.Tenant == "" || a.d.Event.ID == "" {
		return
	}
	e := journal.Entry{Tenant: a.d.Tenant, EventID: a.d.Event.ID, Time: h.now(), Publication: a.d.Publication, PublicationName: a.pub.Name}
	switch {
	case !a.called && queue.IsPermanent(err):
		e.Stage, e.Reason = journal.DeadLettered, err.Error()
	case !a.called:
		return // redelivered by the queue, or held: no attempt was made
	default:
		e.Stage, e.Time = journal.Attempt, a.start
		e.Attempt, e.Latency = a.d.Attempt+1, a.took
		e.FirstTry = cmp.Or(a.d.FirstTry, a.start)
		e.Status = a.status
		if a.seen != nil && a.seen.Seen {
			e.Status, e.Response = a.seen.Result.Status, a.seen.Body
		}
		switch {
		case err == nil && a.perr == nil:
			e.Outcome = journal.Delivered
		case err == nil:
			e.Outcome, e.NextAttempt, e.Error = journal.Retry, a.next, a.perr.Error()
		case queue.IsPermanent(err) && a.class == sink.Gone:
			e.Outcome, e.Error = journal.Disabled, err.Error()
		case queue.IsPermanent(err):
			e.Outcome, e.Error = journal.Dead, err.Error()
		default: // the queue redelivers the message
			e.Outcome, e.Error = journal.Retry, err.Error()
		}
		if a.d.Attempt == 0 {
			ev := a.d.Event
			e.Event = &ev
		}
	}
	_ = h.Journal.Append(ctx, e) // an Async only enqueues; it logs what it drops
}
