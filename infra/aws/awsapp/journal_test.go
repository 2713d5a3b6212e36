package awsapp_test

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/herokuevents/herokuevents/infra/aws/awsapp"
	"github.com/herokuevents/herokuevents/infra/aws/awsenv"
	"github.com/herokuevents/herokuevents/shared/config"
	"github.com/herokuevents/herokuevents/shared/event"
	"github.com/herokuevents/herokuevents/shared/journal"
	"github.com/herokuevents/herokuevents/shared/platform"
	"github.com/herokuevents/herokuevents/shared/platform/catalog"
	"github.com/herokuevents/herokuevents/shared/platform/webhook/cloudevent"
	"github.com/herokuevents/herokuevents/shared/platform/webhook/webhooktest"
	"github.com/herokuevents/herokuevents/shared/queue"
	"github.com/herokuevents/herokuevents/shared/sfsub"
)

// TestDeliveryLogOnAWS: in the AWS mode, the deliver function (built as
// functions/deliver does) writes each attempt to the template's
// JournalTable before its batch returns, and the api function's handler
// lists them, traces the event and queues a retry on DeliveryQueue.
func TestDeliveryLogOnAWS(t *testing.T) {
	api := apiOnAWS(t, catalog.All(), "21234567-89ab-cdef-0123-456789abcdef")
	var calls atomic.Int32
	hook := httptest.NewServer(webhooktest.Consent(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		if calls.Add(1) == 1 {
			http.Error(w, "busy", http.StatusInternalServerError)
		}
	})))
	t.Cleanup(hook.Close)

	var pub struct {
		ID string `json:"id"`
	}
	require.Equal(t, http.StatusCreated, do(t, api.h, http.MethodPost, api.path+"/platforms/webhook/publications", api.bearer,
		map[string]any{"name": "hook", "url": hook.URL + "/hook"}, &pub))

	for k, v := range api.st.Env("DeliverFunction") {
		t.Setenv(k, v)
	}
	denv := awsenv.MustLoad(t.Context(), "deliver")
	log := denv.JournalWriter()
	t.Cleanup(func() { _ = log.Close() })
	dapp, err := awsapp.New(denv, awsapp.Options{Platforms: catalog.All(), DataPlane: true, Journal: log,
		Engines: map[string]platform.Engine{config.PlatformSalesforce: sfsub.Engine{}, config.PlatformWebhook: cloudevent.Engine{}}})
	require.NoError(t, err)
	dh, err := dapp.Deliver(t.Context())
	require.NoError(t, err)
	handler := journal.FlushBatches(dh, log)
	ev := event.Event{ID: "ev-aws-1", Source: "/s", Type: event.TypePublish, Time: time.Now().UTC(), Data: json.RawMessage(`{"n":1}`)}
	for attempt := range 2 {
		body, err := json.Marshal(event.Delivery{Tenant: api.tenant, Publication: pub.ID, Event: ev, Attempt: attempt, FirstTry: time.Now().UTC()})
		require.NoError(t, err)
		res := handler.HandleBatch(t.Context(), []queue.Message{{ID: "m", Body: body, Receives: 1}})
		require.Empty(t, res.Failures)
	}

	var list []struct {
		Attempt       int       `json:"attempt"`
		Outcome       string    `json:"outcome"`
		Status        int       `json:"status"`
		Response      string    `json:"response"`
		NextAttemptAt time.Time `json:"next_attempt_at"`
	}
	require.Equal(t, http.StatusOK, do(t, api.h, http.MethodGet, api.path+"/publications/hook/deliveries", api.bearer, nil, &list))
	require.Len(t, list, 2, "written before each batch returned")
	assert.Equal(t, 2, list[0].Attempt)
	assert.Equal(t, "delivered", list[0].Outcome)
	assert.Equal(t, 1, list[1].Attempt)
	assert.Equal(t, "retry", list[1].Outcome)
	assert.Equal(t, 500, list[1].Status)
	assert.Equal(t, "busy\n", list[1].Response)
	assert.False(t, list[1].NextAttemptAt.IsZero())

	var tr struct {
		Steps []struct{ Stage, Publication string }
	}
	require.Equal(t, http.StatusOK, do(t, api.h, http.MethodGet, api.path+"/events/ev-aws-1/trace", api.bearer, nil, &tr))
	require.Len(t, tr.Steps, 2)
	assert.Equal(t, "hook", tr.Steps[0].Publication)

	var health struct {
		Health struct {
			State    string                          `json:"state"`
			LastHour struct{ Delivered, Failed int } `json:"last_hour"`
		} `json:"health"`
	}
	require.Equal(t, http.StatusOK, do(t, api.h, http.MethodGet, api.path+"/publications/hook", api.bearer, nil, &health))
	assert.Equal(t, "active", health.Health.State)
	assert.Equal(t, 1, health.Health.LastHour.Delivered)
	assert.Equal(t, 1, health.Health.LastHour.Failed)

	// Counted, not peeked: a receive need not return every message of a
	// tenant's group at once.
	depth := func() int {
		visible, inFlight, delayed, err := api.st.Depth(t.Context(), "DeliveryQueue")
		require.NoError(t, err)
		return visible + inFlight + delayed
	}
	before := depth()
	require.Equal(t, http.StatusAccepted, do(t, api.h, http.MethodPost, api.path+"/events/ev-aws-1/publications/hook/retry", api.bearer, nil, nil))
	assert.Equal(t, before+1, depth(), "the retry is queued on DeliveryQueue")
}
