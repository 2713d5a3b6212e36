// Package deadlettertest is the conformance suite of queue.DeadLetters
// implementations: tenant isolation of listing, redriving and purging, the
// summary of each dead letter, redrive back to the source queue as a fresh
// message, purge for good, and "nothing moves" when an id is not the
// tenant's.
package deadlettertest

import (
	"encoding/json"
	"errors"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/herokuevents/herokuevents/shared/event"
	"github.com/herokuevents/herokuevents/shared/queue"
	"github.com/herokuevents/herokuevents/shared/queue/queuetest"
)

// The source queue names every Env pairs with a dead-letter queue.
const (
	Ingest   = "ingest"
	Delivery = "delivery"
)

// Env is a fresh set of queues and the DeadLetters under test.
type Env struct {
	// DeadLetters pairs DLQs[name] with Sources[name] for Ingest and
	// Delivery, and reports name as DeadLetter.Queue.
	DeadLetters queue.DeadLetters
	Sources     map[string]queuetest.Queue
	DLQs        map[string]queuetest.Queue
}

// Harness adapts a driver to the suite.
type Harness struct {
	// Open returns fresh, empty queues; it registers their cleanup with t.
	Open func(t *testing.T) Env
}

// Run runs the suite against h. Cases run in parallel.
func Run(t *testing.T, h Harness) {
	cases := []struct {
		name string
		fn   func(t *testing.T, e Env)
	}{
		{"ListIsolatesTenants", listIsolates},
		{"ListDoesNotConsume", listDoesNotConsume},
		{"RedriveByID", redriveByID},
		{"RedriveRefusesOtherTenantsIDs", redriveRefuses},
		{"RedriveAllOfTenant", redriveAll},
		{"PurgeByID", purgeByID},
		{"PurgeRefusesOtherTenantsIDs", purgeRefuses},
		{"PurgeAllOfTenant", purgeAll},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			c.fn(t, h.Open(t))
		})
	}
}

var firstTry = time.Date(2026, 2, 3, 4, 5, 6, 0, time.UTC)

// deadDelivery is what queue.Settle puts on the delivery DLQ.
func deadDelivery(t *testing.T, tenant, pub, eventID string, attempt int, reason string) queue.Message {
	t.Helper()
	body, err := json.Marshal(event.Delivery{Tenant: tenant, Publication: pub, Attempt: attempt, FirstTry: firstTry,
		Event: event.Event{ID: eventID, Source: "/s", Type: event.TypePublish, Data: json.RawMessage(`{"n":1}`)}})
	require.NoError(t, err)
	return queue.Message{Body: body, Attributes: map[string]string{
		queue.AttrTenant: tenant, queue.AttrAttempt: strconv.Itoa(attempt), queue.AttrReason: reason}}
}

// deadRouted is what queue.Settle puts on the ingest DLQ.
func deadRouted(t *testing.T, tenant, sub, eventID, reason string) queue.Message {
	t.Helper()
	body, err := json.Marshal(event.Routed{Tenant: tenant, Subscription: sub,
		Event: event.Event{ID: eventID, Source: "/s", Type: event.TypePublish}})
	require.NoError(t, err)
	return queue.Message{Body: body, Attributes: map[string]string{
		queue.AttrTenant: tenant, queue.AttrAttempt: "0", queue.AttrReason: reason}}
}

// fixture fills the DLQs: tenant A has two delivery and one ingest dead
// letters, tenant B one delivery dead letter, and one message has no tenant.
func fixture(t *testing.T, e Env) {
	t.Helper()
	require.NoError(t, e.DLQs[Delivery].Send(t.Context(),
		deadDelivery(t, "tenant-a", "pub-1", "ev-a1", 4, "deliver to publication hook: 400 Bad Request"),
		deadDelivery(t, "tenant-b", "pub-9", "ev-b1", 1, "410 gone"),
		deadDelivery(t, "tenant-a", "pub-2", "ev-a2", 0, "publication pub-2 is disabled: gone"),
		queue.Message{Body: []byte(`{"broken":`), Attributes: map[string]string{queue.AttrReason: "decode delivery"}},
	))
	require.NoError(t, e.DLQs[Ingest].Send(t.Context(),
		deadRouted(t, "tenant-a", "sub-1", "ev-a3", "route: bad filter")))
}

func byEvent(list []queue.DeadLetter) map[string]queue.DeadLetter {
	out := map[string]queue.DeadLetter{}
	for _, d := range list {
		out[d.EventID] = d
	}
	return out
}

func events(list []queue.DeadLetter) []string {
	out := make([]string, 0, len(list))
	for _, d := range list {
		out = append(out, d.EventID)
	}
	slices.Sort(out)
	return out
}

func list(t *testing.T, e Env, tenant string) []queue.DeadLetter {
	t.Helper()
	l, err := e.DeadLetters.List(t.Context(), tenant, 100)
	require.NoError(t, err)
	return l
}

func listIsolates(t *testing.T, e Env) {
	start := time.Now().Add(-time.Minute)
	fixture(t, e)
	a := list(t, e, "tenant-a")
	require.Equal(t, []string{"ev-a1", "ev-a2", "ev-a3"}, events(a))
	ids := map[string]bool{}
	for _, d := range a {
		assert.NotEmpty(t, d.ID)
		assert.False(t, ids[d.ID], "ids are unique: %s", d.ID)
		ids[d.ID] = true
		assert.True(t, d.DeadLetteredAt.After(start), "dead-lettered at %v", d.DeadLetteredAt)
		assert.False(t, d.DeadLetteredAt.After(time.Now().Add(time.Minute)))
	}
	got := byEvent(a)
	d := got["ev-a1"]
	assert.Equal(t, Delivery, d.Queue)
	assert.Equal(t, "deliver to publication hook: 400 Bad Request", d.Reason)
	assert.Equal(t, 4, d.Attempt)
	assert.Equal(t, "pub-1", d.Publication)
	assert.Empty(t, d.Subscription)
	assert.True(t, firstTry.Equal(d.FirstTry), "first try %v", d.FirstTry)
	d = got["ev-a3"]
	assert.Equal(t, Ingest, d.Queue)
	assert.Equal(t, "route: bad filter", d.Reason)
	assert.Equal(t, "sub-1", d.Subscription)
	assert.Empty(t, d.Publication)

	b := list(t, e, "tenant-b")
	require.Equal(t, []string{"ev-b1"}, events(b))
	assert.Equal(t, "410 gone", b[0].Reason)
	assert.Empty(t, list(t, e, "tenant-c"), "an unknown tenant has none")
	assert.Empty(t, list(t, e, ""), "messages without a tenant belong to no tenant")

	one, err := e.DeadLetters.List(t.Context(), "tenant-a", 1)
	require.NoError(t, err)
	assert.Len(t, one, 1, "limit honoured")
}

func listDoesNotConsume(t *testing.T, e Env) {
	fixture(t, e)
	first := list(t, e, "tenant-a")
	second := list(t, e, "tenant-a")
	assert.Equal(t, events(first), events(second), "listing again shows the same")
	// The other tenant's messages are not held back by the listing either.
	assert.Equal(t, []string{"ev-b1"}, events(list(t, e, "tenant-b")))
	n, err := e.DeadLetters.Redrive(t.Context(), "tenant-a", first[0].ID)
	require.NoError(t, err, "a listed dead letter can be redriven at once")
	assert.Equal(t, 1, n)
}

// receive collects n messages of q within a few seconds.
func receive(t *testing.T, q queuetest.Queue, n int) []queue.Message {
	t.Helper()
	var got []queue.Message
	for deadline := time.Now().Add(5 * time.Second); len(got) < n && time.Now().Before(deadline); {
		m, err := q.Receive(t.Context(), 10, time.Minute)
		require.NoError(t, err)
		got = append(got, m...)
		if len(m) == 0 {
			time.Sleep(20 * time.Millisecond)
		}
	}
	return got
}

func receiveNone(t *testing.T, q queuetest.Queue, msg string) {
	t.Helper()
	m, err := q.Receive(t.Context(), 10, time.Minute)
	require.NoError(t, err)
	assert.Empty(t, m, msg)
}

func redriveByID(t *testing.T, e Env) {
	fixture(t, e)
	a := byEvent(list(t, e, "tenant-a"))
	n, err := e.DeadLetters.Redrive(t.Context(), "tenant-a", a["ev-a1"].ID)
	require.NoError(t, err)
	assert.Equal(t, 1, n)

	back := receive(t, e.Sources[Delivery], 1)
	require.Len(t, back, 1)
	m := back[0]
	assert.Equal(t, map[string]string{queue.AttrTenant: "tenant-a", queue.AttrAttempt: "0"}, m.Attributes,
		"tenant kept, attempt reset, no reason")
	assert.Equal(t, 1, m.Receives, "a fresh message")
	var d event.Delivery
	require.NoError(t, json.Unmarshal(m.Body, &d))
	assert.Equal(t, "ev-a1", d.Event.ID)
	assert.Equal(t, "pub-1", d.Publication)
	assert.Zero(t, d.Attempt, "the retry policy starts afresh")
	assert.True(t, d.FirstTry.IsZero())
	assert.JSONEq(t, `{"n":1}`, string(d.Event.Data))
	receiveNone(t, e.Sources[Ingest], "nothing sent to the other source queue")

	assert.Equal(t, []string{"ev-a2", "ev-a3"}, events(list(t, e, "tenant-a")))
	assert.Equal(t, []string{"ev-b1"}, events(list(t, e, "tenant-b")))

	_, err = e.DeadLetters.Redrive(t.Context(), "tenant-a", a["ev-a1"].ID)
	require.ErrorIs(t, err, queue.ErrNotFound, "already redriven")

	n, err = e.DeadLetters.Redrive(t.Context(), "tenant-a", a["ev-a3"].ID)
	require.NoError(t, err)
	assert.Equal(t, 1, n)
	back = receive(t, e.Sources[Ingest], 1)
	require.Len(t, back, 1)
	var r event.Routed
	require.NoError(t, json.Unmarshal(back[0].Body, &r))
	assert.Equal(t, "ev-a3", r.Event.ID)
	assert.Equal(t, "sub-1", r.Subscription)
	assert.NotContains(t, back[0].Attributes, queue.AttrReason)
}

func redriveRefuses(t *testing.T, e Env) {
	fixture(t, e)
	a := byEvent(list(t, e, "tenant-a"))
	b := list(t, e, "tenant-b")
	require.Len(t, b, 1)
	tests := []struct {
		name    string
		ids     []string
		missing []string
	}{
		{"another tenant's id", []string{b[0].ID}, []string{b[0].ID}},
		{"unknown id", []string{"no-such-id"}, []string{"no-such-id"}},
		{"one good, one other tenant's", []string{a["ev-a2"].ID, b[0].ID}, []string{b[0].ID}},
		{"numeric unknown id", []string{"999999999"}, []string{"999999999"}},
	}
	for _, tc := range tests {
		n, err := e.DeadLetters.Redrive(t.Context(), "tenant-a", tc.ids...)
		require.ErrorIs(t, err, queue.ErrNotFound, tc.name)
		var me *queue.MissingError
		require.True(t, errors.As(err, &me), tc.name)
		assert.Equal(t, tc.missing, me.IDs, tc.name)
		assert.Zero(t, n, tc.name)
	}
	receiveNone(t, e.Sources[Delivery], "nothing moved")
	receiveNone(t, e.Sources[Ingest], "nothing moved")
	assert.Equal(t, []string{"ev-a1", "ev-a2", "ev-a3"}, events(list(t, e, "tenant-a")))
	assert.Equal(t, []string{"ev-b1"}, events(list(t, e, "tenant-b")))
}

func redriveAll(t *testing.T, e Env) {
	fixture(t, e)
	n, err := e.DeadLetters.Redrive(t.Context(), "tenant-a")
	require.NoError(t, err)
	assert.Equal(t, 3, n)
	delivery := receive(t, e.Sources[Delivery], 2)
	ingest := receive(t, e.Sources[Ingest], 1)
	require.Len(t, delivery, 2)
	require.Len(t, ingest, 1)
	for _, m := range append(delivery, ingest...) {
		assert.Equal(t, "tenant-a", m.Attributes[queue.AttrTenant])
		assert.NotContains(t, m.Attributes, queue.AttrReason)
	}
	receiveNone(t, e.Sources[Delivery], "only tenant-a's dead letters were moved")
	assert.Empty(t, list(t, e, "tenant-a"))
	assert.Equal(t, []string{"ev-b1"}, events(list(t, e, "tenant-b")), "the other tenant's stay")

	n, err = e.DeadLetters.Redrive(t.Context(), "tenant-a")
	require.NoError(t, err)
	assert.Zero(t, n, "nothing left")

	// The other tenant's and the tenantless message are still in the DLQ.
	left := receive(t, e.DLQs[Delivery], 2)
	var bodies []string
	for _, m := range left {
		bodies = append(bodies, m.Attributes[queue.AttrTenant]+"|"+m.Attributes[queue.AttrReason])
	}
	slices.Sort(bodies)
	assert.Equal(t, []string{"tenant-b|410 gone", "|decode delivery"}, bodies)
}

func purgeByID(t *testing.T, e Env) {
	fixture(t, e)
	a := byEvent(list(t, e, "tenant-a"))
	n, err := e.DeadLetters.Purge(t.Context(), "tenant-a", a["ev-a1"].ID, a["ev-a3"].ID)
	require.NoError(t, err)
	assert.Equal(t, 2, n)
	assert.Equal(t, []string{"ev-a2"}, events(list(t, e, "tenant-a")))
	assert.Equal(t, []string{"ev-b1"}, events(list(t, e, "tenant-b")))
	receiveNone(t, e.Sources[Delivery], "a purge sends nothing back")
	receiveNone(t, e.Sources[Ingest], "a purge sends nothing back")

	_, err = e.DeadLetters.Purge(t.Context(), "tenant-a", a["ev-a1"].ID)
	require.ErrorIs(t, err, queue.ErrNotFound, "already purged")
	_, err = e.DeadLetters.Redrive(t.Context(), "tenant-a", a["ev-a3"].ID)
	require.ErrorIs(t, err, queue.ErrNotFound, "a purged dead letter cannot be redriven")
}

func purgeRefuses(t *testing.T, e Env) {
	fixture(t, e)
	a := byEvent(list(t, e, "tenant-a"))
	b := list(t, e, "tenant-b")
	require.Len(t, b, 1)
	for _, ids := range [][]string{{b[0].ID}, {"no-such-id"}, {a["ev-a2"].ID, b[0].ID}} {
		n, err := e.DeadLetters.Purge(t.Context(), "tenant-a", ids...)
		require.ErrorIs(t, err, queue.ErrNotFound, "%v", ids)
		assert.Zero(t, n)
	}
	_, err := e.DeadLetters.Purge(t.Context(), "", b[0].ID)
	require.ErrorIs(t, err, queue.ErrNotFound, "no tenant")
	assert.Equal(t, []string{"ev-a1", "ev-a2", "ev-a3"}, events(list(t, e, "tenant-a")), "nothing deleted")
	assert.Equal(t, []string{"ev-b1"}, events(list(t, e, "tenant-b")))
}

func purgeAll(t *testing.T, e Env) {
	fixture(t, e)
	n, err := e.DeadLetters.Purge(t.Context(), "tenant-a")
	require.NoError(t, err)
	assert.Equal(t, 3, n)
	assert.Empty(t, list(t, e, "tenant-a"))
	assert.Equal(t, []string{"ev-b1"}, events(list(t, e, "tenant-b")), "the other tenant's stay")
	receiveNone(t, e.Sources[Delivery], "a purge sends nothing back")

	n, err = e.DeadLetters.Purge(t.Context(), "tenant-a")
	require.NoError(t, err)
	assert.Zero(t, n, "nothing left")
	left := receive(t, e.DLQs[Delivery], 2)
	assert.Len(t, left, 2, "the other tenant's and the tenantless message are still there")
}
