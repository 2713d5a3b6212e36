package recent

import (
	"context"
	"errors"
	"log/slog"
	"time"

	"github.com/herokuevents/herokuevents/shared/event"
	"github.com/herokuevents/herokuevents/shared/linger"
	"github.com/herokuevents/herokuevents/shared/queue"
)

// Writer defaults.
const (
	// DefaultBuffer is how many entries wait to be written before Keep
	// starts dropping new ones.
	DefaultBuffer = 4096
	// DefaultBatch is the most entries written by one Store.Keep.
	DefaultBatch = 100
	// DefaultWriteTimeout bounds one Store.Keep.
	DefaultWriteTimeout = 5 * time.Second
)

// WriterOptions configure a Writer.
type WriterOptions struct {
	// Buffer, Batch and WriteTimeout: DefaultBuffer, DefaultBatch and
	// DefaultWriteTimeout when ≤ 0.
	Buffer       int
	Batch        int
	WriteTimeout time.Duration
	// Logger gets one line per failed write; slog.Default when nil.
	Logger *slog.Logger
	// Now stamps Entry.Kept; time.Now when nil.
	Now func() time.Time
	// Linger is how long the writer waits for more entries after the
	// first of a write (a Flush ends it early): fewer, larger writes
	// under load. No wait when ≤ 0.
	Linger time.Duration
	// PerSubscription, when > 0, is how many entries of one subscription
	// the store keeps (Limits.PerSubscription): of what gathered for a
	// write, only that many of the latest of each subscription are
	// written, the older ones being the store's to drop anyway.
	PerSubscription int
}

// Writer keeps events in a Store from one background goroutine: Keep puts
// the event in a bounded buffer and returns at once (dropping it when the
// buffer is full); the goroutine writes what has gathered in batches. A
// failed write is logged and forgotten. Safe for concurrent use.
type Writer struct {
	store Store
	o     WriterOptions
	lw    *linger.Writer[Entry]
}

var _ Keeper = (*Writer)(nil)

// NewWriter starts a Writer on s. Close it to write what is buffered and
// stop; the store stays the caller's.
func NewWriter(s Store, o WriterOptions) *Writer {
	if o.Buffer <= 0 {
		o.Buffer = DefaultBuffer
	}
	if o.Batch <= 0 {
		o.Batch = DefaultBatch
	}
	if o.WriteTimeout <= 0 {
		o.WriteTimeout = DefaultWriteTimeout
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	w := &Writer{store: s, o: o}
	lo := linger.Options[Entry]{Buffer: o.Buffer, Batch: o.Batch, Linger: o.Linger, WriteTimeout: o.WriteTimeout, Logger: o.Logger}
	if o.Linger > 0 || o.PerSubscription > 0 {
		lo.Gather = o.Buffer // one write of what gathered: its latest of each subscription
	}
	if o.PerSubscription > 0 {
		lo.Compact = w.latest
	}
	w.lw = linger.New(w.keep, lo)
	return w
}

// Keep implements Keeper: it never blocks. An event that finds the buffer
// full, or the Writer closed, is not kept (Dropped counts it).
func (w *Writer) Keep(tenant, subscription string, ev event.Event) {
	w.lw.Add(Entry{Tenant: tenant, Subscription: subscription, Event: ev, Kept: w.o.Now().UTC()})
}

// Dropped returns how many events Keep dropped because the buffer was full
// or the Writer closed.
func (w *Writer) Dropped() int64 { return w.lw.Dropped() }

// Failed returns how many entries were lost to failed writes.
func (w *Writer) Failed() int64 { return w.lw.Failed() }

// Flush waits until every event kept before the call has been written (or
// its write has failed), or ctx ends.
func (w *Writer) Flush(ctx context.Context) error { return w.lw.Flush(ctx) }

// Close writes what is buffered and stops the Writer, waiting at most
// until ctx ends. Keep after Close drops.
func (w *Writer) Close(ctx context.Context) error { return w.lw.Close(ctx) }

// latest returns the entries of batch that the store would keep of it:
// the last PerSubscription of each subscription, in their order.
func (w *Writer) latest(batch []Entry) []Entry {
	if w.o.PerSubscription <= 0 || len(batch) <= w.o.PerSubscription {
		return batch
	}
	type key struct{ tenant, subscription string }
	seen := map[key]int{}
	keep := make([]bool, len(batch))
	n := 0
	for i := len(batch) - 1; i >= 0; i-- {
		k := key{batch[i].Tenant, batch[i].Subscription}
		if seen[k] < w.o.PerSubscription {
			seen[k]++
			keep[i] = true
			n++
		}
	}
	if n == len(batch) {
		return batch
	}
	out := make([]Entry, 0, n)
	for i, e := range batch {
		if keep[i] {
			out = append(out, e)
		}
	}
	return out
}

// keep writes one batch, logging a failure (counted by the linger Writer).
func (w *Writer) keep(ctx context.Context, batch []Entry) error {
	start := time.Now()
	err := w.store.Keep(ctx, batch...)
	if err != nil {
		w.o.Logger.Warn("keep recent events failed: they are not kept for streams:test",
			"count", len(batch), "duration_ms", time.Since(start).Milliseconds(), "err", err)
	}
	return err
}

// FlushAfter returns h with a Flush of w after every batch, bounded by
// timeout: the filter function's handler on Lambda, whose process may be
// frozen as soon as a batch returns. A flush that times out or fails
// changes nothing in the batch's result.
func FlushAfter(h queue.BatchHandler, w *Writer, timeout time.Duration) queue.BatchHandler {
	return queue.BatchHandlerFunc(func(ctx context.Context, msgs []queue.Message) queue.BatchResult {
		res := h.HandleBatch(ctx, msgs)
		fctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), timeout)
		defer cancel()
		if err := w.Flush(fctx); err != nil && !errors.Is(err, context.DeadlineExceeded) {
			w.o.Logger.WarnContext(ctx, "flush recent events", "err", err)
		}
		return res
	})
}
