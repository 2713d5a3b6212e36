package deliver_test

import (
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/herokuevents/herokuevents/infra/embedded/sqlitejournal"
	"github.com/herokuevents/herokuevents/shared/config"
	"github.com/herokuevents/herokuevents/shared/deliver"
	"github.com/herokuevents/herokuevents/shared/event"
	"github.com/herokuevents/herokuevents/shared/journal"
	"github.com/herokuevents/herokuevents/shared/queue"
)

// TestJournalRecordsEachAttempt: every attempt is in the delivery log with
// its outcome, status, latency, response and next attempt; a dead letter
// set aside before any attempt too.
func TestJournalRecordsEachAttempt(t *testing.T) {
	tests := []struct {
		name     string
		respond  int // 0: no publication
		attempt  int // attempts already made
		retry    config.RetryPolicy
		stage    journal.Stage
		outcome  journal.Outcome
		next     bool
		errorHas string
	}{
		{name: "delivered", respond: http.StatusNoContent, stage: journal.Attempt, outcome: journal.Delivered},
		{name: "500: retry scheduled", respond: http.StatusInternalServerError, stage: journal.Attempt, outcome: journal.Retry, next: true, errorHas: "500"},
		{name: "third attempt", respond: http.StatusInternalServerError, attempt: 2, stage: journal.Attempt, outcome: journal.Retry, next: true},
		{name: "retries exhausted", respond: http.StatusBadGateway, retry: config.RetryPolicy{MaxAttempts: 1}, stage: journal.Attempt, outcome: journal.Dead, errorHas: "502"},
		{name: "400: dead letter", respond: http.StatusBadRequest, stage: journal.Attempt, outcome: journal.Dead, errorHas: "400"},
		{name: "410: disabled", respond: http.StatusGone, stage: journal.Attempt, outcome: journal.Disabled, errorHas: "410"},
		{name: "no publication: dead letter without attempt", stage: journal.DeadLettered, errorHas: "not found"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t, 0)
			j, err := sqlitejournal.Open(filepath.Join(t.TempDir(), "journal.db"), sqlitejournal.Options{PruneEvery: -1})
			require.NoError(t, err)
			t.Cleanup(func() { _ = j.Close() })
			o := e.handler.Options
			o.Journal = j
			h, err := deliver.New(o)
			require.NoError(t, err)

			pubID := "pub-missing"
			if tt.respond != 0 {
				srv, _ := endpoint(t, status(tt.respond))
				pub, _ := e.publication(t, "hook", srv.URL, tt.retry)
				pubID = pub.ID
			}
			ev := sampleEvent()
			first := time.Now().Add(-time.Minute).UTC()
			before := time.Now()
			h.HandleBatch(t.Context(), []queue.Message{delivery(t, "m1", event.Delivery{Tenant: tenant, Publication: pubID, Event: ev, Attempt: tt.attempt, FirstTry: first})})

			got, err := j.Event(t.Context(), tenant, ev.ID)
			require.NoError(t, err)
			require.Len(t, got, 1)
			a := got[0]
			assert.Equal(t, tt.stage, a.Stage)
			assert.Equal(t, pubID, a.Publication)
			assert.False(t, a.Time.Before(before.Add(-time.Millisecond)))
			if tt.stage == journal.DeadLettered {
				assert.Contains(t, a.Reason, tt.errorHas)
				return
			}
			assert.Equal(t, "hook", a.PublicationName)
			assert.Equal(t, tt.outcome, a.Outcome)
			assert.Equal(t, tt.attempt+1, a.Attempt)
			assert.Equal(t, tt.respond, a.Status)
			assert.Positive(t, a.Latency)
			assert.True(t, first.Equal(a.FirstTry))
			if tt.respond >= 300 {
				assert.Equal(t, `{"error":"status `+http.StatusText(tt.respond)+`"}`, a.Response)
			}
			if tt.errorHas != "" {
				assert.True(t, strings.Contains(a.Error, tt.errorHas), a.Error)
			}
			if tt.next {
				assert.True(t, a.NextAttempt.After(a.Time), "the next attempt's time: %s", a.NextAttempt)
			} else {
				assert.True(t, a.NextAttempt.IsZero())
			}
			if tt.attempt == 0 {
				require.NotNil(t, a.Event, "the first attempt keeps the event for retries")
				assert.Equal(t, ev.ID, a.Event.ID)
				assert.JSONEq(t, string(ev.Data), string(a.Event.Data))
			} else {
				assert.Nil(t, a.Event)
			}
		})
	}
}

// TestJournalNextAttemptIsTheScheduledOne: the next attempt recorded is
// when the requeued delivery becomes visible.
func TestJournalNextAttemptIsTheScheduledOne(t *testing.T) {
	e := newEnv(t, 0)
	j, err := sqlitejournal.Open(filepath.Join(t.TempDir(), "journal.db"), sqlitejournal.Options{PruneEvery: -1})
	require.NoError(t, err)
	t.Cleanup(func() { _ = j.Close() })
	o := e.handler.Options
	o.Journal = j
	h, err := deliver.New(o)
	require.NoError(t, err)
	srv, _ := endpoint(t, status(http.StatusServiceUnavailable))
	pub, _ := e.publication(t, "hook", srv.URL, config.RetryPolicy{})
	ev := sampleEvent()
	h.HandleBatch(t.Context(), []queue.Message{delivery(t, "m1", event.Delivery{Tenant: tenant, Publication: pub.ID, Event: ev, Attempt: 1, FirstTry: time.Now()})})
	sent := e.requeued()
	require.Len(t, sent, 1)
	got, err := j.Attempts(t.Context(), tenant, pub.ID, journal.Query{Limit: 10})
	require.NoError(t, err)
	require.Len(t, got, 1)
	// Deterministic jitter (the ceiling): 2 s doubled once.
	assert.Equal(t, 4*time.Second, sent[0].Delay)
	assert.InDelta(t, float64(4*time.Second), float64(got[0].NextAttempt.Sub(got[0].Time)), float64(time.Second))
}
