package awsapp_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/herokuevents/herokuevents"
	"github.com/herokuevents/herokuevents/infra/aws/awsenv"
	"github.com/herokuevents/herokuevents/infra/aws/dynamoarchive"
	"github.com/herokuevents/herokuevents/infra/samtemplate"
	"github.com/herokuevents/herokuevents/shared/archive"
	"github.com/herokuevents/herokuevents/shared/event"
	"github.com/herokuevents/herokuevents/shared/filter"
	"github.com/herokuevents/herokuevents/shared/lambdaio"
	"github.com/herokuevents/herokuevents/shared/platform/catalog"
	"github.com/herokuevents/herokuevents/shared/platform/webhook/webhooktest"
	"github.com/herokuevents/herokuevents/shared/queue"
	"github.com/herokuevents/herokuevents/shared/replay"
)

// TestReplayOnAWS: the filter function (built as functions/filter does)
// archives the events it routes in the template's ArchiveTable; a replay
// created through the api function's handler is run by step messages on
// the IngestQueue, each handled by the filter function and queueing the
// next, until the window's events are on the DeliveryQueue, flagged
// replayed, for the one publication asked.
func TestReplayOnAWS(t *testing.T) {
	api := apiOnAWS(t, catalog.All(), "61234567-89ab-cdef-0123-456789abcdef")
	hook := httptest.NewServer(webhooktest.Consent(http.HandlerFunc(func(http.ResponseWriter, *http.Request) {})))
	t.Cleanup(hook.Close)
	var sub, pub struct {
		ID string `json:"id"`
	}
	require.Equal(t, http.StatusCreated, do(t, api.h, http.MethodPost, api.path+"/platforms/webhook/subscriptions", api.bearer, map[string]any{"name": "inbound"}, &sub))
	require.Equal(t, http.StatusCreated, do(t, api.h, http.MethodPost, api.path+"/platforms/webhook/publications", api.bearer,
		map[string]any{"name": "audit", "url": hook.URL + "/in"}, &pub))

	for k, v := range api.st.Env("FilterFunction") {
		t.Setenv(k, v)
	}
	env := awsenv.MustLoad(t.Context(), "filter")
	store := dynamoarchive.FromConfig(env.AWS, os.Getenv("ARCHIVE_TABLE"))
	archived := archive.NewWriter(store, archive.WriterOptions{Logger: env.Logger})
	t.Cleanup(func() { _ = archived.Close(context.Background()) })
	flt, err := filter.New(filter.Options{Store: env.DataStore(), Delivery: env.DeliveryQueue(), Logger: env.Logger, Archive: archived})
	require.NoError(t, err)
	runner := &replay.Runner{Store: env.Store(), Archive: store, Route: flt, Logger: env.Logger}
	steps := replay.Steps(archive.FlushAfter(flt, archived, 5*time.Second), runner, replay.QueueKicker{Queue: env.Queue("INGEST_QUEUE_URL")})
	settings, err := samtemplate.Settings(herokuevents.Template, "FilterFunction")
	require.NoError(t, err)
	lambda := lambdaio.SQS(steps, settings, env.Queue("INGEST_DLQ_URL"))

	const n = 6
	var msgs []queue.Message
	for i := range n {
		body, err := json.Marshal(event.Routed{Tenant: api.tenant, Subscription: sub.ID, Event: event.Event{
			ID: fmt.Sprintf("ev-%d", i), Source: "/s", Type: event.TypePublish, Time: time.Now().UTC(), Data: json.RawMessage(fmt.Sprintf(`{"n":%d}`, i))}})
		require.NoError(t, err)
		msgs = append(msgs, queue.Message{ID: fmt.Sprint(i), Body: body, Receives: 1})
	}
	require.Empty(t, steps.HandleBatch(t.Context(), msgs).Failures)
	drain(t, api, "DeliveryQueue", n) // the stream-less subscription routes nothing: none

	var job struct {
		ID    string `json:"id"`
		State string `json:"state"`
		Sent  int    `json:"sent"`
	}
	require.Equal(t, http.StatusCreated, do(t, api.h, http.MethodPost, api.path+"/subscriptions/inbound/replays", api.bearer,
		map[string]any{"from": "-1h", "to": time.Now().Add(time.Minute).Format(time.RFC3339), "publication": "audit", "rate": 4}, &job))
	for i := 0; job.State != replay.StateDone; i++ {
		require.Less(t, i, 20, "the replay ends")
		payload, got, err := api.st.ReceiveEvent(t.Context(), "IngestQueue", 10, 3*time.Second)
		require.NoError(t, err)
		require.Equal(t, 1, got, "one step message at a time")
		var ev events.SQSEvent
		require.NoError(t, json.Unmarshal(payload, &ev))
		res, err := lambda(t.Context(), ev)
		require.NoError(t, err)
		require.Empty(t, res.BatchItemFailures)
		require.Equal(t, http.StatusOK, do(t, api.h, http.MethodGet, api.path+"/replays/"+job.ID, api.bearer, nil, &job))
	}
	assert.Equal(t, n, job.Sent)

	deliveries := drain(t, api, "DeliveryQueue", n+1)
	require.Len(t, deliveries, n)
	seen := map[string]bool{}
	for _, d := range deliveries {
		assert.Equal(t, pub.ID, d.Publication)
		assert.Equal(t, job.ID, d.Event.Extensions[event.ExtReplayed])
		seen[d.Event.ID] = true
	}
	assert.Len(t, seen, n, "every archived event once, with its original id")
	_, got, err := api.st.ReceiveEvent(t.Context(), "IngestQueue", 1, 500*time.Millisecond)
	require.NoError(t, err)
	assert.Zero(t, got, "no step after the last")
}

// drain receives up to n deliveries from a queue of the stack.
func drain(t *testing.T, api apiStack, queueID string, n int) []event.Delivery {
	t.Helper()
	payload, _, err := api.st.ReceiveEvent(t.Context(), queueID, n, time.Second)
	require.NoError(t, err)
	var ev events.SQSEvent
	require.NoError(t, json.Unmarshal(payload, &ev))
	var out []event.Delivery
	for _, m := range ev.Records {
		var d event.Delivery
		require.NoError(t, json.Unmarshal([]byte(m.Body), &d))
		out = append(out, d)
	}
	return out
}
