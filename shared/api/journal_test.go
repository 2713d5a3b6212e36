package api_test

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/herokuevents/herokuevents/infra/embedded/sqlitejournal"
	"github.com/herokuevents/herokuevents/shared/api"
	"github.com/herokuevents/herokuevents/shared/config"
	"github.com/herokuevents/herokuevents/shared/event"
	"github.com/herokuevents/herokuevents/shared/journal"
	"github.com/herokuevents/herokuevents/shared/platform"
	"github.com/herokuevents/herokuevents/shared/queue"
)

// sent records the messages of a queue.Sender.
type sent struct {
	mu   sync.Mutex
	msgs []queue.Message
}

func (s *sent) Send(_ context.Context, msgs ...queue.Message) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.msgs = append(s.msgs, msgs...)
	return nil
}

func (s *sent) all() []queue.Message {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]queue.Message(nil), s.msgs...)
}

// journalHarness is a harness whose server reads a SQLite journal (on the
// harness's clock) and queues retries on delivery. Tenant a has the
// subscription "inbound" streaming to the publication "hook" (and to
// "other").
type journalHarness struct {
	*harness
	journal  *sqlitejournal.Journal
	delivery *sent
	sub      config.Subscription
	pub      config.Publication
	other    config.Publication
}

func newJournalHarness(t *testing.T) *journalHarness {
	t.Helper()
	base := newHarness(t)
	j, err := sqlitejournal.Open(filepath.Join(t.TempDir(), "journal.db"), sqlitejournal.Options{PruneEvery: -1, Now: func() time.Time { return fixedNow }})
	require.NoError(t, err)
	t.Cleanup(func() { _ = j.Close() })
	h := &journalHarness{harness: base, journal: j, delivery: &sent{}}
	h.srv = newServer(t, api.Options{
		Store:    base.store,
		BaseURL:  "http://127.0.0.1:5454",
		Operator: api.Operator{ID: operatorID, PasswordHash: api.HashKey(operatorPass)},
		Now:      func() time.Time { return fixedNow },
		Journal:  j,
		Delivery: h.delivery,
	}, platform.Deps{})
	h.h = h.srv.Handler()
	ctx := t.Context()
	h.sub = config.Subscription{ID: "sub-1", Name: "inbound", Platform: config.PlatformWebhook, Created: fixedNow}
	h.pub = config.Publication{ID: "pub-1", Name: "hook", Platform: config.PlatformWebhook, Params: config.Params{URL: "https://hooks.example.com/x"}, Created: fixedNow}
	h.other = config.Publication{ID: "pub-2", Name: "other", Platform: config.PlatformWebhook, Params: config.Params{URL: "https://hooks.example.com/y"}, Created: fixedNow}
	_, err = config.Insert(ctx, base.store, config.Item{Tenant: base.a.ID, Kind: config.KindSubscription, ID: h.sub.ID, Name: h.sub.Name}, h.sub)
	require.NoError(t, err)
	for _, p := range []config.Publication{h.pub, h.other} {
		_, err = config.Insert(ctx, base.store, config.Item{Tenant: base.a.ID, Kind: config.KindPublication, ID: p.ID, Name: p.Name}, p)
		require.NoError(t, err)
		st := config.Stream{ID: "st-" + p.ID, Subscription: h.sub.ID, Publication: p.ID, Created: fixedNow}
		_, err = config.Insert(ctx, base.store, config.Item{Tenant: base.a.ID, Kind: config.KindStream, ID: st.ID, Name: config.StreamName(h.sub.ID, p.ID)}, st)
		require.NoError(t, err)
	}
	return h
}

func ago(d time.Duration) time.Time { return fixedNow.Add(-d) }

// story appends the path of event e1 (accepted, routed to hook, filtered
// out of other, attempts 500, 500, 200) and of e2 (waiting for a retry)
// for tenant a, and e3 of tenant b.
func (h *journalHarness) story(t *testing.T) {
	t.Helper()
	a := h.a.ID
	ev := event.Event{ID: "e1", Source: "/s", Type: "t", Time: ago(time.Minute), Data: json.RawMessage(`{"n":1}`)}
	first := ago(50 * time.Second)
	require.NoError(t, h.journal.Append(t.Context(),
		journal.Entry{Tenant: a, EventID: "e1", Time: ago(time.Minute), Stage: journal.Accepted, Subscription: "sub-1", SubscriptionName: "inbound", Via: journal.ViaPublish},
		journal.Entry{Tenant: a, EventID: "e1", Time: ago(55 * time.Second), Stage: journal.Routed, Subscription: "sub-1", Publication: "pub-1"},
		journal.Entry{Tenant: a, EventID: "e1", Time: ago(55 * time.Second), Stage: journal.FilteredOut, Subscription: "sub-1", Publication: "pub-2", Reason: "the filter dropped it (deleted())"},
		journal.Entry{Tenant: a, EventID: "e1", Time: first, Stage: journal.Attempt, Publication: "pub-1", PublicationName: "hook", Attempt: 1,
			Outcome: journal.Retry, Status: 500, Latency: 12 * time.Millisecond, Response: "boom", Error: "HTTP 500", NextAttempt: ago(40 * time.Second), FirstTry: first, Event: &ev},
		journal.Entry{Tenant: a, EventID: "e1", Time: ago(40 * time.Second), Stage: journal.Attempt, Publication: "pub-1", PublicationName: "hook", Attempt: 2,
			Outcome: journal.Retry, Status: 500, Latency: 8 * time.Millisecond, Error: "HTTP 500", NextAttempt: ago(20 * time.Second), FirstTry: first},
		journal.Entry{Tenant: a, EventID: "e1", Time: ago(20 * time.Second), Stage: journal.Attempt, Publication: "pub-1", PublicationName: "hook", Attempt: 3,
			Outcome: journal.Delivered, Status: 200, Latency: 4 * time.Millisecond, FirstTry: first},
		journal.Entry{Tenant: a, EventID: "e2", Time: ago(10 * time.Second), Stage: journal.Attempt, Publication: "pub-1", PublicationName: "hook", Attempt: 1,
			Outcome: journal.Retry, Status: 503, Latency: 30 * time.Millisecond, Error: "HTTP 503", NextAttempt: fixedNow.Add(5 * time.Second), FirstTry: ago(10 * time.Second)},
		journal.Entry{Tenant: h.b.ID, EventID: "e3", Time: ago(10 * time.Second), Stage: journal.Attempt, Publication: "pub-1", Attempt: 1, Outcome: journal.Delivered, Event: &ev},
	))
}

func TestDeliveriesRoute(t *testing.T) {
	h := newJournalHarness(t)
	h.story(t)
	type row struct {
		Event   string `json:"event_id"`
		Attempt int    `json:"attempt"`
		Outcome string `json:"outcome"`
		Status  int    `json:"status"`
	}
	tests := []struct {
		name  string
		query string
		want  []row
	}{
		{name: "newest first", query: "", want: []row{{"e2", 1, "retry", 503}, {"e1", 3, "delivered", 200}, {"e1", 2, "retry", 500}, {"e1", 1, "retry", 500}}},
		{name: "n", query: "?n=2", want: []row{{"e2", 1, "retry", 503}, {"e1", 3, "delivered", 200}}},
		{name: "failed", query: "?status=failed&n=2", want: []row{{"e2", 1, "retry", 503}, {"e1", 2, "retry", 500}}},
		{name: "delivered", query: "?status=delivered", want: []row{{"e1", 3, "delivered", 200}}},
		{name: "pending: scheduled, not finished", query: "?status=pending", want: []row{{"e2", 1, "retry", 503}}},
		{name: "by id", query: "?status=DELIVERED", want: []row{{"e1", 3, "delivered", 200}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ref := "hook"
			if tt.name == "by id" {
				ref = "pub-1"
			}
			r := h.as(h.a, http.MethodGet, "/publications/"+ref+"/deliveries"+tt.query, "")
			require.Equal(t, http.StatusOK, r.Status, "%s", r.Body)
			var got []row
			require.NoError(t, json.Unmarshal(r.Body, &got))
			assert.Equal(t, tt.want, got)
		})
	}
	t.Run("fields", func(t *testing.T) {
		r := h.as(h.a, http.MethodGet, "/publications/hook/deliveries?n=4", "")
		require.Equal(t, http.StatusOK, r.Status)
		list := r.list(t)
		require.Len(t, list, 4)
		assert.Equal(t, map[string]any{"time": "2026-01-02T03:03:15.0000006Z", "event_id": "e1", "attempt": 1.0, "outcome": "retry", "status": 500.0,
			"latency_ms": 12.0, "response": "boom", "error": "HTTP 500", "next_attempt_at": "2026-01-02T03:03:25.0000006Z",
			"first_try": "2026-01-02T03:03:15.0000006Z"}, list[3])
	})
	t.Run("empty is []", func(t *testing.T) {
		r := h.as(h.a, http.MethodGet, "/publications/other/deliveries", "")
		require.Equal(t, http.StatusOK, r.Status)
		assert.JSONEq(t, `[]`, string(r.Body))
	})
	for _, bad := range []struct{ name, path string }{
		{"n zero", "/publications/hook/deliveries?n=0"},
		{"n too large", "/publications/hook/deliveries?n=1001"},
		{"n not a number", "/publications/hook/deliveries?n=ten"},
		{"unknown status", "/publications/hook/deliveries?status=lost"},
	} {
		t.Run(bad.name, func(t *testing.T) {
			r := h.as(h.a, http.MethodGet, bad.path, "")
			assert.Equal(t, http.StatusUnprocessableEntity, r.Status)
			id, _ := r.errBody(t)
			assert.Equal(t, "invalid_params", id)
		})
	}
	t.Run("unknown publication", func(t *testing.T) {
		r := h.as(h.a, http.MethodGet, "/publications/nope/deliveries", "")
		assert.Equal(t, http.StatusNotFound, r.Status)
	})
	t.Run("another tenant's publication", func(t *testing.T) {
		r := h.as(h.b, http.MethodGet, "/publications/pub-1/deliveries", "")
		assert.Equal(t, http.StatusNotFound, r.Status)
	})
	t.Run("no credentials", func(t *testing.T) {
		r := h.do(http.MethodGet, "/v1/tenants/"+h.a.ID+"/publications/hook/deliveries", "", "")
		assert.Equal(t, http.StatusUnauthorized, r.Status)
	})
}

func TestTraceRoute(t *testing.T) {
	h := newJournalHarness(t)
	h.story(t)
	r := h.as(h.a, http.MethodGet, "/events/e1/trace", "")
	require.Equal(t, http.StatusOK, r.Status, "%s", r.Body)
	var got struct {
		EventID string `json:"event_id"`
		Steps   []struct {
			Stage        string `json:"stage"`
			Subscription string `json:"subscription"`
			Publication  string `json:"publication"`
			Via          string `json:"via"`
			Reason       string `json:"reason"`
			Attempt      int    `json:"attempt"`
			Outcome      string `json:"outcome"`
			Status       int    `json:"status"`
		} `json:"steps"`
	}
	require.NoError(t, json.Unmarshal(r.Body, &got))
	assert.Equal(t, "e1", got.EventID)
	require.Len(t, got.Steps, 6)
	assert.Equal(t, "accepted", got.Steps[0].Stage)
	assert.Equal(t, "inbound", got.Steps[0].Subscription)
	assert.Equal(t, "publish", got.Steps[0].Via)
	assert.Equal(t, "routed", got.Steps[1].Stage)
	assert.Equal(t, "hook", got.Steps[1].Publication, "ids are shown as names")
	assert.Equal(t, "filtered_out", got.Steps[2].Stage)
	assert.Equal(t, "other", got.Steps[2].Publication)
	assert.Equal(t, "the filter dropped it (deleted())", got.Steps[2].Reason)
	for i, want := range []struct {
		outcome string
		status  int
	}{{"retry", 500}, {"retry", 500}, {"delivered", 200}} {
		s := got.Steps[3+i]
		assert.Equal(t, "attempt", s.Stage)
		assert.Equal(t, i+1, s.Attempt)
		assert.Equal(t, want.outcome, s.Outcome)
		assert.Equal(t, want.status, s.Status)
	}

	t.Run("a deleted publication keeps its name", func(t *testing.T) {
		require.NoError(t, h.store.Delete(t.Context(), h.a.ID, config.KindPublication, "pub-1", 0))
		r := h.as(h.a, http.MethodGet, "/events/e1/trace", "")
		require.Equal(t, http.StatusOK, r.Status)
		steps := r.object(t)["steps"].([]any)
		assert.Equal(t, "pub-1", steps[1].(map[string]any)["publication"], "a routed entry knows only the id")
		assert.Equal(t, "hook", steps[3].(map[string]any)["publication"], "an attempt keeps the name")
	})
	t.Run("unknown event", func(t *testing.T) {
		r := h.as(h.a, http.MethodGet, "/events/nope/trace", "")
		assert.Equal(t, http.StatusNotFound, r.Status)
		_, msg := r.errBody(t)
		assert.Contains(t, msg, "No trace of event nope")
	})
	t.Run("another tenant's event", func(t *testing.T) {
		r := h.as(h.a, http.MethodGet, "/events/e3/trace", "")
		assert.Equal(t, http.StatusNotFound, r.Status)
	})
	t.Run("not an event id", func(t *testing.T) {
		r := h.as(h.a, http.MethodGet, "/events/"+url.PathEscape("bad\x01id")+"/trace", "")
		assert.Equal(t, http.StatusUnprocessableEntity, r.Status)
		r = h.as(h.a, http.MethodGet, "/events/"+strings.Repeat("x", 300)+"/trace", "")
		assert.Equal(t, http.StatusUnprocessableEntity, r.Status)
	})
}

func TestRetryRoute(t *testing.T) {
	h := newJournalHarness(t)
	h.story(t)
	r := h.as(h.a, http.MethodPost, "/events/e1/publications/hook/retry", "")
	require.Equal(t, http.StatusAccepted, r.Status, "%s", r.Body)
	assert.JSONEq(t, `{"event_id":"e1","publication":"hook"}`, string(r.Body))
	msgs := h.delivery.all()
	require.Len(t, msgs, 1)
	var d event.Delivery
	require.NoError(t, json.Unmarshal(msgs[0].Body, &d))
	assert.Equal(t, h.a.ID, d.Tenant)
	assert.Equal(t, "pub-1", d.Publication)
	assert.Equal(t, 0, d.Attempt, "a fresh delivery: the retry policy starts again")
	assert.Equal(t, "e1", d.Event.ID)
	assert.JSONEq(t, `{"n":1}`, string(d.Event.Data))
	assert.Equal(t, map[string]string{queue.AttrTenant: h.a.ID, queue.AttrAttempt: "0"}, msgs[0].Attributes)

	t.Run("a publication recreated with the same name", func(t *testing.T) {
		require.NoError(t, h.store.Delete(t.Context(), h.a.ID, config.KindPublication, "pub-1", 0))
		p := h.pub
		p.ID = "pub-9"
		_, err := config.Insert(t.Context(), h.store, config.Item{Tenant: h.a.ID, Kind: config.KindPublication, ID: p.ID, Name: p.Name}, p)
		require.NoError(t, err)
		r := h.as(h.a, http.MethodPost, "/events/e1/publications/hook/retry", "")
		require.Equal(t, http.StatusAccepted, r.Status, "%s", r.Body)
		msgs := h.delivery.all()
		require.Len(t, msgs, 2)
		require.NoError(t, json.Unmarshal(msgs[1].Body, &d))
		assert.Equal(t, "pub-9", d.Publication)
	})
	for _, tt := range []struct {
		name, path string
		status     int
	}{
		{"no kept event for that publication", "/events/e1/publications/other/retry", http.StatusNotFound},
		{"no kept event (a later attempt only)", "/events/e2/publications/hook/retry", http.StatusNotFound},
		{"unknown event", "/events/nope/publications/hook/retry", http.StatusNotFound},
		{"unknown publication", "/events/e1/publications/nope/retry", http.StatusNotFound},
		{"not an event id", "/events/" + url.PathEscape("a\nb") + "/publications/hook/retry", http.StatusUnprocessableEntity},
	} {
		t.Run(tt.name, func(t *testing.T) {
			before := len(h.delivery.all())
			r := h.as(h.a, http.MethodPost, tt.path, "")
			assert.Equal(t, tt.status, r.Status, "%s", r.Body)
			assert.Len(t, h.delivery.all(), before, "nothing queued")
		})
	}
}

func TestHealthFields(t *testing.T) {
	h := newJournalHarness(t)
	h.story(t)
	r := h.as(h.a, http.MethodGet, "/publications/hook", "")
	require.Equal(t, http.StatusOK, r.Status, "%s", r.Body)
	obj := r.object(t)
	assert.Equal(t, "hook", obj["name"], "the publication's fields stay")
	assert.Equal(t, map[string]any{
		"state":         "failing",
		"last_error":    "HTTP 503",
		"last_error_at": "2026-01-02T03:03:55.0000006Z",
		"backlog":       map[string]any{"pending": 1.0, "oldest_at": "2026-01-02T03:03:55.0000006Z", "oldest_age_s": 10.0},
		"next_retry_at": "2026-01-02T03:04:10.0000006Z",
		"last_hour":     map[string]any{"delivered": 1.0, "failed": 3.0, "p50_ms": 8.0, "p99_ms": 30.0},
	}, obj["health"])

	t.Run("list", func(t *testing.T) {
		r := h.as(h.a, http.MethodGet, "/publications", "")
		require.Equal(t, http.StatusOK, r.Status)
		states := map[string]any{}
		for _, p := range r.list(t) {
			states[p["name"].(string)] = p["health"].(map[string]any)["state"]
		}
		assert.Equal(t, map[string]any{"hook": "failing", "other": "active"}, states)
	})
	t.Run("subscription: the health of its targets", func(t *testing.T) {
		r := h.as(h.a, http.MethodGet, "/subscriptions/inbound", "")
		require.Equal(t, http.StatusOK, r.Status)
		health := r.object(t)["health"].(map[string]any)
		assert.Equal(t, "failing", health["state"])
		assert.Equal(t, 1.0, health["backlog"].(map[string]any)["pending"])
	})
	for _, tt := range []struct {
		name  string
		edit  func(*config.Publication)
		state string
	}{
		{"disabled", func(p *config.Publication) { p.Disabled, p.DisabledReason = true, "endpoint answered 410 Gone" }, "disabled"},
		{"paused", func(p *config.Publication) { p.Paused = true }, "paused"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			_, err := config.Modify(t.Context(), h.store, h.a.ID, config.KindPublication, "pub-2", 3, func(r *config.Record[config.Publication]) (bool, error) {
				r.Value = h.other
				tt.edit(&r.Value)
				return true, nil
			})
			require.NoError(t, err)
			r := h.as(h.a, http.MethodGet, "/publications/other", "")
			require.Equal(t, http.StatusOK, r.Status)
			assert.Equal(t, tt.state, r.object(t)["health"].(map[string]any)["state"])
		})
	}
}

// FuzzJournalRoutes feeds untrusted query strings and event ids to the
// delivery-log routes: they answer 200, 404 or 422 with JSON, never fail.
func FuzzJournalRoutes(f *testing.F) {
	for _, seed := range []struct{ query, id string }{
		{"n=5&status=failed", "e1"}, {"n=-1", ""}, {"status=%ff", "é"}, {"n=99999999999999999999", "a b"},
		{"status=pending&status=delivered", "x\x00y"}, {"n=%20", strings.Repeat("z", 300)},
	} {
		f.Add(seed.query, seed.id)
	}
	f.Fuzz(func(t *testing.T, query, id string) {
		h := newJournalHarness(t)
		for _, path := range []string{
			"/v1/tenants/" + h.a.ID + "/publications/hook/deliveries",
			"/v1/tenants/" + h.a.ID + "/events/" + url.PathEscape(id) + "/trace",
		} {
			req := httptest.NewRequestWithContext(t.Context(), http.MethodGet, path, nil)
			req.URL.RawQuery = query // as received, however malformed
			req.Header.Set("Authorization", "Bearer "+h.a.APIKey)
			rec := httptest.NewRecorder()
			h.h.ServeHTTP(rec, req)
			switch rec.Code {
			case http.StatusOK, http.StatusNotFound, http.StatusUnprocessableEntity, http.StatusBadRequest:
				assert.True(t, json.Valid(rec.Body.Bytes()), "GET %q ? %q: %s", path, query, rec.Body)
			case http.StatusMovedPermanently, http.StatusTemporaryRedirect, http.StatusPermanentRedirect:
				// the mux cleans paths such as /events/./trace
			default:
				t.Fatalf("GET %q ? %q: status %d: %s", path, query, rec.Code, rec.Body)
			}
		}
	})
}
