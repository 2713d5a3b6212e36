package deliver

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"sync"
	"time"

	"github.com/herokuevents/herokuevents/shared/config"
	"github.com/herokuevents/herokuevents/shared/event"
	"github.com/herokuevents/herokuevents/shared/platform"
	"github.com/herokuevents/herokuevents/shared/queue"
	"github.com/herokuevents/herokuevents/shared/sink"
)

// Batched delivery. A publication with a batch size (platform.Batching)
// whose publisher is a platform.BatchPublisher gets its events in requests
// of up to that many: each delivery, once it passed the gate (pause, rate),
// joins the open batch of its publication in this process, gathered
// across all concurrent HandleBatch calls, and waits there un-acknowledged
// (well within the queue's visibility timeout) until the batch is sent:
// when it is full, when the next event would take it past
// platform.MaxBatchBytes, when its window has passed since its first event
// or, with Options.Solo, as soon as every message in hand waits in a batch.
// Its events go in queue order (the time each message was queued, then the
// queue's own order of ids), so a lane's order is kept.
//
// The request's outcome is every member's: 2xx delivers them all; a
// failure fails them all, each then following the delivery contract as a
// single delivery does (retry, disable on 410, dead letter with its own
// event). A retried batch stays together: its events are re-queued with one
// delay, the backoff ceiling after the attempts of its most-tried event (at
// least the endpoint's Retry-After, no jitter), so that they come back at
// the same time and are sent together again; each keeps its own attempt
// count and retry horizon.
//
// On AWS one invocation sees only its own messages (the event source
// mapping's BatchSize, 10): a request holds at most those, and the deliver
// function sets Solo so that it does not wait out the window for events
// that cannot come.

// batcher holds the open batches of a Handler.
type batcher struct {
	mu     sync.Mutex
	open   map[string]*batch // by tenant and publication id
	arrive uint64            // arrival counter of members
	// Solo's bookkeeping: messages handed to HandleBatch and not done, and
	// of them those waiting in open batches.
	inflight, waiting int
}

// batch is the events of one publication gathered for one request.
type batch struct {
	key     string
	tenant  string
	pub     config.Publication
	p       platform.BatchPublisher
	size    int
	bytes   int
	members []*member
	timer   *time.Timer
	taken   bool          // out of open, being sent: no member leaves now
	done    chan struct{} // closed when the request returned
	// The request's outcome, set before done is closed.
	start time.Time
	took  time.Duration
	seen  sink.Observed
}

// member is one delivery of a batch.
type member struct {
	ctx    context.Context
	d      event.Delivery
	sentAt time.Time
	id     int64 // the message id when numeric (the embedded queue's order), else -1
	arrive uint64
	err    error // its outcome, set before done is closed
}

// enter counts n messages handed to HandleBatch; leave is called once for
// each when it is done.
func (b *batcher) enter(n int) {
	b.mu.Lock()
	b.inflight += n
	b.mu.Unlock()
}

func (h *Handler) leave() {
	b := &h.batches
	b.mu.Lock()
	b.inflight--
	taken := h.soloLocked()
	b.mu.Unlock()
	h.sendAll(taken)
}

// send makes the attempt of d: alone (publish), or in its publication's
// batch when the publication is batched and its publisher can. It returns
// when the attempt began and how long it took, and its outcome; at gets
// what the endpoint answered.
func (h *Handler) send(ctx context.Context, at *attempt, m queue.Message, p Publisher, d event.Delivery, pub config.Publication) (time.Time, time.Duration, error) {
	bp, ok := p.(platform.BatchPublisher)
	size, window := platform.Batching(pub)
	if !ok || size == 0 {
		start := h.now()
		perr := h.publish(at.observe(ctx), p, d, pub)
		return start, h.now().Sub(start), perr
	}
	mb := &member{ctx: ctx, d: d, sentAt: m.SentAt, id: -1}
	if n, err := strconv.ParseInt(m.ID, 10, 64); err == nil {
		mb.id = n
	}
	bt := h.join(mb, len(m.Body), bp, d.Tenant, pub, size, window)
	select {
	case <-bt.done:
	case <-ctx.Done():
		if h.quit(bt, mb) {
			return h.now(), 0, fmt.Errorf("wait for the batch of publication %s: %w", pub.Name, ctx.Err())
		}
		<-bt.done // being sent: its outcome is this message's
	}
	seen := bt.seen
	at.seen = &seen
	return bt.start, bt.took, mb.err
}

// join adds mb (about n bytes) to the open batch of its publication,
// opening one (and sending the one it would overflow) as needed, and
// returns it.
func (h *Handler) join(mb *member, n int, bp platform.BatchPublisher, tenant string, pub config.Publication, size int, window time.Duration) *batch {
	b := &h.batches
	var send []*batch
	b.mu.Lock()
	if b.open == nil {
		b.open = map[string]*batch{}
	}
	key := tenant + "/" + pub.ID
	bt := b.open[key]
	if bt != nil && len(bt.members) > 0 && bt.bytes+n > platform.MaxBatchBytes {
		send = append(send, b.takeLocked(bt))
		bt = nil
	}
	if bt == nil {
		bt = &batch{key: key, tenant: tenant, pub: pub, p: bp, size: size, done: make(chan struct{})}
		b.open[key] = bt
		bt.timer = time.AfterFunc(window, func() { h.expire(bt) })
	}
	b.arrive++
	mb.arrive = b.arrive
	bt.members = append(bt.members, mb)
	bt.bytes += n
	b.waiting++
	if len(bt.members) >= bt.size {
		send = append(send, b.takeLocked(bt))
	}
	send = append(send, h.soloLocked()...)
	b.mu.Unlock()
	h.sendAll(send)
	return bt
}

// expire sends bt once its window has passed, unless it was sent already.
func (h *Handler) expire(bt *batch) {
	b := &h.batches
	b.mu.Lock()
	var send []*batch
	if !bt.taken && len(bt.members) > 0 {
		send = append(send, b.takeLocked(bt))
	}
	b.mu.Unlock()
	h.sendAll(send)
}

// quit takes mb out of bt when bt is not being sent yet (its context ended
// while it waited), and reports whether it did.
func (h *Handler) quit(bt *batch, mb *member) bool {
	b := &h.batches
	b.mu.Lock()
	defer b.mu.Unlock()
	if bt.taken {
		return false
	}
	i := slices.Index(bt.members, mb)
	if i < 0 {
		return false
	}
	bt.members = slices.Delete(bt.members, i, i+1)
	b.waiting--
	if len(bt.members) == 0 {
		bt.timer.Stop()
		bt.taken = true
		delete(b.open, bt.key)
		close(bt.done)
	}
	return true
}

// takeLocked takes bt out of the open batches, to be sent.
func (b *batcher) takeLocked(bt *batch) *batch {
	bt.taken = true
	bt.timer.Stop()
	if b.open[bt.key] == bt {
		delete(b.open, bt.key)
	}
	b.waiting -= len(bt.members)
	return bt
}

// soloLocked takes every open batch when Solo is set and every message in
// hand waits in one: no other event can join them.
func (h *Handler) soloLocked() []*batch {
	b := &h.batches
	if !h.Solo || b.waiting == 0 || b.waiting < b.inflight {
		return nil
	}
	var out []*batch
	for _, bt := range b.open {
		out = append(out, b.takeLocked(bt))
	}
	return out
}

func (h *Handler) sendAll(bts []*batch) {
	for _, bt := range bts {
		go h.sendBatch(bt)
	}
}

// sendBatch sends bt as one request and sets each member's outcome. The
// request runs until the earliest deadline of the members' contexts (and
// the publication's timeout), not cancelled with any one of them.
func (h *Handler) sendBatch(bt *batch) {
	defer close(bt.done)
	ms := bt.members
	slices.SortStableFunc(ms, func(a, b *member) int {
		return cmp.Or(a.sentAt.Compare(b.sentAt), cmp.Compare(a.id, b.id), cmp.Compare(a.arrive, b.arrive))
	})
	evs := make([]event.Event, len(ms))
	var deadline time.Time
	failed := 0 // the attempts of the most-tried event, this one included
	for i, mb := range ms {
		evs[i] = mb.d.Event
		if dl, ok := mb.ctx.Deadline(); ok && (deadline.IsZero() || dl.Before(deadline)) {
			deadline = dl
		}
		failed = max(failed, mb.d.Attempt+1)
	}
	ctx := context.WithoutCancel(ms[0].ctx)
	if !deadline.IsZero() {
		var cancel context.CancelFunc
		ctx, cancel = context.WithDeadline(ctx, deadline)
		defer cancel()
	}
	if bt.pub.Timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, bt.pub.Timeout)
		defer cancel()
	}
	ctx, seen := sink.Observe(ctx)
	bt.start = h.now()
	err := publishBatch(ctx, bt, evs)
	bt.took = h.now().Sub(bt.start)
	bt.seen = *seen
	class, status, after := classify(err)
	if err != nil && class == sink.Retry {
		// One delay for all: they come back together.
		delay := max(h.Backoff.Ceiling(failed), after)
		var se *sink.Error
		r := sink.Result{Class: sink.Retry, Cause: err}
		if errors.As(err, &se) {
			r = se.Result
		}
		r.RetryAfter = delay
		err = &sink.Error{Result: r}
	}
	for _, mb := range ms {
		mb.err = err
	}
	attrs := []any{"tenant", bt.tenant, "publication", bt.pub.ID, "publication_name", bt.pub.Name, "events", len(evs),
		"first_event_id", evs[0].ID, "last_event_id", evs[len(evs)-1].ID, "attempt", failed, "duration", bt.took}
	if err != nil {
		h.logger().WarnContext(ctx, "delivery batch", append(attrs, "status", status, "class", class.String(), "error", err.Error())...)
		return
	}
	h.logger().InfoContext(ctx, "delivery batch", attrs...)
}

// publishBatch calls the publisher, a panic contained as an error.
func publishBatch(ctx context.Context, bt *batch, evs []event.Event) (err error) {
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("deliver batch of publication %s: panic: %v", bt.pub.Name, p)
		}
	}()
	return bt.p.PublishBatch(ctx, bt.tenant, bt.pub, evs)
}
