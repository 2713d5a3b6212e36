package journal_test

import (
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/stretchr/testify/assert"

	"github.com/herokuevents/herokuevents/shared/event"
	"github.com/herokuevents/herokuevents/shared/journal"
)

func TestSummarize(t *testing.T) {
	t0 := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	att := func(ev string, n int, sec int, o journal.Outcome, ms int) journal.Entry {
		e := journal.Entry{Tenant: "t", EventID: ev, Publication: "p", Stage: journal.Attempt, Attempt: n,
			Time: t0.Add(time.Duration(sec) * time.Second), Outcome: o, Latency: time.Duration(ms) * time.Millisecond, FirstTry: t0}
		if o == journal.Retry {
			e.NextAttempt = e.Time.Add(10 * time.Second)
			e.Status = 500
		}
		return e
	}
	tests := []struct {
		name     string
		attempts []journal.Entry
		want     journal.Health
	}{
		{name: "nothing", want: journal.Health{}},
		{name: "500, 500, 200: nothing pending", attempts: []journal.Entry{att("e1", 1, 0, journal.Retry, 5), att("e1", 2, 10, journal.Retry, 7), att("e1", 3, 20, journal.Delivered, 3)},
			want: journal.Health{Delivered: 1, Failed: 2, P50: 5 * time.Millisecond, P99: 7 * time.Millisecond, LastOutcome: journal.Delivered,
				LastAttemptAt: t0.Add(20 * time.Second), LastError: "HTTP 500", LastErrorAt: t0.Add(10 * time.Second)}},
		{name: "a retry pending, in any order", attempts: []journal.Entry{att("e2", 2, 30, journal.Retry, 1), att("e1", 1, 0, journal.Delivered, 2), att("e2", 1, 5, journal.Retry, 1)},
			want: journal.Health{Delivered: 1, Failed: 2, P50: time.Millisecond, P99: 2 * time.Millisecond, LastOutcome: journal.Retry,
				LastAttemptAt: t0.Add(30 * time.Second), LastError: "HTTP 500", LastErrorAt: t0.Add(30 * time.Second),
				Pending: 1, OldestPending: t0, NextRetry: t0.Add(40 * time.Second)}},
		{name: "dead letter ends a delivery", attempts: []journal.Entry{att("e1", 1, 0, journal.Retry, 1), att("e1", 2, 9, journal.Dead, 1)},
			want: journal.Health{Failed: 2, P50: time.Millisecond, P99: time.Millisecond, LastOutcome: journal.Dead,
				LastAttemptAt: t0.Add(9 * time.Second), LastError: "dead_lettered", LastErrorAt: t0.Add(9 * time.Second)}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			assert.Equal(t, tt.want, journal.Summarize(tt.attempts))
		})
	}
}

func TestPendingIsTheLatestAttemptOfEachDelivery(t *testing.T) {
	t0 := time.Now()
	got := journal.Pending([]journal.Entry{
		{EventID: "a", Publication: "p", Stage: journal.Attempt, Attempt: 1, Time: t0, Outcome: journal.Retry},
		{EventID: "a", Publication: "p", Stage: journal.Attempt, Attempt: 2, Time: t0.Add(time.Second), Outcome: journal.Delivered},
		{EventID: "a", Publication: "q", Stage: journal.Attempt, Attempt: 1, Time: t0, Outcome: journal.Retry},
		{EventID: "b", Publication: "p", Stage: journal.Attempt, Attempt: 1, Time: t0.Add(2 * time.Second), Outcome: journal.Retry},
	})
	if assert.Len(t, got, 2) {
		assert.Equal(t, "b", got[0].EventID, "newest first")
		assert.Equal(t, "q", got[1].Publication)
	}
}

func TestClip(t *testing.T) {
	big := &event.Event{ID: "e", Source: "s", Type: "t", Data: []byte(`"` + strings.Repeat("x", journal.MaxEventSize) + `"`)}
	small := &event.Event{ID: "e", Source: "s", Type: "t", Data: []byte(`{}`)}
	e := journal.Clip(journal.Entry{Response: strings.Repeat("é", 1000), Error: strings.Repeat("x", 3000), Event: big,
		Time: time.Date(2026, 1, 1, 0, 0, 0, 0, time.FixedZone("X", 3600))})
	assert.LessOrEqual(t, len(e.Response), journal.ResponseSize)
	assert.True(t, utf8.ValidString(e.Response))
	assert.Len(t, e.Error, journal.TextSize)
	assert.Nil(t, e.Event)
	assert.Equal(t, time.UTC, e.Time.Location())
	assert.Same(t, small, journal.Clip(journal.Entry{Event: small}).Event)
}
