package embedded_test

import (
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/herokuevents/herokuevents/infra/embedded"
	"github.com/herokuevents/herokuevents/shared/deliver"
)

type attemptJSON struct {
	Time          time.Time `json:"time"`
	EventID       string    `json:"event_id"`
	Attempt       int       `json:"attempt"`
	Outcome       string    `json:"outcome"`
	Status        int       `json:"status"`
	LatencyMS     float64   `json:"latency_ms"`
	Response      string    `json:"response"`
	NextAttemptAt time.Time `json:"next_attempt_at"`
}

type traceJSON struct {
	EventID string `json:"event_id"`
	Steps   []struct {
		Time         time.Time `json:"time"`
		Stage        string    `json:"stage"`
		Subscription string    `json:"subscription"`
		Publication  string    `json:"publication"`
		Via          string    `json:"via"`
		Reason       string    `json:"reason"`
		Attempt      int       `json:"attempt"`
		Outcome      string    `json:"outcome"`
		Status       int       `json:"status"`
	} `json:"steps"`
}

// TestWhatHappenedToMyEvent is the acceptance test of the delivery log: a
// webhook answering 500, 500, 200; its deliveries are three attempts with
// their statuses and the next-attempt times that were used; the event's
// trace shows each stream's decision and the attempts; the publication's
// health counts them; a retry delivers the event once more.
func TestWhatHappenedToMyEvent(t *testing.T) {
	srv := start(t, 5*time.Second)
	h := newHook(t, func(n int, w http.ResponseWriter) {
		if n <= 2 {
			w.WriteHeader(http.StatusInternalServerError)
			fmt.Fprintf(w, "busy %d", n)
		}
	})
	archive := newHook(t, ok)
	wire(t, srv, h.URL, "")
	require.Equal(t, http.StatusCreated, call(t, srv, "POST", "/platforms/webhook/publications",
		map[string]any{"name": "archive", "url": archive.URL + "/archive"}, nil))
	require.Equal(t, http.StatusCreated, call(t, srv, "POST", "/streams",
		map[string]any{"source": "inbound", "target": "archive", "filter": dropFilter}, nil))

	id := publish(t, srv, "inbound", `{"Context__c":{"string":"drop"}}`)
	var list []attemptJSON
	deliveries := func(query string, n int) func() bool {
		return func() bool { // the attempt is recorded once the webhook answered
			require.NoError(t, srv.FlushJournal(t.Context()))
			list = nil // json.Unmarshal would reuse the old elements
			require.Equal(t, http.StatusOK, call(t, srv, "GET", "/publications/systemStatus/deliveries"+query, nil, &list))
			return len(list) == n && list[0].Outcome == "delivered"
		}
	}
	require.Eventually(t, deliveries("", 3), 10*time.Second, 20*time.Millisecond)
	assert.Equal(t, 3, h.attemptsOf(id))
	for i, want := range []struct {
		attempt int
		outcome string
		status  int
	}{{3, "delivered", 200}, {2, "retry", 500}, {1, "retry", 500}} {
		a := list[i]
		assert.Equal(t, id, a.EventID)
		assert.Equal(t, want.attempt, a.Attempt)
		assert.Equal(t, want.outcome, a.Outcome)
		assert.Equal(t, want.status, a.Status)
		assert.Positive(t, a.LatencyMS)
	}
	assert.Equal(t, "busy 1", list[2].Response)
	assert.True(t, list[0].NextAttemptAt.IsZero(), "nothing after a delivery")
	for _, k := range []int{2, 1} { // attempt 1 then 2: the next one ran when it was scheduled
		scheduled, ran := list[k].NextAttemptAt, list[k-1].Time
		require.False(t, scheduled.IsZero())
		assert.WithinDuration(t, scheduled, ran, time.Second, "attempt %d was scheduled for %s and ran at %s", list[k].Attempt+1, scheduled, ran)
		assert.False(t, ran.Before(scheduled.Add(-50*time.Millisecond)), "not before its time")
	}

	var failed []attemptJSON
	require.Equal(t, http.StatusOK, call(t, srv, "GET", "/publications/systemStatus/deliveries?status=failed&n=1", nil, &failed))
	require.Len(t, failed, 1)
	assert.Equal(t, 2, failed[0].Attempt)

	var tr traceJSON
	require.Equal(t, http.StatusOK, call(t, srv, "GET", "/events/"+id+"/trace", nil, &tr))
	type step struct{ stage, sub, pub, detail string }
	var got []step
	for _, s := range tr.Steps {
		detail := s.Via + s.Reason + s.Outcome
		if s.Status != 0 {
			detail += fmt.Sprintf(" %d #%d", s.Status, s.Attempt)
		}
		got = append(got, step{s.Stage, s.Subscription, s.Publication, detail})
	}
	routing := got[1:3]
	assert.ElementsMatch(t, []step{
		{"routed", "inbound", "systemStatus", ""},
		{"filtered_out", "inbound", "archive", "the filter dropped it (deleted())"},
	}, routing, "the filter decision of each stream")
	assert.Equal(t, step{"accepted", "inbound", "", "publish"}, got[0])
	assert.Equal(t, []step{
		{"attempt", "", "systemStatus", "retry 500 #1"},
		{"attempt", "", "systemStatus", "retry 500 #2"},
		{"attempt", "", "systemStatus", "delivered 200 #3"},
	}, got[3:])

	var pub struct {
		Health struct {
			State    string `json:"state"`
			Backlog  struct{ Pending int }
			LastHour struct {
				Delivered int     `json:"delivered"`
				Failed    int     `json:"failed"`
				P99MS     float64 `json:"p99_ms"`
			} `json:"last_hour"`
			LastError string `json:"last_error"`
		} `json:"health"`
	}
	require.Equal(t, http.StatusOK, call(t, srv, "GET", "/publications/systemStatus", nil, &pub))
	assert.Equal(t, "active", pub.Health.State, "the last attempt delivered")
	assert.Equal(t, 1, pub.Health.LastHour.Delivered)
	assert.Equal(t, 2, pub.Health.LastHour.Failed)
	assert.Positive(t, pub.Health.LastHour.P99MS)
	assert.Contains(t, pub.Health.LastError, "500")
	assert.Zero(t, pub.Health.Backlog.Pending)

	// Retry: the event is delivered once more, as a fresh delivery.
	require.Equal(t, http.StatusAccepted, call(t, srv, "POST", "/events/"+id+"/publications/systemStatus/retry", nil, nil))
	require.Eventually(t, func() bool { return deliveries("?n=1", 1)() && list[0].Attempt == 1 }, 10*time.Second, 20*time.Millisecond)
	assert.Equal(t, 4, h.attemptsOf(id))
}

// TestJournalPendingAndRetry: a delivery waiting for its retry is pending
// (backlog, next retry); a retry sends it at once.
func TestJournalPendingAndRetry(t *testing.T) {
	srv, err := embedded.Start(t.Context(), embedded.Options{
		Addr: "127.0.0.1:0", DataDir: t.TempDir(), App: "my-app", AllowEgress: loopback,
		Backoff: deliver.Backoff{Base: time.Hour, Cap: time.Hour, Jitter: func(d time.Duration) time.Duration { return d }},
	})
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, srv.Close()) })
	var failing atomic.Bool
	failing.Store(true)
	h := newHook(t, func(_ int, w http.ResponseWriter) {
		if failing.Load() {
			w.WriteHeader(http.StatusServiceUnavailable)
		}
	})
	wire(t, srv, h.URL, "")
	id := publish(t, srv, "systemStatus", `{"direct":true}`)
	var pending []attemptJSON
	require.Eventually(t, func() bool {
		require.NoError(t, srv.FlushJournal(t.Context()))
		require.Equal(t, http.StatusOK, call(t, srv, "GET", "/publications/systemStatus/deliveries?status=pending", nil, &pending))
		return len(pending) == 1
	}, 10*time.Second, 20*time.Millisecond)
	assert.Equal(t, id, pending[0].EventID)
	assert.WithinDuration(t, time.Now().Add(15*time.Minute), pending[0].NextAttemptAt, time.Minute, "the delay is capped at the queue's 15 minutes")
	var pub struct {
		Health struct {
			State       string    `json:"state"`
			NextRetryAt time.Time `json:"next_retry_at"`
			Backlog     struct {
				Pending  int       `json:"pending"`
				OldestAt time.Time `json:"oldest_at"`
			} `json:"backlog"`
		} `json:"health"`
	}
	require.Equal(t, http.StatusOK, call(t, srv, "GET", "/publications/systemStatus", nil, &pub))
	assert.Equal(t, "failing", pub.Health.State)
	assert.Equal(t, 1, pub.Health.Backlog.Pending)
	assert.WithinDuration(t, time.Now(), pub.Health.Backlog.OldestAt, time.Minute)
	assert.Equal(t, pending[0].NextAttemptAt, pub.Health.NextRetryAt)

	var tr traceJSON
	require.Equal(t, http.StatusOK, call(t, srv, "GET", "/events/"+id+"/trace", nil, &tr))
	require.Len(t, tr.Steps, 2)
	assert.Equal(t, "accepted", tr.Steps[0].Stage)
	assert.Equal(t, "systemStatus", tr.Steps[0].Publication, "published straight to the publication")

	// The retry does not wait for the scheduled attempt.
	failing.Store(false)
	require.Equal(t, http.StatusAccepted, call(t, srv, "POST", "/events/"+id+"/publications/systemStatus/retry", nil, nil))
	require.Eventually(t, func() bool { return h.attemptsOf(id) == 2 }, 10*time.Second, 10*time.Millisecond)
}

// TestJournalFileIsPrivate: the delivery log lives in the data dir, 0600;
// NoJournal leaves it out and its routes answer 404.
func TestJournalFileIsPrivate(t *testing.T) {
	dir := t.TempDir()
	srv, err := embedded.Start(t.Context(), embedded.Options{Addr: "127.0.0.1:0", DataDir: dir, App: "my-app"})
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, srv.Close()) })
	st, err := os.Stat(filepath.Join(dir, "journal.db"))
	require.NoError(t, err)
	assert.Equal(t, os.FileMode(0o600), st.Mode().Perm())

	off, err := embedded.Start(t.Context(), embedded.Options{Addr: "127.0.0.1:0", DataDir: t.TempDir(), App: "my-app", NoJournal: true})
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, off.Close()) })
	require.Equal(t, http.StatusNotFound, call(t, off, "GET", "/events/x/trace", nil, nil))
}
