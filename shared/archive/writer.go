package archive

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
	// DefaultBuffer is how many records wait to be appended before Keep
	// starts dropping new ones.
	DefaultBuffer = 16384
	// DefaultBatch is the most records appended by one Store.Append.
	DefaultBatch = 500
	// DefaultLinger is how long the writer gathers records after the
	// first of a batch.
	DefaultLinger = 50 * time.Millisecond
	// DefaultWriteTimeout bounds one Store.Append.
	DefaultWriteTimeout = 10 * time.Second
)

// WriterOptions configure a Writer.
type WriterOptions struct {
	// Buffer, Batch, Linger and WriteTimeout: the defaults above when ≤ 0.
	Buffer       int
	Batch        int
	Linger       time.Duration
	WriteTimeout time.Duration
	// Logger gets one line per failed append; slog.Default when nil.
	Logger *slog.Logger
	// Now is the accept clock (Record.Seq); time.Now when nil.
	Now func() time.Time
}

// Writer archives events from one background goroutine: Keep stamps the
// event with the next sequence number and puts it in a bounded buffer
// (dropping it when the buffer is full); the goroutine appends what
// gathered, in batches. A failed append is logged and counted. Safe for
// concurrent use.
type Writer struct {
	store   Store
	o       WriterOptions
	ch      chan item
	done    chan struct{}
	mu      sync.Mutex // orders seq and the channel send; Close holds it too
	last    int64
	closed  bool
	dropped atomic.Int64
	failed  atomic.Int64
	written atomic.Int64
	once    sync.Once
	// reported is the drops already logged (the goroutine's own).
	reported int64
}

type item struct {
	rec     Record
	flushed chan struct{}
}

var _ Keeper = (*Writer)(nil)

// NewWriter starts a Writer on s. Close it to append what is buffered;
// the store stays the caller's.
func NewWriter(s Store, o WriterOptions) *Writer {
	if o.Buffer <= 0 {
		o.Buffer = DefaultBuffer
	}
	if o.Batch <= 0 {
		o.Batch = DefaultBatch
	}
	if o.Linger <= 0 {
		o.Linger = DefaultLinger
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

// Keep implements Keeper.
func (w *Writer) Keep(tenant, subscription string, retention time.Duration, ev event.Event) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.closed {
		w.dropped.Add(1)
		return
	}
	now := w.o.Now()
	seq := max(now.UnixNano(), w.last+1)
	rec := Record{Tenant: tenant, Subscription: subscription, Seq: seq, Event: ev}
	if retention > 0 {
		rec.Expires = time.Unix(0, seq).Add(retention).UTC()
	}
	select {
	case w.ch <- item{rec: rec}:
		w.last = seq
	default:
		w.dropped.Add(1)
	}
}

// Dropped returns how many events Keep dropped (buffer full, or closed).
func (w *Writer) Dropped() int64 { return w.dropped.Load() }

// Failed returns how many records were lost to failed appends (ErrFull
// included).
func (w *Writer) Failed() int64 { return w.failed.Load() }

// Written returns how many records were appended.
func (w *Writer) Written() int64 { return w.written.Load() }

// Flush waits until every event kept before the call was appended (or its
// append failed), or ctx ends.
func (w *Writer) Flush(ctx context.Context) error {
	done := make(chan struct{})
	w.mu.Lock()
	if w.closed {
		w.mu.Unlock()
		return nil
	}
	select {
	case w.ch <- item{flushed: done}:
		w.mu.Unlock()
	case <-ctx.Done():
		w.mu.Unlock()
		return ctx.Err()
	}
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Close appends what is buffered and stops the Writer, waiting at most
// until ctx ends.
func (w *Writer) Close(ctx context.Context) error {
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

func (w *Writer) run() {
	defer close(w.done)
	var batch []Record
	var flushes []chan struct{}
	for {
		it, ok := <-w.ch
		if !ok {
			return
		}
		add := func(it item) {
			if it.flushed != nil {
				flushes = append(flushes, it.flushed)
			} else {
				batch = append(batch, it.rec)
			}
		}
		add(it)
		timer := time.NewTimer(w.o.Linger)
	gather:
		for len(batch) < w.o.Batch && len(flushes) == 0 {
			select {
			case it, ok := <-w.ch:
				if !ok {
					break gather
				}
				add(it)
			case <-timer.C:
				break gather
			}
		}
		timer.Stop()
		// What is already waiting joins the write, up to a batch.
	drain:
		for len(batch) < w.o.Batch {
			select {
			case it, ok := <-w.ch:
				if !ok {
					break drain
				}
				add(it)
			default:
				break drain
			}
		}
		w.write(batch)
		batch = batch[:0]
		for _, f := range flushes {
			close(f)
		}
		flushes = flushes[:0]
	}
}

func (w *Writer) write(batch []Record) {
	if d := w.dropped.Load(); d > w.reported {
		w.o.Logger.Warn("archive behind: events not archived for replay", "count", d-w.reported, "dropped_total", d)
		w.reported = d
	}
	if len(batch) == 0 {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), w.o.WriteTimeout)
	defer cancel()
	start := time.Now()
	err := w.store.Append(ctx, batch...)
	switch {
	case err == nil:
		w.written.Add(int64(len(batch)))
	case errors.Is(err, ErrFull):
		w.o.Logger.Warn("archive full: events not archived for replay", "count", len(batch), "err", err)
		w.failed.Add(int64(len(batch))) // an upper bound: some may be kept
	default:
		w.failed.Add(int64(len(batch)))
		w.o.Logger.Warn("archive events failed: they cannot be replayed", "count", len(batch),
			"duration_ms", time.Since(start).Milliseconds(), "err", err)
	}
}

// FlushAfter returns h with a Flush of w after every batch, bounded by
// timeout: the filter function's handler on Lambda, whose process may be
// frozen as soon as a batch returns.
func FlushAfter(h queue.BatchHandler, w *Writer, timeout time.Duration) queue.BatchHandler {
	return queue.BatchHandlerFunc(func(ctx context.Context, msgs []queue.Message) queue.BatchResult {
		res := h.HandleBatch(ctx, msgs)
		fctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), timeout)
		defer cancel()
		if err := w.Flush(fctx); err != nil {
			w.o.Logger.WarnContext(ctx, "flush archived events", "err", err)
		}
		return res
	})
}
