package queue_test

import (
	"encoding/json"
	"errors"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/herokuevents/herokuevents/shared/event"
	"github.com/herokuevents/herokuevents/shared/queue"
)

func TestDescribe(t *testing.T) {
	first := time.Date(2026, 3, 1, 10, 0, 0, 0, time.UTC)
	sent := time.Date(2026, 3, 2, 10, 0, 0, 0, time.UTC)
	delivery, err := json.Marshal(event.Delivery{Tenant: "t1", Publication: "p1", Event: event.Event{ID: "e1"}, Attempt: 3, FirstTry: first})
	require.NoError(t, err)
	routed, err := json.Marshal(event.Routed{Tenant: "t1", Subscription: "s1", Event: event.Event{ID: "e2"}})
	require.NoError(t, err)
	tests := []struct {
		name string
		msg  queue.Message
		want queue.DeadLetter
	}{
		{
			name: "delivery",
			msg: queue.Message{ID: "m1", Body: delivery, SentAt: sent,
				Attributes: map[string]string{queue.AttrTenant: "t1", queue.AttrAttempt: "4", queue.AttrReason: "400 Bad Request"}},
			want: queue.DeadLetter{ID: "m1", Queue: "delivery", Reason: "400 Bad Request", Attempt: 4, EventID: "e1",
				Publication: "p1", FirstTry: first, DeadLetteredAt: sent},
		},
		{
			name: "routed, attempt from the body when the attribute is missing",
			msg:  queue.Message{ID: "m2", Body: routed, SentAt: sent, Attributes: map[string]string{queue.AttrReason: "bad filter"}},
			want: queue.DeadLetter{ID: "m2", Queue: "delivery", Reason: "bad filter", EventID: "e2", Subscription: "s1", DeadLetteredAt: sent},
		},
		{
			name: "not JSON, no reason",
			msg:  queue.Message{ID: "m3", Body: []byte("garbage"), SentAt: sent},
			want: queue.DeadLetter{ID: "m3", Queue: "delivery", Reason: "no reason recorded (moved by the queue's redrive policy)", DeadLetteredAt: sent},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			assert.Equal(t, tc.want, queue.Describe("delivery", tc.msg))
		})
	}
}

func TestRevive(t *testing.T) {
	first := time.Date(2026, 3, 1, 10, 0, 0, 0, time.UTC)
	delivery, err := json.Marshal(event.Delivery{Tenant: "t1", Publication: "p1", Event: event.Event{ID: "e1", Source: "s", Type: "x"}, Attempt: 3, FirstTry: first})
	require.NoError(t, err)
	routed := []byte(`{"tenant":"t1","subscription":"s1","event":{"id":"e2"}}`)
	fresh := []byte(`{"tenant":"t1","publication":"p1","event":{"id":"e3"},"attempt":0}`)

	t.Run("delivery starts afresh", func(t *testing.T) {
		orig := map[string]string{queue.AttrTenant: "t1", queue.AttrAttempt: "3", queue.AttrReason: "gave up"}
		got := queue.Revive(queue.Message{ID: "m", Body: delivery, Attributes: orig, Receives: 2, SentAt: first})
		assert.Equal(t, map[string]string{queue.AttrTenant: "t1", queue.AttrAttempt: "0"}, got.Attributes)
		assert.Empty(t, got.ID)
		assert.Zero(t, got.Receives)
		var d event.Delivery
		require.NoError(t, json.Unmarshal(got.Body, &d))
		assert.Zero(t, d.Attempt)
		assert.True(t, d.FirstTry.IsZero())
		assert.Equal(t, "e1", d.Event.ID)
		assert.Equal(t, "p1", d.Publication)
		assert.NotContains(t, string(got.Body), "first_try")
		assert.Len(t, orig, 3, "the dead letter's attributes are untouched")
	})
	t.Run("other bodies are kept byte for byte", func(t *testing.T) {
		for _, body := range [][]byte{routed, fresh, []byte("not json"), []byte(`[1,2]`)} {
			got := queue.Revive(queue.Message{Body: body, Attributes: map[string]string{queue.AttrReason: "r"}})
			assert.Equal(t, string(body), string(got.Body))
			assert.Equal(t, map[string]string{queue.AttrAttempt: "0"}, got.Attributes)
		}
	})
}

func TestMissing(t *testing.T) {
	require.NoError(t, queue.Missing([]string{"a"}, map[string]bool{"a": true}))
	err := queue.Missing([]string{"a", "b", "c", "b"}, map[string]bool{"a": true})
	require.ErrorIs(t, err, queue.ErrNotFound)
	var m *queue.MissingError
	require.True(t, errors.As(err, &m))
	assert.Equal(t, []string{"b", "c"}, m.IDs)
	assert.Equal(t, "dead letters b, c: dead letter not found", err.Error())
}
