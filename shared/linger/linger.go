// Package linger writes items from one background goroutine in batches:
// Add puts an item in a bounded buffer and returns at once (dropping it
// when the buffer is full or the Writer closed); the goroutine gathers
// what waits, or comes within Linger, and hands it to a write function in
// batches, each bounded by WriteTimeout. Flush waits for what was added
// before it; Close writes what is buffered and stops.
//
// It is the shape shared by the archive and recent-events writers: the
// caller never waits for a store, and a slow or failing store costs
// dropped or failed items (counted), never a blocked caller.
package linger

import (
	"context"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"
)

// Defaults of Options.
const (
	// DefaultBuffer is how many items wait to be written before Add
	// starts dropping new ones.
	DefaultBuffer = 4096
	// DefaultBatch is the most items handed to one write.
	DefaultBatch = 100
	// DefaultWriteTimeout bounds one write.
	DefaultWriteTimeout = 10 * time.Second
)

// Options configure a Writer.
type Options[T any] struct {
	// Buffer bounds the items waiting to be written (DefaultBuffer when
	// ≤ 0).
	Buffer int
	// Batch bounds one write (DefaultBatch when ≤ 0).
	Batch int
	// Gather bounds what one round gathers before it writes it, in writes
	// of at most Batch (Batch when smaller than Batch).
	Gather int
	// Linger is how long a round waits for more items after its first
	// (Flush, Close or a full Gather end it early). No wait when ≤ 0: a
	// round takes what is already waiting.
	Linger time.Duration
	// WriteTimeout bounds one write (DefaultWriteTimeout when ≤ 0).
	WriteTimeout time.Duration
	// Compact, when set, gets what a round gathered before it is written
	// and returns what to write: it may leave out items that later ones
	// make needless, in order.
	Compact func([]T) []T
	// Logger gets the line about dropped items; slog.Default when nil.
	Logger *slog.Logger
	// Dropped, when set, is the message of a line logged before a round's
	// writes when Add dropped items since the last such line (attributes
	// count and dropped_total). No line when empty.
	Dropped string
}

// Writer hands the items given to Add to its write function from one
// goroutine. Add, Flush, Close, Dropped and Failed are safe for
// concurrent use; write is never called concurrently with itself, and the
// slice it gets is reused once it returns (it must not keep it).
type Writer[T any] struct {
	write   func(context.Context, []T) error
	o       Options[T]
	ch      chan item[T]
	done    chan struct{}
	mu      sync.RWMutex // Add and Flush hold it shared, Close exclusively: no send on a closed channel
	closed  bool
	once    sync.Once
	dropped atomic.Int64
	failed  atomic.Int64
	// reported is the drops already logged (the goroutine's own).
	reported int64
}

// item is an item to write, or a flush marker (flushed != nil).
type item[T any] struct {
	v       T
	flushed chan struct{}
}

// New starts a Writer that hands items to write, with a context bounded
// by WriteTimeout; the items of a write that returns an error are counted
// by Failed (write logs its own failures). Close it to write what is
// buffered.
func New[T any](write func(ctx context.Context, items []T) error, o Options[T]) *Writer[T] {
	if o.Buffer <= 0 {
		o.Buffer = DefaultBuffer
	}
	if o.Batch <= 0 {
		o.Batch = DefaultBatch
	}
	o.Gather = max(o.Gather, o.Batch)
	if o.WriteTimeout <= 0 {
		o.WriteTimeout = DefaultWriteTimeout
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	w := &Writer[T]{write: write, o: o, ch: make(chan item[T], o.Buffer), done: make(chan struct{})}
	go w.run()
	return w
}

// Add puts v in the buffer and returns at once: false, and v counted by
// Dropped, when the buffer is full or the Writer closed.
func (w *Writer[T]) Add(v T) bool {
	w.mu.RLock()
	defer w.mu.RUnlock()
	if !w.closed {
		select {
		case w.ch <- item[T]{v: v}:
			return true
		default:
		}
	}
	w.dropped.Add(1)
	return false
}

// Dropped returns how many items Add dropped (buffer full, or closed).
func (w *Writer[T]) Dropped() int64 { return w.dropped.Load() }

// Failed returns how many items were in writes that returned an error.
func (w *Writer[T]) Failed() int64 { return w.failed.Load() }

// Flush waits until every item added before the call has been written (or
// its write has failed), or ctx ends. After Close it returns nil at once.
func (w *Writer[T]) Flush(ctx context.Context) error {
	done := make(chan struct{})
	w.mu.RLock()
	if w.closed {
		w.mu.RUnlock()
		return nil
	}
	select {
	case w.ch <- item[T]{flushed: done}:
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
// until ctx ends (the writing goes on). Add after Close drops.
func (w *Writer[T]) Close(ctx context.Context) error {
	w.once.Do(func() {
		w.mu.Lock()
		w.closed = true
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

func (w *Writer[T]) run() {
	defer close(w.done)
	batch := make([]T, 0, w.o.Batch)
	var flushes []chan struct{}
	add := func(it item[T]) {
		if it.flushed != nil {
			flushes = append(flushes, it.flushed)
			return
		}
		batch = append(batch, it.v)
	}
	for open := true; open; {
		it, ok := <-w.ch
		if !ok {
			return
		}
		add(it)
		var linger <-chan time.Time
		var timer *time.Timer
		if w.o.Linger > 0 && len(flushes) == 0 {
			timer = time.NewTimer(w.o.Linger)
			linger = timer.C
		}
		// Gather what comes within Linger, then what is already waiting,
		// up to Gather or a flush.
	gather:
		for len(batch) < w.o.Gather && len(flushes) == 0 {
			if linger == nil {
				select {
				case it, ok := <-w.ch:
					if open = ok; !ok {
						break gather
					}
					add(it)
					continue
				default:
					break gather
				}
			}
			select {
			case it, ok := <-w.ch:
				if open = ok; !ok {
					break gather
				}
				add(it)
			case <-linger:
				linger = nil
			}
		}
		if timer != nil {
			timer.Stop()
		}
		w.writeAll(batch)
		clear(batch)
		batch = batch[:0]
		for _, f := range flushes {
			close(f)
		}
		flushes = flushes[:0]
	}
}

// writeAll logs the drops since the last round, then writes what a round
// gathered (compacted) in writes of at most Batch.
func (w *Writer[T]) writeAll(batch []T) {
	if d := w.dropped.Load(); w.o.Dropped != "" && d > w.reported {
		w.o.Logger.Warn(w.o.Dropped, "count", d-w.reported, "dropped_total", d)
		w.reported = d
	}
	if w.o.Compact != nil && len(batch) > 0 {
		batch = w.o.Compact(batch)
	}
	for len(batch) > 0 {
		n := min(len(batch), w.o.Batch)
		w.writeOne(batch[:n])
		batch = batch[n:]
	}
}

func (w *Writer[T]) writeOne(batch []T) {
	ctx, cancel := context.WithTimeout(context.Background(), w.o.WriteTimeout)
	defer cancel()
	if err := w.write(ctx, batch); err != nil {
		w.failed.Add(int64(len(batch)))
	}
}
