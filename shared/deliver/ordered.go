package deliver

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/herokuevents/herokuevents/shared/backoff"
	"github.com/herokuevents/herokuevents/shared/config"
	"github.com/herokuevents/herokuevents/shared/event"
	"github.com/herokuevents/herokuevents/shared/metric"
	"github.com/herokuevents/herokuevents/shared/queue"
)

// Ordered lanes (config.Order). The deliveries of an ordered publication
// travel in queue groups (event.Delivery.Group: tenant, publication, key):
// the queue hands out a lane's deliveries one at a time, in publish order
// (the embedded mode's SQLite queue, a FIFO queue in AWS). A failed
// delivery is retried in place (queue.Later: the message stays the head of
// its lane and becomes visible again after its backoff) instead of being
// re-sent with a delay, which would put it behind the lane's later
// deliveries; so a failing key holds back its own lane only. Held (paused
// publication) and throttled deliveries wait in place the same way. When
// the retry policy is exhausted the head is dead-lettered and the lane
// moves on, or, with on_failure block, the lane stays blocked: the head is
// retried on the backoff's cap (15 minutes by default) and listed in the
// publication's Blocked lanes (publications:info) until it is delivered.
//
// A lane's attempt count is the message's receive count and its retry
// horizon starts at its first receive (the body of a message retried in
// place does not change). A FIFO batch may hold several deliveries of one
// lane: they are made one after the other, and after a failure the rest of
// the lane's batch is failed without an attempt and made visible at once
// (it still waits behind its head), as Lambda asks of FIFO consumers.

// errBehind fails the deliveries of a lane that follow a failed one in
// the same batch.
var errBehind = errors.New("waits for the failed delivery before it in its ordered lane")

// errWaiting marks an ordered delivery that waits in place without an
// attempt (held or throttled): not a failure to count.
var errWaiting = errors.New("waits in place")

// decisionBlocked is logged when a lane's head outlived its retries and
// its publication keeps the lane blocked.
const decisionBlocked = "blocked"

// byLane splits a batch into its unordered messages and its lanes (the
// messages of each group, in batch order).
func byLane(msgs []queue.Message) (plain []queue.Message, lanes [][]queue.Message) {
	var at map[string]int
	for _, m := range msgs {
		if m.Group == "" {
			plain = append(plain, m)
			continue
		}
		if at == nil {
			at = map[string]int{}
		}
		i, ok := at[m.Group]
		if !ok {
			i = len(lanes)
			at[m.Group] = i
			lanes = append(lanes, nil)
		}
		lanes[i] = append(lanes[i], m)
	}
	return plain, lanes
}

// lane delivers the messages of one lane of a batch one after the other
// (each holding a slot of sem, and counted in flight by the batcher while
// it is made: HandleBatch counts the first) and returns their failures. After a
// failure that keeps the message (not dead-lettered), the rest are failed
// without an attempt and visible at once.
func (h *Handler) lane(ctx context.Context, msgs []queue.Message, sem chan struct{}) []queue.Failure {
	var out []queue.Failure
	stopped := false
	for i, m := range msgs {
		if stopped {
			out = append(out, queue.Failure{ID: m.ID, Err: queue.Later(errBehind, 0)})
			continue
		}
		if i > 0 {
			h.batches.enter(1) // one of the lane is in flight at a time (batch.go counts them)
		}
		sem <- struct{}{}
		err := h.handle(ctx, m)
		<-sem
		h.leave()
		if err != nil {
			out = append(out, queue.Failure{ID: m.ID, Err: err})
			stopped = !queue.IsPermanent(err)
		}
	}
	return out
}

// inPlace sets an ordered delivery's attempts and first try from its
// message: a message retried in place keeps the body it was sent with. A
// delivery of an ordered publication that arrives outside a group (a
// dead letter redriven to the delivery queue: its order is gone) is
// delivered as an unordered one.
func inPlace(d *event.Delivery, m queue.Message) {
	if m.Group == "" {
		d.Ordered = false
	}
	if !d.Ordered {
		return
	}
	d.Attempt = max(d.Attempt, m.Receives-1)
	if !m.FirstReceived.IsZero() {
		d.FirstTry = m.FirstReceived.UTC()
	}
}

// waitInPlace keeps an ordered delivery at the head of its lane for
// delay without an attempt (held, throttled). A delivery held for a
// paused publication (held: its id) is marked with queue.Hold, so that a
// queue that wakes held deliveries on resume (Options.Wake) wakes it too.
func waitInPlace(ctx context.Context, log *slog.Logger, d event.Delivery, delay time.Duration, decision, held string) error {
	log.InfoContext(ctx, "delivery", "decision", decision, "delay", delay, "key", d.Key, "in_place", true)
	err := fmt.Errorf("%s: %w", decision, errWaiting)
	if held != "" {
		return queue.Hold(err, delay, held)
	}
	return queue.Later(err, delay)
}

// retryInPlace is retry for an ordered delivery: the message stays the
// head of its lane and comes back after the backoff; when the retry
// policy is exhausted it is dead-lettered (the lane moves on) or, for a
// publication whose lanes block, kept and the lane listed as blocked.
func (h *Handler) retryInPlace(ctx context.Context, log *slog.Logger, d event.Delivery, rec config.Record[config.Publication], perr error, after time.Duration, at *attempt) error {
	pub := rec.Value
	limits := backoff.Limits{MaxAttempts: pub.Retry.MaxAttempts, Horizon: pub.Retry.Horizon}
	if limits.MaxAttempts <= 0 {
		limits.MaxAttempts = DefaultMaxAttempts
	}
	if limits.Horizon <= 0 {
		limits.Horizon = DefaultHorizon
	}
	next := h.Backoff.Next(limits, backoff.Failure{Attempt: d.Attempt, FirstTry: d.FirstTry, RetryAfter: after}, h.now())
	if next.GiveUp {
		err := fmt.Errorf("%s to publication %s: %w", next.Reason, pub.Name, perr)
		if !pub.Order.Blocks() {
			log.WarnContext(ctx, "delivery", "decision", decisionDeadLetter, "reason", err.Error(), "key", d.Key)
			return queue.Permanent(err)
		}
		if berr := h.block(ctx, d, rec, err); berr != nil {
			log.ErrorContext(ctx, "mark lane blocked", "key", d.Key, "error", berr.Error())
		}
		delay := min(h.Backoff.Delay(next.Attempts), MaxDelay)
		at.next = h.now().Add(delay)
		log.WarnContext(ctx, "delivery", "decision", decisionBlocked, "delay", delay, "key", d.Key, "reason", err.Error())
		return queue.Later(err, delay)
	}
	at.next = h.now().Add(next.Delay)
	log.InfoContext(ctx, "delivery", "decision", decisionRetry, "delay", next.Delay, "key", d.Key, "in_place", true, "reason", perr.Error())
	h.metrics().Count(ctx, metric.Retried, 1, metric.DimPlatform, pub.Platform, metric.LabelTenant, d.Tenant, metric.LabelPublication, d.Publication)
	return queue.Later(fmt.Errorf("deliver event %s: %w", d.Event.ID, perr), next.Delay)
}

// block lists d's lane among the publication's blocked lanes (once; at
// most config.MaxBlocked are listed).
func (h *Handler) block(ctx context.Context, d event.Delivery, rec config.Record[config.Publication], reason error) error {
	for _, b := range rec.Value.Blocked {
		if b.Key == d.Key && b.EventID == d.Event.ID {
			return nil
		}
	}
	_, err := config.Modify(ctx, h.Store, d.Tenant, config.KindPublication, rec.Item.ID, 5, func(r *config.Record[config.Publication]) (bool, error) {
		for i, b := range r.Value.Blocked {
			if b.Key == d.Key {
				if b.EventID == d.Event.ID {
					return false, nil
				}
				r.Value.Blocked[i] = config.BlockedLane{Key: d.Key, EventID: d.Event.ID, Since: h.now().UTC(), Reason: queue.Reason(reason)}
				return true, nil
			}
		}
		if len(r.Value.Blocked) >= config.MaxBlocked {
			return false, nil
		}
		r.Value.Blocked = append(r.Value.Blocked, config.BlockedLane{Key: d.Key, EventID: d.Event.ID, Since: h.now().UTC(), Reason: queue.Reason(reason)})
		return true, nil
	})
	if err != nil && !errors.Is(err, config.ErrNotFound) {
		return fmt.Errorf("block lane of publication %s: %w", rec.Item.ID, err)
	}
	return nil
}

// leftLane takes d's lane off the publication's blocked lanes once its
// head has left it (delivered or dead-lettered).
func (h *Handler) leftLane(ctx context.Context, log *slog.Logger, d event.Delivery, rec config.Record[config.Publication], err error) {
	if !d.Ordered || (err != nil && !queue.IsPermanent(err)) {
		return
	}
	listed := false
	for _, b := range rec.Value.Blocked {
		listed = listed || (b.Key == d.Key && b.EventID == d.Event.ID)
	}
	if !listed {
		return
	}
	_, merr := config.Modify(ctx, h.Store, d.Tenant, config.KindPublication, rec.Item.ID, 5, func(r *config.Record[config.Publication]) (bool, error) {
		for i, b := range r.Value.Blocked {
			if b.Key == d.Key && b.EventID == d.Event.ID {
				r.Value.Blocked = append(r.Value.Blocked[:i:i], r.Value.Blocked[i+1:]...)
				return true, nil
			}
		}
		return false, nil
	})
	if merr != nil && !errors.Is(merr, config.ErrNotFound) {
		log.ErrorContext(ctx, "unblock lane", "key", d.Key, "error", merr.Error())
		return
	}
	log.InfoContext(ctx, "lane unblocked", "key", d.Key)
}
