package linger_test

import (
	"context"
	"errors"
	"log/slog"
	"runtime"
	"slices"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/herokuevents/herokuevents/shared/linger"
	"github.com/herokuevents/herokuevents/shared/logtest"
)

// sink records every write; a write blocks while gate is set and not
// closed, and fails with err when set.
type sink struct {
	mu      sync.Mutex
	writes  [][]int
	err     error
	entered chan struct{}
	gate    chan struct{}
}

func (s *sink) write(ctx context.Context, items []int) error {
	if s.entered != nil {
		select {
		case s.entered <- struct{}{}:
		default:
		}
	}
	if s.gate != nil {
		select {
		case <-s.gate:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.writes = append(s.writes, slices.Clone(items))
	return s.err
}

func (s *sink) sizes() []int {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []int
	for _, w := range s.writes {
		out = append(out, len(w))
	}
	return out
}

func (s *sink) all() []int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Concat(s.writes...)
}

func quiet() *slog.Logger { l, _ := logtest.JSON(slog.LevelError + 1); return l }

func TestWriterBatches(t *testing.T) {
	tests := []struct {
		name      string
		o         linger.Options[int]
		add       int
		wantSizes []int
		wantItems []int
	}{
		{name: "batch bounds a write", o: linger.Options[int]{Batch: 3, Linger: time.Hour}, add: 10, wantSizes: []int{3, 3, 3, 1}},
		{name: "gather, then writes of at most batch", o: linger.Options[int]{Batch: 4, Gather: 100, Linger: time.Hour}, add: 10, wantSizes: []int{4, 4, 2}},
		{name: "compact sees the whole round", add: 10, o: linger.Options[int]{Batch: 2, Gather: 100, Linger: time.Hour,
			Compact: func(xs []int) []int { return slices.DeleteFunc(xs, func(x int) bool { return x%3 != 0 }) }},
			wantSizes: []int{2, 2}, wantItems: []int{0, 3, 6, 9}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				s := &sink{}
				tt.o.Logger = quiet()
				w := linger.New(s.write, tt.o)
				var want []int
				for i := range tt.add {
					require.True(t, w.Add(i))
					want = append(want, i)
				}
				require.NoError(t, w.Flush(t.Context()))
				if tt.wantItems != nil {
					want = tt.wantItems
				}
				assert.Equal(t, want, s.all(), "in order")
				assert.Equal(t, tt.wantSizes, s.sizes())
				require.NoError(t, w.Close(t.Context()))
			})
		})
	}
}

// A round waits Linger for more items after its first, then writes them
// in one write; with no Linger it writes what is waiting at once.
func TestWriterLingers(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s := &sink{}
		w := linger.New(s.write, linger.Options[int]{Linger: time.Second})
		defer w.Close(t.Context())
		w.Add(1)
		time.Sleep(time.Second / 2)
		w.Add(2)
		synctest.Wait()
		assert.Empty(t, s.sizes(), "nothing written within the linger")
		time.Sleep(time.Second / 2)
		synctest.Wait()
		assert.Equal(t, []int{2}, s.sizes(), "one write when the linger ends")
	})
	synctest.Test(t, func(t *testing.T) {
		s := &sink{}
		w := linger.New(s.write, linger.Options[int]{})
		defer w.Close(t.Context())
		w.Add(1)
		synctest.Wait()
		assert.Equal(t, []int{1}, s.all(), "no linger: written at once")
	})
}

// With the write stuck, Add returns at once and drops what does not fit;
// the drops are counted and logged once before the next round.
func TestWriterDropsWhenFull(t *testing.T) {
	logger, logs := logtest.JSON(slog.LevelDebug)
	s := &sink{entered: make(chan struct{}, 1), gate: make(chan struct{})}
	w := linger.New(s.write, linger.Options[int]{Buffer: 4, Batch: 1, Logger: logger, Dropped: "behind"})
	require.True(t, w.Add(0))
	<-s.entered // the writer is stuck in its first write
	var added int
	for i := 1; i <= 20; i++ {
		if w.Add(i) {
			added++
		}
	}
	assert.Equal(t, 4, added)
	assert.Equal(t, int64(16), w.Dropped())
	close(s.gate)
	require.NoError(t, w.Flush(t.Context()))
	assert.Equal(t, []int{0, 1, 2, 3, 4}, s.all())
	assert.Equal(t, 1, strings.Count(logs.String(), `"msg":"behind"`), logs.String())
	assert.Contains(t, logs.String(), `"count":16`)
	require.NoError(t, w.Close(t.Context()))
}

func TestWriterNoDropLineWithoutMessage(t *testing.T) {
	logger, logs := logtest.JSON(slog.LevelDebug)
	s := &sink{entered: make(chan struct{}, 1), gate: make(chan struct{})}
	w := linger.New(s.write, linger.Options[int]{Buffer: 1, Batch: 1, Logger: logger})
	w.Add(0)
	<-s.entered
	w.Add(1)
	assert.False(t, w.Add(2))
	close(s.gate)
	require.NoError(t, w.Close(t.Context()))
	assert.Equal(t, int64(1), w.Dropped())
	assert.Empty(t, logs.String())
}

func TestWriterCountsFailedWrites(t *testing.T) {
	s := &sink{err: errors.New("table is gone")}
	w := linger.New(s.write, linger.Options[int]{Batch: 2, Gather: 10, Linger: time.Hour})
	for i := range 5 {
		w.Add(i)
	}
	require.NoError(t, w.Flush(t.Context()))
	assert.Equal(t, int64(5), w.Failed())
	s.mu.Lock()
	s.err = nil
	s.mu.Unlock()
	w.Add(5)
	require.NoError(t, w.Close(t.Context()))
	assert.Equal(t, int64(5), w.Failed(), "a good write counts nothing")
}

func TestWriterWriteTimeout(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s := &sink{gate: make(chan struct{})} // never opens: the write ends with its context
		w := linger.New(s.write, linger.Options[int]{WriteTimeout: time.Minute})
		w.Add(1)
		start := time.Now()
		require.NoError(t, w.Flush(t.Context()))
		assert.Equal(t, time.Minute, time.Since(start))
		assert.Equal(t, int64(1), w.Failed())
		require.NoError(t, w.Close(t.Context()))
	})
}

func TestWriterFlushEndsWithContext(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s := &sink{entered: make(chan struct{}, 1), gate: make(chan struct{})}
		w := linger.New(s.write, linger.Options[int]{})
		w.Add(1)
		<-s.entered
		ctx, cancel := context.WithTimeout(t.Context(), time.Second)
		defer cancel()
		assert.ErrorIs(t, w.Flush(ctx), context.DeadlineExceeded)
		assert.ErrorIs(t, w.Close(ctx), context.DeadlineExceeded, "close waits at most until ctx ends")
		close(s.gate)
		require.NoError(t, w.Close(t.Context()))
		assert.Equal(t, []int{1}, s.all())
	})
}

func TestWriterClose(t *testing.T) {
	s := &sink{}
	w := linger.New(s.write, linger.Options[int]{Linger: time.Hour})
	w.Add(1)
	w.Add(2)
	require.NoError(t, w.Close(t.Context()))
	require.NoError(t, w.Close(t.Context()), "twice")
	assert.Equal(t, []int{1, 2}, s.all(), "buffered items are written at close")
	assert.False(t, w.Add(3), "added after close")
	assert.Equal(t, int64(1), w.Dropped())
	require.NoError(t, w.Flush(t.Context()), "flush after close")
}

// Concurrent Adds, Flushes and a Close: every item is written or dropped,
// each once, and each goroutine's items in its order.
func TestWriterConcurrent(t *testing.T) {
	s := &sink{}
	w := linger.New(s.write, linger.Options[int]{Buffer: 64, Batch: 8, Linger: time.Millisecond, Logger: quiet()})
	const goroutines, each = 8, 500
	var wg sync.WaitGroup
	var added sync.Map
	for g := range goroutines {
		wg.Go(func() {
			for i := range each {
				if w.Add(g*each + i) {
					added.Store(g*each+i, true)
				}
				if i%100 == 0 {
					assert.NoError(t, w.Flush(t.Context()))
				}
			}
		})
	}
	wg.Wait()
	require.NoError(t, w.Close(t.Context()))
	got := s.all()
	var n int
	added.Range(func(any, any) bool { n++; return true })
	assert.Len(t, got, n)
	assert.Equal(t, int64(goroutines*each-n), w.Dropped())
	last := make([]int, goroutines)
	for i := range last {
		last[i] = -1
	}
	for _, v := range got {
		_, ok := added.Load(v)
		require.True(t, ok, "%d written but not added", v)
		g := v / each
		require.Greater(t, v, last[g], "goroutine %d out of order", g)
		last[g] = v
	}
}

// New allocates no Buffer up front: a Lambda function makes its writers at
// init, and a buffer of 16,384 records made there cost its cold start.
func TestNewAllocatesNoBuffer(t *testing.T) {
	type record [256]byte
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	w := linger.New(func(context.Context, []record) error { return nil }, linger.Options[record]{Buffer: 1 << 16, Logger: quiet()})
	runtime.ReadMemStats(&after)
	defer w.Close(t.Context())
	assert.Less(t, after.TotalAlloc-before.TotalAlloc, uint64(1<<20), "bytes allocated by New with a 16 MB buffer")
	require.True(t, w.Add(record{1}))
	require.NoError(t, w.Flush(t.Context()))
}
