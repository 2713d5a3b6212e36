package sqlitequeue

import (
	"context"
	"fmt"
	"log/slog"
	"strconv"
	"sync"
	"time"

	"github.com/herokuevents/herokuevents/shared/queue"
)

// pollInterval bounds how long an idle consumer sleeps without looking at
// the queue; sends in this process wake it at once and it also wakes when
// the next delayed or in-flight message becomes visible.
const pollInterval = 250 * time.Millisecond

// errorBackoff is how long a consumer waits after a failed claim.
const errorBackoff = time.Second

// Consume runs h over the queue the way Lambda's SQS event source mapping
// does, until ctx is done; then it waits for the batches in flight to finish
// and returns nil. It returns an error only for invalid settings.
//
// Up to s.Concurrency batches run at once. A batch gathers up to s.BatchSize
// messages, waiting at most s.BatchWindow after the first one. Each received
// message stays invisible for s.VisibilityTimeout, which is also the
// handler's deadline. After h.HandleBatch, queue.Settle dead-letters to dlq
// what must be, and every message but the returned failures is deleted; the
// failures are received again once their visibility timeout ends. A message
// received more than s.MaxReceives times without being settled (its handler
// outlived its visibility timeout) is dead-lettered without being handled,
// as SQS's redrive policy does; a receive whose handler died with the
// process is given back at the next start (DB.ReleaseInFlight) and does
// not count. Claims go round-robin across tenants and lanes, and a lane
// keeps at most its cap of batches in flight (Lanes).
// A panicking handler fails its whole batch. A handler still running at
// shutdown keeps its deadline (it is not cancelled with ctx).
func (q *Queue) Consume(ctx context.Context, h queue.BatchHandler, s queue.Settings, dlq queue.Sender) error {
	if err := s.Validate(); err != nil {
		return fmt.Errorf("consume %s: %w", q.name, err)
	}
	log := slog.Default().With("queue", q.name)
	lanes := newInFlight(q, s.Concurrency)
	var last idle
	slots := make(chan struct{}, s.Concurrency)
	var wg sync.WaitGroup
	defer wg.Wait()
	for {
		select {
		case slots <- struct{}{}:
		case <-ctx.Done():
			return nil
		}
		batch, in, err := q.gather(ctx, s, lanes, &last)
		if err != nil {
			<-slots
			if ctx.Err() != nil {
				return nil
			}
			log.ErrorContext(ctx, "receive failed", "error", err.Error())
			select {
			case <-time.After(errorBackoff):
			case <-ctx.Done():
				return nil
			}
			continue
		}
		claimed := time.Now()
		lanes.take(in)
		wg.Go(func() {
			defer func() { <-slots }()
			defer lanes.done(in)
			q.handle(context.WithoutCancel(ctx), log, h, s, dlq, batch, claimed)
		})
	}
}

// idle is what a consumer learnt when it last found nothing to claim and
// then was handed all that the sends made visible: as long as the queue
// was not notified since, nothing else has become visible but what
// becomes visible with time, so the next gather need not look before it
// waits again.
type idle struct {
	ok   bool
	gen  uint64 // the queue's notifies when it found nothing
	next int64  // the claim's earliest visibility (unix µs) then
}

// gather claims a batch: returns as soon as it has s.BatchSize messages, or
// s.BatchWindow after the first one arrived, whichever comes first. It
// takes no messages of lanes already at their cap of batches in flight,
// and returns the lanes of the batch. While it has nothing it offers to
// take what the next sends make visible (handoff.go).
func (q *Queue) gather(ctx context.Context, s queue.Settings, lanes *inFlight, last *idle) ([]queue.Message, map[Lane]bool, error) {
	var (
		batch    []queue.Message
		deadline time.Time
		in       = map[Lane]bool{}
		allow    = lanes.allow(in)
		given    handed // by a send while waiting
	)
	timer := time.NewTimer(time.Hour)
	defer timer.Stop()
	for {
		wake, gen := q.waiter()
		var (
			got  []claimed
			next int64
			err  error
		)
		switch {
		case len(given.msgs) > 0:
			got = given.msgs
		case last.ok && gen == last.gen && len(batch) == 0:
			next = last.next // nothing new since it found nothing
		default:
			if got, next, err = q.claim(ctx, s.BatchSize-len(batch), s.VisibilityTimeout, allow, lanes.pure()); err != nil {
				q.giveBack(ctx, batch)
				return nil, nil, err
			}
		}
		if len(given.msgs) > 0 && given.complete {
			// what it had found, and all that came since
		} else {
			last.ok = false
		}
		given = handed{}
		for _, c := range got {
			batch = append(batch, c.msg)
			in[c.lane] = true
		}
		now := time.Now()
		if len(batch) == s.BatchSize {
			return batch, in, nil
		}
		if len(batch) > 0 {
			if deadline.IsZero() {
				deadline = now.Add(s.BatchWindow)
			}
			if !now.Before(deadline) {
				return batch, in, nil
			}
		}
		wait := pollInterval
		if next > 0 {
			wait = min(wait, max(time.UnixMicro(next).Sub(now), time.Millisecond))
		}
		if !deadline.IsZero() {
			wait = min(wait, deadline.Sub(now))
		}
		timer.Reset(wait)
		// With nothing yet, the next sends may hand their messages
		// over instead of waking this to claim them.
		var t *taker
		var offered <-chan handed
		if len(batch) == 0 {
			t = newTaker(s, allow, lanes.pure())
			offered = t.got
			q.offer(t)
		}
		select {
		case given = <-offered:
			t = nil
		case <-wake:
		case <-timer.C:
		case <-ctx.Done():
		}
		if t != nil && !q.withdraw(t) {
			given = <-t.got // reserved by the writer: its answer comes
		}
		if ctx.Err() != nil {
			for _, c := range given.msgs {
				batch = append(batch, c.msg)
			}
			q.giveBack(ctx, batch)
			return nil, nil, ctx.Err()
		}
		if len(given.msgs) > 0 && given.complete && len(batch) == 0 {
			// The handed messages are visible again when their claim
			// ends (should their handler fail): no later than this.
			until := time.Now().Add(s.VisibilityTimeout).UnixMicro()
			if next > 0 {
				until = min(until, next)
			}
			*last = idle{ok: true, gen: gen, next: until}
		}
	}
}

// giveBack makes messages claimed but never handled visible again.
func (q *Queue) giveBack(ctx context.Context, batch []queue.Message) {
	if len(batch) == 0 {
		return
	}
	if err := q.unclaim(context.WithoutCancel(ctx), batch); err != nil {
		slog.Default().ErrorContext(ctx, "give back messages failed; they return after the visibility timeout",
			"queue", q.name, "messages", len(batch), "error", err.Error())
	}
}

// handle runs one batch through the handler and settles it.
func (q *Queue) handle(ctx context.Context, log *slog.Logger, h queue.BatchHandler, s queue.Settings, dlq queue.Sender, batch []queue.Message, claimed time.Time) {
	var live, poison []queue.Message
	var dead queue.BatchResult
	for _, m := range batch {
		if m.Receives > s.MaxReceives {
			poison = append(poison, m)
			dead.Fail(m.ID, fmt.Errorf("received %d times without completing", m.Receives))
			continue
		}
		live = append(live, m)
	}
	done := make([]string, 0, len(batch))
	var failed []string
	later := map[string]comeback{} // failures retried in place (queue.Later, queue.Hold)
	if len(poison) > 0 {
		retry, err := queue.Settle(ctx, poison, dead, s, dlq)
		if err != nil {
			log.ErrorContext(ctx, "dead-letter failed; messages will be received again", "error", err.Error())
		}
		done = append(done, settled(poison, retry)...)
	}
	if len(live) > 0 {
		hctx, cancel := context.WithDeadline(ctx, claimed.Add(s.VisibilityTimeout))
		res := run(hctx, h, live)
		cancel()
		retry, err := queue.Settle(ctx, live, res, s, dlq)
		if err != nil {
			log.ErrorContext(ctx, "dead-letter failed; messages will be received again", "error", err.Error())
		}
		byID := make(map[string]queue.Message, len(live))
		for _, m := range live {
			byID[m.ID] = m
		}
		for _, f := range retry {
			m := byID[f.ID]
			log.InfoContext(ctx, "message failed; will be received again after the visibility timeout",
				"message_id", f.ID,
				"tenant", m.Attributes[queue.AttrTenant],
				"attempt", m.Attributes[queue.AttrAttempt],
				"receives", strconv.Itoa(m.Receives),
				"error", queue.Reason(f.Err))
		}
		done = append(done, settled(live, retry)...)
		for _, f := range retry {
			if d, ok := queue.RetryAfter(f.Err); ok {
				key, _ := queue.HeldFor(f.Err)
				later[f.ID] = comeback{after: d, held: key}
				continue
			}
			failed = append(failed, f.ID)
		}
	}
	if err := q.later(ctx, later); err != nil {
		log.ErrorContext(ctx, "retry in place failed; messages come back after the visibility timeout",
			"messages", len(later), "error", err.Error())
	}
	if err := q.settle(ctx, done, failed); err != nil {
		log.ErrorContext(ctx, "delete handled messages failed; they will be received again",
			"messages", len(done), "error", err.Error())
	}
}

// run calls h, turning a panic into the failure of every message.
func run(ctx context.Context, h queue.BatchHandler, msgs []queue.Message) (res queue.BatchResult) {
	defer func() {
		if p := recover(); p != nil {
			slog.Default().ErrorContext(ctx, "batch handler panicked", "panic", fmt.Sprint(p), "messages", len(msgs))
			res = queue.BatchResult{}
			for _, m := range msgs {
				res.Fail(m.ID, fmt.Errorf("handler panic: %v", p))
			}
		}
	}()
	return h.HandleBatch(ctx, msgs)
}

// settled lists the IDs of msgs not in retry.
func settled(msgs []queue.Message, retry []queue.Failure) []string {
	keep := make(map[string]bool, len(retry))
	for _, f := range retry {
		keep[f.ID] = true
	}
	var out []string
	for _, m := range msgs {
		if !keep[m.ID] {
			out = append(out, m.ID)
		}
	}
	return out
}
