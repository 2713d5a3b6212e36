package platform

import (
	"context"
	"strings"
	"time"

	"github.com/herokuevents/herokuevents/shared/config"
	"github.com/herokuevents/herokuevents/shared/event"
)

// Batched delivery (config.Params.BatchSize and BatchWindow): a
// publication that sets a batch size gets up to that many events per
// request, gathered for up to its window, from a publisher that is a
// BatchPublisher (the deliver role's coalescer, shared/deliver batch.go).
const (
	// MinBatchSize and MaxBatchSize bound config.Params.BatchSize.
	MinBatchSize = 2
	MaxBatchSize = 100
	// DefaultBatchWindow is how long a batch waits to fill when the
	// publication gives no window.
	DefaultBatchWindow = 100 * time.Millisecond
	// MaxBatchWindow bounds a batch window: the messages of a batch wait
	// un-acknowledged, well within the delivery queue's visibility timeout.
	MaxBatchWindow = 5 * time.Second
	// MaxBatchBytes bounds the events of one request (the queue's message
	// limit): a batch is sent early rather than grow past it.
	MaxBatchBytes = 1 << 20
)

// BatchPublisher is a Publisher that can also send several events of one
// publication in one request. PublishBatch sends evs (in that order) once
// and returns, like Publish, nil when the endpoint took them all, else one
// error for the whole batch, classified as Publish's are. Implementations
// must be safe for concurrent use.
type BatchPublisher interface {
	Publisher
	PublishBatch(ctx context.Context, tenant string, pub config.Publication, evs []event.Event) error
}

// Batching returns how pub is delivered in batches: at most size events per
// request, gathered for up to window; size 0 when pub is delivered one event
// per request. A stored window that does not parse (or is out of bounds)
// counts as DefaultBatchWindow.
func Batching(pub config.Publication) (size int, window time.Duration) {
	size = pub.Params.BatchSize
	if size < MinBatchSize {
		return 0, 0
	}
	size = min(size, MaxBatchSize)
	window, err := time.ParseDuration(pub.Params.BatchWindow)
	if err != nil || window <= 0 || window > MaxBatchWindow {
		window = DefaultBatchWindow
	}
	return size, window
}

// CheckBatch validates the batch settings of a create or update body and
// returns them as config.Params keeps them: size 0 (no batching, and
// window "") or MinBatchSize..MaxBatchSize with window a duration of 1ms
// to MaxBatchWindow ("" or "0" give DefaultBatchWindow), in Go's
// canonical form. A window without a size is refused. Bad values are
// config.ErrInvalid problems.
func CheckBatch(size int, window string) (int, string, error) {
	window = strings.TrimSpace(window)
	switch {
	case size == 0 && window != "" && window != "0":
		return 0, "", config.Invalid("batch_window applies to batched delivery: give batch_size too.")
	case size == 0:
		return 0, "", nil
	case size < MinBatchSize || size > MaxBatchSize:
		return 0, "", config.Invalid("batch_size %d: use %d to %d events per request, or 0 for one event per request.", size, MinBatchSize, MaxBatchSize)
	}
	w := DefaultBatchWindow
	if window != "" && window != "0" {
		var err error
		if w, err = time.ParseDuration(window); err != nil || w < time.Millisecond || w > MaxBatchWindow {
			return 0, "", config.Invalid("batch_window %q: give a duration from 1ms to %s, such as 100ms.", window, MaxBatchWindow)
		}
	}
	return size, w.String(), nil
}
