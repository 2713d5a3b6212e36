package journal_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/herokuevents/herokuevents/shared/journal"
	"github.com/herokuevents/herokuevents/shared/queue"
)

// recorder is a Writer that keeps what it is given; gate, when set, holds
// every write until it is closed; fail makes writes fail.
type recorder struct {
	mu      sync.Mutex
	entries []journal.Entry
	batches []int
	gate    chan struct{}
	fail    error
}

func (r *recorder) Append(ctx context.Context, entries ...journal.Entry) error {
	if r.gate != nil {
		select {
		case <-r.gate:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.fail != nil {
		return r.fail
	}
	r.entries = append(r.entries, entries...)
	r.batches = append(r.batches, len(entries))
	return nil
}

func (r *recorder) len() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.entries)
}

func entry(i int) journal.Entry {
	return journal.Entry{Tenant: "t", EventID: fmt.Sprintf("e%d", i), Time: time.Unix(int64(i), 0), Stage: journal.Accepted}
}

var quiet = slog.New(slog.NewTextHandler(io.Discard, nil))

func TestAsyncFlushWritesInBatches(t *testing.T) {
	rec := &recorder{}
	a := journal.NewAsync(rec, journal.AsyncOptions{Batch: 7, Logger: quiet})
	defer a.Close()
	for i := range 50 {
		require.NoError(t, a.Append(t.Context(), entry(i)))
	}
	require.NoError(t, a.Flush(t.Context()))
	assert.Equal(t, 50, rec.len())
	for _, n := range rec.batches {
		assert.LessOrEqual(t, n, 7)
	}
	assert.Equal(t, "e0", rec.entries[0].EventID, "in order")
	assert.Equal(t, "e49", rec.entries[49].EventID)
}

func TestAsyncDropsWhenFullInsteadOfBlocking(t *testing.T) {
	rec := &recorder{gate: make(chan struct{})}
	a := journal.NewAsync(rec, journal.AsyncOptions{Buffer: 10, Batch: 1, Logger: quiet})
	done := make(chan struct{})
	go func() {
		defer close(done)
		for i := range 100 {
			_ = a.Append(t.Context(), entry(i))
		}
	}()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("Append blocked on a stuck writer")
	}
	assert.GreaterOrEqual(t, a.Dropped(), int64(89), "at most the buffer and the batch in flight are kept")
	close(rec.gate)
	require.NoError(t, a.Close())
	assert.Equal(t, int64(100), a.Dropped()+int64(rec.len()))
}

func TestAsyncCloseWritesWhatIsBuffered(t *testing.T) {
	rec := &recorder{}
	a := journal.NewAsync(rec, journal.AsyncOptions{Logger: quiet})
	for i := range 30 {
		require.NoError(t, a.Append(t.Context(), entry(i)))
	}
	require.NoError(t, a.Close())
	assert.Equal(t, 30, rec.len())
	assert.ErrorIs(t, a.Append(t.Context(), entry(31)), journal.ErrClosed)
	assert.Equal(t, int64(1), a.Dropped())
}

func TestAsyncCountsFailedWrites(t *testing.T) {
	rec := &recorder{fail: errors.New("disk full")}
	a := journal.NewAsync(rec, journal.AsyncOptions{Logger: quiet})
	defer a.Close()
	require.NoError(t, a.Append(t.Context(), entry(1), entry(2)))
	require.NoError(t, a.Flush(t.Context()))
	assert.Equal(t, int64(2), a.Failed())
}

func TestAsyncRefusesInvalidEntries(t *testing.T) {
	rec := &recorder{}
	a := journal.NewAsync(rec, journal.AsyncOptions{Logger: quiet})
	defer a.Close()
	err := a.Append(t.Context(), entry(1), journal.Entry{Tenant: "t"})
	require.ErrorIs(t, err, journal.ErrInvalid)
	require.NoError(t, a.Flush(t.Context()))
	assert.Equal(t, 1, rec.len(), "the valid entry is kept")
}

func TestAsyncFlushHonoursContext(t *testing.T) {
	rec := &recorder{gate: make(chan struct{})}
	a := journal.NewAsync(rec, journal.AsyncOptions{Logger: quiet})
	require.NoError(t, a.Append(t.Context(), entry(1)))
	ctx, cancel := context.WithTimeout(t.Context(), 20*time.Millisecond)
	defer cancel()
	assert.ErrorIs(t, a.Flush(ctx), context.DeadlineExceeded)
	close(rec.gate)
	require.NoError(t, a.Flush(t.Context()))
	require.NoError(t, a.Close())
}

func TestFlushAfterEachBatchAndRequest(t *testing.T) {
	rec := &recorder{}
	a := journal.NewAsync(rec, journal.AsyncOptions{Logger: quiet})
	defer a.Close()
	h := journal.FlushBatches(queue.BatchHandlerFunc(func(ctx context.Context, msgs []queue.Message) queue.BatchResult {
		for i := range msgs {
			_ = a.Append(ctx, entry(i))
		}
		return queue.BatchResult{}
	}), a)
	h.HandleBatch(t.Context(), make([]queue.Message, 3))
	assert.Equal(t, 3, rec.len(), "written when the batch returns")

	srv := httptest.NewServer(journal.FlushRequests(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_ = a.Append(r.Context(), entry(9))
		w.WriteHeader(http.StatusAccepted)
	}), a))
	defer srv.Close()
	res, err := http.Post(srv.URL, "text/plain", nil)
	require.NoError(t, err)
	res.Body.Close()
	assert.Equal(t, 4, rec.len(), "written before the response")
}

func TestAsyncLingersToShareWrites(t *testing.T) {
	rec := &recorder{}
	a := journal.NewAsync(rec, journal.AsyncOptions{Linger: time.Hour, Batch: 10, Logger: quiet})
	defer a.Close()
	for i := range 5 {
		require.NoError(t, a.Append(t.Context(), entry(i)))
	}
	time.Sleep(20 * time.Millisecond)
	assert.Zero(t, rec.len(), "a partial batch lingers")
	require.NoError(t, a.Flush(t.Context()), "Flush does not wait for the linger")
	assert.Equal(t, 5, rec.len())
	for i := range 10 {
		require.NoError(t, a.Append(t.Context(), entry(i)))
	}
	assert.Eventually(t, func() bool { return rec.len() == 15 }, 5*time.Second, time.Millisecond, "a full batch goes at once")
	rec.mu.Lock()
	assert.Equal(t, []int{5, 10}, rec.batches)
	rec.mu.Unlock()
}
