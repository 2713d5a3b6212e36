package awsapp_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/herokuevents/herokuevents/infra/aws/awsenv"
	"github.com/herokuevents/herokuevents/shared/event"
	"github.com/herokuevents/herokuevents/shared/filter"
	"github.com/herokuevents/herokuevents/shared/platform/catalog"
	"github.com/herokuevents/herokuevents/shared/queue"
	"github.com/herokuevents/herokuevents/shared/recent"
)

// TestStreamsTestOnAWS: in the AWS mode, the filter function (built as
// functions/filter does) keeps the events it routes in the template's
// RecentEventsTable, flushed before its batch returns, and the api
// function's handler runs streams:test over them.
func TestStreamsTestOnAWS(t *testing.T) {
	api := apiOnAWS(t, catalog.All(), "11234567-89ab-cdef-0123-456789abcdef")
	var sub struct {
		ID string `json:"id"`
	}
	require.Equal(t, http.StatusCreated, do(t, api.h, http.MethodPost, api.path+"/platforms/webhook/subscriptions", api.bearer, map[string]any{"name": "inbound"}, &sub))

	for k, v := range api.st.Env("FilterFunction") {
		t.Setenv(k, v)
	}
	env := awsenv.MustLoad(t.Context(), "filter")
	kept := recent.NewWriter(env.Recent(), recent.WriterOptions{Logger: env.Logger})
	t.Cleanup(func() { _ = kept.Close(context.Background()) })
	flt, err := filter.New(filter.Options{Store: env.DataStore(), Delivery: env.Queue("DELIVERY_QUEUE_URL"), Logger: env.Logger, Recent: kept})
	require.NoError(t, err)
	var msgs []queue.Message
	for n := 1; n <= 4; n++ {
		body, err := json.Marshal(event.Routed{Tenant: api.tenant, Subscription: sub.ID, Event: event.Event{
			ID: fmt.Sprintf("ev-%d", n), Source: "/s", Type: event.TypePublish, Time: time.Now().UTC(), Data: json.RawMessage(fmt.Sprintf(`{"n":%d}`, n))}})
		require.NoError(t, err)
		msgs = append(msgs, queue.Message{ID: fmt.Sprint(n), Body: body, Receives: 1})
	}
	res := recent.FlushAfter(flt, kept, 5*time.Second).HandleBatch(t.Context(), msgs)
	require.Empty(t, res.Failures)

	var tested struct {
		Events []struct {
			ID     string `json:"id"`
			Result string `json:"result"`
		} `json:"events"`
		Kept, Dropped, Total int
	}
	status := do(t, api.h, http.MethodPost, api.path+"/streams/test", api.bearer,
		map[string]any{"source": "inbound", "filter": `root = if this.n > 2 { this } else { deleted() }`}, &tested)
	require.Equal(t, http.StatusOK, status)
	assert.Equal(t, 4, tested.Total)
	assert.Equal(t, 2, tested.Kept)
	assert.Equal(t, 2, tested.Dropped)
	require.Len(t, tested.Events, 4)
	assert.Equal(t, "ev-1", tested.Events[0].ID)
	assert.Equal(t, "dropped", tested.Events[0].Result)
	assert.Equal(t, "kept", tested.Events[3].Result)
}
