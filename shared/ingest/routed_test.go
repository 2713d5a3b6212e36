package ingest

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/herokuevents/herokuevents/shared/config"
	"github.com/herokuevents/herokuevents/shared/config/memstore"
	"github.com/herokuevents/herokuevents/shared/event"
	"github.com/herokuevents/herokuevents/shared/queue"
)

// checkRouted fails when routed gives an event.Routed that is not exactly
// what the message of ev decodes to; it reports whether routed gave one.
func checkRouted(t *testing.T, rt route, ev event.Event) bool {
	t.Helper()
	msg, err := rt.message(ev, time.Now())
	if err != nil {
		return false
	}
	r, ok := rt.routed(ev, msg.Body)
	if !ok {
		return false
	}
	var decoded event.Routed
	require.NoError(t, json.Unmarshal(msg.Body, &decoded))
	require.Equal(t, decoded, r)
	return true
}

func TestRoutedIsTheDecodedMessage(t *testing.T) {
	rt := route{tenant: "t-1", kind: "subscription", name: "inbound", id: "sub-1"}
	at := time.Date(2026, 12, 3, 8, 0, 0, 123456789, time.UTC)
	for _, c := range []struct {
		name string
		ev   event.Event
		fast bool
	}{
		{"plain publish", event.New("/tenants/t-1/subscriptions/inbound", event.TypePublish, json.RawMessage(`{"a":1}`)), true},
		{"spaced, html", event.Event{ID: "e", Source: "/s", Type: "t", Time: at, Data: json.RawMessage(" {\n \"a\" : \"<b>&\u2028\" , \"n\": [ 1 , 2.50 ]\t}\n")}, true},
		{"cloudevent", event.Event{ID: "e", Source: "/s", Type: "t", Subject: "x\u00e9", Time: at, DataContentType: "application/json", DataSchema: "https://s", Data: json.RawMessage(`{}`)}, true},
		{"no data", event.Event{ID: "e", Source: "/s", Type: "t", Time: at, Data: json.RawMessage{}}, true},
		{"extensions", event.Event{ID: "e", Source: "/s", Type: "t", Time: at, Data: json.RawMessage(`{}`), Extensions: map[string]any{"n": int32(1)}}, false},
		{"invalid utf-8", event.Event{ID: "e\xff", Source: "/s", Type: "t", Time: at, Data: json.RawMessage(`{}`)}, false},
		{"monotonic time", event.Event{ID: "e", Source: "/s", Type: "t", Time: time.Now(), Data: json.RawMessage(`{}`)}, false},
		{"zone", event.Event{ID: "e", Source: "/s", Type: "t", Time: at.In(time.FixedZone("", 3600)), Data: json.RawMessage(`{}`)}, false},
	} {
		t.Run(c.name, func(t *testing.T) {
			assert.Equal(t, c.fast, checkRouted(t, rt, c.ev))
		})
	}
}

func FuzzRoutedIsTheDecodedMessage(f *testing.F) {
	f.Add("t-1", "sub-1", "e-1", "/s", "t", "", "application/json", `{"a":1}`, int64(1_700_000_000), int64(5), 0)
	f.Add("t\xff", "s<>", "\u2028", "&", "\"", "sub\x00", "", " { \"a\" : \"<\" } ", int64(0), int64(0), 3600)
	f.Add(`,"data":`, `"data":}}`, `,"data":{}}}`, "/s", "t", `\",\"data\":`, "application/json", `{"x":1,"data":{"data":"}}"}}`, int64(1), int64(1), 0)
	f.Fuzz(func(t *testing.T, tenant, sub, id, source, typ, subject, ctype, data string, sec, nsec int64, offset int) {
		if !json.Valid([]byte(data)) {
			data = ""
		}
		rt := route{tenant: tenant, kind: "subscription", id: sub}
		ev := event.Event{ID: id, Source: source, Type: typ, Subject: subject, DataContentType: ctype, DataSchema: subject + ctype,
			Time: time.Unix(sec, nsec).In(time.FixedZone("", offset%(24*3600))), Data: json.RawMessage(data)}
		checkRouted(t, rt, ev)
		ev.Time = ev.Time.UTC()
		checkRouted(t, rt, ev)
	})
}

type routedSender struct {
	msgs   []queue.Message
	routed []event.Routed
}

func (s *routedSender) Send(_ context.Context, msgs ...queue.Message) error {
	s.msgs = append(s.msgs, msgs...)
	s.routed = append(s.routed, make([]event.Routed, len(msgs))...)
	return nil
}

func (s *routedSender) SendRouted(_ context.Context, routed []event.Routed, msgs []queue.Message) error {
	s.msgs = append(s.msgs, msgs...)
	s.routed = append(s.routed, routed...)
	return nil
}

var _ RoutedSender = (*routedSender)(nil)

// A RoutedSender gets the event of a plain publish to a subscription with
// its message; one with extension attributes, the message alone.
func TestPublishGivesARoutedSenderTheEvent(t *testing.T) {
	ctx := t.Context()
	st := memstore.New()
	t.Cleanup(func() { st.Close() })
	_, err := config.Insert(ctx, st, config.Item{Kind: config.KindTenant, ID: "t-1", Name: "app"},
		config.Tenant{ID: "t-1", App: "app", Plan: "test", PublishKeyHash: config.HashKey("key")})
	require.NoError(t, err)
	_, err = config.Insert(ctx, st, config.Item{Tenant: "t-1", Kind: config.KindSubscription, ID: "sub-1", Name: "inbound"},
		config.Subscription{ID: "sub-1", Name: "inbound", Platform: config.PlatformWebhook})
	require.NoError(t, err)
	in := &routedSender{}
	h, err := New(Options{Store: st, Ingest: in, Delivery: &routedSender{}})
	require.NoError(t, err)
	for _, c := range []struct {
		ctype, body string
	}{
		{"application/json", `{ "a": "<1>" }`},
		{"application/cloudevents+json", `{"specversion":"1.0","id":"e-2","source":"/s","type":"t","data":{"a":2}}`},
		{"application/cloudevents+json", `{"specversion":"1.0","id":"e-3","source":"/s","type":"t","myext":"x","data":{"a":3}}`},
	} {
		req := httptest.NewRequest(http.MethodPost, "/publish/inbound", strings.NewReader(c.body))
		req.SetBasicAuth("t-1", "key")
		req.Header.Set("Content-Type", c.ctype)
		w := httptest.NewRecorder()
		h.ServeHTTP(w, req)
		require.Equal(t, http.StatusAccepted, w.Code, w.Body.String())
	}
	require.Len(t, in.msgs, 3)
	for i, m := range in.msgs[:2] {
		var decoded event.Routed
		require.NoError(t, json.Unmarshal(m.Body, &decoded))
		assert.Equal(t, decoded, in.routed[i])
	}
	assert.Equal(t, event.Routed{}, in.routed[2], "an event with extension attributes goes as its message alone")
}
