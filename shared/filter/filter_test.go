package filter_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/herokuevents/herokuevents/shared/config"
	"github.com/herokuevents/herokuevents/shared/config/memstore"
	"github.com/herokuevents/herokuevents/shared/event"
	"github.com/herokuevents/herokuevents/shared/filter"
	"github.com/herokuevents/herokuevents/shared/metric"
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

func deliveries(t *testing.T, r *recorder) []event.Delivery {
	t.Helper()
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []event.Delivery
	for _, m := range r.msgs {
		var d event.Delivery
		require.NoError(t, json.Unmarshal(m.Body, &d))
		out = append(out, d)
	}
	return out
}

const tenant = "t-1"

// setup stores a subscription with three streams: no filter, a dropping
// filter, and a transforming one.
func setup(t *testing.T) (*filter.Handler, *recorder) {
	t.Helper()
	st := memstore.New()
	t.Cleanup(func() { st.Close() })
	ctx := t.Context()
	for _, s := range []config.Stream{
		{ID: "s-1", Subscription: "sub-1", Publication: "pub-all"},
		{ID: "s-2", Subscription: "sub-1", Publication: "pub-drop", Filter: `root = if this.Context__c.string == "drop" { deleted() } else { this }`},
		{ID: "s-3", Subscription: "sub-1", Publication: "pub-total", Filter: `root.total = this.a + this.b`},
		{ID: "s-4", Subscription: "sub-other", Publication: "pub-other"},
	} {
		_, err := config.Insert(ctx, st, config.Item{Tenant: tenant, Kind: config.KindStream, ID: s.ID, Name: config.StreamName(s.Subscription, s.Publication)}, s)
		require.NoError(t, err)
	}
	rec := &recorder{}
	h, err := filter.New(filter.Options{Store: st, Delivery: rec})
	require.NoError(t, err)
	return h, rec
}

func routed(t *testing.T, id, sub, data string) queue.Message {
	t.Helper()
	b, err := json.Marshal(event.Routed{Tenant: tenant, Subscription: sub, Event: event.Event{ID: "ev-" + id, Source: "/s", Type: "t", Data: json.RawMessage(data)}})
	require.NoError(t, err)
	return queue.Message{ID: id, Body: b}
}

func byPublication(ds []event.Delivery) map[string]event.Delivery {
	m := map[string]event.Delivery{}
	for _, d := range ds {
		m[d.Publication] = d
	}
	return m
}

func TestRoutesThroughStreams(t *testing.T) {
	cases := []struct {
		name string
		data string
		want map[string]string // publication → data
	}{
		{"pass", `{"Context__c":{"string":"keep"},"a":1,"b":2}`, map[string]string{
			"pub-all": `{"Context__c":{"string":"keep"},"a":1,"b":2}`, "pub-drop": `{"Context__c":{"string":"keep"},"a":1,"b":2}`, "pub-total": `{"total":3}`}},
		{"drop", `{"Context__c":{"string":"drop"},"a":1,"b":1}`, map[string]string{
			"pub-all": `{"Context__c":{"string":"drop"},"a":1,"b":1}`, "pub-total": `{"total":2}`}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			h, rec := setup(t)
			res := h.HandleBatch(t.Context(), []queue.Message{routed(t, "m1", "sub-1", c.data)})
			assert.Empty(t, res.Failures)
			got := byPublication(deliveries(t, rec))
			require.Len(t, got, len(c.want))
			for pub, data := range c.want {
				d, ok := got[pub]
				require.True(t, ok, pub)
				assert.Equal(t, data, string(d.Event.Data))
				assert.Equal(t, "ev-m1", d.Event.ID, "the event id is kept")
				assert.Equal(t, tenant, d.Tenant)
			}
		})
	}
}

func TestPerMessageFailures(t *testing.T) {
	h, rec := setup(t)
	msgs := []queue.Message{
		routed(t, "ok", "sub-other", `{"x":1}`),
		{ID: "poison", Body: []byte(`{not json`)},
		routed(t, "runtime", "sub-1", `{"Context__c":{"string":"keep"},"a":"x","b":2}`),
	}
	res := h.HandleBatch(t.Context(), msgs)
	failed := map[string]error{}
	for _, f := range res.Failures {
		failed[f.ID] = f.Err
	}
	require.Len(t, failed, 2)
	assert.True(t, queue.IsPermanent(failed["poison"]))
	assert.True(t, queue.IsPermanent(failed["runtime"]))
	assert.Contains(t, failed["runtime"].Error(), "pub-total")
	got := byPublication(deliveries(t, rec))
	assert.Contains(t, got, "pub-other", "the good message of the batch is routed")
	assert.Contains(t, got, "pub-all", "the streams whose filter ran are routed")
}

func TestEnqueueFailureFailsTheBatch(t *testing.T) {
	h, rec := setup(t)
	rec.err = errors.New("queue down")
	res := h.HandleBatch(t.Context(), []queue.Message{routed(t, "a", "sub-1", `{"a":1,"b":1}`), routed(t, "b", "sub-other", `{}`)})
	require.Len(t, res.Failures, 2)
	for _, f := range res.Failures {
		assert.False(t, queue.IsPermanent(f.Err), "redelivered, not dead-lettered")
	}
}

type counter struct {
	mu sync.Mutex
	n  map[string]int
}

func (c *counter) Count(_ context.Context, name string, n int, _ ...string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.n[name] += n
}

func (c *counter) Duration(context.Context, string, time.Duration, ...string) {}

func TestMetrics(t *testing.T) {
	h, _ := setup(t)
	c := &counter{n: map[string]int{}}
	h, err := filter.New(filter.Options{Store: h.Store(), Delivery: &recorder{}, Metrics: c})
	require.NoError(t, err)
	h.HandleBatch(t.Context(), []queue.Message{
		routed(t, "m1", "sub-1", `{"Context__c":{"string":"drop"},"a":1,"b":1}`),
		{ID: "poison", Body: []byte(`nope`)},
	})
	assert.Equal(t, 1, c.n[metric.FilteredOut])
	assert.Equal(t, 1, c.n[metric.DeadLettered])
}

func TestFilterSeesCDCFieldNames(t *testing.T) {
	h, rec := setup(t)
	st := h.Store()
	_, err := config.Insert(t.Context(), st, config.Item{Tenant: tenant, Kind: config.KindStream, ID: "s-cdc", Name: config.StreamName("sub-cdc", "pub-cdc")},
		config.Stream{ID: "s-cdc", Subscription: "sub-cdc", Publication: "pub-cdc", Filter: `root = if this._herokuevents.changedfields.contains("Industry") { this } else { deleted() }`})
	require.NoError(t, err)
	msg := func(id, fields string) queue.Message {
		b, err := json.Marshal(event.Routed{Tenant: tenant, Subscription: "sub-cdc", Event: event.Event{
			ID: id, Source: "/s", Type: event.TypeCDC, Subject: "/data/AccountChangeEvent",
			Data: json.RawMessage(`{"Name":{"string":"Acme"}}`), Extensions: map[string]any{"changedfields": fields},
		}})
		require.NoError(t, err)
		return queue.Message{ID: id, Body: b}
	}
	res := h.HandleBatch(t.Context(), []queue.Message{msg("keep", "Name,Industry"), msg("drop", "Name")})
	require.Empty(t, res.Failures)
	got := deliveries(t, rec)
	require.Len(t, got, 1)
	assert.Equal(t, "keep", got[0].Event.ID)
	assert.Equal(t, `{"Name":{"string":"Acme"}}`, string(got[0].Event.Data), "the data is delivered as it was")
}

// TestFilterSeesAndKeepsSenderAttributes: a sender's extension attributes
// (string, boolean, number) and dataschema are visible to the filter at
// this._herokuevents and travel to the delivery unchanged, even when the
// filter rewrites the data; only the CDC field lists become arrays.
func TestFilterSeesAndKeepsSenderAttributes(t *testing.T) {
	h, rec := setup(t)
	_, err := config.Insert(t.Context(), h.Store(), config.Item{Tenant: tenant, Kind: config.KindStream, ID: "s-ext", Name: config.StreamName("sub-ext", "pub-ext")},
		config.Stream{ID: "s-ext", Subscription: "sub-ext", Publication: "pub-ext", Filter: `root = if this._herokuevents.region == "eu" && this._herokuevents.sampled && this._herokuevents.priority > 2 {
  {"seen": [this._herokuevents.dataschema, this._herokuevents.customfields]}
} else { deleted() }`})
	require.NoError(t, err)
	ext := map[string]any{"region": "eu", "sampled": true, "priority": int32(3), "customfields": "a,b"}
	b, err := json.Marshal(event.Routed{Tenant: tenant, Subscription: "sub-ext", Event: event.Event{
		ID: "ev-ext", Source: "/s", Type: "t", DataSchema: "https://example.com/s.json", Data: json.RawMessage(`{"x":1}`), Extensions: ext,
	}})
	require.NoError(t, err)
	res := h.HandleBatch(t.Context(), []queue.Message{{ID: "m", Body: b}})
	require.Empty(t, res.Failures)
	got := deliveries(t, rec)
	require.Len(t, got, 1)
	assert.JSONEq(t, `{"seen":["https://example.com/s.json","a,b"]}`, string(got[0].Event.Data))
	assert.Equal(t, "https://example.com/s.json", got[0].Event.DataSchema)
	assert.Equal(t, map[string]any{"region": "eu", "sampled": true, "priority": float64(3), "customfields": "a,b"}, got[0].Event.Extensions)
}

// Every line about an event's routing names its tenant, subscription and
// event id first, then the stream's publication.
func TestRoutingLogLines(t *testing.T) {
	st := memstore.New()
	t.Cleanup(func() { st.Close() })
	for _, s := range []config.Stream{
		{ID: "s-1", Subscription: "sub-1", Publication: "pub-all"},
		{ID: "s-2", Subscription: "sub-1", Publication: "pub-drop", Filter: `root = deleted()`},
	} {
		_, err := config.Insert(t.Context(), st, config.Item{Tenant: tenant, Kind: config.KindStream, ID: s.ID, Name: config.StreamName(s.Subscription, s.Publication)}, s)
		require.NoError(t, err)
	}
	var buf bytes.Buffer
	logger := slog.New(slog.NewJSONHandler(&buf, &slog.HandlerOptions{ReplaceAttr: func(_ []string, a slog.Attr) slog.Attr {
		if a.Key == slog.TimeKey {
			return slog.Attr{}
		}
		return a
	}}))
	h, err := filter.New(filter.Options{Store: st, Delivery: &recorder{}, Logger: logger})
	require.NoError(t, err)
	res := h.HandleBatch(t.Context(), []queue.Message{routed(t, "m1", "sub-1", `{"a":1}`), routed(t, "m2", "sub-none", `{"a":1}`)})
	require.Empty(t, res.Failures)
	assert.Equal(t, `{"level":"INFO","msg":"routed","tenant":"t-1","subscription":"sub-1","event_id":"ev-m1","publication":"pub-all"}
{"level":"INFO","msg":"filtered out","tenant":"t-1","subscription":"sub-1","event_id":"ev-m1","publication":"pub-drop"}
{"level":"INFO","msg":"no streams: event dropped","tenant":"t-1","subscription":"sub-none","event_id":"ev-m2"}
`, buf.String())
}

// HandleRouted routes events given decoded as HandleBatch routes their
// messages.
func TestHandleRoutedIsHandleBatch(t *testing.T) {
	data := `{"Context__c":{"string":"keep"},"a":1,"b":2}`
	h, viaBatch := setup(t)
	m := routed(t, "m1", "sub-1", data)
	require.Empty(t, h.HandleBatch(t.Context(), []queue.Message{m}).Failures)

	h, viaRouted := setup(t)
	var r event.Routed
	require.NoError(t, json.Unmarshal(m.Body, &r))
	require.Empty(t, h.HandleRouted(t.Context(), []queue.Message{m}, []event.Routed{r}).Failures)
	require.Empty(t, h.HandleRouted(t.Context(), []queue.Message{m}, nil).Failures, "without its events, the messages are decoded")

	want := byPublication(deliveries(t, viaBatch))
	got := deliveries(t, viaRouted)
	require.Len(t, got, 2*len(want))
	for _, d := range got {
		w := want[d.Publication]
		w.FirstTry, d.FirstTry = time.Time{}, time.Time{}
		assert.Equal(t, w, d)
	}
}
