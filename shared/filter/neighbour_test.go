package filter_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/herokuevents/herokuevents/infra/embedded/sqlitequeue"
	"github.com/herokuevents/herokuevents/shared/config"
	"github.com/herokuevents/herokuevents/shared/config/memstore"
	"github.com/herokuevents/herokuevents/shared/event"
	"github.com/herokuevents/herokuevents/shared/filter"
	"github.com/herokuevents/herokuevents/shared/queue"
)

// tenantA's filter makes a huge event for kind "big", runs past its time
// limit for kind "slow", and passes anything else unchanged.
const filterA = `root = if this.kind == "big" { {"big": "x".repeat(1990000)} } else if this.kind == "slow" { range(0, 100000).map_each(i -> range(0, 100000).map_each(j -> j)) } else { this }`

func twoTenants(t *testing.T, delivery queue.Sender) *filter.Handler {
	t.Helper()
	st := memstore.New()
	t.Cleanup(func() { st.Close() })
	for _, s := range []struct {
		tenant string
		s      config.Stream
	}{
		{"tenant-a", config.Stream{ID: "s-a", Subscription: "sub-a", Publication: "pub-a", Filter: filterA}},
		{"tenant-a", config.Stream{ID: "s-a2", Subscription: "sub-a2", Publication: "pub-a2"}},
		{"tenant-b", config.Stream{ID: "s-b", Subscription: "sub-b", Publication: "pub-b", Filter: `root = this.merge({"seen": true})`}},
	} {
		_, err := config.Insert(t.Context(), st, config.Item{Tenant: s.tenant, Kind: config.KindStream, ID: s.s.ID, Name: config.StreamName(s.s.Subscription, s.s.Publication)}, s.s)
		require.NoError(t, err)
	}
	h, err := filter.New(filter.Options{Store: st, Delivery: delivery})
	require.NoError(t, err)
	return h
}

func routedFor(t *testing.T, tenant, sub, id, data string) queue.Message {
	t.Helper()
	b, err := json.Marshal(event.Routed{Tenant: tenant, Subscription: sub, Event: event.Event{ID: id, Source: "/s", Type: "t", Time: time.Now().UTC(), Data: json.RawMessage(data)}})
	require.NoError(t, err)
	return queue.Message{ID: id, Body: b, Attributes: map[string]string{queue.AttrTenant: tenant}, Receives: 1}
}

// TestOneMessageNeverFailsItsNeighbours: tenant A's events whose filter
// output is too large, whose filter runs past its time limit, and whose
// delivery would not fit the queue (that one passes no filter) share a
// batch with five events of tenant B. Against the SQLite queue driver, A's
// three fail permanently and are dead-lettered with their own reason; B's
// five are delivered and are not retried. neighbour_aws_test.go runs the
// same batch against SQS (moto).
func TestOneMessageNeverFailsItsNeighbours(t *testing.T) {
	db, err := sqlitequeue.Open(filepath.Join(t.TempDir(), "queues.db"))
	require.NoError(t, err)
	t.Cleanup(func() { db.Close() })
	deliveries, dlq := db.Queue("delivery"), db.Queue("ingest-dlq")
	neighbours(t, deliveries, dlq, func() [][]byte {
		got, err := deliveries.Receive(t.Context(), 10, time.Minute)
		require.NoError(t, err)
		var out [][]byte
		for _, m := range got {
			out = append(out, m.Body)
		}
		return out
	})
}

// neighbours runs the batch of TestOneMessageNeverFailsItsNeighbours with
// delivery as the delivery queue and dlq as the ingest queue's dead-letter
// queue; received returns the bodies queued on delivery.
func neighbours(t *testing.T, delivery, dlq queue.Sender, received func() [][]byte) {
	h := twoTenants(t, delivery)
	edge := `{"kind":"edge","p":"` + strings.Repeat("e", queue.MaxBody-1000) + `"}`
	batch := []queue.Message{
		routedFor(t, "tenant-a", "sub-a", "a-big", `{"kind":"big"}`),
		routedFor(t, "tenant-b", "sub-b", "b-1", `{"n":1}`),
		routedFor(t, "tenant-b", "sub-b", "b-2", `{"n":2}`),
		routedFor(t, "tenant-a", "sub-a", "a-slow", `{"kind":"slow"}`),
		routedFor(t, "tenant-b", "sub-b", "b-3", `{"n":3}`),
		routedFor(t, "tenant-b", "sub-b", "b-4", `{"n":4}`),
		routedFor(t, "tenant-a", "sub-a2", "a-edge", edge),
		routedFor(t, "tenant-b", "sub-b", "b-5", `{"n":5}`),
	}
	res := h.HandleBatch(t.Context(), batch)
	failed := map[string]error{}
	for _, f := range res.Failures {
		failed[f.ID] = f.Err
	}
	require.Len(t, failed, 3, "only tenant A's messages fail: %v", failed)
	for id, want := range map[string]string{
		"a-big":  "exceeds the limit of 1048576 bytes",
		"a-slow": "time limit of 100ms per event exceeded",
		"a-edge": "over the 1048576-byte limit",
	} {
		require.Contains(t, failed, id)
		assert.True(t, queue.IsPermanent(failed[id]), "%s is dead-lettered at once, not retried", id)
		assert.ErrorContains(t, failed[id], want)
		assert.NotContains(t, failed[id].Error(), "tenant-b")
	}

	// Settle as the consumer does: A's three go to the dead-letter queue
	// with their reasons, nothing is left to redeliver.
	var dead []queue.Message
	retry, err := queue.Settle(t.Context(), batch, res, queue.Settings{MaxReceives: 5}, queue.SenderFunc(func(ctx context.Context, msgs ...queue.Message) error {
		dead = append(dead, msgs...)
		return dlq.Send(ctx, msgs...)
	}))
	require.NoError(t, err)
	assert.Empty(t, retry)
	require.Len(t, dead, 3)
	for _, m := range dead {
		assert.Equal(t, "tenant-a", m.Attributes[queue.AttrTenant])
		assert.Contains(t, m.Attributes[queue.AttrReason], "limit")
	}

	var seen []string
	for _, body := range received() {
		var d event.Delivery
		require.NoError(t, json.Unmarshal(body, &d))
		assert.Equal(t, "tenant-b", d.Tenant)
		assert.JSONEq(t, fmt.Sprintf(`{"n":%s,"seen":true}`, strings.TrimPrefix(d.Event.ID, "b-")), string(d.Event.Data))
		seen = append(seen, d.Event.ID)
	}
	assert.ElementsMatch(t, []string{"b-1", "b-2", "b-3", "b-4", "b-5"}, seen, "all of B's events are delivered")
}

// rejecting is a delivery queue that refuses, as a driver would with
// ErrInvalid, any call that carries a body containing "reject-me", and
// fails every call while down is set.
type rejecting struct {
	recorder
	down bool
}

func (r *rejecting) Send(ctx context.Context, msgs ...queue.Message) error {
	if r.down {
		return errors.New("queue down")
	}
	for i, m := range msgs {
		if strings.Contains(string(m.Body), "reject-me") {
			return fmt.Errorf("message %d: body not accepted: %w", i, queue.ErrInvalid)
		}
	}
	return r.recorder.Send(ctx, msgs...)
}

// TestSendFailureFailsOnlyItsMessage: when the batch's one send is
// refused, each message's deliveries are sent on their own; the message
// the queue cannot carry fails alone, permanently.
func TestSendFailureFailsOnlyItsMessage(t *testing.T) {
	q := &rejecting{}
	h := twoTenants(t, q)
	res := h.HandleBatch(t.Context(), []queue.Message{
		routedFor(t, "tenant-b", "sub-b", "b-1", `{"n":1}`),
		routedFor(t, "tenant-a", "sub-a", "a-bad", `{"kind":"reject-me"}`),
		routedFor(t, "tenant-b", "sub-b", "b-2", `{"n":2}`),
	})
	require.Len(t, res.Failures, 1)
	assert.Equal(t, "a-bad", res.Failures[0].ID)
	assert.True(t, queue.IsPermanent(res.Failures[0].Err))
	assert.ErrorContains(t, res.Failures[0].Err, "message 0: body not accepted", "the reason is the message's own")
	ids := []string{}
	for _, d := range deliveries(t, &q.recorder) {
		ids = append(ids, d.Event.ID)
	}
	assert.ElementsMatch(t, []string{"b-1", "b-2"}, ids)
}

// TestEventNotMadeIsDeadLettered: an event its source could not make (a
// generator's mapping over a limit) is dead-lettered with the source's
// reason; its neighbour is routed.
func TestEventNotMadeIsDeadLettered(t *testing.T) {
	q := &recorder{}
	h := twoTenants(t, q)
	b, err := json.Marshal(event.Routed{Tenant: "tenant-a", Subscription: "sub-a", Error: "generator g: mapping limit exceeded: time limit of 100ms per event exceeded",
		Event: event.Event{ID: "a-gen", Source: "/s", Type: event.TypeGenerate}})
	require.NoError(t, err)
	res := h.HandleBatch(t.Context(), []queue.Message{{ID: "a-gen", Body: b}, routedFor(t, "tenant-b", "sub-b", "b-1", `{"n":1}`)})
	require.Len(t, res.Failures, 1)
	assert.Equal(t, "a-gen", res.Failures[0].ID)
	assert.True(t, queue.IsPermanent(res.Failures[0].Err))
	assert.EqualError(t, res.Failures[0].Err, "generator g: mapping limit exceeded: time limit of 100ms per event exceeded")
	require.Len(t, deliveries(t, q), 1)
}
