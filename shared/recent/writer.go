package recent

import (
	"context"
	"errors"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/herokuevents/herokuevents/shared/event"
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
	store   Store
	o       WriterOptions
	ch      chan item
	done    chan struct{}
	closed  atomic.Bool
	dropped atomic.Int64
	failed  atomic.Int64
	once    sync.Once
	mu      sync.RWMutex // Keep holds it shared, Close exclusively: no send on a closed channel
}

// item is an entry to write, or a flush marker (flushed != nil).
type item struct {
	entry   Entry
	flushed chan struct{}
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
	w := &Writer{store: s, o: o, ch: make(chan item, o.Buffer), done: make(chan struct{})}
	go w.run()
	return w
}

// Keep implements Keeper: it never blocks. An event that finds the buffer
// full, or the Writer closed, is not kept (Dropped counts it).
func (w *Writer) Keep(tenant, subscription string, ev event.Event) {
	w.mu.RLock()
	defer w.mu.RUnlock()
	if w.closed.Load() {
		w.dropped.Add(1)
		return
	}
	select {
	case w.ch <- item{entry: Entry{Tenant: tenant, Subscription: subscription, Event: ev, Kept: w.o.Now().UTC()}}:
	default:
		w.dropped.Add(1)
	}
}

// Dropped returns how many events Keep dropped because the buffer was full
// or the Writer closed.
func (w *Writer) Dropped() int64 { return w.dropped.Load() }

// Failed returns how many entries were lost to failed writes.
func (w *Writer) Failed() int64 { return w.failed.Load() }

// Flush waits until every event kept before the call has been written (or
// its write has failed), or ctx ends.
func (w *Writer) Flush(ctx context.Context) error {
	done := make(chan struct{})
	w.mu.RLock()
	if w.closed.Load() {
		w.mu.RUnlock()
		return nil
	}
	select {
	case w.ch <- item{flushed: done}:
		w.mu.RUnlock()
	case <-ctx.Done():
		w.mu.RUnlock()
		return ctx.Err()
	}
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Close writes what is buffered and stops the Writer, waiting at most
// until ctx ends. Keep after Close drops.
func (w *Writer) Close(ctx context.Context) error {
	w.once.Do(func() {
		w.mu.Lock()
		w.closed.Store(true)
		close(w.ch)
		w.mu.Unlock()
	})
	select {
	case <-w.done:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

func (w *Writer) run() {
	defer close(w.done)
	batch := make([]Entry, 0, w.o.Batch)
	var flushes []chan struct{}
	limit := w.o.Batch // what one write gathers
	if w.o.Linger > 0 || w.o.PerSubscription > 0 {
		limit = max(limit, cap(w.ch))
	}
	for {
		it, ok := <-w.ch
		if !ok {
			w.write(batch)
			return
		}
		w.add(&batch, &flushes, it)
		var linger <-chan time.Time
		var timer *time.Timer
		if w.o.Linger > 0 && len(flushes) == 0 {
			timer = time.NewTimer(w.o.Linger)
			linger = timer.C
		}
		// Gather what is waiting (or comes within Linger), up to limit.
	gather:
		for len(batch) < limit && len(flushes) == 0 {
			if linger == nil {
				select {
				case it, ok := <-w.ch:
					if !ok {
						w.write(batch)
						release(flushes)
						return
					}
					w.add(&batch, &flushes, it)
					continue
				default:
					break gather
				}
			}
			select {
			case it, ok := <-w.ch:
				if !ok {
					w.write(batch)
					release(flushes)
					return
				}
				w.add(&batch, &flushes, it)
			case <-linger:
				break gather
			}
		}
		if timer != nil {
			timer.Stop()
		}
		w.write(batch)
		batch = batch[:0]
		release(flushes)
		flushes = flushes[:0]
	}
}

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

func (w *Writer) add(batch *[]Entry, flushes *[]chan struct{}, it item) {
	if it.flushed != nil {
		*flushes = append(*flushes, it.flushed)
		return
	}
	*batch = append(*batch, it.entry)
}

func release(flushes []chan struct{}) {
	for _, f := range flushes {
		close(f)
	}
}

// write writes the latest of batch in writes of at most Batch entries.
func (w *Writer) write(batch []Entry) {
	batch = w.latest(batch)
	for len(batch) > w.o.Batch {
		w.writeOne(batch[:w.o.Batch])
		batch = batch[w.o.Batch:]
	}
	w.writeOne(batch)
}

func (w *Writer) writeOne(batch []Entry) {
	if len(batch) == 0 {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), w.o.WriteTimeout)
	defer cancel()
	start := time.Now()
	if err := w.store.Keep(ctx, batch...); err != nil {
		w.failed.Add(int64(len(batch)))
		w.o.Logger.Warn("keep recent events failed: they are not kept for streams:test",
			"count", len(batch), "duration_ms", time.Since(start).Milliseconds(), "err", err)
	}
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
