package subscribe_test

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/herokuevents/herokuevents/shared/config"
	"github.com/herokuevents/herokuevents/shared/config/memstore"
	"github.com/herokuevents/herokuevents/shared/platform/webhook/cloudevent"
	"github.com/herokuevents/herokuevents/shared/pull"
	"github.com/herokuevents/herokuevents/shared/pull/mempull"
	"github.com/herokuevents/herokuevents/shared/pull/pulltest"
	"github.com/herokuevents/herokuevents/shared/subscribe"
)

const tenant, key = "t-1", "publish-key"

type fixture struct {
	h   *subscribe.Handler
	buf *mempull.Buffer
}

func setup(t *testing.T) fixture {
	t.Helper()
	st := memstore.New()
	t.Cleanup(func() { st.Close() })
	ctx := t.Context()
	_, err := config.Insert(ctx, st, config.Item{Kind: config.KindTenant, ID: tenant, Name: "my-app"},
		config.Tenant{ID: tenant, App: "my-app", PublishKeyHash: config.HashKey(key)})
	require.NoError(t, err)
	for _, s := range []config.Subscription{
		{ID: "sub-1", Name: "orders", Platform: config.PlatformWebhook, Pull: true},
		{ID: "sub-2", Name: "quiet", Platform: config.PlatformWebhook},
	} {
		_, err = config.Insert(ctx, st, config.Item{Tenant: tenant, Kind: config.KindSubscription, ID: s.ID, Name: s.Name}, s)
		require.NoError(t, err)
	}
	buf := mempull.New(0, nil)
	h, err := subscribe.New(subscribe.Options{Store: st, Buffer: buf, PollEvery: 10 * time.Millisecond})
	require.NoError(t, err)
	return fixture{h: h, buf: buf}
}

func do(h http.Handler, method, target, body string, hdr map[string]string) *httptest.ResponseRecorder {
	req := httptest.NewRequest(method, target, strings.NewReader(body))
	req.SetBasicAuth(tenant, key)
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	w := httptest.NewRecorder()
	h.ServeHTTP(w, req)
	return w
}

func TestPlainGetHandsOutOneEventAndTakesIt(t *testing.T) {
	f := setup(t)
	require.NoError(t, f.buf.Put(t.Context(), tenant, "sub-1", pulltest.Event(1), pulltest.Event(2)))
	for _, want := range []string{"ev-001", "ev-002"} {
		w := do(f.h, http.MethodGet, "/subscribe/orders", "", nil)
		require.Equal(t, http.StatusOK, w.Code, w.Body.String())
		assert.Equal(t, subscribe.ContentTypeEvent, w.Header().Get("Content-Type"))
		var ce map[string]any
		require.NoError(t, json.Unmarshal(w.Body.Bytes(), &ce))
		assert.Equal(t, want, ce["id"])
		assert.Equal(t, "1.0", ce["specversion"])
	}
	w := do(f.h, http.MethodGet, "/subscribe/orders", "", nil)
	assert.Equal(t, http.StatusOK, w.Code)
	assert.Empty(t, w.Body.String(), "nothing pending: an empty body")
	bl, err := f.buf.Backlog(t.Context(), tenant, "sub-1")
	require.NoError(t, err)
	assert.Equal(t, 0, bl.Pending, "a plain GET takes the event it writes")
}

func TestBatchLeasesUntilAcknowledged(t *testing.T) {
	f := setup(t)
	require.NoError(t, f.buf.Put(t.Context(), tenant, "sub-1", pulltest.Event(1), pulltest.Event(2), pulltest.Event(3)))
	for _, tc := range []struct {
		name, target string
		hdr          map[string]string
		want         int
	}{
		{"max", "/subscribe/orders?max=2", nil, 2},
		{"accept", "/subscribe/orders", map[string]string{"Accept": "application/json, application/cloudevents-batch+json"}, 1},
		{"none left", "/subscribe/orders?max=5", nil, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			w := do(f.h, http.MethodGet, tc.target, "", tc.hdr)
			require.Equal(t, http.StatusOK, w.Code, w.Body.String())
			assert.Equal(t, subscribe.ContentTypeBatch, w.Header().Get("Content-Type"))
			var batch []map[string]any
			require.NoError(t, json.Unmarshal(w.Body.Bytes(), &batch))
			assert.Len(t, batch, tc.want)
		})
	}
	w := do(f.h, http.MethodDelete, "/subscribe/orders/ev-001", "", nil)
	assert.Equal(t, http.StatusNoContent, w.Code, w.Body.String())
	w = do(f.h, http.MethodDelete, "/subscribe/orders/ev-001", "", nil)
	assert.Equal(t, http.StatusNotFound, w.Code, "acknowledged already")
	w = do(f.h, http.MethodPost, "/subscribe/orders/ack", `{"ids":["ev-002","nope"]}`, nil)
	require.Equal(t, http.StatusOK, w.Code, w.Body.String())
	assert.JSONEq(t, `{"acknowledged":["ev-002"],"unknown":["nope"]}`, w.Body.String())
	bl, err := f.buf.Backlog(t.Context(), tenant, "sub-1")
	require.NoError(t, err)
	assert.Equal(t, pull.Backlog{Pending: 1, Leased: 1, Oldest: bl.Oldest}, bl, "ev-003 stays leased, unacknowledged")
}

func TestUnacknowledgedComesBackAfterVisibility(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := setup(t)
		require.NoError(t, f.buf.Put(t.Context(), tenant, "sub-1", pulltest.Event(1)))
		w := do(f.h, http.MethodGet, "/subscribe/orders?max=1&visibility=2s", "", nil)
		require.Contains(t, w.Body.String(), "ev-001")
		w = do(f.h, http.MethodGet, "/subscribe/orders?max=1", "", nil)
		assert.Equal(t, "[]", w.Body.String())
		time.Sleep(2 * time.Second)
		w = do(f.h, http.MethodGet, "/subscribe/orders?max=1", "", nil)
		assert.Contains(t, w.Body.String(), "ev-001", "its lease ended")
	})
}

func TestLongPoll(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := setup(t)
		start := time.Now()
		go func() {
			time.Sleep(3 * time.Second)
			_ = f.buf.Put(t.Context(), tenant, "sub-1", pulltest.Event(9))
		}()
		w := do(f.h, http.MethodGet, "/subscribe/orders?wait=20s", "", nil)
		assert.Contains(t, w.Body.String(), "ev-009")
		assert.Equal(t, 3*time.Second, time.Since(start).Truncate(time.Second), "answered once the event came")
		start = time.Now()
		w = do(f.h, http.MethodGet, "/subscribe/orders?wait=5", "", nil)
		assert.Empty(t, w.Body.String())
		assert.Equal(t, 5*time.Second, time.Since(start), "nothing came: answered at the end of the wait")
	})
}

func TestRefused(t *testing.T) {
	f := setup(t)
	require.NoError(t, f.buf.Put(t.Context(), tenant, "sub-1", pulltest.Event(1)))
	tests := []struct {
		name, method, target, body string
		badAuth                    bool
		status                     int
		id                         string
	}{
		{"bad credentials", http.MethodGet, "/subscribe/orders", "", true, 401, "unauthorized"},
		{"unknown subscription", http.MethodGet, "/subscribe/nope", "", false, 404, "not_found"},
		{"pull off", http.MethodGet, "/subscribe/quiet", "", false, 409, "pull_disabled"},
		{"max 0", http.MethodGet, "/subscribe/orders?max=0", "", false, 400, "bad_request"},
		{"max too big", http.MethodGet, "/subscribe/orders?max=101", "", false, 400, "bad_request"},
		{"wait too long", http.MethodGet, "/subscribe/orders?wait=1m", "", false, 400, "bad_request"},
		{"visibility not a duration", http.MethodGet, "/subscribe/orders?visibility=soon", "", false, 400, "bad_request"},
		{"ack without ids", http.MethodPost, "/subscribe/orders/ack", `{"ids":[]}`, false, 400, "bad_request"},
		{"ack not json", http.MethodPost, "/subscribe/orders/ack", `ev-001`, false, 400, "bad_request"},
		{"ack unknown field", http.MethodPost, "/subscribe/orders/ack", `{"id":"ev-001"}`, false, 422, "invalid_params"},
		{"post a name", http.MethodPost, "/subscribe/orders", `{}`, false, 405, "method_not_allowed"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			req := httptest.NewRequest(tc.method, tc.target, strings.NewReader(tc.body))
			req.SetBasicAuth(tenant, key)
			if tc.badAuth {
				req.SetBasicAuth(tenant, "wrong")
			}
			w := httptest.NewRecorder()
			f.h.ServeHTTP(w, req)
			require.Equal(t, tc.status, w.Code, w.Body.String())
			var e struct{ ID, Message string }
			require.NoError(t, json.Unmarshal(w.Body.Bytes(), &e))
			assert.Equal(t, tc.id, e.ID)
			assert.NotEmpty(t, e.Message)
		})
	}
	bl, err := f.buf.Backlog(t.Context(), tenant, "sub-1")
	require.NoError(t, err)
	assert.Equal(t, pull.Backlog{Pending: 1, Oldest: bl.Oldest}, bl, "refused requests change nothing")
}

func TestOverRealHTTP(t *testing.T) {
	f := setup(t)
	srv := httptest.NewServer(f.h)
	t.Cleanup(srv.Close)
	require.NoError(t, f.buf.Put(t.Context(), tenant, "sub-1", pulltest.Event(4)))
	req, err := http.NewRequestWithContext(t.Context(), http.MethodGet, srv.URL+"/subscribe/orders", nil)
	require.NoError(t, err)
	req.SetBasicAuth(tenant, key)
	res, err := srv.Client().Do(req)
	require.NoError(t, err)
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	require.NoError(t, err)
	assert.Equal(t, 200, res.StatusCode)
	assert.Contains(t, string(b), `"data":{"n":4,"text":"café \"x\" 100%","nested":{"a":[1,2.5,null]}}`, "data byte for byte")
}

func FuzzDecodeAck(f *testing.F) {
	for _, s := range []string{`{"ids":["a","b"]}`, `["a"]`, `{"ids":[]}`, `{"ids":[""]}`, `[1]`, `{"ids":"a"}`, `null`, ``, `{"ids":["a"],"x":1}`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		ids, err := subscribe.DecodeAck(body)
		if err != nil {
			assert.Nil(t, ids)
			return
		}
		require.NotEmpty(t, ids)
		require.LessOrEqual(t, len(ids), pull.MaxAck)
		for _, id := range ids {
			require.NotEmpty(t, id)
			require.LessOrEqual(t, len(id), subscribe.MaxID)
		}
	})
}

// A pulled event is the very JSON a webhook receives.
func TestEncodeLikeWebhook(t *testing.T) {
	ev := pulltest.Event(3)
	ev.DataSchema = "https://example.com/s.json"
	ev.Extensions = map[string]any{"changedfields": "Name", "flag": true, "Bad-Name": "x"}
	want, err := cloudevent.Structured(ev)
	require.NoError(t, err)
	got, err := subscribe.Encode(ev)
	require.NoError(t, err)
	assert.JSONEq(t, string(want), string(got))
	assert.Contains(t, string(got), string(ev.Data), "data byte for byte")
}
