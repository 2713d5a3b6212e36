package embedded

import (
	"context"
	"fmt"
	"strconv"

	"github.com/herokuevents/herokuevents/shared/event"
	"github.com/herokuevents/herokuevents/shared/ingest"
	"github.com/herokuevents/herokuevents/shared/queue"
)

// routeAtIngest is the ingest queue as the publish URL sees it in the
// embedded mode: an event published to a subscription is routed through
// its streams in the publish request itself (the filter's handler, in
// process), so that its deliveries are queued before the 202 and the
// ingest queue's hop (a durable send, a claim, a delete) is skipped.
//
// Every guarantee of the queued path holds: the 202 still follows a
// durable send (of the deliveries); a message the filter fails
// permanently goes to the ingest dead-letter queue with its reason
// (queue.Settle, as the consumer would), and one it fails otherwise (a
// delivery send that failed, no mapping worker) goes to the ingest queue,
// where the filter role retries it as before. The routing does not stop
// when the client hangs up: what it queued stays accepted.
//
// A publish gives the event as well as its message (ingest.RoutedSender):
// the filter routes it without decoding what ingest has just encoded.
type routeAtIngest struct {
	filter   routedHandler
	ingest   queue.Sender
	dlq      queue.Sender
	settings queue.Settings
}

// routedHandler is the filter's handler (filter.Handler).
type routedHandler interface {
	queue.BatchHandler
	HandleRouted(ctx context.Context, msgs []queue.Message, routed []event.Routed) queue.BatchResult
}

func (r routeAtIngest) Send(ctx context.Context, msgs ...queue.Message) error {
	return r.send(ctx, msgs, nil)
}

// SendRouted routes msgs, whose bodies decode to routed.
func (r routeAtIngest) SendRouted(ctx context.Context, routed []event.Routed, msgs []queue.Message) error {
	return r.send(ctx, msgs, routed)
}

// send routes msgs, decoded already when routed is not nil.
func (r routeAtIngest) send(ctx context.Context, msgs []queue.Message, routed []event.Routed) error {
	ctx = context.WithoutCancel(ctx)
	batch := make([]queue.Message, len(msgs))
	for i, m := range msgs {
		m.ID = "publish-" + strconv.Itoa(i)
		batch[i] = m
	}
	var res queue.BatchResult
	if routed != nil {
		res = r.filter.HandleRouted(ctx, batch, routed)
	} else {
		res = r.filter.HandleBatch(ctx, batch)
	}
	if len(res.Failures) == 0 {
		return nil
	}
	retry, err := queue.Settle(ctx, batch, res, r.settings, r.dlq)
	if len(retry) == 0 {
		return err
	}
	failed := map[string]bool{}
	for _, f := range retry {
		failed[f.ID] = true
	}
	var again []queue.Message
	for _, m := range batch {
		if failed[m.ID] {
			m.ID = ""
			again = append(again, m)
		}
	}
	if err := r.ingest.Send(ctx, again...); err != nil {
		return fmt.Errorf("queue events the filter could not route: %w", err)
	}
	return nil
}

var _ ingest.RoutedSender = routeAtIngest{}
