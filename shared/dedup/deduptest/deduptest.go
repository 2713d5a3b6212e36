// Package deduptest is the conformance suite of dedup.Store. Every driver
// calls Run from its own tests:
//
//	func TestConformance(t *testing.T) {
//		deduptest.Run(t, func(t *testing.T, now func() time.Time) dedup.Store { return openFresh(t, now) })
//	}
//
// open must return an empty store that reads the time from now (the
// suite's clock, which it moves forward instead of sleeping) and that no
// other test uses; Run closes each store it opens with t.Cleanup.
package deduptest

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/herokuevents/herokuevents/shared/dedup"
)

const (
	tenantA = "11111111-1111-4111-8111-111111111111"
	tenantB = "22222222-2222-4222-8222-222222222222"
)

// Clock is a settable clock, safe for concurrent use.
type Clock struct {
	mu sync.Mutex
	t  time.Time
}

// NewClock returns a clock at a fixed time near the present (drivers may
// hand times to a store that expires items by the wall clock).
func NewClock() *Clock { return &Clock{t: time.Now().UTC().Truncate(time.Second)} }

// Now returns the clock's time.
func (c *Clock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }

// Advance moves the clock forward by d.
func (c *Clock) Advance(d time.Duration) { c.mu.Lock(); c.t = c.t.Add(d); c.mu.Unlock() }

// Run runs every conformance test against stores made by open.
func Run(t *testing.T, open func(t *testing.T, now func() time.Time) dedup.Store) {
	t.Helper()
	tests := []struct {
		name string
		run  func(t *testing.T, s dedup.Store, c *Clock)
	}{
		{"ClaimConfirmDuplicate", testDuplicate},
		{"PendingIsInFlight", testInFlight},
		{"TakeOverAfterLease", testTakeOver},
		{"ReleaseForgets", testRelease},
		{"WindowPasses", testWindow},
		{"DefaultWindow", testDefaultWindow},
		{"ScopedPerTenant", testTenants},
		{"StaleConfirmAndRelease", testStale},
		{"ConcurrentClaims", testConcurrent},
		{"CanceledContext", testCanceled},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c := NewClock()
			s := open(t, c.Now)
			require.NotNil(t, s, "open returned a nil store")
			t.Cleanup(func() { assert.NoError(t, s.Close(), "close store") })
			tc.run(t, s, c)
		})
	}
}

func key(t *testing.T) string { return dedup.Key("pub-"+t.Name(), dedup.KindHeader, "order-42") }

func claim(t *testing.T, s dedup.Store, tenant, k, id string, window time.Duration) dedup.Result {
	t.Helper()
	r, err := s.Claim(t.Context(), tenant, k, id, window)
	require.NoError(t, err)
	return r
}

func res(o dedup.Outcome, id string) dedup.Result { return dedup.Result{Outcome: o, EventID: id} }

func testDuplicate(t *testing.T, s dedup.Store, c *Clock) {
	k := key(t)
	assert.Equal(t, res(dedup.Claimed, "ev-1"), claim(t, s, tenantA, k, "ev-1", time.Hour))
	require.NoError(t, s.Confirm(t.Context(), tenantA, k, "ev-1"))
	for i := range 3 {
		c.Advance(10 * time.Minute)
		assert.Equal(t, res(dedup.Duplicate, "ev-1"), claim(t, s, tenantA, k, fmt.Sprint("ev-dup-", i), time.Hour),
			"within the window, every later publish gets the first id")
	}
	other := dedup.Key("pub-"+t.Name(), dedup.KindHeader, "order-43")
	assert.Equal(t, res(dedup.Claimed, "ev-2"), claim(t, s, tenantA, other, "ev-2", time.Hour), "another key is another event")
	otherScope := dedup.Key("another-publication", dedup.KindHeader, "order-42")
	assert.Equal(t, res(dedup.Claimed, "ev-3"), claim(t, s, tenantA, otherScope, "ev-3", time.Hour), "the same key at another publication")
}

func testInFlight(t *testing.T, s dedup.Store, c *Clock) {
	k := key(t)
	assert.Equal(t, res(dedup.Claimed, "ev-1"), claim(t, s, tenantA, k, "ev-1", time.Hour))
	assert.Equal(t, res(dedup.InFlight, "ev-1"), claim(t, s, tenantA, k, "ev-2", time.Hour))
	c.Advance(dedup.Lease - time.Second)
	assert.Equal(t, res(dedup.InFlight, "ev-1"), claim(t, s, tenantA, k, "ev-3", time.Hour), "the lease has not passed")
	require.NoError(t, s.Confirm(t.Context(), tenantA, k, "ev-1"))
	assert.Equal(t, res(dedup.Duplicate, "ev-1"), claim(t, s, tenantA, k, "ev-4", time.Hour))
}

func testTakeOver(t *testing.T, s dedup.Store, c *Clock) {
	k := key(t)
	assert.Equal(t, res(dedup.Claimed, "ev-1"), claim(t, s, tenantA, k, "ev-1", time.Hour))
	c.Advance(dedup.Lease + time.Second) // the claimer crashed before Confirm
	assert.Equal(t, res(dedup.Claimed, "ev-1"), claim(t, s, tenantA, k, "ev-2", time.Hour),
		"a claim left by a crash is taken over under the first id")
	assert.Equal(t, res(dedup.InFlight, "ev-1"), claim(t, s, tenantA, k, "ev-3", time.Hour), "with a new lease")
	require.NoError(t, s.Confirm(t.Context(), tenantA, k, "ev-1"))
	assert.Equal(t, res(dedup.Duplicate, "ev-1"), claim(t, s, tenantA, k, "ev-4", time.Hour))
	c.Advance(time.Hour - dedup.Lease) // the window counts from the first claim
	assert.Equal(t, res(dedup.Claimed, "ev-5"), claim(t, s, tenantA, k, "ev-5", time.Hour))
}

func testRelease(t *testing.T, s dedup.Store, _ *Clock) {
	k := key(t)
	assert.Equal(t, res(dedup.Claimed, "ev-1"), claim(t, s, tenantA, k, "ev-1", time.Hour))
	require.NoError(t, s.Release(t.Context(), tenantA, k, "ev-1"))
	assert.Equal(t, res(dedup.Claimed, "ev-2"), claim(t, s, tenantA, k, "ev-2", time.Hour), "a released key is claimed afresh")
	require.NoError(t, s.Confirm(t.Context(), tenantA, k, "ev-2"))
	require.NoError(t, s.Release(t.Context(), tenantA, k, "ev-2"))
	assert.Equal(t, res(dedup.Duplicate, "ev-2"), claim(t, s, tenantA, k, "ev-3", time.Hour), "a confirmed key is not released")
}

func testWindow(t *testing.T, s dedup.Store, c *Clock) {
	k := key(t)
	assert.Equal(t, res(dedup.Claimed, "ev-1"), claim(t, s, tenantA, k, "ev-1", 5*time.Minute))
	require.NoError(t, s.Confirm(t.Context(), tenantA, k, "ev-1"))
	c.Advance(5*time.Minute - time.Second)
	assert.Equal(t, res(dedup.Duplicate, "ev-1"), claim(t, s, tenantA, k, "ev-2", 5*time.Minute))
	c.Advance(2 * time.Second)
	assert.Equal(t, res(dedup.Claimed, "ev-3"), claim(t, s, tenantA, k, "ev-3", 5*time.Minute), "the window has passed")
	require.NoError(t, s.Confirm(t.Context(), tenantA, k, "ev-3"))
	assert.Equal(t, res(dedup.Duplicate, "ev-3"), claim(t, s, tenantA, k, "ev-4", 5*time.Minute))
	require.NoError(t, s.Confirm(t.Context(), tenantA, k, "ev-1"), "confirming a forgotten claim does nothing")
	assert.Equal(t, res(dedup.Duplicate, "ev-3"), claim(t, s, tenantA, k, "ev-5", 5*time.Minute))
}

func testDefaultWindow(t *testing.T, s dedup.Store, c *Clock) {
	k := key(t)
	assert.Equal(t, res(dedup.Claimed, "ev-1"), claim(t, s, tenantA, k, "ev-1", 0))
	require.NoError(t, s.Confirm(t.Context(), tenantA, k, "ev-1"))
	c.Advance(dedup.DefaultWindow - time.Second)
	assert.Equal(t, res(dedup.Duplicate, "ev-1"), claim(t, s, tenantA, k, "ev-2", 0))
	c.Advance(2 * time.Second)
	assert.Equal(t, res(dedup.Claimed, "ev-3"), claim(t, s, tenantA, k, "ev-3", 0))
}

func testTenants(t *testing.T, s dedup.Store, _ *Clock) {
	k := key(t)
	assert.Equal(t, res(dedup.Claimed, "ev-a"), claim(t, s, tenantA, k, "ev-a", time.Hour))
	require.NoError(t, s.Confirm(t.Context(), tenantA, k, "ev-a"))
	assert.Equal(t, res(dedup.Claimed, "ev-b"), claim(t, s, tenantB, k, "ev-b", time.Hour), "tenants never share a key")
	require.NoError(t, s.Release(t.Context(), tenantB, k, "ev-a"), "another tenant's release touches nothing")
	assert.Equal(t, res(dedup.Duplicate, "ev-a"), claim(t, s, tenantA, k, "x", time.Hour))
	assert.Equal(t, res(dedup.InFlight, "ev-b"), claim(t, s, tenantB, k, "y", time.Hour))
}

func testStale(t *testing.T, s dedup.Store, _ *Clock) {
	k := key(t)
	assert.Equal(t, res(dedup.Claimed, "ev-1"), claim(t, s, tenantA, k, "ev-1", time.Hour))
	require.NoError(t, s.Confirm(t.Context(), tenantA, k, "ev-other"), "a confirm for another id does nothing")
	require.NoError(t, s.Release(t.Context(), tenantA, k, "ev-other"), "a release for another id does nothing")
	assert.Equal(t, res(dedup.InFlight, "ev-1"), claim(t, s, tenantA, k, "ev-2", time.Hour))
	none := dedup.Key("nowhere", dedup.KindHeader, "never")
	require.NoError(t, s.Confirm(t.Context(), tenantA, none, "ev-1"), "confirming an unknown key does nothing")
	require.NoError(t, s.Release(t.Context(), tenantA, none, "ev-1"))
	assert.Equal(t, res(dedup.Claimed, "ev-3"), claim(t, s, tenantA, none, "ev-3", time.Hour), "and records nothing")
}

// testConcurrent: of many simultaneous claims of one key, exactly one is
// Claimed and every other names its event.
func testConcurrent(t *testing.T, s dedup.Store, _ *Clock) {
	k := key(t)
	const n = 16
	results := make([]dedup.Result, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() { results[i], errs[i] = s.Claim(t.Context(), tenantA, k, fmt.Sprint("ev-", i), time.Hour) })
	}
	wg.Wait()
	var winner string
	for i, r := range results {
		require.NoError(t, errs[i])
		if r.Outcome == dedup.Claimed {
			require.Empty(t, winner, "two claims won: %v", results)
			winner = r.EventID
		}
	}
	require.NotEmpty(t, winner, "no claim won: %v", results)
	for _, r := range results {
		assert.Equal(t, winner, r.EventID, "every answer names the winner's event")
		assert.Contains(t, []dedup.Outcome{dedup.Claimed, dedup.InFlight}, r.Outcome)
	}
}

func testCanceled(t *testing.T, s dedup.Store, _ *Clock) {
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	k := key(t)
	_, err := s.Claim(ctx, tenantA, k, "ev-1", time.Hour)
	assert.Error(t, err, "a cancelled claim fails")
	assert.Equal(t, res(dedup.Claimed, "ev-2"), claim(t, s, tenantA, k, "ev-2", time.Hour), "and recorded nothing")
}
