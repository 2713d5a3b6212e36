package sqlitequeue_test

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/herokuevents/herokuevents/infra/embedded/sqlitequeue"
	"github.com/herokuevents/herokuevents/shared/queue"
	"github.com/herokuevents/herokuevents/shared/queue/queuetest"
)

func open(t *testing.T) *sqlitequeue.DB {
	t.Helper()
	db, err := sqlitequeue.Open(filepath.Join(t.TempDir(), "queues.db"))
	require.NoError(t, err)
	t.Cleanup(func() { assert.NoError(t, db.Close()) })
	return db
}

func TestConformance(t *testing.T) {
	queuetest.Run(t, queuetest.Harness{
		Open: func(t *testing.T) (q, dlq queuetest.Queue) {
			db := open(t)
			return db.Queue("work"), db.Queue("work-dlq")
		},
		Ordered:      func(t *testing.T) queuetest.Queue { return open(t).Queue("ordered") },
		Capabilities: queuetest.Capabilities{Consume: true, ReleaseInFlight: true, Redrive: true},
	})
}

func TestStats(t *testing.T) {
	db := open(t)
	q := db.Queue("q")
	ctx := t.Context()
	require.NoError(t, q.Send(ctx,
		queue.Message{Body: []byte("1")}, queue.Message{Body: []byte("2")}, queue.Message{Body: []byte("3")},
		queue.Message{Body: []byte("4"), Delay: time.Hour}))
	_, err := q.Receive(ctx, 1, time.Minute)
	require.NoError(t, err)
	s, err := q.Stats(ctx)
	require.NoError(t, err)
	assert.Equal(t, sqlitequeue.Stats{Visible: 2, InFlight: 1, Delayed: 1}, s)
	n, err := q.Len(ctx)
	require.NoError(t, err)
	assert.Equal(t, 4, n)
	other, err := db.Queue("other").Len(ctx)
	require.NoError(t, err)
	assert.Zero(t, other, "queues are separate")
	assert.Same(t, q, db.Queue("q"))
}

func TestReceiveLimits(t *testing.T) {
	q := open(t).Queue("q")
	for _, max := range []int{0, 11} {
		_, err := q.Receive(t.Context(), max, time.Second)
		assert.Error(t, err, "max %d", max)
	}
	_, err := q.Receive(t.Context(), 1, -time.Second)
	assert.Error(t, err)
}

// A message accepted by Send survives closing and reopening the file; what a
// dead process had in flight is released at the next start.
func TestDurableAcrossReopen(t *testing.T) {
	path := filepath.Join(t.TempDir(), "queues.db")
	db, err := sqlitequeue.Open(path)
	require.NoError(t, err)
	q := db.Queue("ingest")
	require.NoError(t, q.Send(t.Context(), queue.Message{Body: []byte(`"kept"`), Attributes: map[string]string{"tenant": "t"}},
		queue.Message{Body: []byte(`"in flight"`)}))
	got, err := q.Receive(t.Context(), 1, time.Hour)
	require.NoError(t, err)
	require.Len(t, got, 1)
	require.NoError(t, db.Close())
	require.ErrorIs(t, q.Send(t.Context(), queue.Message{Body: []byte("x")}), sqlitequeue.ErrClosed)

	db, err = sqlitequeue.Open(path)
	require.NoError(t, err)
	defer db.Close()
	n, err := db.ReleaseInFlight(t.Context())
	require.NoError(t, err)
	assert.Equal(t, 1, n)
	msgs, err := db.Queue("ingest").Receive(t.Context(), 10, time.Minute)
	require.NoError(t, err)
	assert.Len(t, msgs, 2)
}

// Consume is woken by Send in the same process, not by its poll interval.
func TestConsumeWakesPromptly(t *testing.T) {
	db := open(t)
	q := db.Queue("q")
	handled := make(chan time.Time, 10)
	h := queue.BatchHandlerFunc(func(_ context.Context, msgs []queue.Message) queue.BatchResult {
		for range msgs {
			handled <- time.Now()
		}
		return queue.BatchResult{}
	})
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error)
	go func() { done <- q.Consume(ctx, h, settings(), db.Queue("dlq")) }()
	defer func() { cancel(); <-done }()
	time.Sleep(50 * time.Millisecond) // let the consumer go idle
	var worst time.Duration
	for range 5 {
		sent := time.Now()
		require.NoError(t, q.Send(t.Context(), queue.Message{Body: []byte("x")}))
		select {
		case at := <-handled:
			worst = max(worst, at.Sub(sent))
		case <-time.After(2 * time.Second):
			t.Fatal("not handled")
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Logf("worst publish→handle latency %v", worst)
	assert.Less(t, worst, 100*time.Millisecond, "woken by Send, not by polling")
}

func settings() queue.Settings {
	return queue.Settings{BatchSize: 10, VisibilityTimeout: 5 * time.Second, MaxReceives: 3, Concurrency: 2}
}

// On shutdown Consume waits for the batches in flight, which finish and are
// deleted.
func TestConsumeShutdownWaitsForBatches(t *testing.T) {
	db := open(t)
	q := db.Queue("q")
	started := make(chan struct{})
	var finished atomic.Bool
	h := queue.BatchHandlerFunc(func(ctx context.Context, msgs []queue.Message) queue.BatchResult {
		close(started)
		select {
		case <-time.After(200 * time.Millisecond):
		case <-ctx.Done():
			t.Error("handler cancelled by shutdown")
		}
		finished.Store(true)
		return queue.BatchResult{}
	})
	require.NoError(t, q.Send(t.Context(), queue.Message{Body: []byte("x")}))
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error)
	go func() { done <- q.Consume(ctx, h, settings(), db.Queue("dlq")) }()
	<-started
	cancel()
	require.NoError(t, <-done)
	assert.True(t, finished.Load(), "Consume returned before its batch finished")
	n, err := q.Len(t.Context())
	require.NoError(t, err)
	assert.Zero(t, n, "handled message deleted")
}

// Crash ≠ failure: a message whose handler died with the process (claimed,
// never settled, released at the next start) does not use up its
// receives, however often that happens; it is handled, not dead-lettered.
func TestCrashIsNotFailure(t *testing.T) {
	db := open(t)
	q, dlq := db.Queue("q"), db.Queue("dlq")
	st := settings()
	require.NoError(t, q.Send(t.Context(), queue.Message{Body: []byte("in flight"), Attributes: map[string]string{"tenant": "t"}}))
	for range st.MaxReceives + 2 {
		got, err := q.Receive(t.Context(), 1, time.Hour)
		require.NoError(t, err)
		require.Len(t, got, 1)
		assert.Equal(t, 1, got[0].Receives, "each crash gave its receive back")
		n, err := db.ReleaseInFlight(t.Context()) // the next start
		require.NoError(t, err)
		require.Equal(t, 1, n)
	}
	handled := make(chan queue.Message, 1)
	h := queue.BatchHandlerFunc(func(_ context.Context, msgs []queue.Message) queue.BatchResult {
		for _, m := range msgs {
			handled <- m
		}
		return queue.BatchResult{}
	})
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error)
	go func() { done <- q.Consume(ctx, h, st, dlq) }()
	defer func() { cancel(); <-done }()
	select {
	case m := <-handled:
		assert.Equal(t, 1, m.Receives)
	case <-time.After(5 * time.Second):
		t.Fatal("not handled")
	}
	require.Eventually(t, func() bool { n, _ := q.Len(t.Context()); return n == 0 }, 5*time.Second, 10*time.Millisecond)
	n, err := dlq.Len(t.Context())
	require.NoError(t, err)
	assert.Zero(t, n, "nothing dead-lettered")
}

// What counts: a handler's failure and a visibility timeout while the
// process lives. A release at start gives back only the receive whose
// handler died.
func TestFailuresAndTimeoutsCount(t *testing.T) {
	db := open(t)
	q, dlq := db.Queue("q"), db.Queue("dlq")
	ctx := t.Context()
	require.NoError(t, q.Send(ctx, queue.Message{Body: []byte("timeout")}))
	first, err := q.Receive(ctx, 1, 20*time.Millisecond)
	require.NoError(t, err)
	require.Len(t, first, 1)
	var again []queue.Message
	require.Eventually(t, func() bool {
		again, err = q.Receive(ctx, 1, time.Hour)
		return err == nil && len(again) == 1
	}, 5*time.Second, 5*time.Millisecond, "back after its visibility timeout")
	assert.Equal(t, 2, again[0].Receives)
	_, err = db.ReleaseInFlight(ctx)
	require.NoError(t, err)
	got, err := q.Receive(ctx, 1, time.Hour)
	require.NoError(t, err)
	require.Len(t, got, 1)
	assert.Equal(t, 2, got[0].Receives, "the timed-out receive still counts, the crashed one does not")
	require.NoError(t, q.Delete(ctx, got[0].ID))

	// A handler's failure counts, and survives a restart: the failed
	// message waits out its visibility timeout and is not released.
	st := settings()
	st.VisibilityTimeout = time.Hour
	require.NoError(t, q.Send(ctx, queue.Message{Body: []byte("fails")}))
	failed := make(chan struct{})
	h := queue.BatchHandlerFunc(func(_ context.Context, msgs []queue.Message) queue.BatchResult {
		var res queue.BatchResult
		for _, m := range msgs {
			res.Fail(m.ID, errors.New("endpoint down"))
		}
		close(failed)
		return res
	})
	cctx, cancel := context.WithCancel(ctx)
	done := make(chan error)
	go func() { done <- q.Consume(cctx, h, st, dlq) }()
	<-failed
	cancel()
	require.NoError(t, <-done) // Consume returns once its batches are settled
	n, err := db.ReleaseInFlight(ctx)
	require.NoError(t, err)
	assert.Zero(t, n, "a failed message is not released")
	none, err := q.Receive(ctx, 1, time.Hour)
	require.NoError(t, err)
	assert.Empty(t, none, "it waits out its visibility timeout")
}

// A panicking handler fails its batch; the messages come back.
func TestConsumeHandlerPanic(t *testing.T) {
	db := open(t)
	q := db.Queue("q")
	var calls atomic.Int32
	h := queue.BatchHandlerFunc(func(context.Context, []queue.Message) queue.BatchResult {
		if calls.Add(1) == 1 {
			panic("boom")
		}
		return queue.BatchResult{}
	})
	st := settings()
	st.VisibilityTimeout = 100 * time.Millisecond
	require.NoError(t, q.Send(t.Context(), queue.Message{Body: []byte("x")}))
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error)
	go func() { done <- q.Consume(ctx, h, st, db.Queue("dlq")) }()
	defer func() { cancel(); <-done }()
	require.Eventually(t, func() bool { n, _ := q.Len(t.Context()); return n == 0 && calls.Load() == 2 }, 5*time.Second, 10*time.Millisecond)
}

func TestConsumeInvalidSettings(t *testing.T) {
	q := open(t).Queue("q")
	err := q.Consume(t.Context(), queue.BatchHandlerFunc(func(context.Context, []queue.Message) queue.BatchResult {
		return queue.BatchResult{}
	}), queue.Settings{}, nil)
	require.Error(t, err)
}

// Redrive to a Sender outside the DB sends then deletes.
func TestRedriveToOtherSender(t *testing.T) {
	db := open(t)
	dlq := db.Queue("dlq")
	require.NoError(t, dlq.Send(t.Context(), queue.Message{Body: []byte("x"), Attributes: map[string]string{queue.AttrReason: "r", "tenant": "t"}}))
	var got []queue.Message
	n, err := dlq.Redrive(t.Context(), queue.SenderFunc(func(_ context.Context, msgs ...queue.Message) error {
		got = append(got, msgs...)
		return nil
	}))
	require.NoError(t, err)
	assert.Equal(t, 1, n)
	require.Len(t, got, 1)
	assert.Equal(t, map[string]string{"tenant": "t"}, got[0].Attributes)
	left, err := dlq.Len(t.Context())
	require.NoError(t, err)
	assert.Zero(t, left)

	_, err = dlq.Redrive(t.Context(), queue.SenderFunc(func(context.Context, ...queue.Message) error { return nil }), "12345")
	require.ErrorIs(t, err, sqlitequeue.ErrNotFound)
}

// Many concurrent senders and a consumer: every message is handled, and the
// rate is logged (the product targets thousands of events per second).
func TestThroughput(t *testing.T) {
	db := open(t)
	q := db.Queue("q")
	const senders, perSender = 8, 100
	total := senders * perSender
	var handled atomic.Int64
	all := make(chan struct{})
	h := queue.BatchHandlerFunc(func(_ context.Context, msgs []queue.Message) queue.BatchResult {
		if handled.Add(int64(len(msgs))) == int64(total) {
			close(all)
		}
		return queue.BatchResult{}
	})
	st := settings()
	st.Concurrency = 4
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error)
	go func() { done <- q.Consume(ctx, h, st, db.Queue("dlq")) }()
	defer func() { cancel(); <-done }()
	start := time.Now()
	var wg sync.WaitGroup
	for s := range senders {
		wg.Go(func() {
			for i := range perSender {
				assert.NoError(t, q.Send(t.Context(), queue.Message{Body: fmt.Appendf(nil, `{"s":%d,"i":%d}`, s, i)}))
			}
		})
	}
	wg.Wait()
	select {
	case <-all:
	case <-time.After(30 * time.Second):
		t.Fatalf("handled %d of %d", handled.Load(), total)
	}
	elapsed := time.Since(start)
	t.Logf("%d messages sent one per Send by %d senders and consumed in %v: %.0f/s", total, senders, elapsed, float64(total)/elapsed.Seconds())
	require.Eventually(t, func() bool { n, _ := q.Len(t.Context()); return n == 0 }, 5*time.Second, 10*time.Millisecond)
}

// TestClaimsAndDeletesNeedNoFsync: a Send is committed with an fsync, a
// group of claims and deletes without one; both survive a reopen (a
// process crash loses neither: the commit is in the OS's hands).
func TestClaimsAndDeletesNeedNoFsync(t *testing.T) {
	path := filepath.Join(t.TempDir(), "queues.db")
	db, err := sqlitequeue.Open(path)
	require.NoError(t, err)
	q := db.Queue("q")
	msgs := make([]queue.Message, 4)
	for i := range msgs {
		msgs[i] = queue.Message{Body: []byte(fmt.Sprint(i))}
	}
	require.NoError(t, q.Send(t.Context(), msgs...))
	synced := sqlitequeue.Synced(db)
	assert.Positive(t, synced)
	got, err := q.Receive(t.Context(), 2, time.Hour)
	require.NoError(t, err)
	require.Len(t, got, 2)
	require.NoError(t, q.Delete(t.Context(), got[0].ID))
	assert.Equal(t, synced, sqlitequeue.Synced(db), "no fsync for a claim or a delete")
	require.NoError(t, q.Send(t.Context(), queue.Message{Body: []byte("4")}))
	assert.Equal(t, synced+1, sqlitequeue.Synced(db), "a send syncs")
	require.NoError(t, db.Close())

	db, err = sqlitequeue.Open(path)
	require.NoError(t, err)
	defer db.Close()
	q = db.Queue("q")
	s, err := q.Stats(t.Context())
	require.NoError(t, err)
	assert.Equal(t, sqlitequeue.Stats{Visible: 3, InFlight: 1}, s, "the delete and the claim were kept")
}
