package api_test

import (
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/herokuevents/herokuevents/shared/api"
	"github.com/herokuevents/herokuevents/shared/event"
	"github.com/herokuevents/herokuevents/shared/logtest"
	"github.com/herokuevents/herokuevents/shared/platform"
	"github.com/herokuevents/herokuevents/shared/recent"
	"github.com/herokuevents/herokuevents/shared/recent/memrecent"
)

// streamTestHarness is a server with a recent events store, a webhook
// subscription "orders" with six kept events (n = 1…6, the third too large
// to keep), a publication "audit" streamed from it with a filter keeping
// even n, and a publication "plain" streamed from it without filter.
type streamTestHarness struct {
	*harness
	recent *memrecent.Store
	subID  string
}

const evenFilter = `root = if this.n % 2 == 0 { this } else { deleted() }`

func newStreamTestHarness(t *testing.T) *streamTestHarness {
	t.Helper()
	logger, logs := logtest.JSON(slog.LevelDebug)
	mem := memrecent.New(recent.Limits{MaxEventBytes: 100})
	h := &harness{t: t, store: newMemStore(), logs: logs}
	h.srv = newServer(t, api.Options{
		Store:    h.store,
		BaseURL:  "http://127.0.0.1:5454",
		Operator: api.Operator{ID: operatorID, PasswordHash: api.HashKey(operatorPass)},
		Logger:   logger,
		Now:      func() time.Time { return fixedNow },
		Recent:   mem,
	}, platform.Deps{})
	h.h = h.srv.Handler()
	h.a = h.provision("my-app")
	h.b = h.provision("other-app")
	sub := h.mustCreate(h.a, "/platforms/webhook/subscriptions", `{"name":"orders"}`)
	h.mustCreate(h.a, "/platforms/webhook/publications", `{"skip_handshake":true,"name":"audit","url":"https://example.com/audit"}`)
	h.mustCreate(h.a, "/platforms/webhook/publications", `{"skip_handshake":true,"name":"plain","url":"https://example.com/plain"}`)
	h.mustCreate(h.a, "/streams", fmt.Sprintf(`{"source":"orders","target":"audit","filter":%q}`, evenFilter))
	h.mustCreate(h.a, "/streams", `{"source":"orders","target":"plain"}`)
	s := &streamTestHarness{harness: h, recent: mem, subID: sub["id"].(string)}
	for i := 1; i <= 6; i++ {
		data := fmt.Sprintf(`{"n":%d,"kind":"order"}`, i)
		if i == 3 {
			data = `{"n":3,"blob":"` + strings.Repeat("x", 200) + `"}`
		}
		s.keep(h.a.ID, event.Event{ID: fmt.Sprintf("ev-%d", i), Source: "/s", Type: event.TypePublish,
			Subject: fmt.Sprintf("order-%d", i), Time: fixedNow.Add(time.Duration(i) * time.Second), Data: json.RawMessage(data)})
	}
	return s
}

func (s *streamTestHarness) keep(tenant string, ev event.Event) {
	s.t.Helper()
	require.NoError(s.t, s.recent.Keep(s.t.Context(), recent.Entry{Tenant: tenant, Subscription: s.subID, Event: ev, Kept: time.Now()}))
}

type testedEvent struct {
	ID              string          `json:"id"`
	Result          string          `json:"result"`
	Data            json.RawMessage `json:"data"`
	Output          json.RawMessage `json:"output"`
	OutputTruncated bool            `json:"output_truncated"`
	Error           string          `json:"error"`
}

type tested struct {
	Source      string        `json:"source"`
	Target      string        `json:"target"`
	Filter      *string       `json:"filter"`
	Events      []testedEvent `json:"events"`
	Total       int           `json:"total"`
	Kept        int           `json:"kept"`
	Transformed int           `json:"transformed"`
	Dropped     int           `json:"dropped"`
	Errors      int           `json:"errors"`
	Skipped     int           `json:"skipped"`
}

func results(v tested) []string {
	var out []string
	for _, e := range v.Events {
		out = append(out, e.ID+"="+e.Result)
	}
	return out
}

func TestStreamTest(t *testing.T) {
	tests := []struct {
		name    string
		body    string
		results []string
		counts  [6]int // total, kept, transformed, dropped, errors, skipped
		filter  string // "" for null
		target  string
	}{
		{"the stream's filter", `{"source":"orders","target":"audit"}`,
			[]string{"ev-1=dropped", "ev-2=kept", "ev-3=skipped", "ev-4=kept", "ev-5=dropped", "ev-6=kept"},
			[6]int{6, 3, 0, 2, 0, 1}, evenFilter, "audit"},
		{"a stream without filter keeps everything", `{"source":"orders","target":"plain"}`,
			[]string{"ev-1=kept", "ev-2=kept", "ev-3=skipped", "ev-4=kept", "ev-5=kept", "ev-6=kept"},
			[6]int{6, 5, 0, 0, 0, 1}, "", "plain"},
		{"a new filter, no target", `{"source":"orders","filter":"root = if this.n > 4 { this } else { deleted() }"}`,
			[]string{"ev-1=dropped", "ev-2=dropped", "ev-3=skipped", "ev-4=dropped", "ev-5=kept", "ev-6=kept"},
			[6]int{6, 2, 0, 3, 0, 1}, "root = if this.n > 4 { this } else { deleted() }", ""},
		{"a new filter replaces the stream's", `{"source":"orders","target":"audit","filter":"root = this"}`,
			[]string{"ev-1=kept", "ev-2=kept", "ev-3=skipped", "ev-4=kept", "ev-5=kept", "ev-6=kept"},
			[6]int{6, 5, 0, 0, 0, 1}, "root = this", "audit"},
		{"limit takes the most recent", `{"source":"orders","target":"audit","limit":2}`,
			[]string{"ev-5=dropped", "ev-6=kept"}, [6]int{2, 1, 0, 1, 0, 0}, evenFilter, "audit"},
		{"by id", fmt.Sprintf(`{"source":%q,"filter":"root = this","limit":1}`, "SUBID"),
			[]string{"ev-6=kept"}, [6]int{1, 1, 0, 0, 0, 0}, "root = this", ""},
		{"mapping errors are per event", `{"source":"orders","filter":"root = if this.n == 4 { throw(\"no fours\") } else { this }","limit":3}`,
			[]string{"ev-4=error", "ev-5=kept", "ev-6=kept"}, [6]int{3, 2, 0, 0, 1, 0}, `root = if this.n == 4 { throw("no fours") } else { this }`, ""},
		{"the filter sees the event's attributes", `{"source":"orders","filter":"root = if this._herokuevents.subject == \"order-6\" { this } else { deleted() }","limit":2}`,
			[]string{"ev-5=dropped", "ev-6=kept"}, [6]int{2, 1, 0, 1, 0, 0}, `root = if this._herokuevents.subject == "order-6" { this } else { deleted() }`, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := newStreamTestHarness(t)
			r := s.as(s.a, http.MethodPost, "/streams/test", strings.ReplaceAll(tt.body, "SUBID", s.subID))
			require.Equal(t, http.StatusOK, r.Status, "%s", r.Body)
			var v tested
			require.NoError(t, json.Unmarshal(r.Body, &v))
			assert.Equal(t, tt.results, results(v))
			assert.Equal(t, tt.counts, [6]int{v.Total, v.Kept, v.Transformed, v.Dropped, v.Errors, v.Skipped})
			assert.Equal(t, "orders", v.Source)
			assert.Equal(t, tt.target, v.Target)
			if tt.filter == "" {
				assert.Nil(t, v.Filter)
			} else {
				require.NotNil(t, v.Filter)
				assert.Equal(t, tt.filter, *v.Filter)
			}
			for _, e := range v.Events {
				switch e.Result {
				case "error":
					assert.Contains(t, e.Error, "no fours")
				case "skipped":
					assert.Contains(t, e.Error, "too large")
					assert.Empty(t, e.Data)
				default:
					assert.NotEmpty(t, e.Data, "the input is shown")
					assert.Empty(t, e.Output, "only a transformed event has an output")
				}
			}
		})
	}
}

func TestStreamTestTransformed(t *testing.T) {
	s := newStreamTestHarness(t)
	r := s.as(s.a, http.MethodPost, "/streams/test", `{"source":"orders","limit":2,
		"filter":"root = if this.n == 6 { this.merge({\"big\": true}) } else { this }"}`)
	require.Equal(t, http.StatusOK, r.Status, "%s", r.Body)
	var v tested
	require.NoError(t, json.Unmarshal(r.Body, &v))
	assert.Equal(t, []string{"ev-5=kept", "ev-6=transformed"}, results(v))
	assert.JSONEq(t, `{"n":6,"kind":"order","big":true}`, string(v.Events[1].Output))
	assert.Equal(t, 1, v.Transformed)

	s.keep(s.a.ID, event.Event{ID: "ev-7", Source: "/s", Type: "t", Data: json.RawMessage(`{"n":7}`)})
	r = s.as(s.a, http.MethodPost, "/streams/test", fmt.Sprintf(`{"source":"orders","limit":1,"filter":%q}`,
		fmt.Sprintf(`root = {"blob": range(0, %d).map_each(_ -> "0123456789").join("")}`, api.MaxTestOutput/10+1)))
	require.Equal(t, http.StatusOK, r.Status, "%s", r.Body)
	require.NoError(t, json.Unmarshal(r.Body, &v))
	require.Len(t, v.Events, 1)
	assert.Equal(t, "transformed", v.Events[0].Result)
	assert.True(t, v.Events[0].OutputTruncated)
	assert.Empty(t, v.Events[0].Output)
}

// TestStreamTestNoSideEffect: a dry-run changes neither the configuration
// nor the kept events.
func TestStreamTestNoSideEffect(t *testing.T) {
	s := newStreamTestHarness(t)
	before := s.store.snapshot()
	kept, err := s.recent.Latest(t.Context(), s.a.ID, s.subID, 0)
	require.NoError(t, err)
	r := s.as(s.a, http.MethodPost, "/streams/test", `{"source":"orders","target":"audit","filter":"root = this.without(\"n\")"}`)
	require.Equal(t, http.StatusOK, r.Status, "%s", r.Body)
	assert.Equal(t, before, s.store.snapshot())
	after, err := s.recent.Latest(t.Context(), s.a.ID, s.subID, 0)
	require.NoError(t, err)
	assert.Equal(t, kept, after)
	r = s.as(s.a, http.MethodGet, "/streams/orders/audit", "")
	require.Equal(t, http.StatusOK, r.Status)
	assert.Equal(t, evenFilter, r.object(t)["filter"], "the stream's filter is unchanged")
}

func TestStreamTestErrors(t *testing.T) {
	tests := []struct {
		name   string
		as     string // "a", "b" or "none"
		body   string
		status int
		id     string
		msg    string
	}{
		{"no source", "a", `{"filter":"root = this"}`, 422, "invalid_params", "source is required"},
		{"no filter and no target", "a", `{"source":"orders"}`, 422, "invalid_params", "Give a filter to test, or a target"},
		{"blank filter and no target", "a", `{"source":"orders","filter":"  "}`, 422, "invalid_params", "Give a filter to test, or a target"},
		{"bad filter", "a", `{"source":"orders","filter":"root = ("}`, 422, "invalid_params", "filter: invalid Bloblang"},
		{"limit too large", "a", `{"source":"orders","target":"audit","limit":101}`, 422, "invalid_params", "limit must be a number from 1 to 100"},
		{"limit zero", "a", `{"source":"orders","target":"audit","limit":0}`, 422, "invalid_params", "limit must be"},
		{"unknown field", "a", `{"source":"orders","target":"audit","n":3}`, 422, "invalid_params", "Unknown field \"n\""},
		{"not JSON", "a", `source=orders`, 400, "bad_request", ""},
		{"unknown subscription", "a", `{"source":"nope","filter":"root = this"}`, 404, "not_found", "nope"},
		{"unknown publication", "a", `{"source":"orders","target":"nope"}`, 404, "not_found", "nope"},
		{"no such stream", "a", `{"source":"orders","target":"lonely"}`, 404, "not_found", "orders does not stream to lonely"},
		{"another tenant's subscription", "b", `{"source":"orders","filter":"root = this"}`, 404, "not_found", ""},
		{"no credentials", "none", `{"source":"orders","filter":"root = this"}`, 401, "unauthorized", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := newStreamTestHarness(t)
			s.mustCreate(s.a, "/platforms/webhook/publications", `{"skip_handshake":true,"name":"lonely","url":"https://example.com/lonely"}`)
			before := s.store.snapshot()
			var r response
			switch tt.as {
			case "a":
				r = s.as(s.a, http.MethodPost, "/streams/test", tt.body)
			case "b":
				r = s.as(s.b, http.MethodPost, "/streams/test", tt.body)
			default:
				r = s.do(http.MethodPost, "/v1/tenants/"+s.a.ID+"/streams/test", tt.body, "")
			}
			require.Equal(t, tt.status, r.Status, "%s", r.Body)
			id, msg := r.errBody(t)
			assert.Equal(t, tt.id, id)
			assert.Contains(t, msg, tt.msg)
			assert.Equal(t, before, s.store.snapshot(), "changes nothing")
		})
	}
}

// TestStreamTestOtherTenantsEvents: a tenant never sees the events kept
// for another tenant's subscription of the same name.
func TestStreamTestOtherTenantsEvents(t *testing.T) {
	s := newStreamTestHarness(t)
	s.mustCreate(s.b, "/platforms/webhook/subscriptions", `{"name":"orders"}`)
	r := s.as(s.b, http.MethodPost, "/streams/test", `{"source":"orders","filter":"root = this"}`)
	require.Equal(t, http.StatusOK, r.Status, "%s", r.Body)
	var v tested
	require.NoError(t, json.Unmarshal(r.Body, &v))
	assert.Empty(t, v.Events)
	assert.Equal(t, 0, v.Total)
}

// TestStreamTestNotServedWithoutStore: without Options.Recent the route
// does not exist.
func TestStreamTestNotServedWithoutStore(t *testing.T) {
	h := newHarness(t)
	h.mustCreate(h.a, "/platforms/webhook/subscriptions", `{"name":"orders"}`)
	r := h.as(h.a, http.MethodPost, "/streams/test", `{"source":"orders","filter":"root = this"}`)
	assert.Equal(t, http.StatusNotFound, r.Status)
}

// FuzzStreamTestRequest: any body gets a JSON answer, 200 or an error
// status with {"id","message"}, never a 5xx or a panic.
func FuzzStreamTestRequest(f *testing.F) {
	for _, seed := range []string{
		`{"source":"orders","target":"audit"}`,
		`{"source":"orders","filter":"root = this","limit":5}`,
		`{"source":"orders","filter":"root = if this.n > 2 { deleted() } else { this.n }"}`,
		`{"source":"orders","filter":null,"target":"plain","limit":100}`,
		`{"source":"","limit":-1}`,
		`[]`, `null`, `{"source":{}}`, `{"limit":1e400}`,
	} {
		f.Add(seed)
	}
	var s *streamTestHarness
	f.Fuzz(func(t *testing.T, body string) {
		if s == nil {
			s = newStreamTestHarness(t) // once per fuzzing process: provisioning is slow
		}
		s.t = t
		r := s.as(s.a, http.MethodPost, "/streams/test", body)
		require.Less(t, r.Status, 500, "%s → %s", body, r.Body)
		if r.Status != http.StatusOK {
			id, msg := r.errBody(t)
			require.NotEmpty(t, id)
			require.NotEmpty(t, msg)
			return
		}
		var v tested
		require.NoError(t, json.Unmarshal(r.Body, &v))
		require.Equal(t, v.Total, v.Kept+v.Transformed+v.Dropped+v.Errors+v.Skipped)
		require.Len(t, v.Events, v.Total)
	})
}
