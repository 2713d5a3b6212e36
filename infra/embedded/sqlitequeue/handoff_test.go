package sqlitequeue_test

import (
	"context"
	"errors"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/herokuevents/herokuevents/infra/embedded/sqlitequeue"
	"github.com/herokuevents/herokuevents/shared/queue"
)

func handedOf(d *sqlitequeue.DB) int64 { return sqlitequeue.Handed(d) }

// waitIdle waits until a consumer of q waits for a send.
func waitIdle(t *testing.T, q *sqlitequeue.Queue) {
	t.Helper()
	require.Eventually(t, func() bool { return sqlitequeue.Waiting(q) > 0 }, 5*time.Second, time.Millisecond, "no consumer waits")
}

// A send to a queue whose consumer waits hands it the messages it may
// take, claimed in the send's transaction: they arrive as a claim would
// return them (one receive, attributes and body intact), are hidden from
// other receives for the visibility timeout, come back as a second
// receive when the handler fails, are given back by ReleaseInFlight, and
// are deleted when handled. Delayed and grouped messages are claimed as
// before.
func TestHandOff(t *testing.T) {
	type got struct {
		msg queue.Message
		at  time.Time
	}
	st := queue.Settings{BatchSize: 10, VisibilityTimeout: time.Second, MaxReceives: 5, Concurrency: 2}
	for _, c := range []struct {
		name   string
		msg    queue.Message
		handed int64
		fail   int // the handler fails the first fail receives
	}{
		{name: "visible message is handed over", msg: queue.Message{Body: []byte(`{"n":1}`), Attributes: map[string]string{queue.AttrTenant: "t1", "k": "v"}}, handed: 1},
		{name: "failed handed message comes back as a second receive", msg: queue.Message{Body: []byte(`{"n":2}`), Attributes: map[string]string{queue.AttrTenant: "t1"}}, handed: 1, fail: 1},
		{name: "delayed message is claimed later", msg: queue.Message{Body: []byte(`{"n":3}`), Delay: 300 * time.Millisecond}},
		{name: "grouped message is claimed", msg: queue.Message{Body: []byte(`{"n":4}`), Group: "g1"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			db := open(t)
			q := db.Queue("q")
			recv := make(chan got, 10)
			h := queue.BatchHandlerFunc(func(_ context.Context, msgs []queue.Message) queue.BatchResult {
				var res queue.BatchResult
				for _, m := range msgs {
					recv <- got{msg: m, at: time.Now().Round(0)}
					if m.Receives <= c.fail {
						res.Fail(m.ID, assert.AnError)
					}
				}
				return res
			})
			ctx, cancel := context.WithCancel(t.Context())
			done := make(chan error)
			go func() { done <- q.Consume(ctx, h, st, db.Queue("dlq")) }()
			defer func() { cancel(); <-done }()
			waitIdle(t, q)

			// The queue keeps its times on the wall clock, in microseconds
			// (they outlive the process); the waits are measured on it too,
			// not on the monotonic clock, which a clock adjustment sets
			// apart (CI once saw 998.6 ms for a 1 s visibility timeout).
			sent := time.Now().Round(0).Truncate(time.Microsecond)
			require.NoError(t, q.Send(t.Context(), c.msg))
			for receive := 1; receive <= c.fail+1; receive++ {
				select {
				case g := <-recv:
					assert.Equal(t, receive, g.msg.Receives)
					assert.Equal(t, c.msg.Body, g.msg.Body)
					assert.Equal(t, c.msg.Attributes, g.msg.Attributes)
					assert.Equal(t, c.msg.Group, g.msg.Group)
					assert.False(t, g.msg.FirstReceived.IsZero(), "first receive time set")
					if receive > 1 {
						assert.GreaterOrEqual(t, g.at.Sub(sent), st.VisibilityTimeout, "hidden for the visibility timeout")
					}
					if c.msg.Delay > 0 {
						assert.GreaterOrEqual(t, g.at.Sub(sent), c.msg.Delay, "not before its delay")
					}
				case <-time.After(10 * time.Second):
					t.Fatalf("receive %d never came", receive)
				}
			}
			assert.Equal(t, c.handed, sqlitequeue.Handed(db))
			require.Eventually(t, func() bool {
				n, err := q.Len(t.Context())
				return err == nil && n == 0
			}, 5*time.Second, 5*time.Millisecond, "handled message deleted")
		})
	}
}

// A handed-over message is in flight like a claimed one: no other receive
// gets it, and if the process dies before it is settled the next start
// gives it back without counting the receive.
func TestHandedOffIsInFlight(t *testing.T) {
	db := open(t)
	q := db.Queue("q")
	release := make(chan struct{})
	received := make(chan queue.Message, 1)
	h := queue.BatchHandlerFunc(func(_ context.Context, msgs []queue.Message) queue.BatchResult {
		received <- msgs[0]
		<-release
		return queue.BatchResult{}
	})
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error)
	// One worker, busy with the handed message: a second would claim the
	// message ReleaseInFlight gives back before this test's Receive does.
	one := settings()
	one.Concurrency = 1
	go func() { done <- q.Consume(ctx, h, one, db.Queue("dlq")) }()
	waitIdle(t, q)
	require.NoError(t, q.Send(t.Context(), queue.Message{Body: []byte("x")}))
	m := <-received
	assert.EqualValues(t, 1, sqlitequeue.Handed(db))

	s, err := q.Stats(t.Context())
	require.NoError(t, err)
	assert.Equal(t, sqlitequeue.Stats{InFlight: 1}, s)
	other, err := q.Receive(t.Context(), 10, time.Minute)
	require.NoError(t, err)
	assert.Empty(t, other, "hidden from other receives")

	n, err := db.ReleaseInFlight(t.Context()) // as at the start after a crash
	require.NoError(t, err)
	assert.Equal(t, 1, n)
	again, err := q.Receive(t.Context(), 10, time.Minute)
	require.NoError(t, err)
	require.Len(t, again, 1)
	assert.Equal(t, m.ID, again[0].ID)
	assert.Equal(t, 1, again[0].Receives, "the crashed receive did not count")

	close(release)
	cancel()
	require.NoError(t, <-done)
}

// A send handed to a waiting consumer goes to it at its commit, while the
// WAL syncs: the consumer handles it before the sender hears back, which it
// does once the sync returns, with the sync's error if it failed (the
// message is committed all the same: it may be delivered, and a retry
// sends it again, which at-least-once delivery allows). The consumer's
// delete, which is not urgent, is committed after the sync. The send's
// queue.Committed runs before the consumer gets the message (what its
// sender says of it comes first), once.
func TestHandOffDoesNotWaitForTheSync(t *testing.T) {
	for _, c := range []struct {
		name string
		sync error
	}{
		{name: "sync succeeds"},
		{name: "sync fails", sync: errors.New("disk gone")},
	} {
		t.Run(c.name, func(t *testing.T) {
			db := open(t)
			release, started := make(chan struct{}), make(chan struct{}, 10)
			var syncs atomic.Int64
			sqlitequeue.SetSync(db, func(fdatasync func() error) error {
				syncs.Add(1)
				started <- struct{}{}
				<-release
				if c.sync != nil {
					return c.sync
				}
				return fdatasync()
			})
			q := db.Queue("q")
			var committed atomic.Int64
			recv := make(chan queue.Message, 1)
			h := queue.BatchHandlerFunc(func(_ context.Context, msgs []queue.Message) queue.BatchResult {
				assert.Equal(t, int64(1), committed.Load(), "the sender's Committed ran before the consumer got the message")
				for _, m := range msgs {
					recv <- m
				}
				return queue.BatchResult{}
			})
			st := queue.Settings{BatchSize: 10, VisibilityTimeout: time.Minute, MaxReceives: 5, Concurrency: 1}
			ctx, cancel := context.WithCancel(t.Context())
			done := make(chan error)
			go func() { done <- q.Consume(ctx, h, st, db.Queue("dlq")) }()
			defer func() { cancel(); <-done }()
			waitIdle(t, q)

			sent := make(chan error, 1)
			sendCtx := queue.WithCommitted(t.Context(), func() { committed.Add(1) })
			go func() { sent <- q.Send(sendCtx, queue.Message{Body: []byte(`{"n":1}`)}) }()
			select {
			case m := <-recv:
				assert.Equal(t, `{"n":1}`, string(m.Body))
			case <-time.After(10 * time.Second):
				t.Fatal("the consumer did not get the message while the WAL synced")
			}
			select {
			case <-started:
			case <-time.After(10 * time.Second):
				t.Fatal("no sync of the WAL began")
			}
			select {
			case err := <-sent:
				t.Fatalf("the sender heard back (%v) before the WAL was synced", err)
			default:
			}
			assert.Equal(t, int64(1), syncs.Load(), "one sync under way")
			close(release)
			err := <-sent
			if c.sync != nil {
				require.ErrorIs(t, err, c.sync)
				assert.ErrorContains(t, err, "sync queue log")
			} else {
				require.NoError(t, err)
			}
			require.Eventually(t, func() bool { n, _ := q.Len(t.Context()); return n == 0 }, 5*time.Second, time.Millisecond, "the handled message is deleted")
			assert.Equal(t, int64(1), handedOf(db))
		})
	}
}
