package deliver_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/herokuevents/herokuevents/infra/embedded/filesealer"
	"github.com/herokuevents/herokuevents/shared/config"
	"github.com/herokuevents/herokuevents/shared/config/memstore"
	"github.com/herokuevents/herokuevents/shared/deliver"
	"github.com/herokuevents/herokuevents/shared/event"
	"github.com/herokuevents/herokuevents/shared/logtest"
	"github.com/herokuevents/herokuevents/shared/platform/webhook/cloudevent"
	"github.com/herokuevents/herokuevents/shared/queue"
	"github.com/herokuevents/herokuevents/shared/sink"
)

const tenant = "t-1"

// env is a deliver handler over a real SQLite store, a Local sealer and a
// recording requeue sender; its client may reach loopback.
type env struct {
	store   config.Store
	sealer  *filesealer.Sealer
	handler *deliver.Handler
	logs    *logtest.Buffer

	mu      sync.Mutex
	sent    []queue.Message
	sendErr error
}

func newEnv(t *testing.T, timeout time.Duration) *env {
	t.Helper()
	dir := t.TempDir()
	store := memstore.New()
	t.Cleanup(func() { _ = store.Close() })
	sealer, err := filesealer.Open(filepath.Join(dir, "secret.key"))
	require.NoError(t, err)
	allow, err := sink.ParseAllow("127.0.0.0/8,::1")
	require.NoError(t, err)
	logger, logs := logtest.JSON(nil)
	e := &env{store: store, sealer: sealer, logs: logs}
	h, err := deliver.New(deliver.Options{
		Store: store,
		Publishers: map[string]deliver.Publisher{
			config.PlatformWebhook: &cloudevent.Publisher{Sealer: sealer, Client: sink.NewEgress(allow).Client(timeout)},
		},
		Requeue: queue.SenderFunc(func(_ context.Context, msgs ...queue.Message) error {
			e.mu.Lock()
			defer e.mu.Unlock()
			if e.sendErr != nil {
				return e.sendErr
			}
			e.sent = append(e.sent, msgs...)
			return nil
		}),
		// Deterministic jitter: always the ceiling.
		Backoff: deliver.Backoff{Base: 2 * time.Second, Cap: time.Minute, Jitter: func(d time.Duration) time.Duration { return d }},
		Logger:  logger,
	})
	require.NoError(t, err)
	e.handler = h
	return e
}

func (e *env) requeued() []queue.Message {
	e.mu.Lock()
	defer e.mu.Unlock()
	return append([]queue.Message(nil), e.sent...)
}

// publication stores a webhook publication to url with a token and a
// signing secret, and returns it with the secret in clear.
func (e *env) publication(t *testing.T, name, url string, retry config.RetryPolicy) (config.Publication, string) {
	t.Helper()
	whsec, err := sink.NewSigningSecret()
	require.NoError(t, err)
	tok, err := e.sealer.Seal(t.Context(), []byte("tok-"+name))
	require.NoError(t, err)
	sec, err := e.sealer.Seal(t.Context(), []byte(whsec))
	require.NoError(t, err)
	p := config.Publication{
		ID: "pub-" + name, Name: name, Platform: config.PlatformWebhook,
		Params: config.Params{URL: url}, Created: time.Now().UTC(),
		TokenSealed: tok, SecretSealed: sec, Retry: retry,
	}
	_, err = config.Insert(t.Context(), e.store, config.Item{Tenant: tenant, Kind: config.KindPublication, ID: p.ID, Name: p.Name}, p)
	require.NoError(t, err)
	return p, whsec
}

func (e *env) load(t *testing.T, id string) config.Publication {
	t.Helper()
	r, err := config.Load[config.Publication](t.Context(), e.store, tenant, config.KindPublication, id)
	require.NoError(t, err)
	return r.Value
}

var sampleData = json.RawMessage(`{"Name__c": {"string": "Ada"},  "Amount__c":{"double":12.5}, "ChangeEventHeader": {"entityName": "Order"}}`)

func sampleEvent() event.Event {
	return event.Event{
		ID:              "0f8fad5b-d9cb-469f-a165-70867728950e",
		Source:          event.Source(tenant, "subscriptions", "orders"),
		Type:            event.TypePlatformEvent,
		Subject:         "/event/Order_Placed__e",
		Time:            time.Date(2026, 2, 3, 4, 5, 6, 789000000, time.UTC),
		DataContentType: "application/json",
		Data:            sampleData,
	}
}

func delivery(t *testing.T, id string, d event.Delivery) queue.Message {
	t.Helper()
	b, err := json.Marshal(d)
	require.NoError(t, err)
	return queue.Message{ID: id, Body: b, Receives: 1, Attributes: map[string]string{queue.AttrTenant: d.Tenant}}
}

type captured struct {
	header http.Header
	body   []byte
}

// endpoint answers with respond after recording the request.
func endpoint(t *testing.T, respond func(w http.ResponseWriter, n int)) (*httptest.Server, func() []captured) {
	t.Helper()
	var (
		mu  sync.Mutex
		got []captured
	)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		mu.Lock()
		got = append(got, captured{header: r.Header.Clone(), body: b})
		n := len(got)
		mu.Unlock()
		respond(w, n)
	}))
	t.Cleanup(srv.Close)
	return srv, func() []captured {
		mu.Lock()
		defer mu.Unlock()
		return append([]captured(nil), got...)
	}
}

func status(code int, hdr ...string) func(http.ResponseWriter, int) {
	return func(w http.ResponseWriter, _ int) {
		for i := 0; i+1 < len(hdr); i += 2 {
			w.Header().Set(hdr[i], hdr[i+1])
		}
		w.WriteHeader(code)
		if code >= 300 {
			_, _ = io.WriteString(w, `{"error":"status `+http.StatusText(code)+`"}`)
		}
	}
}

func failures(res queue.BatchResult) map[string]error {
	out := map[string]error{}
	for _, f := range res.Failures {
		out[f.ID] = f.Err
	}
	return out
}

func TestDelivered(t *testing.T) {
	e := newEnv(t, 0)
	srv, got := endpoint(t, status(http.StatusNoContent))
	pub, whsec := e.publication(t, "orders-hook", srv.URL+"/hooks/orders", config.RetryPolicy{})
	ev := sampleEvent()

	// Written by hand: json.Marshal would compact the data bytes.
	body := fmt.Sprintf(`{"tenant":%q,"publication":%q,"attempt":0,"event":{"id":%q,"source":%q,"type":%q,"subject":%q,"time":%q,"datacontenttype":"application/json","data": %s }}`,
		tenant, pub.ID, ev.ID, ev.Source, ev.Type, ev.Subject, ev.Time.Format(time.RFC3339Nano), sampleData)
	res := e.handler.HandleBatch(t.Context(), []queue.Message{{ID: "m1", Body: []byte(body), Receives: 1}})
	require.Empty(t, res.Failures)
	assert.Empty(t, e.requeued())

	reqs := got()
	require.Len(t, reqs, 1)
	r := reqs[0]
	assert.Equal(t, "application/cloudevents+json", r.header.Get("Content-Type"))
	assert.Equal(t, "Bearer tok-orders-hook", r.header.Get("Authorization"))
	assert.Equal(t, ev.ID, r.header.Get("webhook-id"))
	require.NoError(t, sink.Verify(whsec, r.header, r.body))
	assert.NotEmpty(t, r.header.Get("Heroku-Webhook-Hmac-SHA256"))

	var ce map[string]json.RawMessage
	require.NoError(t, json.Unmarshal(r.body, &ce))
	assert.Equal(t, []byte(sampleData), []byte(ce["data"]), "data must be the input bytes")
	str := func(k string) string {
		var s string
		require.NoError(t, json.Unmarshal(ce[k], &s), k)
		return s
	}
	assert.Equal(t, "1.0", str("specversion"))
	assert.Equal(t, ev.ID, str("id"))
	assert.Equal(t, "/tenants/t-1/subscriptions/orders", str("source"))
	assert.Equal(t, event.TypePlatformEvent, str("type"))
	assert.Equal(t, "/event/Order_Placed__e", str("subject"))
	assert.Equal(t, "application/json", str("datacontenttype"))
	at, err := time.Parse(time.RFC3339Nano, str("time"))
	require.NoError(t, err)
	assert.True(t, ev.Time.Equal(at))
	assert.NotContains(t, ce, "data_base64")

	logs := e.logs.String()
	assert.Contains(t, logs, `"decision":"delivered"`)
	assert.Contains(t, logs, ev.ID)
	assert.Contains(t, logs, `"publication":"pub-orders-hook"`)
	assert.Contains(t, logs, `"latency"`)
	assert.NotContains(t, logs, "tok-orders-hook", "secrets must not be logged")
	assert.NotContains(t, logs, whsec)
}

func TestNoTokenNoSecret(t *testing.T) {
	e := newEnv(t, 0)
	srv, got := endpoint(t, status(http.StatusOK))
	p := config.Publication{ID: "pub-plain", Name: "plain", Platform: config.PlatformWebhook, Params: config.Params{URL: srv.URL}}
	_, err := config.Insert(t.Context(), e.store, config.Item{Tenant: tenant, Kind: config.KindPublication, ID: p.ID, Name: p.Name}, p)
	require.NoError(t, err)
	ev := sampleEvent()
	ev.Data = nil
	res := e.handler.HandleBatch(t.Context(), []queue.Message{delivery(t, "m1", event.Delivery{Tenant: tenant, Publication: p.Name, Event: ev})})
	require.Empty(t, res.Failures)
	reqs := got()
	require.Len(t, reqs, 1)
	assert.Empty(t, reqs[0].header.Get("Authorization"))
	assert.Empty(t, reqs[0].header.Get("webhook-signature"))
	assert.NotContains(t, string(reqs[0].body), `"data"`)
}

func TestRetryScheduling(t *testing.T) {
	tests := []struct {
		name      string
		respond   func(http.ResponseWriter, int)
		attempt   int
		wantDelay time.Duration
		status    string
	}{
		{name: "500 first attempt", respond: status(500), attempt: 0, wantDelay: 2 * time.Second, status: "500"},
		{name: "503 fourth attempt", respond: status(503), attempt: 3, wantDelay: 16 * time.Second, status: "503"},
		{name: "backoff capped", respond: status(502), attempt: 20, wantDelay: time.Minute, status: "502"},
		{name: "retry-after wins when larger", respond: status(429, "Retry-After", "120"), attempt: 0, wantDelay: 2 * time.Minute, status: "429"},
		{name: "backoff wins when larger", respond: status(503, "Retry-After", "1"), attempt: 3, wantDelay: 16 * time.Second, status: "503"},
		{name: "retry-after cut to queue limit", respond: status(503, "Retry-After", "86400"), attempt: 0, wantDelay: deliver.MaxDelay, status: "503"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t, 0)
			srv, got := endpoint(t, tt.respond)
			pub, _ := e.publication(t, "hook", srv.URL, config.RetryPolicy{})
			first := time.Now().Add(-time.Minute).UTC()
			d := event.Delivery{Tenant: tenant, Publication: pub.ID, Event: sampleEvent(), Attempt: tt.attempt, FirstTry: first}
			if tt.attempt == 0 {
				d.FirstTry = time.Time{}
			}
			res := e.handler.HandleBatch(t.Context(), []queue.Message{delivery(t, "m1", d)})
			require.Empty(t, res.Failures, "a scheduled retry completes the message")
			require.Len(t, got(), 1)

			sent := e.requeued()
			require.Len(t, sent, 1)
			assert.Equal(t, tt.wantDelay, sent[0].Delay)
			assert.Equal(t, tenant, sent[0].Attributes[queue.AttrTenant])
			var next event.Delivery
			require.NoError(t, json.Unmarshal(sent[0].Body, &next))
			assert.Equal(t, tt.attempt+1, next.Attempt)
			assert.Equal(t, d.Event.ID, next.Event.ID, "event id is stable across retries")
			assert.JSONEq(t, string(sampleData), string(next.Event.Data))
			assert.Equal(t, pub.ID, next.Publication)
			if tt.attempt == 0 {
				assert.WithinDuration(t, time.Now(), next.FirstTry, 5*time.Second)
			} else {
				assert.True(t, first.Equal(next.FirstTry))
			}
			assert.Equal(t, next.Attempt, atoi(t, sent[0].Attributes[queue.AttrAttempt]))
			assert.Contains(t, e.logs.String(), `"decision":"retry"`)
			assert.Contains(t, e.logs.String(), `"status":`+tt.status)
		})
	}
}

func atoi(t *testing.T, s string) int {
	t.Helper()
	var n int
	require.NoError(t, json.Unmarshal([]byte(s), &n))
	return n
}

func TestRandomJitterStaysWithinCeiling(t *testing.T) {
	b := deliver.Backoff{Base: time.Second, Cap: 8 * time.Second}
	for failed := 1; failed < 8; failed++ {
		c := b.Ceiling(failed)
		for range 50 {
			d := b.Delay(failed)
			require.GreaterOrEqual(t, d, time.Duration(0))
			require.LessOrEqual(t, d, c)
		}
	}
	assert.Equal(t, []time.Duration{1, 2, 4, 8, 8}, []time.Duration{
		b.Ceiling(1) / time.Second, b.Ceiling(2) / time.Second, b.Ceiling(3) / time.Second,
		b.Ceiling(4) / time.Second, b.Ceiling(60) / time.Second,
	})
	assert.Equal(t, deliver.DefaultBase, deliver.Backoff{}.Ceiling(1))
	assert.Equal(t, deliver.DefaultCap, deliver.Backoff{}.Ceiling(1000))
}

func TestPermanentOutcomes(t *testing.T) {
	tests := []struct {
		name    string
		respond func(http.ResponseWriter, int)
		reason  []string
	}{
		{name: "400", respond: status(400), reason: []string{"HTTP 400 Bad Request", `{"error":"status Bad Request"}`}},
		{name: "404", respond: status(404), reason: []string{"HTTP 404"}},
		{name: "redirect", respond: status(302, "Location", "https://elsewhere.example/x"), reason: []string{"HTTP 302", "https://elsewhere.example/x"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t, 0)
			srv, got := endpoint(t, tt.respond)
			pub, _ := e.publication(t, "hook", srv.URL, config.RetryPolicy{})
			res := e.handler.HandleBatch(t.Context(), []queue.Message{delivery(t, "m1", event.Delivery{Tenant: tenant, Publication: pub.ID, Event: sampleEvent()})})
			f := failures(res)
			require.Contains(t, f, "m1")
			require.True(t, queue.IsPermanent(f["m1"]), f["m1"])
			for _, r := range tt.reason {
				assert.Contains(t, f["m1"].Error(), r)
			}
			assert.Len(t, got(), 1)
			assert.Empty(t, e.requeued())
			assert.False(t, e.load(t, pub.ID).Disabled)
			assert.Contains(t, e.logs.String(), `"decision":"dead_letter"`)
		})
	}
}

func TestGoneDisablesPublication(t *testing.T) {
	e := newEnv(t, 0)
	srv, got := endpoint(t, status(http.StatusGone))
	pub, _ := e.publication(t, "hook", srv.URL, config.RetryPolicy{})
	msg := delivery(t, "m1", event.Delivery{Tenant: tenant, Publication: pub.ID, Event: sampleEvent()})

	f := failures(e.handler.HandleBatch(t.Context(), []queue.Message{msg}))
	require.True(t, queue.IsPermanent(f["m1"]), f["m1"])
	assert.Contains(t, f["m1"].Error(), "410")
	p := e.load(t, pub.ID)
	assert.True(t, p.Disabled)
	assert.Contains(t, p.DisabledReason, "410 Gone")
	assert.Equal(t, pub.Params.URL, p.Params.URL)
	assert.Contains(t, e.logs.String(), `"decision":"disabled"`)

	// The next delivery is dead-lettered without calling the endpoint.
	f = failures(e.handler.HandleBatch(t.Context(), []queue.Message{msg}))
	require.True(t, queue.IsPermanent(f["m1"]))
	assert.Contains(t, f["m1"].Error(), "disabled")
	assert.Len(t, got(), 1)
}

// conflictOnce fails the first Update with ErrConflict, as a concurrent
// writer would.
type conflictOnce struct {
	config.Store
	done atomic.Bool
}

func (c *conflictOnce) Update(ctx context.Context, it config.Item) (config.Item, error) {
	if c.done.CompareAndSwap(false, true) {
		// Someone else renamed the publication meanwhile.
		r, err := config.Load[config.Publication](ctx, c.Store, it.Tenant, it.Kind, it.ID)
		if err != nil {
			return config.Item{}, err
		}
		r.Value.Params.URL += "?v=2"
		if _, err := config.Save(ctx, c.Store, r); err != nil {
			return config.Item{}, err
		}
		return config.Item{}, config.ErrConflict
	}
	return c.Store.Update(ctx, it)
}

func TestGoneRetriesVersionConflicts(t *testing.T) {
	e := newEnv(t, 0)
	srv, _ := endpoint(t, status(http.StatusGone))
	pub, _ := e.publication(t, "hook", srv.URL, config.RetryPolicy{})
	e.handler.Store = &conflictOnce{Store: e.store}

	f := failures(e.handler.HandleBatch(t.Context(), []queue.Message{delivery(t, "m1", event.Delivery{Tenant: tenant, Publication: pub.ID, Event: sampleEvent()})}))
	require.True(t, queue.IsPermanent(f["m1"]))
	p := e.load(t, pub.ID)
	assert.True(t, p.Disabled)
	assert.Equal(t, srv.URL+"?v=2", p.Params.URL, "the concurrent change is kept")
}

func TestTimeoutIsRetried(t *testing.T) {
	e := newEnv(t, 150*time.Millisecond)
	release := make(chan struct{})
	srv, _ := endpoint(t, func(w http.ResponseWriter, _ int) { <-release })
	t.Cleanup(func() { close(release) })
	pub, _ := e.publication(t, "slow", srv.URL, config.RetryPolicy{})

	res := e.handler.HandleBatch(t.Context(), []queue.Message{delivery(t, "m1", event.Delivery{Tenant: tenant, Publication: pub.ID, Event: sampleEvent()})})
	require.Empty(t, res.Failures)
	sent := e.requeued()
	require.Len(t, sent, 1)
	assert.Equal(t, 2*time.Second, sent[0].Delay)
	assert.Contains(t, e.logs.String(), `"decision":"retry"`)
	assert.Contains(t, e.logs.String(), "no response")
}

func TestRetriesExhausted(t *testing.T) {
	now := time.Now()
	tests := []struct {
		name   string
		policy config.RetryPolicy
		d      event.Delivery
		reason string
	}{
		{name: "max attempts", policy: config.RetryPolicy{MaxAttempts: 3}, d: event.Delivery{Attempt: 2, FirstTry: now.Add(-time.Minute)}, reason: "gave up after 3 attempts"},
		{name: "default max attempts", d: event.Delivery{Attempt: deliver.DefaultMaxAttempts - 1, FirstTry: now.Add(-time.Hour)}, reason: "gave up after 200 attempts"},
		{name: "policy horizon", policy: config.RetryPolicy{Horizon: time.Hour}, d: event.Delivery{Attempt: 4, FirstTry: now.Add(-2 * time.Hour)}, reason: "retry horizon 1h0m0s passed"},
		{name: "default horizon", d: event.Delivery{Attempt: 40, FirstTry: now.Add(-25 * time.Hour)}, reason: "retry horizon 24h0m0s passed"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t, 0)
			srv, _ := endpoint(t, status(503))
			pub, _ := e.publication(t, "hook", srv.URL, tt.policy)
			d := tt.d
			d.Tenant, d.Publication, d.Event = tenant, pub.ID, sampleEvent()
			f := failures(e.handler.HandleBatch(t.Context(), []queue.Message{delivery(t, "m1", d)}))
			require.True(t, queue.IsPermanent(f["m1"]), f["m1"])
			assert.Contains(t, f["m1"].Error(), tt.reason)
			assert.Contains(t, f["m1"].Error(), "HTTP 503", "the reason names the last status")
			assert.Contains(t, f["m1"].Error(), `{"error":"status Service Unavailable"}`, "and the body excerpt")
			assert.Empty(t, e.requeued())
		})
	}
}

func TestDelayNeverPassesHorizon(t *testing.T) {
	e := newEnv(t, 0)
	srv, _ := endpoint(t, status(503, "Retry-After", "600"))
	pub, _ := e.publication(t, "hook", srv.URL, config.RetryPolicy{Horizon: time.Hour})
	d := event.Delivery{Tenant: tenant, Publication: pub.ID, Event: sampleEvent(), Attempt: 5, FirstTry: time.Now().Add(-time.Hour + 30*time.Second)}
	require.Empty(t, e.handler.HandleBatch(t.Context(), []queue.Message{delivery(t, "m1", d)}).Failures)
	sent := e.requeued()
	require.Len(t, sent, 1)
	assert.LessOrEqual(t, sent[0].Delay, 30*time.Second)
	assert.Greater(t, sent[0].Delay, 20*time.Second)
}

func TestPrivateAddressRefusedWithoutAllowList(t *testing.T) {
	e := newEnv(t, 0)
	e.handler.Publishers = map[string]deliver.Publisher{config.PlatformWebhook: &cloudevent.Publisher{Sealer: e.sealer, Client: sink.NewEgress(nil).Client(0)}} // guarded, no allow list
	srv, got := endpoint(t, status(200))
	pub, _ := e.publication(t, "hook", srv.URL, config.RetryPolicy{})
	f := failures(e.handler.HandleBatch(t.Context(), []queue.Message{delivery(t, "m1", event.Delivery{Tenant: tenant, Publication: pub.ID, Event: sampleEvent()})}))
	require.True(t, queue.IsPermanent(f["m1"]), f["m1"])
	assert.ErrorIs(t, f["m1"], sink.ErrEgress)
	assert.Contains(t, f["m1"].Error(), "loopback")
	assert.Empty(t, got())
	assert.Empty(t, e.requeued())
}

func TestBadMessagesAreIsolated(t *testing.T) {
	e := newEnv(t, 0)
	srv, got := endpoint(t, status(200))
	pub, _ := e.publication(t, "hook", srv.URL, config.RetryPolicy{})
	badURL := config.Publication{ID: "pub-bad", Name: "bad", Platform: config.PlatformWebhook, Params: config.Params{URL: "ftp://example.com/x"}}
	_, err := config.Insert(t.Context(), e.store, config.Item{Tenant: tenant, Kind: config.KindPublication, ID: badURL.ID, Name: badURL.Name}, badURL)
	require.NoError(t, err)
	unknown := config.Publication{ID: "pub-mq", Name: "mq", Platform: "carrier-pigeon"}
	_, err = config.Insert(t.Context(), e.store, config.Item{Tenant: tenant, Kind: config.KindPublication, ID: unknown.ID, Name: unknown.Name}, unknown)
	require.NoError(t, err)
	tampered := pub
	tampered.ID, tampered.Name = "pub-tampered", "tampered"
	tampered.TokenSealed = append([]byte(nil), pub.TokenSealed...)
	tampered.TokenSealed[len(tampered.TokenSealed)-1] ^= 1
	_, err = config.Insert(t.Context(), e.store, config.Item{Tenant: tenant, Kind: config.KindPublication, ID: tampered.ID, Name: tampered.Name}, tampered)
	require.NoError(t, err)

	ok := func(id string) queue.Message {
		return delivery(t, id, event.Delivery{Tenant: tenant, Publication: pub.ID, Event: sampleEvent()})
	}
	invalid := sampleEvent()
	invalid.Source = ""
	msgs := []queue.Message{
		ok("ok-1"),
		{ID: "garbage", Body: []byte("{not json")},
		delivery(t, "missing", event.Delivery{Tenant: tenant, Publication: "pub-nope", Event: sampleEvent()}),
		delivery(t, "other-tenant", event.Delivery{Tenant: "t-2", Publication: pub.ID, Event: sampleEvent()}),
		delivery(t, "no-tenant", event.Delivery{Publication: pub.ID, Event: sampleEvent()}),
		delivery(t, "invalid-event", event.Delivery{Tenant: tenant, Publication: pub.ID, Event: invalid}),
		delivery(t, "bad-url", event.Delivery{Tenant: tenant, Publication: badURL.ID, Event: sampleEvent()}),
		delivery(t, "no-publisher", event.Delivery{Tenant: tenant, Publication: unknown.ID, Event: sampleEvent()}),
		delivery(t, "tampered", event.Delivery{Tenant: tenant, Publication: tampered.ID, Event: sampleEvent()}),
		ok("ok-2"),
	}
	f := failures(e.handler.HandleBatch(t.Context(), msgs))
	reasons := map[string]string{
		"garbage":       "decode delivery",
		"missing":       "not found",
		"other-tenant":  "not found",
		"no-tenant":     "without tenant",
		"invalid-event": "source is empty",
		"bad-url":       "scheme",
		"no-publisher":  `no publisher for platform "carrier-pigeon"`,
		"tampered":      "open token",
	}
	assert.Len(t, f, len(reasons))
	for id, r := range reasons {
		require.Contains(t, f, id)
		assert.True(t, queue.IsPermanent(f[id]), id)
		assert.Contains(t, f[id].Error(), r, id)
	}
	assert.Len(t, got(), 2)
}

func TestRequeueFailureIsRedelivered(t *testing.T) {
	e := newEnv(t, 0)
	e.sendErr = errors.New("queue unavailable")
	srv, _ := endpoint(t, status(500))
	pub, _ := e.publication(t, "hook", srv.URL, config.RetryPolicy{})
	f := failures(e.handler.HandleBatch(t.Context(), []queue.Message{delivery(t, "m1", event.Delivery{Tenant: tenant, Publication: pub.ID, Event: sampleEvent()})}))
	require.Contains(t, f, "m1")
	assert.False(t, queue.IsPermanent(f["m1"]))
	assert.Contains(t, f["m1"].Error(), "queue unavailable")
	assert.Contains(t, e.logs.String(), `"decision":"redeliver"`)
}

// TestRequeueRefusedFailsOnlyItsMessage: a retry the queue can never
// carry (ErrTooLarge) dead-letters its own message at once, and the
// neighbour in the batch is delivered.
func TestRequeueRefusedFailsOnlyItsMessage(t *testing.T) {
	e := newEnv(t, 0)
	e.sendErr = fmt.Errorf("message 0: body of 1048600 bytes exceeds 1048576: %w", queue.ErrTooLarge)
	bad, _ := endpoint(t, status(500))
	good, _ := endpoint(t, status(200))
	badPub, _ := e.publication(t, "bad", bad.URL, config.RetryPolicy{})
	goodPub, _ := e.publication(t, "good", good.URL, config.RetryPolicy{})
	f := failures(e.handler.HandleBatch(t.Context(), []queue.Message{
		delivery(t, "m1", event.Delivery{Tenant: tenant, Publication: badPub.ID, Event: sampleEvent()}),
		delivery(t, "m2", event.Delivery{Tenant: tenant, Publication: goodPub.ID, Event: sampleEvent()}),
	}))
	require.Len(t, f, 1)
	require.Contains(t, f, "m1")
	assert.True(t, queue.IsPermanent(f["m1"]))
	assert.Contains(t, f["m1"].Error(), "exceeds 1048576")
}

func TestBatchRunsConcurrentlyBounded(t *testing.T) {
	e := newEnv(t, 5*time.Second)
	var inFlight, peak atomic.Int32
	srv, got := endpoint(t, func(w http.ResponseWriter, _ int) {
		n := inFlight.Add(1)
		for {
			p := peak.Load()
			if n <= p || peak.CompareAndSwap(p, n) {
				break
			}
		}
		time.Sleep(50 * time.Millisecond)
		inFlight.Add(-1)
		w.WriteHeader(http.StatusOK)
	})
	pub, _ := e.publication(t, "hook", srv.URL, config.RetryPolicy{})
	e.handler.Concurrency = 3
	var msgs []queue.Message
	for i := range 9 {
		ev := sampleEvent()
		ev.ID = "ev-" + string(rune('a'+i))
		msgs = append(msgs, delivery(t, ev.ID, event.Delivery{Tenant: tenant, Publication: pub.ID, Event: ev}))
	}
	start := time.Now()
	require.Empty(t, e.handler.HandleBatch(t.Context(), msgs).Failures)
	assert.Len(t, got(), 9)
	assert.Equal(t, int32(3), peak.Load())
	assert.Less(t, time.Since(start), 9*50*time.Millisecond)
}

func TestPublishersByPlatform(t *testing.T) {
	e := newEnv(t, 0)
	var (
		calls   atomic.Int32
		mu      sync.Mutex
		outcome error = errors.New("transient")
	)
	set := func(err error) {
		mu.Lock()
		defer mu.Unlock()
		outcome = err
	}
	e.handler.Publishers = map[string]deliver.Publisher{
		config.PlatformSalesforce: deliver.PublisherFunc(func(_ context.Context, tn string, pub config.Publication, ev event.Event) error {
			calls.Add(1)
			assert.Equal(t, tenant, tn)
			assert.Equal(t, "Order_Placed__e", pub.Params.Event)
			assert.Equal(t, sampleEvent().ID, ev.ID)
			mu.Lock()
			defer mu.Unlock()
			return outcome
		}),
	}
	p := config.Publication{ID: "pub-sf", Name: "sf", Platform: config.PlatformSalesforce, Params: config.Params{Event: "Order_Placed__e", OrgName: "example-org"}}
	_, err := config.Insert(t.Context(), e.store, config.Item{Tenant: tenant, Kind: config.KindPublication, ID: p.ID, Name: p.Name}, p)
	require.NoError(t, err)
	msg := delivery(t, "m1", event.Delivery{Tenant: tenant, Publication: p.ID, Event: sampleEvent()})

	// A plain error is retried.
	require.Empty(t, e.handler.HandleBatch(t.Context(), []queue.Message{msg}).Failures)
	require.Len(t, e.requeued(), 1)
	// A sink error carries its class and Retry-After.
	set(&sink.Error{Result: sink.Result{Status: 503, Class: sink.Retry, RetryAfter: 5 * time.Minute}})
	require.Empty(t, e.handler.HandleBatch(t.Context(), []queue.Message{msg}).Failures)
	require.Len(t, e.requeued(), 2)
	assert.Equal(t, 5*time.Minute, e.requeued()[1].Delay)
	// A permanent error is dead-lettered.
	set(queue.Permanent(errors.New("INVALID_FIELD: Amount__c")))
	f := failures(e.handler.HandleBatch(t.Context(), []queue.Message{msg}))
	require.True(t, queue.IsPermanent(f["m1"]))
	assert.Contains(t, f["m1"].Error(), "INVALID_FIELD: Amount__c")
	// Success.
	set(nil)
	require.Empty(t, e.handler.HandleBatch(t.Context(), []queue.Message{msg}).Failures)
	assert.EqualValues(t, 4, calls.Load())
	assert.Len(t, e.requeued(), 2)
}

func TestCanceledContextRedelivers(t *testing.T) {
	e := newEnv(t, 0)
	ctx, cancel := context.WithCancel(t.Context())
	e.handler.Publishers = map[string]deliver.Publisher{
		config.PlatformWebhook: deliver.PublisherFunc(func(ctx context.Context, _ string, _ config.Publication, _ event.Event) error {
			cancel()
			return ctx.Err()
		}),
	}
	pub, _ := e.publication(t, "hook", "https://example.com/hook", config.RetryPolicy{})
	f := failures(e.handler.HandleBatch(ctx, []queue.Message{delivery(t, "m1", event.Delivery{Tenant: tenant, Publication: pub.ID, Event: sampleEvent()})}))
	require.Contains(t, f, "m1")
	assert.False(t, queue.IsPermanent(f["m1"]))
	assert.Empty(t, e.requeued())
}

func TestCloudEvent(t *testing.T) {
	ev := sampleEvent()
	ev.Extensions = map[string]any{"tenant": "t-1", "Bad-Name": "x"}
	ev.DataContentType = "application/avro"
	b, err := cloudevent.Structured(ev)
	require.NoError(t, err)
	var m map[string]json.RawMessage
	require.NoError(t, json.Unmarshal(b, &m))
	assert.JSONEq(t, `"t-1"`, string(m["tenant"]))
	assert.NotContains(t, m, "Bad-Name")
	assert.NotContains(t, m, "bad-name")
	assert.JSONEq(t, `"application/json"`, string(m["datacontenttype"]), "data is JSON whatever the source said")
	assert.Equal(t, []byte(sampleData), []byte(m["data"]))

	scalar := sampleEvent()
	scalar.Data = json.RawMessage(` 42`)
	b, err = cloudevent.Structured(scalar)
	require.NoError(t, err)
	require.NoError(t, json.Unmarshal(b, &m))
	assert.JSONEq(t, `42`, string(m["data"]))

	broken := sampleEvent()
	broken.Data = json.RawMessage(`{"a":`)
	_, err = cloudevent.Structured(broken)
	assert.ErrorContains(t, err, "not valid JSON")

	noID := sampleEvent()
	noID.ID = ""
	_, err = cloudevent.Structured(noID)
	assert.ErrorIs(t, err, event.ErrInvalid)

	noTime := sampleEvent()
	noTime.Time = time.Time{}
	b, err = cloudevent.Structured(noTime)
	require.NoError(t, err)
	m = nil
	require.NoError(t, json.Unmarshal(b, &m))
	var at time.Time
	require.NoError(t, json.Unmarshal(m["time"], &at))
	assert.WithinDuration(t, time.Now(), at, time.Minute, "a zero time is stamped now")
}
