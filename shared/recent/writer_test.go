package recent_test

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/herokuevents/herokuevents/shared/event"
	"github.com/herokuevents/herokuevents/shared/logtest"
	"github.com/herokuevents/herokuevents/shared/queue"
	"github.com/herokuevents/herokuevents/shared/recent"
	"github.com/herokuevents/herokuevents/shared/recent/memrecent"
)

func ev(i int) event.Event {
	return event.Event{ID: fmt.Sprintf("ev-%d", i), Source: "/s", Type: event.TypePublish, Data: []byte(`{}`)}
}

func ids(es []recent.Entry) []string {
	var out []string
	for _, e := range es {
		out = append(out, e.Event.ID)
	}
	return out
}

func TestWriterKeepsInOrder(t *testing.T) {
	store := memrecent.New(recent.Limits{})
	w := recent.NewWriter(store, recent.WriterOptions{Batch: 3})
	for i := range 10 {
		w.Keep("t", "s", ev(i))
	}
	require.NoError(t, w.Flush(t.Context()))
	got, err := store.Latest(t.Context(), "t", "s", 0)
	require.NoError(t, err)
	assert.Equal(t, []string{"ev-0", "ev-1", "ev-2", "ev-3", "ev-4", "ev-5", "ev-6", "ev-7", "ev-8", "ev-9"}, ids(got))
	assert.False(t, got[0].Kept.IsZero())
	assert.Zero(t, w.Dropped())
	require.NoError(t, w.Close(t.Context()))
}

// blockingStore blocks every Keep until release is closed.
type blockingStore struct {
	recent.Store
	entered chan struct{}
	release chan struct{}
}

func (b *blockingStore) Keep(ctx context.Context, es ...recent.Entry) error {
	select {
	case b.entered <- struct{}{}:
	default:
	}
	<-b.release
	return b.Store.Keep(ctx, es...)
}

// TestWriterNeverBlocks: with the store stuck, Keep returns at once and
// drops what does not fit in the buffer; the rest is written later.
func TestWriterNeverBlocks(t *testing.T) {
	b := &blockingStore{Store: memrecent.New(recent.Limits{}), entered: make(chan struct{}, 1), release: make(chan struct{})}
	w := recent.NewWriter(b, recent.WriterOptions{Buffer: 4, Batch: 1})
	w.Keep("t", "s", ev(0))
	<-b.entered // the writer is stuck in its first write
	start := time.Now()
	for i := 1; i <= 20; i++ {
		w.Keep("t", "s", ev(i))
	}
	assert.Less(t, time.Since(start), time.Second, "Keep does not wait for the store")
	assert.Equal(t, int64(16), w.Dropped(), "4 buffered, 16 dropped")
	close(b.release)
	require.NoError(t, w.Flush(t.Context()))
	got, err := b.Latest(t.Context(), "t", "s", 0)
	require.NoError(t, err)
	assert.Equal(t, []string{"ev-0", "ev-1", "ev-2", "ev-3", "ev-4"}, ids(got))
	require.NoError(t, w.Close(t.Context()))
}

type failingStore struct{ recent.Store }

func (failingStore) Keep(context.Context, ...recent.Entry) error { return errors.New("table is gone") }

func TestWriterWriteFailureIsLogged(t *testing.T) {
	logger, logs := logtest.JSON(slog.LevelDebug)
	w := recent.NewWriter(failingStore{memrecent.New(recent.Limits{})}, recent.WriterOptions{Logger: logger})
	w.Keep("t", "s", ev(1))
	w.Keep("t", "s", ev(2))
	require.NoError(t, w.Flush(t.Context()))
	assert.Equal(t, int64(2), w.Failed())
	assert.Contains(t, logs.String(), "table is gone")
	require.NoError(t, w.Close(t.Context()))
}

func TestWriterClose(t *testing.T) {
	store := memrecent.New(recent.Limits{})
	w := recent.NewWriter(store, recent.WriterOptions{})
	w.Keep("t", "s", ev(1))
	require.NoError(t, w.Close(t.Context()))
	require.NoError(t, w.Close(t.Context()), "twice")
	got, err := store.Latest(t.Context(), "t", "s", 0)
	require.NoError(t, err)
	assert.Equal(t, []string{"ev-1"}, ids(got), "buffered entries are written at close")
	w.Keep("t", "s", ev(2))
	assert.Equal(t, int64(1), w.Dropped(), "kept after close: dropped")
	require.NoError(t, w.Flush(t.Context()), "flush after close")
}

// TestFlushAfter: the wrapped handler's result is unchanged and what it
// kept is written when the batch returns.
func TestFlushAfter(t *testing.T) {
	store := memrecent.New(recent.Limits{})
	w := recent.NewWriter(store, recent.WriterOptions{})
	defer w.Close(t.Context())
	h := recent.FlushAfter(queue.BatchHandlerFunc(func(_ context.Context, msgs []queue.Message) queue.BatchResult {
		var res queue.BatchResult
		for i, m := range msgs {
			w.Keep("t", "s", ev(i))
			res.Fail(m.ID, errors.New("boom"))
		}
		return res
	}), w, time.Second)
	res := h.HandleBatch(t.Context(), []queue.Message{{ID: "m1"}, {ID: "m2"}})
	assert.Len(t, res.Failures, 2)
	got, err := store.Latest(t.Context(), "t", "s", 0)
	require.NoError(t, err)
	assert.Equal(t, []string{"ev-0", "ev-1"}, ids(got))
}

// countingStore records the size of every write.
type countingStore struct {
	recent.Store
	writes chan int
}

func (c *countingStore) Keep(ctx context.Context, es ...recent.Entry) error {
	c.writes <- len(es)
	return c.Store.Keep(ctx, es...)
}

// Under load the writer lingers to gather one write, and of a burst it
// writes only the latest PerSubscription entries of each subscription:
// what the store keeps is the same.
func TestWriterLingersAndWritesTheLatest(t *testing.T) {
	synctest.Test(t, testWriterLingers)
}

func testWriterLingers(t *testing.T) {
	limits := recent.Limits{PerSubscription: 3}
	c := &countingStore{Store: memrecent.New(limits), writes: make(chan int, 100)}
	w := recent.NewWriter(c, recent.WriterOptions{Linger: time.Hour, PerSubscription: limits.PerSubscription, Batch: 2})
	for i := range 10 {
		w.Keep("t", "a", ev(i))
		w.Keep("t", "b", ev(100+i))
	}
	synctest.Wait() // the writer waits on its linger
	select {
	case n := <-c.writes:
		t.Fatalf("a write of %d entries before the linger ended or a flush", n)
	default:
	}
	require.NoError(t, w.Flush(t.Context()))
	close(c.writes)
	var sizes []int
	for n := range c.writes {
		sizes = append(sizes, n)
	}
	assert.Equal(t, []int{2, 2, 2}, sizes, "6 entries (3 per subscription) in writes of Batch 2")
	for sub, want := range map[string][]string{"a": {"ev-7", "ev-8", "ev-9"}, "b": {"ev-107", "ev-108", "ev-109"}} {
		got, err := c.Latest(t.Context(), "t", sub, 0)
		require.NoError(t, err)
		assert.Equal(t, want, ids(got), sub)
	}
	c.writes = make(chan int, 100)
	require.NoError(t, w.Close(t.Context()))
}
