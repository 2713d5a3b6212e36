package awsapp_test

import (
	"encoding/json"
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
	"github.com/herokuevents/herokuevents/shared/platform/catalog"
	"github.com/herokuevents/herokuevents/shared/platform/webhook/webhooktest"
)

// TestPublishDedupOnAWS: in the AWS mode, the ingest function's handler
// (as functions/ingest builds it, keys in the template's PublishKeysTable)
// answers a publish repeated with its Idempotency-Key, or a CloudEvent
// sent again, with the first event's id and enqueues it once, for a
// publication (DeliveryQueue) and a subscription (IngestQueue).
func TestPublishDedupOnAWS(t *testing.T) {
	api := apiOnAWS(t, catalog.All(), "41234567-89ab-cdef-0123-456789abcdef")
	app := provision(t, api, "51234567-89ab-cdef-0123-456789abcdef", "dedup-app")
	pubURL, err := url.Parse(app.Config["HEROKUEVENTS_PUBLISH_URL"])
	require.NoError(t, err)
	bearer := app.Bearer
	hook := httptest.NewServer(webhooktest.Consent(http.HandlerFunc(func(http.ResponseWriter, *http.Request) {})))
	t.Cleanup(hook.Close)
	require.Equal(t, http.StatusCreated, do(t, api.h, http.MethodPost, app.APIPath+"/platforms/webhook/publications", bearer,
		map[string]any{"name": "orders", "url": hook.URL + "/hook"}, nil))
	require.Equal(t, http.StatusCreated, do(t, api.h, http.MethodPost, app.APIPath+"/platforms/webhook/subscriptions", bearer,
		map[string]any{"name": "inbound"}, nil))

	for k, v := range api.st.Env("IngestFunction") {
		t.Setenv(k, v)
	}
	require.NotEmpty(t, api.st.Env("IngestFunction")["PUBLISH_KEYS_TABLE"], "the template gives ingest its table")
	ing, err := awsingest.Handler(awsenv.MustLoad(t.Context(), "ingest"), nil)
	require.NoError(t, err)
	pass, _ := pubURL.User.Password()
	publish := func(name, ctype, body string, hdr map[string]string) (int, string) {
		req := httptest.NewRequestWithContext(t.Context(), http.MethodPost, pubURL.Path+"/"+name, strings.NewReader(body))
		req.SetBasicAuth(pubURL.User.Username(), pass)
		req.Header.Set("Content-Type", ctype)
		for k, v := range hdr {
			req.Header.Set(k, v)
		}
		w := httptest.NewRecorder()
		ing.ServeHTTP(w, req)
		b, _ := io.ReadAll(w.Result().Body)
		var acc struct{ ID string }
		_ = json.Unmarshal(b, &acc)
		return w.Code, acc.ID
	}

	tests := []struct {
		name, target, queue, ctype, body string
		hdr                              map[string]string
	}{
		{"Idempotency-Key to a publication", "orders", "DeliveryQueue", "application/json", `{"n":1}`, map[string]string{"Idempotency-Key": "order-1"}},
		{"CloudEvent to a subscription", "inbound", "IngestQueue", "application/cloudevents+json",
			`{"specversion":"1.0","id":"ce-1","source":"/shop","type":"order.created","data":{"n":2}}`, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			status, first := publish(tt.target, tt.ctype, tt.body, tt.hdr)
			require.Equal(t, http.StatusAccepted, status)
			status, second := publish(tt.target, tt.ctype, tt.body, tt.hdr)
			require.Equal(t, http.StatusAccepted, status)
			assert.Equal(t, first, second, "the second publish gets the first event's id")

			payload, n, err := api.st.ReceiveEvent(t.Context(), tt.queue, 10, 2*time.Second)
			require.NoError(t, err)
			assert.Equal(t, 1, n, "the second publish enqueued nothing")
			assert.Contains(t, string(payload), first)
		})
	}
}
