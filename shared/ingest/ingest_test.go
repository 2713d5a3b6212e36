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

func setup(t *testing.T) (*ingest.Handler, *recorder, *recorder) {
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
	in, del := &recorder{}, &recorder{}
	h, err := ingest.New(ingest.Options{Store: st, Ingest: in, Delivery: del})
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
		{"too deep", "inbound", tenant, key, "application/json", deep, nil, 400, "invalid_event", "nested deeper"},
		{"too large", "inbound", tenant, key, "application/json", `{"a":"` + strings.Repeat("x", ingest.MaxBody) + `"}`, nil, 413, "payload_too_large", "larger than"},
		{"missing credentials", "inbound", "", "", "application/json", payload, nil, 401, "unauthorized", "HEROKUEVENTS_PUBLISH_URL"},
		{"wrong password", "inbound", tenant, "nope", "application/json", payload, nil, 401, "unauthorized", "Invalid credentials"},
		{"unknown tenant", "inbound", "t-404", key, "application/json", payload, nil, 401, "unauthorized", "Invalid credentials"},
		{"unknown name", "nothing", tenant, key, "application/json", payload, nil, 404, "not_found", "nothing"},
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
