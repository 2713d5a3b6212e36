package awsapp_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/herokuevents/herokuevents/infra/aws/awsenv"
	"github.com/herokuevents/herokuevents/infra/aws/awsingest"
	"github.com/herokuevents/herokuevents/shared/config"
	"github.com/herokuevents/herokuevents/shared/dataaction"
	"github.com/herokuevents/herokuevents/shared/event"
	"github.com/herokuevents/herokuevents/shared/filter"
	"github.com/herokuevents/herokuevents/shared/platform/catalog"
	"github.com/herokuevents/herokuevents/shared/queue"
	"github.com/herokuevents/herokuevents/shared/salesforce/standin"
)

// TestPullAndDataActionsOnAWS: in the AWS mode, the filter function
// (built as functions/filter does) buffers a pull subscription's events in
// the template's PullTable, the ingest function's handler (as
// functions/ingest builds it) serves them at the subscribe URL with leases
// and acks, the api reports the backlog, and data action targets take
// signed requests only.
func TestPullAndDataActionsOnAWS(t *testing.T) {
	api := apiOnAWS(t, catalog.All(), "21234567-89ab-cdef-0123-456789abcdef")
	app := provision(t, api, "31234567-89ab-cdef-0123-456789abcdef", "pull-app")
	subURL, err := url.Parse(app.Config["HEROKUEVENTS_SUBSCRIBE_URL"])
	require.NoError(t, err, "provisioning hands out HEROKUEVENTS_SUBSCRIBE_URL")
	tenant, path, bearer := app.ID, app.APIPath, app.Bearer
	var sub struct{ ID string }
	require.Equal(t, http.StatusCreated, do(t, api.h, http.MethodPost, path+"/platforms/webhook/subscriptions", bearer,
		map[string]any{"name": "orders", "pull": true}, &sub))

	for k, v := range api.st.Env("FilterFunction") {
		t.Setenv(k, v)
	}
	fenv := awsenv.MustLoad(t.Context(), "filter")
	flt, err := filter.New(filter.Options{Store: fenv.DataStore(), Delivery: fenv.Queue("DELIVERY_QUEUE_URL"), Logger: fenv.Logger, Pull: fenv.Pull()})
	require.NoError(t, err)
	var msgs []queue.Message
	for n := 1; n <= 3; n++ {
		body, err := json.Marshal(event.Routed{Tenant: tenant, Subscription: sub.ID, Event: event.Event{
			ID: fmt.Sprintf("ev-%d", n), Source: "/s", Type: event.TypePublish, Time: time.Now().UTC(), Data: json.RawMessage(fmt.Sprintf(`{"n":%d}`, n))}})
		require.NoError(t, err)
		msgs = append(msgs, queue.Message{ID: fmt.Sprint(n), Body: body, Receives: 1})
	}
	require.Empty(t, flt.HandleBatch(t.Context(), msgs).Failures)

	for k, v := range api.st.Env("IngestFunction") {
		t.Setenv(k, v)
	}
	ienv := awsenv.MustLoad(t.Context(), "ingest")
	ing, err := awsingest.Handler(ienv, nil)
	require.NoError(t, err)
	pass, _ := subURL.User.Password()
	call := func(method, target, body string, hdr map[string]string) (int, []byte) {
		req := httptest.NewRequestWithContext(t.Context(), method, target, strings.NewReader(body))
		req.SetBasicAuth(subURL.User.Username(), pass)
		for k, v := range hdr {
			req.Header.Set(k, v)
		}
		w := httptest.NewRecorder()
		ing.ServeHTTP(w, req)
		b, _ := io.ReadAll(w.Result().Body)
		return w.Code, b
	}
	status, b := call(http.MethodGet, subURL.Path+"/orders?max=10&visibility=1s", "", nil)
	require.Equal(t, http.StatusOK, status, string(b))
	var batch []struct{ ID string }
	require.NoError(t, json.Unmarshal(b, &batch))
	require.Len(t, batch, 3)
	assert.Equal(t, "ev-1", batch[0].ID, "oldest first")
	status, b = call(http.MethodDelete, subURL.Path+"/orders/ev-1", "", nil)
	require.Equal(t, http.StatusNoContent, status, string(b))
	status, b = call(http.MethodPost, subURL.Path+"/orders/ack", `{"ids":["ev-2"]}`, nil)
	require.Equal(t, http.StatusOK, status, string(b))

	var info struct {
		PullBacklog struct{ Pending, Leased int } `json:"pull_backlog"`
	}
	require.Equal(t, http.StatusOK, do(t, api.h, http.MethodGet, path+"/subscriptions/orders", bearer, nil, &info))
	assert.Equal(t, 1, info.PullBacklog.Pending)
	assert.Equal(t, 1, info.PullBacklog.Leased)

	time.Sleep(1100 * time.Millisecond) // ev-3's lease ends
	status, b = call(http.MethodGet, subURL.Path+"/orders", "", nil)
	require.Equal(t, http.StatusOK, status)
	var ce struct{ ID string }
	require.NoError(t, json.Unmarshal(b, &ce), string(b))
	assert.Equal(t, "ev-3", ce.ID, "the unacknowledged event came back")

	// A data action target: signed requests only.
	_, err = config.Insert(t.Context(), api.env.Store(), config.Item{Tenant: tenant, Kind: config.KindAuthorization, ID: "auth-1", Name: "my-org"}, config.Authorization{})
	require.NoError(t, err)
	var da struct {
		Extra struct {
			URL        string `json:"url"`
			SigningKey string `json:"signing_key"`
		} `json:"extra"`
	}
	require.Equal(t, http.StatusCreated, do(t, api.h, http.MethodPost, path+"/platforms/datacloud/subscriptions", bearer,
		map[string]any{"name": "patients", "org_name": "my-org"}, &da))
	target, err := url.Parse(da.Extra.URL)
	require.NoError(t, err)
	body, err := standin.DataAction{Action: "PatientChanged", Object: "Patient__dlm",
		Records: []json.RawMessage{json.RawMessage(`{"a":1}`), json.RawMessage(`{"a":2}`), json.RawMessage(`{"a":3}`)}}.Body()
	require.NoError(t, err)
	post := func(sig string) (int, []byte) {
		req := httptest.NewRequestWithContext(t.Context(), http.MethodPost, target.Path, bytes.NewReader(body))
		req.Header.Set("x-signature", sig)
		w := httptest.NewRecorder()
		ing.ServeHTTP(w, req)
		return w.Code, w.Body.Bytes()
	}
	status, b = post(dataaction.Sign("forged", body))
	assert.Equal(t, http.StatusUnauthorized, status, string(b))
	status, b = post(dataaction.Sign(da.Extra.SigningKey, body))
	require.Equal(t, http.StatusAccepted, status, string(b))
	var acc dataaction.Accepted
	require.NoError(t, json.Unmarshal(b, &acc))
	assert.Len(t, acc.IDs, 3)
}
