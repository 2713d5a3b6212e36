// Package journaltest is the conformance suite of journal.Journal. Every
// driver calls Run from its own tests:
//
//	func TestConformance(t *testing.T) {
//		journaltest.Run(t, func(t *testing.T, o journaltest.Options) journal.Journal { return openFresh(t, o) })
//	}
//
// open must return an empty journal that no other test uses, with the
// retention and clock of o; Run closes it with t.Cleanup. Subtests do not
// run in parallel with each other, but some use many goroutines on one
// journal.
package journaltest

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
	"github.com/herokuevents/herokuevents/shared/journal"
)

// Options are what a journal under test is opened with.
type Options struct {
	Retention journal.Retention
	// Now is the driver's clock for retention.
	Now func() time.Time
}

// Base is the time entries of the suite are written around; the clock of
// Options returns it.
var Base = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

// PerPublication is the retention per publication the suite asks for.
const PerPublication = 5

// Run runs every conformance test against journals made by open.
func Run(t *testing.T, open func(t *testing.T, o Options) journal.Journal) {
	t.Helper()
	fresh := func(t *testing.T) journal.Journal {
		t.Helper()
		j := open(t, Options{
			Retention: journal.Retention{Age: 24 * time.Hour, PerPublication: PerPublication},
			Now:       func() time.Time { return Base },
		})
		require.NotNil(t, j, "open returned a nil journal")
		t.Cleanup(func() { assert.NoError(t, j.Close(), "close journal") })
		return j
	}
	tests := []struct {
		name string
		run  func(t *testing.T, j journal.Journal)
	}{
		{"TraceRoundTrip", testTrace},
		{"AttemptsNewestFirst", testAttempts},
		{"AttemptsByOutcome", testOutcomes},
		{"TenantIsolation", testTenants},
		{"SameTimeInAppendOrder", testSameTime},
		{"Clipped", testClipped},
		{"InvalidBatchWritesNothing", testInvalid},
		{"RetentionAge", testAge},
		{"RetentionPerPublication", testPerPublication},
		{"ConcurrentAppends", testConcurrent},
		{"CanceledContext", testCanceled},
		{"HealthOf", testHealth},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) { tc.run(t, fresh(t)) })
	}
}

func at(d time.Duration) time.Time { return Base.Add(-time.Hour).Add(d) }

func sampleEvent(id string) *event.Event {
	return &event.Event{
		ID: id, Source: "/tenants/t1/subscriptions/inbound", Type: event.TypePublish, Subject: "café \"x\" 100%",
		Time: at(0), DataContentType: "application/json", Data: json.RawMessage(`{"a":[1,2,{"b":"ü"}]}`),
	}
}

// history is an event's path through a stream that keeps it, one that
// drops it, and three attempts: 500, 500, 200.
func history(tenant, id string) []journal.Entry {
	first := at(2 * time.Second)
	return []journal.Entry{
		{Tenant: tenant, EventID: id, Time: at(0), Stage: journal.Accepted, Subscription: "s1", SubscriptionName: "inbound", Via: journal.ViaPublish},
		{Tenant: tenant, EventID: id, Time: at(time.Second), Stage: journal.Routed, Subscription: "s1", Publication: "p1"},
		{Tenant: tenant, EventID: id, Time: at(time.Second + time.Millisecond), Stage: journal.FilteredOut, Subscription: "s1", Publication: "p2", Reason: "the filter dropped it"},
		{Tenant: tenant, EventID: id, Time: first, Stage: journal.Attempt, Publication: "p1", PublicationName: "hook",
			Attempt: 1, Outcome: journal.Retry, Status: 500, Latency: 12345 * time.Microsecond, Response: "oops", Error: "HTTP 500 Internal Server Error: oops",
			NextAttempt: at(12 * time.Second), FirstTry: first, Event: sampleEvent(id)},
		{Tenant: tenant, EventID: id, Time: at(12 * time.Second), Stage: journal.Attempt, Publication: "p1", PublicationName: "hook",
			Attempt: 2, Outcome: journal.Retry, Status: 500, Latency: 3 * time.Millisecond, NextAttempt: at(40 * time.Second), FirstTry: first},
		{Tenant: tenant, EventID: id, Time: at(40 * time.Second), Stage: journal.Attempt, Publication: "p1", PublicationName: "hook",
			Attempt: 3, Outcome: journal.Delivered, Status: 200, Latency: 2 * time.Millisecond, Response: `{"ok":true}`, FirstTry: first},
	}
}

func testTrace(t *testing.T, j journal.Journal) {
	ctx := t.Context()
	want := history("t1", "e1")
	require.NoError(t, j.Append(ctx, want...))
	got, err := j.Event(ctx, "t1", "e1")
	require.NoError(t, err)
	require.Len(t, got, len(want))
	for i := range want {
		assertEntry(t, want[i], got[i])
	}
	require.NotNil(t, got[3].Event, "the first attempt keeps the event")
	assert.Equal(t, *want[3].Event, *got[3].Event)
	assert.Nil(t, got[4].Event)

	none, err := j.Event(ctx, "t1", "unknown")
	require.NoError(t, err)
	assert.Empty(t, none)
}

// assertEntry compares entries without their Event.
func assertEntry(t *testing.T, want, got journal.Entry) {
	t.Helper()
	want.Event, got.Event = nil, nil
	assert.True(t, want.Time.Equal(got.Time), "time %s, want %s", got.Time, want.Time)
	assert.True(t, want.NextAttempt.Equal(got.NextAttempt), "next attempt %s, want %s", got.NextAttempt, want.NextAttempt)
	assert.True(t, want.FirstTry.Equal(got.FirstTry), "first try %s, want %s", got.FirstTry, want.FirstTry)
	want.Time, got.Time, want.NextAttempt, got.NextAttempt, want.FirstTry, got.FirstTry = time.Time{}, time.Time{}, time.Time{}, time.Time{}, time.Time{}, time.Time{}
	assert.Equal(t, want, got)
}

func testAttempts(t *testing.T, j journal.Journal) {
	ctx := t.Context()
	require.NoError(t, j.Append(ctx, history("t1", "e1")...))
	require.NoError(t, j.Append(ctx, journal.Entry{Tenant: "t1", EventID: "e2", Time: at(50 * time.Second), Stage: journal.Attempt,
		Publication: "p2", Attempt: 1, Outcome: journal.Delivered, Status: 204}))

	got, err := j.Attempts(ctx, "t1", "p1", journal.Query{Limit: 10})
	require.NoError(t, err)
	require.Len(t, got, 3, "only the attempts of p1")
	for i, n := range []int{3, 2, 1} {
		assert.Equal(t, n, got[i].Attempt, "newest first")
		assert.Equal(t, journal.Attempt, got[i].Stage)
		assert.Nil(t, got[i].Event, "Attempts leaves the event out")
	}
	assertEntry(t, history("t1", "e1")[4], got[1])

	got, err = j.Attempts(ctx, "t1", "p1", journal.Query{Limit: 2})
	require.NoError(t, err)
	require.Len(t, got, 2)
	assert.Equal(t, 3, got[0].Attempt)

	got, err = j.Attempts(ctx, "t1", "p1", journal.Query{Limit: 10, Since: at(12 * time.Second)})
	require.NoError(t, err)
	require.Len(t, got, 2, "since is inclusive")
	assert.Equal(t, 2, got[1].Attempt)

	got, err = j.Attempts(ctx, "t1", "nope", journal.Query{Limit: 10})
	require.NoError(t, err)
	assert.Empty(t, got)
}

func testOutcomes(t *testing.T, j journal.Journal) {
	ctx := t.Context()
	var all []journal.Entry
	for i := range PerPublication { // drivers may prune beyond it at any time
		o := journal.Delivered
		if i%3 == 0 {
			o = journal.Dead
		}
		all = append(all, journal.Entry{Tenant: "t1", EventID: fmt.Sprintf("e%02d", i), Time: at(time.Duration(i) * time.Second),
			Stage: journal.Attempt, Publication: "p1", Attempt: 1, Outcome: o})
	}
	require.NoError(t, j.Append(ctx, all...))
	got, err := j.Attempts(ctx, "t1", "p1", journal.Query{Limit: 1, Outcomes: journal.FailedOutcomes})
	require.NoError(t, err)
	require.Len(t, got, 1)
	assert.Equal(t, "e03", got[0].EventID)
	got, err = j.Attempts(ctx, "t1", "p1", journal.Query{Limit: 100, Outcomes: []journal.Outcome{journal.Dead, journal.Disabled}})
	require.NoError(t, err)
	require.Len(t, got, 2)
	assert.Equal(t, "e00", got[1].EventID)
	got, err = j.Attempts(ctx, "t1", "p1", journal.Query{Limit: 100, Outcomes: []journal.Outcome{journal.Disabled}})
	require.NoError(t, err)
	assert.Empty(t, got)
}

func testTenants(t *testing.T, j journal.Journal) {
	ctx := t.Context()
	require.NoError(t, j.Append(ctx, history("t1", "e1")...))
	require.NoError(t, j.Append(ctx, history("t2", "e1")[:2]...))
	got, err := j.Event(ctx, "t2", "e1")
	require.NoError(t, err)
	assert.Len(t, got, 2)
	for _, e := range got {
		assert.Equal(t, "t2", e.Tenant)
	}
	att, err := j.Attempts(ctx, "t2", "p1", journal.Query{Limit: 10})
	require.NoError(t, err)
	assert.Empty(t, att, "another tenant's publication of the same id")
}

func testSameTime(t *testing.T, j journal.Journal) {
	ctx := t.Context()
	var entries []journal.Entry
	for i := range 5 {
		entries = append(entries, journal.Entry{Tenant: "t1", EventID: "e1", Time: at(0), Stage: journal.Routed, Subscription: "s1", Publication: fmt.Sprintf("p%d", 5-i)})
	}
	require.NoError(t, j.Append(ctx, entries...))
	got, err := j.Event(ctx, "t1", "e1")
	require.NoError(t, err)
	require.Len(t, got, 5)
	for i := range got {
		assert.Equal(t, entries[i].Publication, got[i].Publication)
	}
}

func testClipped(t *testing.T, j journal.Journal) {
	ctx := t.Context()
	big := sampleEvent("e1")
	big.Data = json.RawMessage(`{"x":"` + strings.Repeat("y", journal.MaxEventSize) + `"}`)
	require.NoError(t, j.Append(ctx, journal.Entry{Tenant: "t1", EventID: "e1", Time: at(0), Stage: journal.Attempt, Publication: "p1",
		Attempt: 1, Outcome: journal.Retry, Response: strings.Repeat("r", 5000), Error: strings.Repeat("é", 5000), Event: big}))
	got, err := j.Event(ctx, "t1", "e1")
	require.NoError(t, err)
	require.Len(t, got, 1)
	assert.Len(t, got[0].Response, journal.ResponseSize)
	assert.LessOrEqual(t, len(got[0].Error), journal.TextSize)
	assert.True(t, strings.HasPrefix(got[0].Error, "éé"))
	assert.Nil(t, got[0].Event, "an event above MaxEventSize is not kept")
}

func testInvalid(t *testing.T, j journal.Journal) {
	ctx := t.Context()
	ok := journal.Entry{Tenant: "t1", EventID: "e1", Time: at(0), Stage: journal.Accepted}
	for _, bad := range []journal.Entry{
		{EventID: "e1", Time: at(0), Stage: journal.Accepted},
		{Tenant: "t1", Time: at(0), Stage: journal.Accepted},
		{Tenant: "t1", EventID: "e1", Stage: journal.Accepted},
		{Tenant: "t1", EventID: "e1", Time: at(0)},
		{Tenant: "t1", EventID: "e1", Time: at(0), Stage: journal.Attempt},
	} {
		err := j.Append(ctx, ok, bad)
		require.ErrorIs(t, err, journal.ErrInvalid)
	}
	got, err := j.Event(ctx, "t1", "e1")
	require.NoError(t, err)
	assert.Empty(t, got, "a batch with an invalid entry writes nothing")
}

func testAge(t *testing.T, j journal.Journal) {
	ctx := t.Context()
	old := Base.Add(-25 * time.Hour)
	require.NoError(t, j.Append(ctx,
		journal.Entry{Tenant: "t1", EventID: "e1", Time: old, Stage: journal.Accepted},
		journal.Entry{Tenant: "t1", EventID: "e1", Time: old, Stage: journal.Attempt, Publication: "p1", Attempt: 1, Outcome: journal.Delivered},
		journal.Entry{Tenant: "t1", EventID: "e1", Time: at(0), Stage: journal.Attempt, Publication: "p1", Attempt: 2, Outcome: journal.Delivered},
		// Appended together with a young entry, an old one is gone too.
		journal.Entry{Tenant: "t1", EventID: "e2", Time: old, Stage: journal.Accepted},
		journal.Entry{Tenant: "t1", EventID: "e2", Time: at(0), Stage: journal.Routed, Publication: "p1"},
	))
	for _, prune := range []bool{false, true} {
		if prune {
			require.NoError(t, j.Prune(ctx))
		}
		got, err := j.Event(ctx, "t1", "e1")
		require.NoError(t, err)
		require.Len(t, got, 1, "entries older than the retention age are gone (prune %v)", prune)
		assert.Equal(t, 2, got[0].Attempt)
		got, err = j.Event(ctx, "t1", "e2")
		require.NoError(t, err)
		require.Len(t, got, 1, "an old entry appended with a young one is gone (prune %v)", prune)
		assert.Equal(t, journal.Routed, got[0].Stage)
		att, err := j.Attempts(ctx, "t1", "p1", journal.Query{Limit: 10})
		require.NoError(t, err)
		assert.Len(t, att, 1)
	}
}

func testPerPublication(t *testing.T, j journal.Journal) {
	ctx := t.Context()
	var all []journal.Entry
	for i := range 3 * PerPublication {
		all = append(all, journal.Entry{Tenant: "t1", EventID: fmt.Sprintf("e%02d", i), Time: at(time.Duration(i) * time.Second),
			Stage: journal.Attempt, Publication: "p1", Attempt: 1, Outcome: journal.Delivered},
			journal.Entry{Tenant: "t1", EventID: fmt.Sprintf("e%02d", i), Time: at(time.Duration(i) * time.Second),
				Stage: journal.Attempt, Publication: "p2", Attempt: 1, Outcome: journal.Delivered})
	}
	all = append(all, journal.Entry{Tenant: "t2", EventID: "x", Time: at(0), Stage: journal.Attempt, Publication: "p1", Attempt: 1, Outcome: journal.Delivered})
	require.NoError(t, j.Append(ctx, all...))
	require.NoError(t, j.Prune(ctx))
	for _, p := range []string{"p1", "p2"} {
		got, err := j.Attempts(ctx, "t1", p, journal.Query{Limit: 100})
		require.NoError(t, err)
		require.Len(t, got, PerPublication, "the newest attempts of %s are kept", p)
		assert.Equal(t, fmt.Sprintf("e%02d", 3*PerPublication-1), got[0].EventID)
		assert.Equal(t, fmt.Sprintf("e%02d", 2*PerPublication), got[PerPublication-1].EventID)
	}
	got, err := j.Event(ctx, "t1", "e00")
	require.NoError(t, err)
	assert.Empty(t, got, "pruned attempts are gone from the trace too")
	got, err = j.Attempts(ctx, "t2", "p1", journal.Query{Limit: 100})
	require.NoError(t, err)
	assert.Len(t, got, 1, "another tenant's publication is counted apart")
}

func testConcurrent(t *testing.T, j journal.Journal) {
	ctx := t.Context()
	const writers, each = 8, 30
	var wg sync.WaitGroup
	errs := make(chan error, writers)
	for w := range writers {
		wg.Go(func() {
			var batch []journal.Entry
			for i := range each {
				batch = append(batch, journal.Entry{Tenant: "t1", EventID: fmt.Sprintf("w%d", w), Time: at(time.Duration(i) * time.Millisecond),
					Stage: journal.Routed, Subscription: "s1", Publication: fmt.Sprintf("p%d", i)})
				if len(batch) == 7 || i == each-1 {
					if err := j.Append(ctx, batch...); err != nil {
						errs <- err
						return
					}
					batch = nil
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		require.NoError(t, err)
	}
	for w := range writers {
		got, err := j.Event(ctx, "t1", fmt.Sprintf("w%d", w))
		require.NoError(t, err)
		assert.Len(t, got, each)
	}
}

func testCanceled(t *testing.T, j journal.Journal) {
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	assert.Error(t, j.Append(ctx, journal.Entry{Tenant: "t1", EventID: "e1", Time: at(0), Stage: journal.Accepted}))
	_, err := j.Event(ctx, "t1", "e1")
	assert.Error(t, err)
	_, err = j.Attempts(ctx, "t1", "p1", journal.Query{Limit: 1})
	assert.Error(t, err)
}

func testHealth(t *testing.T, j journal.Journal) {
	ctx := t.Context()
	require.NoError(t, j.Append(ctx, history("t1", "e1")...))
	// e2 is waiting for its second attempt.
	require.NoError(t, j.Append(ctx, journal.Entry{Tenant: "t1", EventID: "e2", Time: at(50 * time.Second), Stage: journal.Attempt,
		Publication: "p1", Attempt: 1, Outcome: journal.Retry, Status: 503, Latency: 40 * time.Millisecond, Error: "HTTP 503",
		NextAttempt: at(70 * time.Second), FirstTry: at(50 * time.Second)}))
	h, err := journal.HealthOf(ctx, j, "t1", []string{"p1"}, Base)
	require.NoError(t, err)
	assert.Equal(t, 1, h.Delivered)
	assert.Equal(t, 3, h.Failed)
	assert.Equal(t, 1, h.Pending)
	assert.True(t, h.OldestPending.Equal(at(50*time.Second)))
	assert.True(t, h.NextRetry.Equal(at(70*time.Second)))
	assert.Equal(t, "HTTP 503", h.LastError)
	assert.Equal(t, journal.Retry, h.LastOutcome)
	assert.Equal(t, 3*time.Millisecond, h.P50)
	assert.Equal(t, 40*time.Millisecond, h.P99)
	assert.True(t, h.Failing())
}
