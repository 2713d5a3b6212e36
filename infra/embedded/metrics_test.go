package embedded_test

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/herokuevents/herokuevents/infra/embedded/openmetrics"
	"github.com/herokuevents/herokuevents/infra/embedded/openmetrics/openmetricstest"
	"github.com/herokuevents/herokuevents/shared/platform/webhook/webhooktest"
)

// TestMetricsEndpoint: the operator's GET /metrics shows, per tenant and
// publication, what happened to the events: accepted, filtered out,
// delivered, retried, dead-lettered, the latency histogram and the
// queues' backlog, as an independent OpenMetrics parser reads it.
func TestMetricsEndpoint(t *testing.T) {
	srv := start(t, 5*time.Second)
	var mu sync.Mutex
	attempts := map[string]int{}
	hook := httptest.NewServer(webhooktest.Consent(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var ce struct {
			Data struct{ Kind string } `json:"data"`
		}
		_ = json.NewDecoder(r.Body).Decode(&ce)
		mu.Lock()
		defer mu.Unlock()
		attempts[ce.Data.Kind]++
		switch {
		case ce.Data.Kind == "flaky" && attempts["flaky"] == 1:
			w.WriteHeader(http.StatusServiceUnavailable)
		case ce.Data.Kind == "refused":
			w.WriteHeader(http.StatusBadRequest)
		default:
			w.WriteHeader(http.StatusNoContent)
		}
	})))
	t.Cleanup(hook.Close)

	var sub, pub struct{ ID string }
	require.Equal(t, http.StatusCreated, call(t, srv, "POST", "/platforms/webhook/subscriptions", map[string]any{"name": "inbound"}, &sub))
	require.Equal(t, http.StatusCreated, call(t, srv, "POST", "/platforms/webhook/publications", map[string]any{"name": "systemStatus", "url": hook.URL + "/hook"}, &pub))
	require.Equal(t, http.StatusCreated, call(t, srv, "POST", "/streams", map[string]any{"source": "inbound", "target": "systemStatus",
		"filter": `root = if this.kind == "drop" { deleted() } else { this }`}, nil))
	for _, kind := range []string{"ok", "ok", "ok", "drop", "drop", "flaky", "refused"} {
		publish(t, srv, "inbound", fmt.Sprintf(`{"kind":%q}`, kind))
	}
	apiURL, err := url.Parse(srv.Var("HEROKUEVENTS_API_URL"))
	require.NoError(t, err)
	tenant := apiURL.Path[strings.LastIndex(apiURL.Path, "/")+1:]

	at := map[string]string{"platform": "webhook", "publication": pub.ID, "role": "deliver", "tenant": tenant}
	var fams map[string]openmetricstest.Family
	require.Eventually(t, func() bool {
		status, body := operatorCall(t, srv, true, http.MethodGet, "/metrics", "")
		require.Equal(t, http.StatusOK, status, body)
		fams = openmetricstest.Parse(t, []byte(body))
		return value(fams["herokuevents_delivered"], "herokuevents_delivered_total", at) == 4 &&
			value(fams["herokuevents_dead_lettered"], "herokuevents_dead_lettered_total",
				map[string]string{"publication": pub.ID, "reason": "Permanent", "role": "deliver", "tenant": tenant}) == 1 &&
			// the counter moves when deliver decides; the dead letter is
			// queued when the batch is settled, just after
			value(fams["herokuevents_queue_depth"], "herokuevents_queue_depth", map[string]string{"queue": "delivery-dlq"}) == 1
	}, 15*time.Second, 50*time.Millisecond, "4 delivered (one after a retry), 1 dead-lettered and in the dead-letter queue")

	find := openmetricstest.Find
	assert.Equal(t, 7.0, find(t, fams["herokuevents_accepted"], "herokuevents_accepted_total",
		map[string]string{"platform": "webhook", "role": "ingest", "subscription": sub.ID, "tenant": tenant}))
	assert.Equal(t, 2.0, find(t, fams["herokuevents_filtered_out"], "herokuevents_filtered_out_total",
		map[string]string{"publication": pub.ID, "role": "filter", "tenant": tenant}))
	assert.Equal(t, 1.0, find(t, fams["herokuevents_retried"], "herokuevents_retried_total", at))
	assert.Equal(t, 2.0, find(t, fams["herokuevents_delivery_failures"], "herokuevents_delivery_failures_total", at))
	lat := fams["herokuevents_delivery_latency_seconds"]
	assert.Equal(t, "histogram", lat.Type)
	assert.Equal(t, 4.0, find(t, lat, "herokuevents_delivery_latency_seconds_count", at))
	depth := fams["herokuevents_queue_depth"]
	assert.Equal(t, 1.0, find(t, depth, "herokuevents_queue_depth", map[string]string{"queue": "delivery-dlq"}))
	assert.Equal(t, 0.0, find(t, depth, "herokuevents_queue_depth", map[string]string{"queue": "ingest"}))

	// The operator only: without credentials, or with a tenant's, 401.
	status, body := operatorCall(t, srv, false, http.MethodGet, "/metrics", "")
	assert.Equal(t, http.StatusUnauthorized, status)
	assert.JSONEq(t, `{"id":"unauthorized","message":"Invalid credentials provided."}`, body)
	key, _ := apiURL.User.Password()
	req, err := http.NewRequestWithContext(t.Context(), http.MethodGet, srv.URL()+"/metrics", nil)
	require.NoError(t, err)
	req.SetBasicAuth("herokuevents", key)
	res, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	_, _ = io.Copy(io.Discard, res.Body)
	res.Body.Close()
	assert.Equal(t, http.StatusUnauthorized, res.StatusCode)
	assert.Equal(t, openmetrics.ContentType, contentType(t, srv))
}

// value is the sample's value, or -1 when it is not there (yet).
func value(f openmetricstest.Family, name string, labels map[string]string) float64 {
	for _, s := range f.Samples {
		if s.Name == name && fmt.Sprint(s.Labels) == fmt.Sprint(labels) {
			return s.Value
		}
	}
	return -1
}

func contentType(t *testing.T, srv interface{ Var(string) string }) string {
	t.Helper()
	u, err := url.Parse(srv.Var("HEROKUEVENTS_PLATFORM_URL"))
	require.NoError(t, err)
	req, err := http.NewRequestWithContext(t.Context(), http.MethodGet, u.String()+"/metrics", nil)
	require.NoError(t, err)
	res, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer res.Body.Close()
	return res.Header.Get("Content-Type")
}
