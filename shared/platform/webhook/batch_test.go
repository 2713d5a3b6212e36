package webhook_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	cloudevents "github.com/cloudevents/sdk-go/v2/event"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/herokuevents/herokuevents/shared/config"
	"github.com/herokuevents/herokuevents/shared/event"
	"github.com/herokuevents/herokuevents/shared/platform"
	"github.com/herokuevents/herokuevents/shared/platform/webhook"
	"github.com/herokuevents/herokuevents/shared/platform/webhook/cloudevent"
	"github.com/herokuevents/herokuevents/shared/sink"
)

// TestBatchSettings: batch_size and batch_window at create and update —
// kept in canonical form, 100ms by default, off with 0, refused out of
// bounds, with a window alone or with binary mode.
func TestBatchSettings(t *testing.T) {
	r := registry(t)
	base := `"name":"hook","url":"http://127.0.0.1:9/hook","skip_handshake":true`
	for _, tt := range []struct {
		name, body   string
		size         int
		window, fail string
	}{
		{name: "off", body: ``},
		{name: "default window", body: `,"batch_size":50`, size: 50, window: "100ms"},
		{name: "window", body: `,"batch_size":2,"batch_window":"1500ms"`, size: 2, window: "1.5s"},
		{name: "largest", body: `,"batch_size":100,"batch_window":"5s"`, size: 100, window: "5s"},
		{name: "zero", body: `,"batch_size":0`},
		{name: "one", body: `,"batch_size":1`, fail: "batch_size 1: use 2 to 100 events per request"},
		{name: "too many", body: `,"batch_size":101`, fail: "batch_size 101: use 2 to 100"},
		{name: "window too long", body: `,"batch_size":10,"batch_window":"6s"`, fail: `batch_window "6s": give a duration from 1ms to 5s`},
		{name: "window not a duration", body: `,"batch_size":10,"batch_window":"soon"`, fail: `batch_window "soon"`},
		{name: "window alone", body: `,"batch_window":"1s"`, fail: "batch_window applies to batched delivery: give batch_size too."},
		{name: "binary", body: `,"batch_size":10,"mode":"binary"`, fail: "binary mode sends one event per request"},
		{name: "not a number", body: `,"batch_size":"10"`, fail: "batch_size"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			pub, err := create(t, r, "{"+base+tt.body+"}")
			if tt.fail != "" {
				require.ErrorIs(t, err, config.ErrInvalid)
				assert.Contains(t, err.Error(), tt.fail)
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tt.size, pub.Params.BatchSize)
			assert.Equal(t, tt.window, pub.Params.BatchWindow)
		})
	}

	current := config.Publication{Name: "hook", Platform: config.PlatformWebhook, Params: config.Params{URL: "http://127.0.0.1:9/hook", BatchSize: 50, BatchWindow: "100ms"}}
	for _, tt := range []struct {
		name, body   string
		size         int
		window, fail string
	}{
		{name: "size kept", body: `{"rate":1}`, size: 50, window: "100ms"},
		{name: "new size keeps the window", body: `{"batch_size":20}`, size: 20, window: "100ms"},
		{name: "new window", body: `{"batch_window":"2s"}`, size: 50, window: "2s"},
		{name: "window back to the default", body: `{"batch_window":"0"}`, size: 50, window: "100ms"},
		{name: "off drops the window", body: `{"batch_size":0}`},
		{name: "binary refused while batching", body: `{"mode":"binary"}`, fail: "binary mode sends one event per request"},
		{name: "binary with batching off", body: `{"mode":"binary","batch_size":0}`},
	} {
		t.Run("update "+tt.name, func(t *testing.T) {
			pub, _, err := r.UpdatePublication(t.Context(), "t1", current, []byte(tt.body))
			if tt.fail != "" {
				require.ErrorIs(t, err, config.ErrInvalid)
				assert.Contains(t, err.Error(), tt.fail)
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tt.size, pub.Params.BatchSize)
			assert.Equal(t, tt.window, pub.Params.BatchWindow)
		})
	}
}

// TestPublishBatch: a batch is one POST of a JSON array of structured
// CloudEvents that the CloudEvents Go SDK reads back (ids, order, data
// byte for byte), signed once over that body with a webhook-id that
// depends only on the set of event ids; a 5xx is the whole batch's retry.
func TestPublishBatch(t *testing.T) {
	tg := newTarget(t, answer(http.StatusOK))
	d := deps(t)
	p, err := cloudevent.Engine{}.Publisher(t.Context(), d)
	require.NoError(t, err)
	bp, ok := p.(platform.BatchPublisher)
	require.True(t, ok, "the webhook publisher sends batches")
	secret, err := sink.NewSigningSecret()
	require.NoError(t, err)
	pub := config.Publication{Name: "hook", Platform: config.PlatformWebhook, SecretSealed: []byte(secret),
		Params: config.Params{URL: tg.URL + "/hook", BatchSize: 10, BatchWindow: "100ms"}}
	evs := make([]event.Event, 3)
	for i := range evs {
		evs[i] = event.Event{ID: fmt.Sprintf("ev-%d", 3-i), Source: "/t1/subscriptions/s", Type: "com.example.t",
			Time: time.Date(2026, 3, 1, 0, 0, i, 0, time.UTC), DataContentType: "application/json", Data: json.RawMessage(fmt.Sprintf(`{"n": %d}`, i))}
	}
	require.NoError(t, bp.PublishBatch(t.Context(), "t1", pub, evs))
	reqs := tg.got()
	require.Len(t, reqs, 1)
	req := reqs[0]
	assert.Equal(t, webhook.BatchContentType, req.Header.Get("Content-Type"))
	assert.Equal(t, "3", req.Header.Get(webhook.HeaderBatchSize))
	require.NoError(t, sink.Verify(secret, req.Header, req.Body))
	var got []cloudevents.Event
	require.NoError(t, json.Unmarshal(req.Body, &got), string(req.Body))
	require.Len(t, got, 3)
	for i, ce := range got {
		require.NoError(t, ce.Validate())
		assert.Equal(t, evs[i].ID, ce.ID(), "in the order given")
		assert.Equal(t, string(evs[i].Data), string(ce.Data()), "data byte for byte")
	}
	reversed := []event.Event{evs[2], evs[1], evs[0]}
	assert.Equal(t, req.Header.Get("webhook-id"), cloudevent.BatchID(reversed), "the id depends on the set of events only")
	assert.NotEqual(t, cloudevent.BatchID(evs), cloudevent.BatchID(evs[:2]))

	pub.Params.ContentType = webhook.LegacyContentType
	require.NoError(t, bp.PublishBatch(t.Context(), "t1", pub, evs))
	assert.Equal(t, "application/json", tg.got()[1].Header.Get("Content-Type"))

	down := httptest.NewServer(answer(http.StatusServiceUnavailable))
	t.Cleanup(down.Close)
	pub.Params.URL = down.URL
	var se *sink.Error
	require.ErrorAs(t, bp.PublishBatch(t.Context(), "t1", pub, evs), &se)
	assert.Equal(t, sink.Retry, se.Result.Class)
}

// FuzzCheckBatch: any batch settings are either refused as invalid input
// or come back within bounds, in a form Batching reads back unchanged.
func FuzzCheckBatch(f *testing.F) {
	for _, s := range []struct {
		size   int
		window string
	}{{0, ""}, {50, ""}, {2, "1ms"}, {100, "5s"}, {10, "0"}, {1, "1s"}, {10, "-1s"}, {10, "1h"}, {10, " 250ms "}} {
		f.Add(s.size, s.window)
	}
	f.Fuzz(func(t *testing.T, size int, window string) {
		n, w, err := webhook.CheckBatch("", size, window)
		if err != nil {
			require.ErrorIs(t, err, config.ErrInvalid)
			return
		}
		if n == 0 {
			assert.Empty(t, w)
			return
		}
		assert.True(t, n >= platform.MinBatchSize && n <= platform.MaxBatchSize, n)
		gotN, gotW := platform.Batching(config.Publication{Params: config.Params{BatchSize: n, BatchWindow: w}})
		assert.Equal(t, n, gotN)
		assert.Equal(t, w, gotW.String())
		assert.True(t, gotW >= time.Millisecond && gotW <= platform.MaxBatchWindow, gotW)
	})
}
