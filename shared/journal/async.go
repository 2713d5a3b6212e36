package journal

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/herokuevents/herokuevents/shared/queue"
)

// Async defaults.
const (
	// DefaultBuffer is how many entries may wait to be written.
	DefaultBuffer = 20000
	// DefaultBatch is the most entries written by one Append of the
	// underlying Writer.
	DefaultBatch = 500
	// DefaultWriteTimeout bounds one batch write.
	DefaultWriteTimeout = 10 * time.Second
	// DefaultLinger is how long the writer lets entries accumulate before
	// it writes them, unless a batch is full or Flush asks.
	DefaultLinger = 100 * time.Millisecond
	// dropLogEvery spaces the log lines about dropped entries.
	dropLogEvery = time.Minute
)

// AsyncOptions configure an Async.
type AsyncOptions struct {
	// Buffer bounds the entries waiting to be written (DefaultBuffer when
	// ≤ 0). When it is full, Append drops new entries.
	Buffer int
	// Batch bounds one write (DefaultBatch when ≤ 0).
	Batch int
	// WriteTimeout bounds one write (DefaultWriteTimeout when ≤ 0).
	WriteTimeout time.Duration
	// Linger is how long entries may wait for others to share their
	// write (DefaultLinger when 0, none when < 0): one write of many
	// entries costs little more than a write of one.
	Linger time.Duration
	// Logger gets a line per failed write and, at most once a minute, the
	// count of dropped entries; slog.Default when nil.
	Logger *slog.Logger
}

// Async is a Writer whose Append only enqueues: one goroutine writes the
// entries to the underlying Writer in batches of what accumulated during
// the Linger (or a full Batch, or until Flush).
// The journal must never slow or stop delivery, so when the buffer is full
// (the driver is slower than the traffic, or down) Append drops the new
// entries instead of waiting: they are counted (Dropped) and logged at most
// once a minute. Entries whose write fails are counted (Failed) and logged,
// never retried. A process that stops without Close loses what was still
// buffered.
//
// In a Lambda function, call Flush before the invocation returns (see
// FlushBatches and FlushRequests): a frozen function writes nothing.
// Async is safe for concurrent use.
type Async struct {
	w Writer
	o AsyncOptions

	mu       sync.Mutex
	buf      []Entry
	enqueued int64         // entries accepted so far
	settled  int64         // entries written or failed so far
	progress chan struct{} // closed (and replaced) whenever settled grows
	closed   bool

	wake    chan struct{}
	flushes chan struct{} // Flush asks the writer not to linger
	stop    chan struct{}
	done    chan struct{}
	once    sync.Once
	dropped atomic.Int64
	failed  atomic.Int64
	lastLog atomic.Int64 // unix nanos of the last dropped-entries line
}

// NewAsync starts the writer goroutine of w; stop it with Close.
func NewAsync(w Writer, o AsyncOptions) *Async {
	if o.Buffer <= 0 {
		o.Buffer = DefaultBuffer
	}
	if o.Batch <= 0 {
		o.Batch = DefaultBatch
	}
	if o.WriteTimeout <= 0 {
		o.WriteTimeout = DefaultWriteTimeout
	}
	if o.Linger == 0 {
		o.Linger = DefaultLinger
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	a := &Async{
		w: w, o: o,
		progress: make(chan struct{}),
		wake:     make(chan struct{}, 1),
		flushes:  make(chan struct{}, 1),
		stop:     make(chan struct{}),
		done:     make(chan struct{}),
	}
	go a.run()
	return a
}

var _ Writer = (*Async)(nil)

// ErrClosed is returned by Append and Flush after Close.
var ErrClosed = errors.New("journal closed")

// Append enqueues entries (after Clip) and returns at once. Invalid
// entries are left out and reported in the error; entries that do not fit
// the buffer are dropped and counted, without error.
func (a *Async) Append(_ context.Context, entries ...Entry) error {
	var errs []error
	ok := make([]Entry, 0, len(entries))
	for _, e := range entries {
		e = Clip(e)
		if err := e.Check(); err != nil {
			errs = append(errs, err)
			continue
		}
		ok = append(ok, e)
	}
	a.mu.Lock()
	if a.closed {
		a.mu.Unlock()
		a.drop(len(ok))
		return ErrClosed
	}
	room := a.o.Buffer - len(a.buf)
	n := min(room, len(ok))
	a.buf = append(a.buf, ok[:n]...)
	a.enqueued += int64(n)
	a.mu.Unlock()
	a.drop(len(ok) - n)
	if n > 0 {
		select {
		case a.wake <- struct{}{}:
		default:
		}
	}
	return errors.Join(errs...)
}

// drop counts n dropped entries and logs, at most once a minute.
func (a *Async) drop(n int) {
	if n <= 0 {
		return
	}
	total := a.dropped.Add(int64(n))
	now := time.Now().UnixNano()
	last := a.lastLog.Load()
	if now-last >= int64(dropLogEvery) && a.lastLog.CompareAndSwap(last, now) {
		a.o.Logger.Warn("journal entries dropped: the delivery log is behind", "dropped", n, "dropped_total", total, "buffer", a.o.Buffer)
	}
}

// Dropped is how many entries were dropped because the buffer was full or
// the Async closed.
func (a *Async) Dropped() int64 { return a.dropped.Load() }

// Failed is how many entries the underlying Writer failed to write.
func (a *Async) Failed() int64 { return a.failed.Load() }

// Flush waits until every entry enqueued before the call is written (or
// has failed to be), or ctx ends.
func (a *Async) Flush(ctx context.Context) error {
	a.mu.Lock()
	target := a.enqueued
	a.mu.Unlock()
	select {
	case a.flushes <- struct{}{}:
	default:
	}
	for {
		a.mu.Lock()
		if a.settled >= target {
			a.mu.Unlock()
			return nil
		}
		ch := a.progress
		a.mu.Unlock()
		select {
		case <-ch:
		case <-a.done:
			return ErrClosed
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

// Close writes what is buffered, then stops the writer. Entries appended
// afterwards are dropped. It does not close the underlying Writer.
func (a *Async) Close() error {
	a.once.Do(func() {
		a.mu.Lock()
		a.closed = true
		a.mu.Unlock()
		close(a.stop)
		<-a.done
	})
	return nil
}

func (a *Async) run() {
	defer close(a.done)
	for {
		select {
		case <-a.wake:
		case <-a.flushes:
		case <-a.stop:
			for a.writeBatch() {
			}
			return
		}
		a.linger()
		for a.writeBatch() {
		}
	}
}

// linger waits up to Linger for a full batch, unless Flush or Close asks.
func (a *Async) linger() {
	if a.o.Linger < 0 {
		return
	}
	t := time.NewTimer(a.o.Linger)
	defer t.Stop()
	for {
		a.mu.Lock()
		full := len(a.buf) >= a.o.Batch
		a.mu.Unlock()
		if full {
			return
		}
		select {
		case <-a.wake:
		case <-t.C:
			return
		case <-a.flushes:
			return
		case <-a.stop:
			return
		}
	}
}

// writeBatch writes up to Batch buffered entries; false when none waited.
func (a *Async) writeBatch() bool {
	a.mu.Lock()
	n := min(len(a.buf), a.o.Batch)
	if n == 0 {
		a.mu.Unlock()
		return false
	}
	batch := make([]Entry, n)
	copy(batch, a.buf)
	a.buf = append(a.buf[:0], a.buf[n:]...)
	a.mu.Unlock()

	ctx, cancel := context.WithTimeout(context.Background(), a.o.WriteTimeout)
	err := a.w.Append(ctx, batch...)
	cancel()
	if err != nil {
		a.failed.Add(int64(n))
		a.o.Logger.Error("journal write failed: entries lost", "entries", n, "err", err)
	}
	a.mu.Lock()
	a.settled += int64(n)
	close(a.progress)
	a.progress = make(chan struct{})
	a.mu.Unlock()
	return true
}

// Flusher is what FlushBatches and FlushRequests wait for (*Async).
type Flusher interface {
	Flush(ctx context.Context) error
}

// FlushBatches returns h that, after each batch, waits for f to write the
// entries h appended: what a Lambda function needs before it is frozen.
func FlushBatches(h queue.BatchHandler, f Flusher) queue.BatchHandler {
	return queue.BatchHandlerFunc(func(ctx context.Context, msgs []queue.Message) queue.BatchResult {
		res := h.HandleBatch(ctx, msgs)
		flush(ctx, f)
		return res
	})
}

// FlushRequests returns h that, after each request, waits for f to write
// the entries h appended (see FlushBatches).
func FlushRequests(h http.Handler, f Flusher) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h.ServeHTTP(w, r)
		flush(r.Context(), f)
	})
}

func flush(ctx context.Context, f Flusher) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), DefaultWriteTimeout)
	defer cancel()
	if err := f.Flush(ctx); err != nil {
		slog.WarnContext(ctx, "journal flush", "err", err)
	}
}
