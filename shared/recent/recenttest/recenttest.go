// Package recenttest is the conformance suite of recent.Store. Every driver
// calls Run from its own tests:
//
//	func TestConformance(t *testing.T) {
//		recenttest.Run(t, func(t *testing.T, l recent.Limits) recent.Store { return openFresh(t, l) })
//	}
//
// open must return an empty store with limits l that no other test uses;
// Run closes each store it opens with t.Cleanup.
package recenttest

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/herokuevents/herokuevents/shared/event"
	"github.com/herokuevents/herokuevents/shared/recent"
)

const (
	tenantA = "11111111-1111-4111-8111-111111111111"
	tenantB = "22222222-2222-4222-8222-222222222222"
	subA    = "aaaaaaaa-aaaa-4aaa-8aaa-aaaaaaaaaaaa"
	subB    = "bbbbbbbb-bbbb-4bbb-8bbb-bbbbbbbbbbbb"
)

// Run runs every conformance test against stores made by open.
func Run(t *testing.T, open func(t *testing.T, l recent.Limits) recent.Store) {
	t.Helper()
	fresh := func(t *testing.T, l recent.Limits) recent.Store {
		t.Helper()
		s := open(t, l)
		require.NotNil(t, s, "open returned a nil store")
		t.Cleanup(func() { assert.NoError(t, s.Close(), "close store") })
		return s
	}
	small := recent.Limits{PerSubscription: 5, MaxEventBytes: 200, MaxAge: time.Hour}
	tests := []struct {
		name string
		run  func(t *testing.T, s recent.Store)
	}{
		{"KeepAndLatest", testKeepAndLatest},
		{"LatestN", testLatestN},
		{"BoundedPerSubscription", testBounded},
		{"Isolation", testIsolation},
		{"Oversize", testOversize},
		{"KeptAgain", testKeptAgain},
		{"KeptAgainInOneSubscription", testKeptAgainInOneSubscription},
		{"MaxAge", testMaxAge},
		{"ConcurrentKeep", testConcurrent},
		{"CanceledContext", testCanceled},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) { tc.run(t, fresh(t, small)) })
	}
	t.Run("Defaults", func(t *testing.T) { testDefaults(t, fresh(t, recent.Limits{})) })
}

// base is a time every kept entry is near: the drivers judge age with
// their own clock.
var base = time.Now().UTC().Truncate(time.Millisecond)

func entry(tenant, sub string, i int) recent.Entry {
	ev := event.Event{
		ID: fmt.Sprintf("ev-%03d", i), Source: "/tenants/" + tenant + "/subscriptions/orders", Type: event.TypePublish,
		Time: base.Add(time.Duration(i) * time.Second), DataContentType: "application/json",
		Data: json.RawMessage(fmt.Sprintf(`{"n":%d,"text":"café \"x\" 100%%"}`, i)),
	}
	return recent.Entry{Tenant: tenant, Subscription: sub, Event: ev, Kept: base.Add(time.Duration(i) * time.Millisecond)}
}

func eventIDs(es []recent.Entry) []string {
	out := make([]string, len(es))
	for i, e := range es {
		out[i] = e.Event.ID
	}
	return out
}

func keep(t *testing.T, s recent.Store, es ...recent.Entry) {
	t.Helper()
	require.NoError(t, s.Keep(t.Context(), es...))
}

func latest(t *testing.T, s recent.Store, tenant, sub string, n int) []recent.Entry {
	t.Helper()
	got, err := s.Latest(t.Context(), tenant, sub, n)
	require.NoError(t, err)
	return got
}

func testKeepAndLatest(t *testing.T, s recent.Store) {
	first := entry(tenantA, subA, 1)
	first.Event.Subject = "/data/AccountChangeEvent"
	first.Event.Extensions = map[string]any{"changedfields": "Name,Industry", "sfreplayid": "42", "flag": true}
	second := entry(tenantA, subA, 2)
	keep(t, s, first)
	keep(t, s, second)
	got := latest(t, s, tenantA, subA, 10)
	require.Equal(t, []string{"ev-001", "ev-002"}, eventIDs(got), "oldest first")
	g := got[0]
	assert.Equal(t, tenantA, g.Tenant)
	assert.Equal(t, subA, g.Subscription)
	assert.Equal(t, first.Event.ID, g.Event.ID)
	assert.Equal(t, first.Event.Source, g.Event.Source)
	assert.Equal(t, first.Event.Type, g.Event.Type)
	assert.Equal(t, first.Event.Subject, g.Event.Subject)
	assert.True(t, first.Event.Time.Equal(g.Event.Time), "time %v, want %v", g.Event.Time, first.Event.Time)
	assert.Equal(t, first.Event.DataContentType, g.Event.DataContentType)
	assert.JSONEq(t, string(first.Event.Data), string(g.Event.Data))
	assert.Equal(t, first.Event.Extensions, g.Event.Extensions)
	assert.WithinDuration(t, first.Kept, g.Kept, time.Millisecond)
	assert.Equal(t, len(first.Event.Data), g.Size)
	assert.False(t, g.Oversize)
}

func testLatestN(t *testing.T, s recent.Store) {
	for i := 1; i <= 4; i++ {
		keep(t, s, entry(tenantA, subA, i))
	}
	tests := []struct {
		n    int
		want []string
	}{
		{1, []string{"ev-004"}},
		{3, []string{"ev-002", "ev-003", "ev-004"}},
		{4, []string{"ev-001", "ev-002", "ev-003", "ev-004"}},
		{10, []string{"ev-001", "ev-002", "ev-003", "ev-004"}},
		{0, []string{"ev-001", "ev-002", "ev-003", "ev-004"}},
	}
	for _, tt := range tests {
		t.Run(fmt.Sprint(tt.n), func(t *testing.T) {
			assert.Equal(t, tt.want, eventIDs(latest(t, s, tenantA, subA, tt.n)))
		})
	}
}

// testBounded: the store keeps the last PerSubscription (5) events, kept
// one by one or many at once.
func testBounded(t *testing.T, s recent.Store) {
	for i := 1; i <= 7; i++ {
		keep(t, s, entry(tenantA, subA, i))
	}
	assert.Equal(t, []string{"ev-003", "ev-004", "ev-005", "ev-006", "ev-007"}, eventIDs(latest(t, s, tenantA, subA, 0)))
	var many []recent.Entry
	for i := 8; i <= 20; i++ {
		many = append(many, entry(tenantA, subA, i))
	}
	keep(t, s, many...)
	assert.Equal(t, []string{"ev-016", "ev-017", "ev-018", "ev-019", "ev-020"}, eventIDs(latest(t, s, tenantA, subA, 0)))
	assert.Equal(t, []string{"ev-019", "ev-020"}, eventIDs(latest(t, s, tenantA, subA, 2)))
}

func testIsolation(t *testing.T, s recent.Store) {
	keep(t, s, entry(tenantA, subA, 1), entry(tenantA, subB, 2), entry(tenantB, subA, 3))
	keep(t, s, entry(tenantB, subA, 4))
	assert.Equal(t, []string{"ev-001"}, eventIDs(latest(t, s, tenantA, subA, 0)))
	assert.Equal(t, []string{"ev-002"}, eventIDs(latest(t, s, tenantA, subB, 0)))
	assert.Equal(t, []string{"ev-003", "ev-004"}, eventIDs(latest(t, s, tenantB, subA, 0)))
	assert.Empty(t, latest(t, s, tenantB, subB, 0), "nothing kept: empty, no error")
	assert.Empty(t, latest(t, s, "unknown", "unknown", 5))
}

func testOversize(t *testing.T, s recent.Store) {
	big := entry(tenantA, subA, 1)
	big.Event.Data = json.RawMessage(`{"blob":"` + strings.Repeat("x", 300) + `"}`)
	fits := entry(tenantA, subA, 2)
	fits.Event.Data = json.RawMessage(`{"blob":"` + strings.Repeat("y", 200-11) + `"}`)
	require.Len(t, fits.Event.Data, 200)
	keep(t, s, big, fits)
	got := latest(t, s, tenantA, subA, 0)
	require.Len(t, got, 2)
	assert.True(t, got[0].Oversize)
	assert.Empty(t, got[0].Event.Data)
	assert.Equal(t, len(big.Event.Data), got[0].Size)
	assert.Equal(t, big.Event.ID, got[0].Event.ID, "the attributes are kept")
	assert.False(t, got[1].Oversize)
	assert.JSONEq(t, string(fits.Event.Data), string(got[1].Event.Data))
	assert.Equal(t, 200, got[1].Size)
}

// testKeptAgain: a redelivered event is listed once, as the latest.
func testKeptAgain(t *testing.T, s recent.Store) {
	keep(t, s, entry(tenantA, subA, 1), entry(tenantA, subA, 2))
	again := entry(tenantA, subA, 1)
	again.Kept = base.Add(time.Second)
	keep(t, s, again)
	assert.Equal(t, []string{"ev-002", "ev-001"}, eventIDs(latest(t, s, tenantA, subA, 0)))
	assert.Equal(t, []string{"ev-001"}, eventIDs(latest(t, s, tenantA, subA, 1)))
}

// testKeptAgainInOneSubscription: an event id kept by several
// subscriptions, kept again by one of them in a Keep that spans
// subscriptions, is replaced there only.
func testKeptAgainInOneSubscription(t *testing.T, s recent.Store) {
	keep(t, s, entry(tenantA, subA, 1), entry(tenantA, subB, 1), entry(tenantB, subA, 1))
	again := entry(tenantA, subA, 1)
	again.Kept = base.Add(time.Second)
	keep(t, s, entry(tenantA, subB, 2), again, entry(tenantB, subA, 3))
	assert.Equal(t, []string{"ev-001"}, eventIDs(latest(t, s, tenantA, subA, 0)), "replaced, not added")
	assert.Equal(t, []string{"ev-001", "ev-002"}, eventIDs(latest(t, s, tenantA, subB, 0)), "another subscription's row of the id stays")
	assert.Equal(t, []string{"ev-001", "ev-003"}, eventIDs(latest(t, s, tenantB, subA, 0)), "another tenant's row of the id stays")
}

// testMaxAge: events kept longer ago than MaxAge (1h) are not listed.
func testMaxAge(t *testing.T, s recent.Store) {
	old := entry(tenantA, subA, 1)
	old.Kept = time.Now().Add(-2 * time.Hour)
	young := entry(tenantA, subA, 2)
	young.Kept = time.Now().Add(-time.Minute)
	keep(t, s, old, young)
	assert.Equal(t, []string{"ev-002"}, eventIDs(latest(t, s, tenantA, subA, 0)))
}

// testConcurrent: concurrent writers to one subscription leave exactly the
// limit, and every listed event is one that was kept.
func testConcurrent(t *testing.T, s recent.Store) {
	var wg sync.WaitGroup
	for w := range 4 {
		wg.Go(func() {
			for i := range 5 {
				assert.NoError(t, s.Keep(t.Context(), entry(tenantA, subA, w*100+i)))
			}
		})
	}
	wg.Wait()
	got := latest(t, s, tenantA, subA, 0)
	assert.Len(t, got, 5)
	seen := map[string]bool{}
	for _, e := range got {
		assert.False(t, seen[e.Event.ID], "listed once: %s", e.Event.ID)
		seen[e.Event.ID] = true
	}
}

func testCanceled(t *testing.T, s recent.Store) {
	canceled, cancel := context.WithCancel(t.Context())
	cancel()
	assert.Error(t, s.Keep(canceled, entry(tenantA, subA, 1)))
	_, err := s.Latest(canceled, tenantA, subA, 1)
	assert.Error(t, err)
}

// testDefaults: a store opened with zero Limits keeps
// recent.DefaultPerSubscription events of DefaultMaxEventBytes.
func testDefaults(t *testing.T, s recent.Store) {
	var many []recent.Entry
	for i := range recent.DefaultPerSubscription + 3 {
		many = append(many, entry(tenantA, subA, i))
	}
	keep(t, s, many...)
	got := latest(t, s, tenantA, subA, 0)
	require.Len(t, got, recent.DefaultPerSubscription)
	assert.Equal(t, "ev-003", got[0].Event.ID)

	big := entry(tenantA, subB, 1)
	big.Event.Data = json.RawMessage(`{"blob":"` + strings.Repeat("x", recent.DefaultMaxEventBytes) + `"}`)
	keep(t, s, big)
	got = latest(t, s, tenantA, subB, 0)
	require.Len(t, got, 1)
	assert.True(t, got[0].Oversize)
}
