package ingest_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/herokuevents/herokuevents/shared/dedup"
	"github.com/herokuevents/herokuevents/shared/dedup/deduptest"
	"github.com/herokuevents/herokuevents/shared/dedup/memdedup"
	"github.com/herokuevents/herokuevents/shared/ingest"
	"github.com/herokuevents/herokuevents/shared/journal"
	"github.com/herokuevents/herokuevents/shared/queue"
)

type entries struct {
	mu sync.Mutex
	es []journal.Entry
}

func (e *entries) Append(_ context.Context, es ...journal.Entry) error {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.es = append(e.es, es...)
	return nil
}

func (e *entries) len() int { e.mu.Lock(); defer e.mu.Unlock(); return len(e.es) }

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

// lines returns the log lines whose decision is d.
func (s *syncBuffer) lines(t *testing.T, d string) []map[string]any {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []map[string]any
	for _, l := range strings.Split(strings.TrimSpace(s.b.String()), "\n") {
		var m map[string]any
		require.NoError(t, json.Unmarshal([]byte(l), &m))
		if m["decision"] == d {
			out = append(out, m)
		}
	}
	return out
}

type dedupRig struct {
	h       *ingest.Handler
	in, del *recorder
	store   *memdedup.Store
	clock   *deduptest.Clock
	journal *entries
	logs    *syncBuffer
}

func newDedupRig(t *testing.T, with func(*ingest.Options)) *dedupRig {
	r := &dedupRig{clock: deduptest.NewClock(), journal: &entries{}, logs: &syncBuffer{}}
	r.store = memdedup.New(r.clock.Now)
	r.h, r.in, r.del = setupWith(t, func(o *ingest.Options) {
		o.Dedup, o.Journal = r.store, r.journal
		o.Logger = slog.New(slog.NewJSONHandler(r.logs, nil))
		if with != nil {
			with(o)
		}
	})
	return r
}

// eventIDs are the ids of the events enqueued on q.
func eventIDs(t *testing.T, q *recorder) []string {
	var ids []string
	for _, m := range q.all() {
		var v struct {
			Event struct {
				ID string `json:"id"`
			} `json:"event"`
		}
		require.NoError(t, json.Unmarshal(m.Body, &v))
		ids = append(ids, v.Event.ID)
	}
	return ids
}

func acceptedID(t *testing.T, w *httptest.ResponseRecorder) string {
	t.Helper()
	require.Equal(t, http.StatusAccepted, w.Code, w.Body.String())
	var acc ingest.Accepted
	require.NoError(t, json.Unmarshal(w.Body.Bytes(), &acc))
	require.NotEmpty(t, acc.ID)
	return acc.ID
}

func structured(source, id string) string {
	return `{"specversion":"1.0","id":"` + id + `","source":"` + source + `","type":"com.example.order","data":{"n":1}}`
}

// TestDedupRepeatedPublish: a publish repeated with the same key answers
// 202 with the first event's id every time, enqueues one event and
// journals one acceptance; each repeat logs one duplicate line.
func TestDedupRepeatedPublish(t *testing.T) {
	tests := []struct {
		name, target     string
		ctype            string
		bodies           []string // one per publish, all with the same key
		hdr              []map[string]string
		queue            func(*dedupRig) *recorder
		wantFirstEventID string
	}{
		{name: "Idempotency-Key to a publication", target: "systemStatus", ctype: "application/json",
			bodies: []string{`{"n":1}`, `{"n":1}`, `{"n":2}`},
			hdr:    []map[string]string{{"Idempotency-Key": "order-42"}, {"Idempotency-Key": "order-42"}, {"Idempotency-Key": "order-42"}},
			queue:  func(r *dedupRig) *recorder { return r.del }},
		{name: "Idempotency-Key to a subscription", target: "inbound", ctype: "application/json",
			bodies: []string{`{"n":1}`, `{"n":1}`},
			hdr:    []map[string]string{{"Idempotency-Key": "ü-42 x"}, {"Idempotency-Key": "ü-42 x"}},
			queue:  func(r *dedupRig) *recorder { return r.in }},
		{name: "structured CloudEvent", target: "systemStatus", ctype: "application/cloudevents+json",
			bodies: []string{structured("/orders", "o-1"), structured("/orders", "o-1")},
			hdr:    []map[string]string{nil, nil},
			queue:  func(r *dedupRig) *recorder { return r.del }, wantFirstEventID: "o-1"},
		{name: "binary then structured CloudEvent", target: "inbound", ctype: "application/json",
			bodies: []string{`{"n":1}`, `{"n":1}`},
			hdr: []map[string]string{
				{"Ce-Specversion": "1.0", "Ce-Id": "o-2", "Ce-Source": "/orders", "Ce-Type": "t"},
				{"Ce-Specversion": "1.0", "Ce-Id": "o-2", "Ce-Source": "/orders", "Ce-Type": "t"}},
			queue: func(r *dedupRig) *recorder { return r.in }, wantFirstEventID: "o-2"},
		{name: "Idempotency-Key beats a CloudEvent's id", target: "systemStatus", ctype: "application/cloudevents+json",
			bodies: []string{structured("/orders", "o-3"), structured("/orders", "o-4")},
			hdr:    []map[string]string{{"Idempotency-Key": "k"}, {"Idempotency-Key": "k"}},
			queue:  func(r *dedupRig) *recorder { return r.del }, wantFirstEventID: "o-3"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := newDedupRig(t, nil)
			var ids []string
			for i, body := range tt.bodies {
				w := post(r.h, tt.target, tenant, key, tt.ctype, body, tt.hdr[i])
				ids = append(ids, acceptedID(t, w))
				if i > 0 {
					assert.Equal(t, "true", w.Header().Get(ingest.HeaderReplayed))
				} else {
					assert.Empty(t, w.Header().Get(ingest.HeaderReplayed))
				}
			}
			for _, id := range ids {
				assert.Equal(t, ids[0], id, "every answer names the first event")
			}
			if tt.wantFirstEventID != "" {
				assert.Equal(t, tt.wantFirstEventID, ids[0])
			}
			assert.Equal(t, []string{ids[0]}, eventIDs(t, tt.queue(r)), "one event enqueued")
			assert.Len(t, append(r.in.all(), r.del.all()...), 1, "nothing on the other queue")
			assert.Equal(t, 1, r.journal.len(), "one acceptance journaled")
			dups := r.logs.lines(t, "duplicate")
			require.Len(t, dups, len(tt.bodies)-1, "one log line per duplicate")
			for _, l := range dups {
				assert.Equal(t, ids[0], l["event_id"])
				assert.Equal(t, tenant, l["tenant"])
			}
		})
	}
}

// TestDedupScopes: a key is another key at another target, another
// CloudEvent source, or without a key at all.
func TestDedupScopes(t *testing.T) {
	r := newDedupRig(t, nil)
	k := map[string]string{"Idempotency-Key": "same"}
	a := acceptedID(t, post(r.h, "systemStatus", tenant, key, "application/json", `{}`, k))
	b := acceptedID(t, post(r.h, "inbound", tenant, key, "application/json", `{}`, k))
	assert.NotEqual(t, a, b, "the same key at a publication and a subscription")
	c := acceptedID(t, post(r.h, "systemStatus", tenant, key, "application/cloudevents+json", structured("/a", "x"), nil))
	d := acceptedID(t, post(r.h, "systemStatus", tenant, key, "application/cloudevents+json", structured("/b", "x"), nil))
	assert.Equal(t, []string{"x", "x"}, []string{c, d}, "the same id from two sources is two events")
	e := acceptedID(t, post(r.h, "systemStatus", tenant, key, "application/json", `{}`, nil))
	f := acceptedID(t, post(r.h, "systemStatus", tenant, key, "application/json", `{}`, nil))
	assert.NotEqual(t, e, f, "a plain publish has no key")
	assert.Len(t, r.del.all(), 5)
	assert.Len(t, r.in.all(), 1)
}

// TestDedupInvalidKey: a bad Idempotency-Key is a 400 JSON error and
// changes nothing.
func TestDedupInvalidKey(t *testing.T) {
	for name, v := range map[string][]string{
		"too long":        {strings.Repeat("k", dedup.MaxKeyLength+1)},
		"control":         {"a\x01b"},
		"empty":           {""},
		"two headers":     {"a", "b"},
		"not utf-8":       {"\xff\xfe"},
		"tab in the key":  {"a\tb"},
		"escape sequence": {"\x1b[31mred"},
	} {
		t.Run(name, func(t *testing.T) {
			r := newDedupRig(t, nil)
			req := httptest.NewRequest(http.MethodPost, "/publish/systemStatus", strings.NewReader(`{}`))
			req.SetBasicAuth(tenant, key)
			req.Header.Set("Content-Type", "application/json")
			req.Header["Idempotency-Key"] = v
			w := httptest.NewRecorder()
			r.h.ServeHTTP(w, req)
			require.Equal(t, http.StatusBadRequest, w.Code)
			var e ingest.Error
			require.NoError(t, json.Unmarshal(w.Body.Bytes(), &e))
			assert.Equal(t, "invalid_idempotency_key", e.ID)
			assert.NotEmpty(t, e.Message)
			assert.Empty(t, r.del.all())
			assert.Zero(t, r.journal.len())
		})
	}
	t.Run("255 bytes is fine", func(t *testing.T) {
		r := newDedupRig(t, nil)
		acceptedID(t, post(r.h, "systemStatus", tenant, key, "application/json", `{}`,
			map[string]string{"Idempotency-Key": strings.Repeat("k", dedup.MaxKeyLength)}))
	})
}

// TestDedupFailedEnqueueReleases: a publish whose enqueue failed (503)
// leaves no key behind: the retry enqueues.
func TestDedupFailedEnqueueReleases(t *testing.T) {
	r := newDedupRig(t, nil)
	k := map[string]string{"Idempotency-Key": "retry-me"}
	r.del.mu.Lock()
	r.del.err = errors.New("queue down")
	r.del.mu.Unlock()
	w := post(r.h, "systemStatus", tenant, key, "application/json", `{}`, k)
	require.Equal(t, http.StatusServiceUnavailable, w.Code)
	r.del.mu.Lock()
	r.del.err = nil
	r.del.mu.Unlock()
	id := acceptedID(t, post(r.h, "systemStatus", tenant, key, "application/json", `{}`, k))
	assert.Equal(t, []string{id}, eventIDs(t, r.del))
	assert.Equal(t, id, acceptedID(t, post(r.h, "systemStatus", tenant, key, "application/json", `{}`, k)))
	assert.Len(t, r.del.all(), 1)
}

// TestDedupCrashedClaim: a key claimed by a request that died before
// confirming is 409 while its lease runs, then taken over: the event is
// enqueued under the first id.
func TestDedupCrashedClaim(t *testing.T) {
	r := newDedupRig(t, nil)
	k := dedup.Key("pub-1", dedup.KindHeader, "crash")
	_, err := r.store.Claim(t.Context(), tenant, k, "ev-of-the-crashed-request", time.Hour)
	require.NoError(t, err)
	hdr := map[string]string{"Idempotency-Key": "crash"}
	w := post(r.h, "systemStatus", tenant, key, "application/json", `{}`, hdr)
	require.Equal(t, http.StatusConflict, w.Code, w.Body.String())
	assert.Equal(t, "1", w.Header().Get("Retry-After"))
	assert.Contains(t, w.Body.String(), "publish_in_progress")
	assert.Empty(t, r.del.all())

	r.clock.Advance(dedup.Lease + time.Second)
	assert.Equal(t, "ev-of-the-crashed-request", acceptedID(t, post(r.h, "systemStatus", tenant, key, "application/json", `{}`, hdr)))
	assert.Equal(t, []string{"ev-of-the-crashed-request"}, eventIDs(t, r.del))
	assert.Equal(t, "ev-of-the-crashed-request", acceptedID(t, post(r.h, "systemStatus", tenant, key, "application/json", `{}`, hdr)))
	assert.Len(t, r.del.all(), 1)
}

// TestDedupWindow: after the window a key is new again.
func TestDedupWindow(t *testing.T) {
	r := newDedupRig(t, func(o *ingest.Options) { o.DedupWindow = 10 * time.Minute })
	hdr := map[string]string{"Idempotency-Key": "w"}
	a := acceptedID(t, post(r.h, "systemStatus", tenant, key, "application/json", `{}`, hdr))
	r.clock.Advance(9 * time.Minute)
	assert.Equal(t, a, acceptedID(t, post(r.h, "systemStatus", tenant, key, "application/json", `{}`, hdr)))
	r.clock.Advance(2 * time.Minute)
	assert.NotEqual(t, a, acceptedID(t, post(r.h, "systemStatus", tenant, key, "application/json", `{}`, hdr)))
	assert.Len(t, r.del.all(), 2)
}

type brokenStore struct{ dedup.Store }

func (brokenStore) Claim(context.Context, string, string, string, time.Duration) (dedup.Result, error) {
	return dedup.Result{}, errors.New("store down")
}

// TestDedupStoreDown: a keyed publish is refused (503) when the keys
// cannot be read, rather than risk a double; a publish without a key goes.
func TestDedupStoreDown(t *testing.T) {
	r := newDedupRig(t, func(o *ingest.Options) { o.Dedup = brokenStore{} })
	w := post(r.h, "systemStatus", tenant, key, "application/json", `{}`, map[string]string{"Idempotency-Key": "k"})
	require.Equal(t, http.StatusServiceUnavailable, w.Code)
	assert.NotEmpty(t, w.Header().Get("Retry-After"))
	assert.Empty(t, r.del.all())
	acceptedID(t, post(r.h, "systemStatus", tenant, key, "application/json", `{}`, nil))
	assert.Len(t, r.del.all(), 1)
}

var _ queue.Sender = (*recorder)(nil)
