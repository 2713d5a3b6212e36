package archive

import (
	"context"
	"errors"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/herokuevents/herokuevents/shared/event"
	"github.com/herokuevents/herokuevents/shared/linger"
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
	lw      *linger.Writer[Record]
	mu      sync.Mutex // orders seq and the buffer
	last    int64
	written atomic.Int64
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
	w := &Writer{store: s, o: o}
	w.lw = linger.New(w.append, linger.Options[Record]{
		Buffer: o.Buffer, Batch: o.Batch, Linger: o.Linger, WriteTimeout: o.WriteTimeout,
		Logger: o.Logger, Dropped: "archive behind: events not archived for replay",
	})
	return w
}

// Keep implements Keeper.
func (w *Writer) Keep(tenant, subscription string, retention time.Duration, ev event.Event, encoded []byte) {
	w.mu.Lock()
	defer w.mu.Unlock()
	seq := max(w.o.Now().UnixNano(), w.last+1)
	rec := Record{Tenant: tenant, Subscription: subscription, Seq: seq, Event: ev, JSON: encoded}
	if retention > 0 {
		rec.Expires = time.Unix(0, seq).Add(retention).UTC()
	}
	if w.lw.Add(rec) {
		w.last = seq
	}
}

// Dropped returns how many events Keep dropped (buffer full, or closed).
func (w *Writer) Dropped() int64 { return w.lw.Dropped() }

// Failed returns how many records were lost to failed appends (ErrFull
// included).
func (w *Writer) Failed() int64 { return w.lw.Failed() }

// Written returns how many records were appended.
func (w *Writer) Written() int64 { return w.written.Load() }

// Flush waits until every event kept before the call was appended (or its
// append failed), or ctx ends.
func (w *Writer) Flush(ctx context.Context) error { return w.lw.Flush(ctx) }

// Close appends what is buffered and stops the Writer, waiting at most
// until ctx ends.
func (w *Writer) Close(ctx context.Context) error { return w.lw.Close(ctx) }

// append appends one batch, logging a failure (counted by the linger
// Writer).
func (w *Writer) append(ctx context.Context, batch []Record) error {
	start := time.Now()
	err := w.store.Append(ctx, batch...)
	switch {
	case err == nil:
		w.written.Add(int64(len(batch)))
	case errors.Is(err, ErrFull): // Failed is an upper bound: some may be kept
		w.o.Logger.Warn("archive full: events not archived for replay", "count", len(batch), "err", err)
	default:
		w.o.Logger.Warn("archive events failed: they cannot be replayed", "count", len(batch),
			"duration_ms", time.Since(start).Milliseconds(), "err", err)
	}
	return err
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
