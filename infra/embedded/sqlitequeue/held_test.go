package sqlitequeue_test

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

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
