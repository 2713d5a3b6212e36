package ingest_test

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/herokuevents/herokuevents/shared/config"
	"github.com/herokuevents/herokuevents/shared/config/memstore"
	"github.com/herokuevents/herokuevents/shared/event"
	"github.com/herokuevents/herokuevents/shared/ingest"
	"github.com/herokuevents/herokuevents/shared/queue"
)

type recorder struct {
	mu   sync.Mutex
	msgs []queue.Message
	err  error
}

func (r *recorder) Send(_ context.Context, msgs ...queue.Message) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.err != nil {
		return r.err
	}
	r.msgs = append(r.msgs, msgs...)
	return nil
}

func (r *recorder) all() []queue.Message {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]queue.Message(nil), r.msgs...)
}

const tenant, key = "t-1", "publish-key"

func setup(t testing.TB) (*ingest.Handler, *recorder, *recorder) {
	t.Helper()
	return setupWith(t, nil)
}

// setupWith is setup with options changed by with (when not nil).
func setupWith(t testing.TB, with func(*ingest.Options)) (*ingest.Handler, *recorder, *recorder) {
	t.Helper()
	st := memstore.New()
	t.Cleanup(func() { st.Close() })
	ctx := t.Context()
	sum := sha256.Sum256([]byte(key))
	_, err := config.Insert(ctx, st, config.Item{Kind: config.KindTenant, ID: tenant, Name: "my-app"},
		config.Tenant{ID: tenant, App: "my-app", PublishKeyHash: hex.EncodeToString(sum[:])})
	require.NoError(t, err)
	_, err = config.Insert(ctx, st, config.Item{Tenant: tenant, Kind: config.KindSubscription, ID: "sub-1", Name: "inbound"},
		config.Subscription{ID: "sub-1", Name: "inbound", Platform: config.PlatformWebhook})
	require.NoError(t, err)
	_, err = config.Insert(ctx, st, config.Item{Tenant: tenant, Kind: config.KindSubscription, ID: "sub-2", Name: "ticker"},
		config.Subscription{ID: "sub-2", Name: "ticker", Platform: config.PlatformGenerate})
	require.NoError(t, err)
	_, err = config.Insert(ctx, st, config.Item{Tenant: tenant, Kind: config.KindPublication, ID: "pub-1", Name: "systemStatus"},
		config.Publication{ID: "pub-1", Name: "systemStatus", Platform: config.PlatformWebhook})
	require.NoError(t, err)
	_, err = config.Insert(ctx, st, config.Item{Tenant: tenant, Kind: config.KindPublication, ID: "pub-2", Name: "gone"},
		config.Publication{ID: "pub-2", Name: "gone", Platform: config.PlatformWebhook, Disabled: true, DisabledReason: "HTTP 410 Gone: endpoint removed"})
	require.NoError(t, err)
	in, del := &recorder{}, &recorder{}
	o := ingest.Options{Store: st, Ingest: in, Delivery: del}
	if with != nil {
		with(&o)
	}
	h, err := ingest.New(o)
	require.NoError(t, err)
	return h, in, del
}

func post(h http.Handler, name, user, pass, ctype, body string, hdr map[string]string) *httptest.ResponseRecorder {
	req := httptest.NewRequest(http.MethodPost, "/publish/"+name, strings.NewReader(body))
	if user != "" || pass != "" {
		req.SetBasicAuth(user, pass)
	}
	if ctype != "" {
		req.Header.Set("Content-Type", ctype)
	}
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	w := httptest.NewRecorder()
	h.ServeHTTP(w, req)
	return w
}

const payload = `{"Context__c":{"string":"subscription"},"CreatedById":"005Ws000001eUtGIAU","CreatedDate":1733842936}`

func TestPublishToSubscriptionIsRouted(t *testing.T) {
	h, in, del := setup(t)
	w := post(h, "inbound", tenant, key, "application/json", payload, nil)
	require.Equal(t, http.StatusAccepted, w.Code, w.Body.String())
	var acc ingest.Accepted
	require.NoError(t, json.Unmarshal(w.Body.Bytes(), &acc))
	require.NotEmpty(t, acc.ID)

	require.Len(t, in.all(), 1)
	assert.Empty(t, del.all())
	var r event.Routed
	require.NoError(t, json.Unmarshal(in.all()[0].Body, &r))
	assert.Equal(t, tenant, r.Tenant)
	assert.Equal(t, "sub-1", r.Subscription)
	assert.Equal(t, acc.ID, r.Event.ID)
	assert.Equal(t, payload, string(r.Event.Data), "data is the posted JSON byte for byte")
	assert.Equal(t, "/tenants/t-1/subscriptions/inbound", r.Event.Source)
	assert.Equal(t, event.TypePublish, r.Event.Type)
	assert.Equal(t, tenant, in.all()[0].Attributes[queue.AttrTenant])
}

func TestPublishToPublicationIsDeliveredDirectly(t *testing.T) {
	h, in, del := setup(t)
	w := post(h, "systemStatus", tenant, key, "", payload, nil)
	require.Equal(t, http.StatusAccepted, w.Code, w.Body.String())
	assert.Empty(t, in.all())
	require.Len(t, del.all(), 1)
	var d event.Delivery
	require.NoError(t, json.Unmarshal(del.all()[0].Body, &d))
	assert.Equal(t, "pub-1", d.Publication)
	assert.Equal(t, 0, d.Attempt)
	assert.False(t, d.FirstTry.IsZero())
	assert.Equal(t, payload, string(d.Event.Data))
}

func TestCloudEventsKeepTheirAttributes(t *testing.T) {
	h, in, _ := setup(t)
	structured := `{"specversion":"1.0","id":"ev-42","source":"/my/app","type":"com.example.order","subject":"orders","datacontenttype":"application/json","data":{"total":3}}`
	w := post(h, "inbound", tenant, key, "application/cloudevents+json", structured, nil)
	require.Equal(t, http.StatusAccepted, w.Code, w.Body.String())
	w = post(h, "inbound", tenant, key, "application/json", `{"total":4}`, map[string]string{
		"ce-specversion": "1.0", "ce-id": "ev-43", "ce-source": "/my/app", "ce-type": "com.example.order",
	})
	require.Equal(t, http.StatusAccepted, w.Code, w.Body.String())

	msgs := in.all()
	require.Len(t, msgs, 2)
	for i, want := range []struct{ id, data string }{{"ev-42", `{"total":3}`}, {"ev-43", `{"total":4}`}} {
		var r event.Routed
		require.NoError(t, json.Unmarshal(msgs[i].Body, &r))
		assert.Equal(t, want.id, r.Event.ID)
		assert.Equal(t, "/my/app", r.Event.Source)
		assert.Equal(t, "com.example.order", r.Event.Type)
		assert.JSONEq(t, want.data, string(r.Event.Data))
	}
}

func TestBadInput(t *testing.T) {
	deep := strings.Repeat(`{"a":`, 70) + "1" + strings.Repeat("}", 70)
	cases := []struct {
		name, target, user, pass, ctype, body string
		hdr                                   map[string]string
		status                                int
		id, msg                               string
	}{
		{"invalid JSON", "inbound", tenant, key, "application/json", `{"a":`, nil, 400, "invalid_event", "not valid JSON"},
		{"non-object JSON", "inbound", tenant, key, "application/json", `[1,2]`, nil, 400, "invalid_event", "must be a JSON object"},
		{"empty body", "inbound", tenant, key, "application/json", ``, nil, 400, "invalid_event", "empty"},
		{"vertical tab", "inbound", tenant, key, "application/json", "\v{}", nil, 400, "invalid_event", "not valid JSON"},
		{"form feed", "inbound", tenant, key, "application/json", "{}\f", nil, 400, "invalid_event", "not valid JSON"},
		{"next line (U+0085)", "systemStatus", tenant, key, "application/json", "\u0085{}", nil, 400, "invalid_event", "not valid JSON"},
		{"no-break space (U+00A0)", "systemStatus", tenant, key, "application/json", "\u00a0{}\u00a0", nil, 400, "invalid_event", "not valid JSON"},
		{"CloudEvent data in a vertical tab", "inbound", tenant, key, "application/json", "\v{}", map[string]string{"ce-specversion": "1.0", "ce-id": "x", "ce-source": "/s", "ce-type": "t"}, 400, "invalid_event", "not valid JSON"},
		{"too deep", "inbound", tenant, key, "application/json", deep, nil, 400, "invalid_event", "nested deeper"},
		{"too large", "inbound", tenant, key, "application/json", `{"a":"` + strings.Repeat("x", ingest.MaxBody) + `"}`, nil, 413, "payload_too_large", "larger than"},
		{"missing credentials", "inbound", "", "", "application/json", payload, nil, 401, "unauthorized", "HEROKUEVENTS_PUBLISH_URL"},
		{"wrong password", "inbound", tenant, "nope", "application/json", payload, nil, 401, "unauthorized", "Invalid credentials"},
		{"unknown tenant", "inbound", "t-404", key, "application/json", payload, nil, 401, "unauthorized", "Invalid credentials"},
		{"unknown name", "nothing", tenant, key, "application/json", payload, nil, 404, "not_found", "nothing"},
		{"disabled publication", "gone", tenant, key, "application/json", payload, nil, 409, "publication_disabled", "Publication gone is disabled (HTTP 410 Gone: endpoint removed)"},
		{"long name is cut", strings.Repeat("n", 5000), tenant, key, "application/json", payload, nil, 404, "not_found", "named " + strings.Repeat("n", 64) + "…."},
		{"not a webhook subscription", "ticker", tenant, key, "application/json", payload, nil, 422, "invalid_params", "generate subscription"},
		{"CloudEvent without type", "inbound", tenant, key, "application/cloudevents+json", `{"specversion":"1.0","id":"x","source":"/s","data":{}}`, nil, 400, "invalid_event", "CloudEvent"},
		{"CloudEvent with non-object data", "inbound", tenant, key, "application/json", `[1]`, map[string]string{"ce-specversion": "1.0", "ce-id": "x", "ce-source": "/s", "ce-type": "t"}, 400, "invalid_event", "JSON object"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			h, in, del := setup(t)
			w := post(h, c.target, c.user, c.pass, c.ctype, c.body, c.hdr)
			assert.Equal(t, c.status, w.Code)
			var e ingest.Error
			require.NoError(t, json.Unmarshal(w.Body.Bytes(), &e), w.Body.String())
			assert.Equal(t, c.id, e.ID)
			assert.Contains(t, e.Message, c.msg)
			assert.Empty(t, in.all(), "nothing queued")
			assert.Empty(t, del.all(), "nothing queued")
		})
	}
}

func TestQueueFailureIsNotAccepted(t *testing.T) {
	h, in, _ := setup(t)
	in.err = errors.New("disk full")
	w := post(h, "inbound", tenant, key, "application/json", payload, nil)
	assert.Equal(t, http.StatusServiceUnavailable, w.Code)
	assert.Equal(t, "5", w.Header().Get("Retry-After"))
	assert.Contains(t, w.Body.String(), "not accepted")
}

func TestOnlyPost(t *testing.T) {
	h, _, _ := setup(t)
	req := httptest.NewRequest(http.MethodGet, "/publish/inbound", nil)
	w := httptest.NewRecorder()
	h.ServeHTTP(w, req)
	assert.Equal(t, http.StatusMethodNotAllowed, w.Code)
	assert.Equal(t, http.MethodPost, w.Header().Get("Allow"))
}

func routedEvent(t *testing.T, m queue.Message) event.Event {
	t.Helper()
	var r event.Routed
	require.NoError(t, json.Unmarshal(m.Body, &r))
	return r.Event
}

// TestBinaryModeHeadersArePercentDecoded: ce-* values are decoded as the
// CloudEvents HTTP binding requires (percent-encoding, and the quoted
// strings of older senders); dataschema, datacontenttype and extension
// attributes are kept.
func TestBinaryModeHeadersArePercentDecoded(t *testing.T) {
	h, in, _ := setup(t)
	w := post(h, "inbound", tenant, key, "application/json; charset=utf-8", `{"total":4}`, map[string]string{
		"ce-specversion": "1.0", "ce-id": "ev%2042", "ce-source": "/my/app/caf%25C3%25A9", "ce-type": "com.example.order",
		"ce-subject":    "caf%C3%A9%20%22x%22%20100%25",
		"ce-time":       "2026-03-01T10:00:00.5+01:00",
		"ce-dataschema": "https://example.com/schemas/order.json",
		"ce-region":     "%c3%a9u%20west", // lower-case hex is accepted
		"ce-legacy":     `"quoted \"value\""`,
		"ce-raw":        "100%",
	})
	require.Equal(t, http.StatusAccepted, w.Code, w.Body.String())
	msgs := in.all()
	require.Len(t, msgs, 1)
	ev := routedEvent(t, msgs[0])
	assert.Equal(t, "ev 42", ev.ID)
	assert.Equal(t, "/my/app/caf%C3%A9", ev.Source, "one round of decoding: the source's own escapes stay")
	assert.Equal(t, `café "x" 100%`, ev.Subject)
	assert.Equal(t, time.Date(2026, 3, 1, 9, 0, 0, 5e8, time.UTC), ev.Time)
	assert.Equal(t, "https://example.com/schemas/order.json", ev.DataSchema)
	assert.Equal(t, "application/json; charset=utf-8", ev.DataContentType)
	assert.Equal(t, map[string]any{"region": "éu west", "legacy": `quoted "value"`, "raw": "100%"}, ev.Extensions)
	assert.Equal(t, `{"total":4}`, string(ev.Data))
}

// TestStructuredModeKeepsEveryAttribute: extension attributes keep their
// JSON type; ce-* headers beside a structured body are not read.
func TestStructuredModeKeepsEveryAttribute(t *testing.T) {
	h, _, del := setup(t)
	body := `{"specversion":"1.0","id":"ev-1","source":"/s","type":"t","subject":"café \"x\" 100%","dataschema":"urn:example:order",
		"priority":3,"sampled":true,"region":"eu","data":{"a":1}}`
	w := post(h, "systemStatus", tenant, key, "application/cloudevents+json; charset=utf-8", body, map[string]string{"ce-subject": "%C0%A0"})
	require.Equal(t, http.StatusAccepted, w.Code, w.Body.String())
	msgs := del.all()
	require.Len(t, msgs, 1)
	var d event.Delivery
	require.NoError(t, json.Unmarshal(msgs[0].Body, &d))
	assert.Equal(t, `café "x" 100%`, d.Event.Subject)
	assert.Equal(t, "urn:example:order", d.Event.DataSchema)
	assert.Equal(t, map[string]any{"priority": float64(3), "sampled": true, "region": "eu"}, d.Event.Extensions)
	assert.Equal(t, "application/json", d.Event.DataContentType)
}

func TestBadCloudEventAttributes(t *testing.T) {
	binary := func(extra map[string]string) map[string]string {
		m := map[string]string{"ce-specversion": "1.0", "ce-id": "x", "ce-source": "/s", "ce-type": "t"}
		for k, v := range extra {
			m[k] = v
		}
		return m
	}
	for _, c := range []struct {
		name, ctype, body string
		hdr               map[string]string
		msg               string
	}{
		{"overlong UTF-8", "application/json", `{}`, binary(map[string]string{"ce-subject": "%C0%A0"}), "header ce-subject: the header value is not valid UTF-8"},
		{"unterminated quote", "application/json", `{}`, binary(map[string]string{"ce-region": `"eu`}), "header ce-region"},
		{"control character", "application/json", `{}`, binary(map[string]string{"ce-subject": "a%0Ab"}), "subject contains the control character U+000A"},
		{"relative dataschema", "application/json", `{}`, binary(map[string]string{"ce-dataschema": "/schema"}), "dataschema"},
		{"fractional extension", "application/cloudevents+json", `{"specversion":"1.0","id":"x","source":"/s","type":"t","priority":1.5,"data":{}}`, nil, "Invalid CloudEvent"},
		{"extension with a bad name", "application/cloudevents+json", `{"specversion":"1.0","id":"x","source":"/s","type":"t","bad_name":"x","data":{}}`, nil, "Invalid CloudEvent"},
		{"object extension", "application/cloudevents+json", `{"specversion":"1.0","id":"x","source":"/s","type":"t","obj":{"a":1},"data":{}}`, nil, "Invalid CloudEvent"},
	} {
		t.Run(c.name, func(t *testing.T) {
			h, in, _ := setup(t)
			w := post(h, "inbound", tenant, key, c.ctype, c.body, c.hdr)
			assert.Equal(t, http.StatusBadRequest, w.Code, w.Body.String())
			var e ingest.Error
			require.NoError(t, json.Unmarshal(w.Body.Bytes(), &e), w.Body.String())
			assert.Equal(t, "invalid_event", e.ID)
			assert.Contains(t, e.Message, c.msg)
			assert.Empty(t, in.all())
		})
	}
}

// TestPublishURLAnswersTheHandshake: a sender that validates its delivery
// target (CloudEvents webhook spec, section 4) gets its origin granted,
// without credentials; other methods still get 405 with the Allow list.
func TestPublishURLAnswersTheHandshake(t *testing.T) {
	h, in, _ := setup(t)
	req := httptest.NewRequest(http.MethodOptions, "/publish/inbound", nil)
	req.Header.Set("WebHook-Request-Origin", "eventemitter.example.com")
	req.Header.Set("WebHook-Request-Rate", "120")
	w := httptest.NewRecorder()
	h.ServeHTTP(w, req)
	assert.Equal(t, http.StatusOK, w.Code)
	assert.Equal(t, "eventemitter.example.com", w.Header().Get("WebHook-Allowed-Origin"))
	assert.Equal(t, "*", w.Header().Get("WebHook-Allowed-Rate"))
	assert.Equal(t, []string{"POST", "OPTIONS"}, w.Header().Values("Allow"))

	plain := httptest.NewRecorder()
	h.ServeHTTP(plain, httptest.NewRequest(http.MethodOptions, "/publish/anything", nil))
	assert.Equal(t, http.StatusOK, plain.Code)
	assert.Empty(t, plain.Header().Get("WebHook-Allowed-Origin"), "no origin asked, none granted")
	assert.Equal(t, []string{"POST", "OPTIONS"}, plain.Header().Values("Allow"))

	put := httptest.NewRecorder()
	h.ServeHTTP(put, httptest.NewRequest(http.MethodPut, "/publish/inbound", nil))
	assert.Equal(t, http.StatusMethodNotAllowed, put.Code)
	assert.Equal(t, []string{"POST", "OPTIONS"}, put.Header().Values("Allow"))
	assert.Empty(t, in.all())
}

// FuzzPublishCloudEvent: whatever the ce-* header values or the structured
// body, the publish URL answers 202 or a 4xx JSON error, never panics, and
// what it queues passes event.CheckAttributes; a binary-mode subject is
// the header value decoded once.
func FuzzPublishCloudEvent(f *testing.F) {
	f.Add("caf%C3%A9%20%22x%22%20100%25", "eu", `{"specversion":"1.0","id":"x","source":"/s","type":"t","n":1,"data":{}}`)
	f.Add(`"quoted"`, "%C0%A0", `{"specversion":"1.0","id":"x","source":"/s","type":"t","dataschema":"/rel","data":{}}`)
	f.Add("a%0Ab", `"x`, `{"specversion":"1.0","id":"","data":[]}`)
	f.Add("", "", `not json`)
	h, in, del := setup(f)
	f.Fuzz(func(t *testing.T, subject, ext, structured string) {
		in.mu.Lock()
		in.msgs = nil
		in.mu.Unlock()
		check := func(w *httptest.ResponseRecorder) {
			t.Helper()
			switch {
			case w.Code == http.StatusAccepted:
			case w.Code >= 400 && w.Code < 500:
				var e ingest.Error
				require.NoError(t, json.Unmarshal(w.Body.Bytes(), &e), w.Body.String())
				require.NotEmpty(t, e.Message)
			default:
				t.Fatalf("status %d: %s", w.Code, w.Body.String())
			}
		}
		hdr := map[string]string{"ce-specversion": "1.0", "ce-id": "x", "ce-source": "/s", "ce-type": "t", "ce-subject": subject, "ce-ext": ext}
		w := post(h, "inbound", tenant, key, "application/json", `{"a":1}`, hdr)
		check(w)
		if w.Code == http.StatusAccepted {
			msgs := in.all()
			require.Len(t, msgs, 1)
			ev := routedEvent(t, msgs[0])
			require.NoError(t, ev.CheckAttributes())
			want, err := event.DecodeHeader(subject)
			require.NoError(t, err)
			require.Equal(t, strings.TrimSpace(want), ev.Subject)
		}
		w = post(h, "systemStatus", tenant, key, "application/cloudevents+json", structured, nil)
		check(w)
		if w.Code == http.StatusAccepted {
			msgs := del.all()
			var d event.Delivery
			require.NoError(t, json.Unmarshal(msgs[len(msgs)-1].Body, &d))
			require.NoError(t, d.Event.CheckAttributes())
		}
	})
}
