package sqlitequeue_test

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/herokuevents/herokuevents/infra/embedded/sqlitequeue"
	"github.com/herokuevents/herokuevents/shared/queue"
)

// TestWakeHeld: only the tenant's delayed messages held for the key become
// visible; in-flight, other keys', other tenants' and unheld messages stay
// as they are.
func TestWakeHeld(t *testing.T) {
	db := open(t)
	q := db.Queue("delivery")
	ctx := t.Context()
	held := func(tenant, key, body string) queue.Message {
		return queue.Message{Body: []byte(body), Delay: time.Hour,
			Attributes: map[string]string{queue.AttrTenant: tenant, queue.AttrHeld: key}}
	}
	require.NoError(t, q.Send(ctx,
		held("t1", "pub-1", "a"), held("t1", "pub-1", "b"),
		held("t1", "pub-2", "other key"), held("t2", "pub-1", "other tenant"),
		queue.Message{Body: []byte("not held"), Delay: time.Hour, Attributes: map[string]string{queue.AttrTenant: "t1"}},
		queue.Message{Body: []byte("no attributes"), Delay: time.Hour},
		held("t1", "pub-1", "in flight")))
	n, err := q.WakeHeld(ctx, "t1", "pub-1")
	require.NoError(t, err)
	assert.Equal(t, 3, n)
	got, err := q.Receive(ctx, 10, time.Hour)
	require.NoError(t, err)
	var bodies []string
	for _, m := range got {
		bodies = append(bodies, string(m.Body))
	}
	assert.ElementsMatch(t, []string{"a", "b", "in flight"}, bodies, "now in flight")

	n, err = q.WakeHeld(ctx, "t1", "pub-1")
	require.NoError(t, err)
	assert.Zero(t, n, "messages in flight are left alone")
	s, err := q.Stats(ctx)
	require.NoError(t, err)
	assert.Equal(t, 3, s.InFlight)
	assert.Equal(t, 4, s.Delayed, "the others are still delayed")
}

// TestWakeHeldHeadsInPlace: the head of an ordered group that a consumer
// held in its place (queue.Hold) for the key is woken, and is the next
// message of its group handled; a head retried in place (queue.Later),
// one held for another key, and the messages parked behind the heads
// wait on.
func TestWakeHeldHeadsInPlace(t *testing.T) {
	db := open(t)
	q := db.Queue("delivery")
	ctx := t.Context()
	msg := func(group, body string) queue.Message {
		return queue.Message{Body: []byte(body), Group: group, Attributes: map[string]string{queue.AttrTenant: "t1"}}
	}
	require.NoError(t, q.Send(ctx,
		msg("t1/pub-1/a", "held head"), msg("t1/pub-1/a", "parked behind it"),
		msg("t1/pub-1/b", "retried head"), msg("t1/pub-2/c", "held for pub-2")))
	firstFailure := map[string]error{
		"held head":      queue.Hold(errors.New("paused"), time.Hour, "pub-1"),
		"retried head":   queue.Later(errors.New("HTTP 503"), time.Hour),
		"held for pub-2": queue.Hold(errors.New("paused"), time.Hour, "pub-2"),
	}
	var (
		mu      sync.Mutex
		handled []string
		failed  = map[string]int{}
	)
	h := queue.BatchHandlerFunc(func(_ context.Context, msgs []queue.Message) queue.BatchResult {
		mu.Lock()
		defer mu.Unlock()
		var res queue.BatchResult
		for _, m := range msgs {
			body := string(m.Body)
			if fail, ok := firstFailure[body]; ok && failed[body] == 0 {
				failed[body]++
				res.Fail(m.ID, fail)
				continue
			}
			handled = append(handled, body)
		}
		return res
	})
	cctx, cancel := context.WithCancel(ctx)
	done := make(chan error)
	go func() { done <- q.Consume(cctx, h, settings(), db.Queue("dlq")) }()
	defer func() { cancel(); <-done }()
	tried := func() int {
		mu.Lock()
		defer mu.Unlock()
		return len(failed)
	}
	require.Eventually(t, func() bool { return tried() == 3 }, 10*time.Second, 10*time.Millisecond, "the three heads failed")
	// The consumer settles the failures after the handler returns; until
	// then the head is in flight, which WakeHeld leaves alone.
	require.Eventually(t, func() bool {
		n, err := q.WakeHeld(ctx, "t1", "pub-1")
		require.NoError(t, err)
		require.LessOrEqual(t, n, 1, "only the head held for pub-1")
		return n == 1
	}, 10*time.Second, 10*time.Millisecond, "the held head is woken")
	require.Eventually(t, func() bool {
		mu.Lock()
		defer mu.Unlock()
		return len(handled) == 2
	}, 10*time.Second, 10*time.Millisecond, "the woken head, then the message behind it")
	mu.Lock()
	assert.Equal(t, []string{"held head", "parked behind it"}, handled)
	mu.Unlock()
	n, err := q.WakeHeld(ctx, "t1", "pub-1")
	require.NoError(t, err)
	assert.Zero(t, n, "the retried head is not held")
	s, err := q.Stats(ctx)
	require.NoError(t, err)
	assert.Equal(t, sqlitequeue.Stats{InFlight: 2}, s, "the retried head and pub-2's wait on, received and not visible")
}
