package embedded_test

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"io"
	"net/http"
	"slices"
	"testing"
	"time"

	cloudevents "github.com/cloudevents/sdk-go/v2/event"
	cehttp "github.com/cloudevents/sdk-go/v2/protocol/http"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/herokuevents/herokuevents/shared/ingest"
)

// TestPublishBatchEndToEnd: a CloudEvents batch made by the CloudEvents Go
// SDK (NewHTTPRequestFromEvents, application/cloudevents-batch+json) to an
// inbound subscription, and a plain JSON array to a publication, are each
// accepted in one request; every event reaches its webhook on its own,
// where the SDK's HTTP binding reads back the attributes and data sent.
func TestPublishBatchEndToEnd(t *testing.T) {
	srv := start(t, 5*time.Second)
	rec := newRecorder(t)
	require.Equal(t, http.StatusCreated, call(t, srv, "POST", "/platforms/webhook/subscriptions", map[string]any{"name": "inbound"}, nil))
	for _, pub := range []map[string]any{
		{"name": "routedHook", "url": rec.URL + "/routed", "source": "inbound"},
		{"name": "directHook", "url": rec.URL + "/direct"},
	} {
		require.Equal(t, http.StatusCreated, call(t, srv, "POST", "/platforms/webhook/publications", pub, nil))
	}
	base := srv.Var("HEROKUEVENTS_PUBLISH_URL")

	var sent []cloudevents.Event
	for i, id := range []string{"order-1", "order 2 é", "order-3"} {
		ev := cloudevents.New()
		ev.SetID(id)
		ev.SetSource("/shop/orders")
		ev.SetType("com.example.order.placed")
		ev.SetSubject("o" + string(rune('1'+i)))
		ev.SetTime(time.Date(2026, 12, 3, 10, 0, i, 0, time.UTC))
		ev.SetExtension("region", "eu-west")
		require.NoError(t, ev.SetData(cloudevents.ApplicationJSON, map[string]any{"n": i, "note": "café"}))
		sent = append(sent, ev)
	}
	req, err := cehttp.NewHTTPRequestFromEvents(t.Context(), base+"/inbound", sent)
	require.NoError(t, err)
	var ids ingest.AcceptedBatch
	require.Equal(t, http.StatusAccepted, do(t, req, &ids))
	assert.Equal(t, []string{"order-1", "order 2 é", "order-3"}, ids.IDs)

	req, err = http.NewRequestWithContext(t.Context(), http.MethodPost, base+"/directHook", bytes.NewReader([]byte(`[{"n":1},{"n":2}]`)))
	require.NoError(t, err)
	req.Header.Set("Content-Type", "application/json")
	var direct ingest.AcceptedBatch
	require.Equal(t, http.StatusAccepted, do(t, req, &direct))
	require.Len(t, direct.IDs, 2)

	require.Eventually(t, func() bool { return len(rec.got("/routed")) >= 3 && len(rec.got("/direct")) >= 2 },
		20*time.Second, 20*time.Millisecond, "not every event was delivered")
	got := map[string]cloudevents.Event{}
	for _, r := range rec.got("/routed") {
		ev := parse(t, r)
		got[ev.ID()] = *ev
	}
	require.Len(t, got, 3)
	for _, want := range sent {
		ev, ok := got[want.ID()]
		require.True(t, ok, "%q delivered", want.ID())
		assert.Equal(t, want.Source(), ev.Source())
		assert.Equal(t, want.Type(), ev.Type())
		assert.Equal(t, want.Subject(), ev.Subject())
		assert.True(t, want.Time().Equal(ev.Time()))
		assert.Equal(t, "eu-west", ev.Extensions()["region"])
		assert.JSONEq(t, string(want.Data()), string(ev.Data()))
	}
	var directIDs []string
	for _, r := range rec.got("/direct") {
		directIDs = append(directIDs, parse(t, r).ID())
	}
	slices.Sort(directIDs)
	want := slices.Sorted(slices.Values(direct.IDs))
	assert.Equal(t, want, directIDs)
}

// do sends req and decodes its JSON answer into out.
func do(t *testing.T, req *http.Request, out any) int {
	t.Helper()
	res, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	require.NoError(t, err)
	if res.StatusCode < 300 {
		require.NoError(t, json.Unmarshal(b, out), string(b))
	}
	return res.StatusCode
}

// parse reads a recorded webhook request with the SDK's HTTP binding.
func parse(t *testing.T, r sdkRequest) *cloudevents.Event {
	t.Helper()
	body, err := base64.StdEncoding.DecodeString(r.BodyBase64)
	require.NoError(t, err)
	req, err := http.NewRequest(http.MethodPost, "/", bytes.NewReader(body))
	require.NoError(t, err)
	for k, v := range r.Headers {
		req.Header.Set(k, v)
	}
	ev, err := cehttp.NewEventFromHTTPRequest(req)
	require.NoError(t, err)
	return ev
}
