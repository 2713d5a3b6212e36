package webhook_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	cehttp "github.com/cloudevents/sdk-go/v2/protocol/http"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/herokuevents/herokuevents/shared/config"
	"github.com/herokuevents/herokuevents/shared/config/memstore"
	"github.com/herokuevents/herokuevents/shared/event"
	"github.com/herokuevents/herokuevents/shared/httpjson"
	"github.com/herokuevents/herokuevents/shared/platform"
	"github.com/herokuevents/herokuevents/shared/platform/webhook"
	"github.com/herokuevents/herokuevents/shared/platform/webhook/cloudevent"
	"github.com/herokuevents/herokuevents/shared/sink"
)

// nopSealer seals nothing, so that tests read what was sealed.
type nopSealer struct{}

func (nopSealer) Seal(_ context.Context, p []byte) ([]byte, error) { return p, nil }
func (nopSealer) Open(_ context.Context, s []byte) ([]byte, error) { return s, nil }

const origin = "events.example.test"

func deps(t *testing.T) platform.Deps {
	t.Helper()
	store := memstore.New()
	t.Cleanup(func() { _ = store.Close() })
	allow, err := sink.ParseAllow("127.0.0.0/8")
	require.NoError(t, err)
	egress := sink.NewEgress(allow)
	return platform.Deps{Store: store, Sealer: nopSealer{}, Egress: egress, Client: egress.Client(5 * time.Second), Origin: origin,
		Engines: map[string]platform.Engine{config.PlatformWebhook: cloudevent.Engine{}}}
}

func registry(t *testing.T) *platform.Registry {
	t.Helper()
	r, err := platform.NewRegistry(deps(t), webhook.Platform())
	require.NoError(t, err)
	return r
}

// target is a webhook receiver that records every request.
type target struct {
	*httptest.Server
	mu   sync.Mutex
	reqs []recorded
}

type recorded struct {
	Method string
	Header http.Header
	Body   []byte
}

func (tg *target) got() []recorded {
	tg.mu.Lock()
	defer tg.mu.Unlock()
	return append([]recorded(nil), tg.reqs...)
}

// newTarget answers OPTIONS with options and POST with 204.
func newTarget(t *testing.T, options http.HandlerFunc) *target {
	t.Helper()
	tg := &target{}
	tg.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		tg.mu.Lock()
		tg.reqs = append(tg.reqs, recorded{Method: r.Method, Header: r.Header.Clone(), Body: body})
		tg.mu.Unlock()
		if r.Method == http.MethodOptions {
			options(w, r)
			return
		}
		w.WriteHeader(http.StatusNoContent)
	}))
	t.Cleanup(tg.Close)
	return tg
}

// sdkReceiver is the CloudEvents Go SDK's own handshake handler
// (WebhookConfig): allowed origins (prefixes, or "*") and rate.
func sdkReceiver(t *testing.T, rate int, origins ...string) http.HandlerFunc {
	t.Helper()
	p, err := cehttp.New(cehttp.WithDefaultOptionsHandlerFunc([]string{http.MethodPost}, rate, origins, false))
	require.NoError(t, err)
	return p.OptionsHandlerFn
}

func answer(status int, hdr ...string) http.HandlerFunc {
	return func(w http.ResponseWriter, _ *http.Request) {
		for i := 0; i+1 < len(hdr); i += 2 {
			w.Header().Add(hdr[i], hdr[i+1])
		}
		w.WriteHeader(status)
		_, _ = io.WriteString(w, "no hooks here")
	}
}

func create(t *testing.T, r *platform.Registry, body string) (config.Publication, error) {
	t.Helper()
	pub, _, err := r.Publication(t.Context(), "t1", config.PlatformWebhook, []byte(body))
	return pub, err
}

// TestHandshakeAtCreate: the target is asked with OPTIONS and
// WebHook-Request-Origin; one that consents (here the Go SDK's own
// handler) is created with the granted origin and rate, one that refuses
// is refused with a 422 saying why and how to skip.
func TestHandshakeAtCreate(t *testing.T) {
	closed := httptest.NewServer(http.NotFoundHandler())
	closedURL := closed.URL
	closed.Close()
	tests := []struct {
		name     string
		options  http.HandlerFunc
		url      string // closedURL instead of the target
		rate     int
		refusal  string
		noTarget bool
	}{
		{name: "sdk receiver allowing every origin", options: sdkReceiver(t, 120, "*"), rate: 120},
		{name: "sdk receiver allowing this origin", options: sdkReceiver(t, 60, "events.example"), rate: 60},
		{name: "sdk receiver allowing another origin", options: sdkReceiver(t, 60, "other.example"), refusal: "it answered HTTP 400 Bad Request"},
		{name: "wildcard without rate", options: answer(http.StatusOK, "WebHook-Allowed-Origin", "*")},
		{name: "origin in another case, unlimited rate", options: answer(http.StatusNoContent, "WebHook-Allowed-Origin", "Events.Example.Test", "WebHook-Allowed-Rate", "*")},
		{name: "405", options: answer(http.StatusMethodNotAllowed), refusal: "it answered HTTP 405 Method Not Allowed: no hooks here"},
		{name: "200 without consent", options: answer(http.StatusOK), refusal: "without a WebHook-Allowed-Origin header"},
		{name: "another origin", options: answer(http.StatusOK, "WebHook-Allowed-Origin", "evil.example"), refusal: `it allowed the origin "evil.example", not "events.example.test"`},
		{name: "zero rate", options: sdkReceiver(t, 0, "*"), refusal: `WebHook-Allowed-Rate "0"`},
		{name: "bad rate", options: answer(http.StatusOK, "WebHook-Allowed-Origin", "*", "WebHook-Allowed-Rate", "fast"), refusal: `WebHook-Allowed-Rate "fast"`},
		{name: "redirect", options: answer(http.StatusFound, "Location", "https://example.com/", "WebHook-Allowed-Origin", "*"), refusal: "HTTP 302 Found"},
		{name: "unreachable", url: closedURL, refusal: "it could not be reached", noTarget: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tg := newTarget(t, tt.options)
			u := tg.URL + "/hook"
			if tt.url != "" {
				u = tt.url + "/hook"
			}
			pub, err := create(t, registry(t), fmt.Sprintf(`{"name":"h","url":%q,"token":"tok"}`, u))
			if !tt.noTarget {
				reqs := tg.got()
				require.Len(t, reqs, 1)
				assert.Equal(t, http.MethodOptions, reqs[0].Method)
				assert.Equal(t, origin, reqs[0].Header.Get("WebHook-Request-Origin"))
				assert.Equal(t, "Bearer tok", reqs[0].Header.Get("Authorization"))
			}
			if tt.refusal != "" {
				require.ErrorIs(t, err, config.ErrInvalid)
				he := httpjson.AsError(err)
				assert.Equal(t, http.StatusUnprocessableEntity, he.Status)
				assert.Contains(t, he.Message, "refused the CloudEvents handshake")
				assert.Contains(t, he.Message, tt.refusal)
				assert.Contains(t, he.Message, "--skip-handshake")
				return
			}
			require.NoError(t, err)
			assert.Equal(t, origin, pub.Params.Origin)
			assert.Equal(t, tt.rate, pub.Params.AllowedRate)
		})
	}
	t.Run("skipped", func(t *testing.T) {
		tg := newTarget(t, answer(http.StatusMethodNotAllowed))
		pub, err := create(t, registry(t), fmt.Sprintf(`{"name":"h","url":%q,"skip_handshake":true}`, tg.URL))
		require.NoError(t, err)
		assert.Empty(t, tg.got(), "no request at all")
		assert.Equal(t, config.Params{URL: tg.URL}, pub.Params)
	})
}

func TestModeParams(t *testing.T) {
	tg := newTarget(t, sdkReceiver(t, 1000, "*"))
	for _, tt := range []struct {
		body string
		want config.Params
		err  string
	}{
		{body: `"mode":"structured"`, want: config.Params{}},
		{body: `"mode":"binary"`, want: config.Params{Mode: "binary"}},
		{body: `"content_type":"application/json"`, want: config.Params{ContentType: "application/json"}},
		{body: `"content_type":"application/cloudevents+json","mode":"structured"`, want: config.Params{}},
		{body: `"mode":"batch"`, err: `mode "batch": use structured or binary`},
		{body: `"content_type":"text/plain"`, err: `content_type "text/plain"`},
		{body: `"mode":"binary","content_type":"application/json"`, err: "content_type applies to structured mode"},
		{body: `"skip_handshake":"yes"`, err: "skip_handshake"},
	} {
		t.Run(tt.body, func(t *testing.T) {
			pub, err := create(t, registry(t), fmt.Sprintf(`{"name":"h","url":%q,%s}`, tg.URL, tt.body))
			if tt.err != "" {
				require.ErrorIs(t, err, config.ErrInvalid)
				assert.Contains(t, err.Error(), tt.err)
				return
			}
			require.NoError(t, err)
			tt.want.URL, tt.want.Origin, tt.want.AllowedRate = tg.URL, origin, 1000
			assert.Equal(t, tt.want, pub.Params)
		})
	}
}

// TestHandshakeAtUpdate: a new URL is asked again (or its consent is
// forgotten when skipped); the mode and content type are checked on the
// values the publication ends with.
func TestHandshakeAtUpdate(t *testing.T) {
	r := registry(t)
	good := newTarget(t, sdkReceiver(t, 30, "*"))
	bad := newTarget(t, answer(http.StatusNotFound))
	current, err := create(t, r, fmt.Sprintf(`{"name":"h","url":%q,"token":"tok","mode":"binary"}`, good.URL))
	require.NoError(t, err)
	current.Name, current.Platform = "h", config.PlatformWebhook
	update := func(body string) (config.Publication, error) {
		p, _, err := r.UpdatePublication(t.Context(), "t1", current, []byte(body))
		return p, err
	}

	_, err = update(fmt.Sprintf(`{"url":%q}`, bad.URL))
	require.ErrorIs(t, err, config.ErrInvalid)
	assert.Contains(t, err.Error(), "it answered HTTP 404 Not Found")
	reqs := bad.got()
	require.Len(t, reqs, 1)
	assert.Equal(t, "Bearer tok", reqs[0].Header.Get("Authorization"), "the current token")

	p, err := update(fmt.Sprintf(`{"url":%q,"skip_handshake":true}`, bad.URL))
	require.NoError(t, err)
	assert.Equal(t, config.Params{URL: bad.URL, Mode: "binary"}, p.Params, "the old URL's consent is gone")

	p, err = update(fmt.Sprintf(`{"url":%q}`, good.URL+"/v2"))
	require.NoError(t, err)
	assert.Equal(t, config.Params{URL: good.URL + "/v2", Mode: "binary", Origin: origin, AllowedRate: 30}, p.Params)

	p, err = update(`{"token":"new"}`)
	require.NoError(t, err)
	assert.Equal(t, current.Params, p.Params, "same URL: no new handshake")

	_, err = update(`{"content_type":"application/json"}`)
	require.ErrorIs(t, err, config.ErrInvalid)
	assert.Contains(t, err.Error(), "content_type applies to structured mode")
	p, err = update(`{"mode":"structured","content_type":"application/json"}`)
	require.NoError(t, err)
	assert.Equal(t, "", p.Params.Mode)
	assert.Equal(t, "application/json", p.Params.ContentType)
}

func sampleEvent() event.Event {
	return event.Event{
		ID: "ev 1", Source: "/tenants/t1/subscriptions/in", Type: "com.example.order", Subject: `café "x" 100%`,
		Time:            time.Date(2026, 3, 1, 9, 0, 0, 5e8, time.UTC),
		DataContentType: "application/json; charset=utf-8", DataSchema: "https://example.com/schemas/order.json",
		Data:       json.RawMessage(`{"total": 4, "note": "é"}`),
		Extensions: map[string]any{"region": "éu west", "sampled": true, "priority": float64(3), "Bad-Name": "x"},
	}
}

func TestEncode(t *testing.T) {
	ev := sampleEvent()
	t.Run("structured", func(t *testing.T) {
		h, body, err := cloudevent.Encode(ev, config.Params{})
		require.NoError(t, err)
		assert.Equal(t, http.Header{"Content-Type": {"application/cloudevents+json"}}, h)
		var m map[string]json.RawMessage
		require.NoError(t, json.Unmarshal(body, &m))
		assert.JSONEq(t, `"café \"x\" 100%"`, string(m["subject"]))
		assert.JSONEq(t, `"https://example.com/schemas/order.json"`, string(m["dataschema"]))
		assert.JSONEq(t, `"éu west"`, string(m["region"]))
		assert.JSONEq(t, `true`, string(m["sampled"]))
		assert.Equal(t, `3`, string(m["priority"]))
		assert.Equal(t, `{"total": 4, "note": "é"}`, string(m["data"]))
		assert.NotContains(t, m, "bad-name")
	})
	t.Run("structured as application/json", func(t *testing.T) {
		h, body, err := cloudevent.Encode(ev, config.Params{ContentType: "application/json"})
		require.NoError(t, err)
		assert.Equal(t, "application/json", h.Get("Content-Type"))
		same, err := cloudevent.Structured(ev)
		require.NoError(t, err)
		assert.Equal(t, same, body, "the same structured body")
	})
	t.Run("binary", func(t *testing.T) {
		h, body, err := cloudevent.Encode(ev, config.Params{Mode: "binary"})
		require.NoError(t, err)
		assert.Equal(t, http.Header{
			"Content-Type":   {"application/json; charset=utf-8"},
			"Ce-Specversion": {"1.0"},
			"Ce-Id":          {"ev%201"},
			"Ce-Source":      {"/tenants/t1/subscriptions/in"},
			"Ce-Type":        {"com.example.order"},
			"Ce-Time":        {"2026-03-01T09:00:00.5Z"},
			"Ce-Subject":     {"caf%C3%A9%20%22x%22%20100%25"},
			"Ce-Dataschema":  {"https://example.com/schemas/order.json"},
			"Ce-Region":      {"%C3%A9u%20west"},
			"Ce-Sampled":     {"true"},
			"Ce-Priority":    {"3"},
		}, h)
		assert.Equal(t, []byte(ev.Data), body, "the data byte for byte")
	})
	t.Run("binary with a non-JSON datacontenttype", func(t *testing.T) {
		other := sampleEvent()
		other.DataContentType = "application/avro"
		h, _, err := cloudevent.Binary(other)
		require.NoError(t, err)
		assert.Equal(t, "application/json", h.Get("Content-Type"), "the data is JSON whatever the source said")
	})
}

// TestPublishModes: every mode reaches the receiver with the handshake's
// origin and a Standard Webhooks signature over the exact body bytes.
func TestPublishModes(t *testing.T) {
	tg := newTarget(t, answer(http.StatusOK))
	const secret = "whsec_dGVzdC1zZWNyZXQtMDAwMQ=="
	now := time.Now()
	d := deps(t)
	p, err := platform.NewRegistry(d, webhook.Platform())
	require.NoError(t, err)
	pubs, err := p.Publishers(t.Context())
	require.NoError(t, err)
	for i, params := range []config.Params{{}, {ContentType: "application/json"}, {Mode: "binary"}} {
		params.URL, params.Origin = tg.URL, origin
		pub := config.Publication{ID: "p", Name: "h", Platform: config.PlatformWebhook, Params: params, SecretSealed: []byte(secret)}
		require.NoError(t, pubs[config.PlatformWebhook].Publish(t.Context(), "t1", pub, sampleEvent()))
		reqs := tg.got()
		require.Len(t, reqs, i+1)
		got := reqs[i]
		wantHeader, wantBody, err := cloudevent.Encode(sampleEvent(), params)
		require.NoError(t, err)
		assert.Equal(t, wantBody, got.Body)
		for k := range wantHeader {
			assert.Equal(t, wantHeader.Get(k), got.Header.Get(k), k)
		}
		assert.Equal(t, origin, got.Header.Get("WebHook-Request-Origin"))
		require.NoError(t, sink.VerifyAt(secret, got.Header, got.Body, now), "mode %q", params.Mode)
	}
}

// FuzzParseHandshake: any answer is parsed without panic; a consent is a
// 2xx naming the origin or "*", with a positive or no rate.
func FuzzParseHandshake(f *testing.F) {
	f.Add(200, "events.example.test", "120", "events.example.test")
	f.Add(204, "*", "*", "x")
	f.Add(405, "", "", "x")
	f.Add(200, "EVENTS.example.test", "-1", "events.example.test")
	f.Add(299, "a\x00b", "99999999999999999999", "a")
	f.Fuzz(func(t *testing.T, status int, allowed, rate, origin string) {
		h := http.Header{}
		if allowed != "" {
			h.Set("WebHook-Allowed-Origin", allowed)
		}
		if rate != "" {
			h.Set("WebHook-Allowed-Rate", rate)
		}
		g, err := webhook.ParseHandshake(status, h, origin)
		if err != nil {
			require.NotEmpty(t, err.Error())
			return
		}
		require.True(t, status >= 200 && status < 300)
		a := strings.TrimSpace(allowed)
		require.True(t, a == "*" || (len(a) <= len(origin) && strings.EqualFold(a, origin[:len(a)])), "granted %q for %q", allowed, origin)
		require.GreaterOrEqual(t, g.Rate, 0)
		require.Equal(t, origin, g.Origin)
	})
}
