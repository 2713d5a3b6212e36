// Package pulltest is the conformance suite of pull.Buffer. Every driver
// calls Run from its own tests:
//
//	func TestConformance(t *testing.T) {
//		pulltest.Run(t, func(t *testing.T, retention time.Duration, now func() time.Time) pull.Buffer {
//			return openFresh(t, retention, now)
//		})
//	}
//
// open must return an empty buffer that no other test uses, keeping events
// for retention by the clock now (the suite moves it).
package pulltest

import (
	"encoding/json"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/herokuevents/herokuevents/shared/event"
	"github.com/herokuevents/herokuevents/shared/pull"
)

const (
	tenantA = "11111111-1111-4111-8111-111111111111"
	tenantB = "22222222-2222-4222-8222-222222222222"
	subA    = "aaaaaaaa-aaaa-4aaa-8aaa-aaaaaaaaaaaa"
	subB    = "bbbbbbbb-bbbb-4bbb-8bbb-bbbbbbbbbbbb"
)

// Clock is a settable clock, safe for concurrent use.
type Clock struct {
	mu sync.Mutex
	t  time.Time
}

// NewClock returns a clock at t.
func NewClock(t time.Time) *Clock { return &Clock{t: t} }

// Now returns the clock's time.
func (c *Clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

// Advance moves the clock on by d.
func (c *Clock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// Open opens a fresh buffer for one test.
type Open func(t *testing.T, retention time.Duration, now func() time.Time) pull.Buffer

const retention = time.Hour

// Run runs every conformance test against buffers made by open.
func Run(t *testing.T, open Open) {
	t.Helper()
	tests := []struct {
		name string
		run  func(t *testing.T, b pull.Buffer, c *Clock)
	}{
		{"PutLeaseAck", testPutLeaseAck},
		{"ExactEvent", testExactEvent},
		{"LeaseEnds", testLeaseEnds},
		{"MaxOldestFirst", testMax},
		{"PutTwice", testPutTwice},
		{"AckUnknown", testAckUnknown},
		{"Retention", testRetention},
		{"Isolation", testIsolation},
		{"Drop", testDrop},
		{"ConcurrentLease", testConcurrentLease},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c := &Clock{t: time.Now().UTC().Truncate(time.Millisecond)}
			b := open(t, retention, c.Now)
			require.NotNil(t, b, "open returned a nil buffer")
			tc.run(t, b, c)
		})
	}
}

// Event returns a test event numbered i.
func Event(i int) event.Event {
	return event.Event{
		ID: fmt.Sprintf("ev-%03d", i), Source: "/tenants/" + tenantA + "/subscriptions/orders", Type: event.TypePublish,
		Subject: "/event/Order__e", Time: time.Date(2026, 3, 1, 9, 0, i, 500, time.UTC), DataContentType: "application/json",
		Data: json.RawMessage(fmt.Sprintf(`{"n":%d,"text":"café \"x\" 100%%","nested":{"a":[1,2.5,null]}}`, i)),
	}
}

func events(from, to int) []event.Event {
	var out []event.Event
	for i := from; i <= to; i++ {
		out = append(out, Event(i))
	}
	return out
}

func ids(ls []pull.Leased) []string {
	out := make([]string, len(ls))
	for i, l := range ls {
		out[i] = l.Event.ID
	}
	return out
}

func testPutLeaseAck(t *testing.T, b pull.Buffer, c *Clock) {
	ctx := t.Context()
	require.NoError(t, b.Put(ctx, tenantA, subA, events(1, 3)...))
	got, err := b.Lease(ctx, tenantA, subA, 10, time.Minute)
	require.NoError(t, err)
	assert.Equal(t, []string{"ev-001", "ev-002", "ev-003"}, ids(got))
	for _, l := range got {
		assert.Equal(t, 1, l.Receives)
		assert.WithinDuration(t, c.Now().Add(time.Minute), l.Until, time.Second)
	}
	again, err := b.Lease(ctx, tenantA, subA, 10, time.Minute)
	require.NoError(t, err)
	assert.Empty(t, again, "leased events are not handed out twice")
	acked, err := b.Ack(ctx, tenantA, subA, "ev-001", "ev-003")
	require.NoError(t, err)
	assert.ElementsMatch(t, []string{"ev-001", "ev-003"}, acked)
	bl, err := b.Backlog(ctx, tenantA, subA)
	require.NoError(t, err)
	assert.Equal(t, 1, bl.Pending)
	assert.Equal(t, 1, bl.Leased)
	assert.False(t, bl.Oldest.IsZero())
	c.Advance(2 * time.Minute)
	got, err = b.Lease(ctx, tenantA, subA, 10, time.Minute)
	require.NoError(t, err)
	assert.Equal(t, []string{"ev-002"}, ids(got), "only the unacknowledged event comes back")
}

func testExactEvent(t *testing.T, b pull.Buffer, _ *Clock) {
	ctx := t.Context()
	ev := Event(7)
	ev.DataSchema = "https://example.com/schema.json"
	ev.Extensions = map[string]any{"changedfields": "Name,Industry", "flag": true}
	require.NoError(t, b.Put(ctx, tenantA, subA, ev))
	got, err := b.Lease(ctx, tenantA, subA, 1, time.Minute)
	require.NoError(t, err)
	require.Len(t, got, 1)
	g := got[0].Event
	assert.Equal(t, ev.ID, g.ID)
	assert.Equal(t, ev.Source, g.Source)
	assert.Equal(t, ev.Type, g.Type)
	assert.Equal(t, ev.Subject, g.Subject)
	assert.True(t, ev.Time.Equal(g.Time), "time %s, want %s", g.Time, ev.Time)
	assert.Equal(t, ev.DataSchema, g.DataSchema)
	assert.Equal(t, string(ev.Data), string(g.Data), "data byte for byte")
	assert.Equal(t, ev.Extensions, g.Extensions)
}

func testLeaseEnds(t *testing.T, b pull.Buffer, c *Clock) {
	ctx := t.Context()
	require.NoError(t, b.Put(ctx, tenantA, subA, events(1, 2)...))
	first, err := b.Lease(ctx, tenantA, subA, 1, 30*time.Second)
	require.NoError(t, err)
	require.Equal(t, []string{"ev-001"}, ids(first))
	c.Advance(29 * time.Second)
	next, err := b.Lease(ctx, tenantA, subA, 10, 30*time.Second)
	require.NoError(t, err)
	assert.Equal(t, []string{"ev-002"}, ids(next), "ev-001 is still leased")
	c.Advance(2 * time.Second)
	back, err := b.Lease(ctx, tenantA, subA, 10, 30*time.Second)
	require.NoError(t, err)
	require.Equal(t, []string{"ev-001"}, ids(back), "its lease ended: it comes back")
	assert.Equal(t, 2, back[0].Receives)
}

func testMax(t *testing.T, b pull.Buffer, _ *Clock) {
	ctx := t.Context()
	for i := 1; i <= 5; i++ { // one at a time: the order is the order of Put
		require.NoError(t, b.Put(ctx, tenantA, subA, Event(i)))
	}
	got, err := b.Lease(ctx, tenantA, subA, 2, time.Minute)
	require.NoError(t, err)
	assert.Equal(t, []string{"ev-001", "ev-002"}, ids(got))
	got, err = b.Lease(ctx, tenantA, subA, 2, time.Minute)
	require.NoError(t, err)
	assert.Equal(t, []string{"ev-003", "ev-004"}, ids(got))
}

func testPutTwice(t *testing.T, b pull.Buffer, c *Clock) {
	ctx := t.Context()
	require.NoError(t, b.Put(ctx, tenantA, subA, Event(1)))
	got, err := b.Lease(ctx, tenantA, subA, 10, time.Minute)
	require.NoError(t, err)
	require.Len(t, got, 1)
	c.Advance(time.Second)
	require.NoError(t, b.Put(ctx, tenantA, subA, Event(1), Event(2)))
	got, err = b.Lease(ctx, tenantA, subA, 10, time.Minute)
	require.NoError(t, err)
	assert.Equal(t, []string{"ev-002"}, ids(got), "putting a kept event again leaves it (and its lease) as it is")
	bl, err := b.Backlog(ctx, tenantA, subA)
	require.NoError(t, err)
	assert.Equal(t, 2, bl.Pending)
}

func testAckUnknown(t *testing.T, b pull.Buffer, _ *Clock) {
	ctx := t.Context()
	require.NoError(t, b.Put(ctx, tenantA, subA, Event(1)))
	acked, err := b.Ack(ctx, tenantA, subA, "nope", "ev-001", "ev-001")
	require.NoError(t, err)
	assert.Equal(t, []string{"ev-001"}, acked)
	acked, err = b.Ack(ctx, tenantA, subA, "ev-001")
	require.NoError(t, err)
	assert.Empty(t, acked, "acknowledged already")
	acked, err = b.Ack(ctx, tenantA, subA)
	require.NoError(t, err)
	assert.Empty(t, acked)
}

func testRetention(t *testing.T, b pull.Buffer, c *Clock) {
	ctx := t.Context()
	require.NoError(t, b.Put(ctx, tenantA, subA, Event(1)))
	c.Advance(retention / 2)
	require.NoError(t, b.Put(ctx, tenantA, subA, Event(2)))
	c.Advance(retention/2 + time.Second)
	bl, err := b.Backlog(ctx, tenantA, subA)
	require.NoError(t, err)
	assert.Equal(t, 1, bl.Pending, "the event older than the retention is gone")
	got, err := b.Lease(ctx, tenantA, subA, 10, time.Minute)
	require.NoError(t, err)
	assert.Equal(t, []string{"ev-002"}, ids(got))
	c.Advance(retention)
	got, err = b.Lease(ctx, tenantA, subA, 10, time.Minute)
	require.NoError(t, err)
	assert.Empty(t, got)
}

func testIsolation(t *testing.T, b pull.Buffer, _ *Clock) {
	ctx := t.Context()
	require.NoError(t, b.Put(ctx, tenantA, subA, Event(1)))
	require.NoError(t, b.Put(ctx, tenantA, subB, Event(2)))
	require.NoError(t, b.Put(ctx, tenantB, subA, Event(3)))
	acked, err := b.Ack(ctx, tenantB, subA, "ev-001")
	require.NoError(t, err)
	assert.Empty(t, acked, "another tenant's ack touches nothing")
	for _, tc := range []struct {
		tenant, sub, want string
	}{{tenantA, subA, "ev-001"}, {tenantA, subB, "ev-002"}, {tenantB, subA, "ev-003"}} {
		got, err := b.Lease(ctx, tc.tenant, tc.sub, 10, time.Minute)
		require.NoError(t, err)
		assert.Equal(t, []string{tc.want}, ids(got), "%s/%s", tc.tenant, tc.sub)
	}
	bl, err := b.Backlog(ctx, tenantB, subB)
	require.NoError(t, err)
	assert.Equal(t, pull.Backlog{}, bl)
}

func testDrop(t *testing.T, b pull.Buffer, _ *Clock) {
	ctx := t.Context()
	require.NoError(t, b.Put(ctx, tenantA, subA, events(1, 3)...))
	require.NoError(t, b.Put(ctx, tenantA, subB, Event(4)))
	require.NoError(t, b.Drop(ctx, tenantA, subA))
	bl, err := b.Backlog(ctx, tenantA, subA)
	require.NoError(t, err)
	assert.Equal(t, 0, bl.Pending)
	bl, err = b.Backlog(ctx, tenantA, subB)
	require.NoError(t, err)
	assert.Equal(t, 1, bl.Pending)
}

func testConcurrentLease(t *testing.T, b pull.Buffer, _ *Clock) {
	ctx := t.Context()
	const n = 20
	require.NoError(t, b.Put(ctx, tenantA, subA, events(1, n)...))
	var mu sync.Mutex
	var all []string
	var wg sync.WaitGroup
	for range 5 {
		wg.Go(func() {
			for {
				got, err := b.Lease(ctx, tenantA, subA, 3, time.Minute)
				if !assert.NoError(t, err) || len(got) == 0 {
					return
				}
				mu.Lock()
				all = append(all, ids(got)...)
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	slices.Sort(all)
	want := ids(func() []pull.Leased {
		var ls []pull.Leased
		for _, e := range events(1, n) {
			ls = append(ls, pull.Leased{Event: e})
		}
		return ls
	}())
	assert.Equal(t, want, all, "every event handed out exactly once")
}
