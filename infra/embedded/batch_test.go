package embedded_test

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strconv"
	"sync"
	"testing"
	"time"

	cloudevents "github.com/cloudevents/sdk-go/v2/event"
	standardwebhooks "github.com/standard-webhooks/standard-webhooks/libraries/go"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/herokuevents/herokuevents/infra/embedded"
	"github.com/herokuevents/herokuevents/shared/platform/webhook/webhooktest"
)

// batchReceiver is a real HTTP receiver of batched deliveries: it keeps
// every request (headers, raw body) and answers with respond(n) for the
// n-th request (1-based).
type batchReceiver struct {
	*httptest.Server
	mu      sync.Mutex
	reqs    []batchRequest
	respond func(n int) int
}

type batchRequest struct {
	header http.Header
	body   []byte
	status int
}

func newBatchReceiver(t *testing.T, respond func(n int) int) *batchReceiver {
	t.Helper()
	r := &batchReceiver{respond: respond}
	r.Server = httptest.NewServer(webhooktest.Consent(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		b, _ := io.ReadAll(req.Body)
		r.mu.Lock()
		status := r.respond(len(r.reqs) + 1)
		r.reqs = append(r.reqs, batchRequest{header: req.Header.Clone(), body: b, status: status})
		r.mu.Unlock()
		w.WriteHeader(status)
	})))
	t.Cleanup(r.Close)
	return r
}

func (r *batchReceiver) requests() []batchRequest {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.reqs)
}

// events returns the ids of the requests' events delivered (2xx), with
// their count.
func (r *batchReceiver) delivered(t *testing.T) map[string]int {
	got := map[string]int{}
	for _, req := range r.requests() {
		if req.status/100 != 2 {
			continue
		}
		for _, ev := range parseBatch(t, req.body) {
			got[ev.ID()]++
		}
	}
	return got
}

// parseBatch decodes a batch with the CloudEvents Go SDK: a JSON array of
// structured CloudEvents, each validated by the SDK.
func parseBatch(t *testing.T, body []byte) []cloudevents.Event {
	t.Helper()
	var evs []cloudevents.Event
	require.NoError(t, json.Unmarshal(body, &evs), "the CloudEvents SDK reads the batch")
	for _, ev := range evs {
		require.NoError(t, ev.Validate())
	}
	return evs
}

// checkSigned verifies a request's signatures independently: Standard
// Webhooks with the reference library, Heroku-Webhook-Hmac-SHA256 with
// crypto/hmac (HMAC-SHA256 of the body keyed with the secret as given),
// and the webhook-id: "batch_" and the hex of the first 16 bytes of the
// SHA-256 of the sorted event ids, one per line.
func checkSigned(t *testing.T, secret string, req batchRequest, evs []cloudevents.Event) {
	t.Helper()
	wh, err := standardwebhooks.NewWebhook(secret)
	require.NoError(t, err)
	require.NoError(t, wh.Verify(req.body, req.header), "Standard Webhooks signature")
	m := hmac.New(sha256.New, []byte(secret))
	m.Write(req.body)
	assert.Equal(t, base64.StdEncoding.EncodeToString(m.Sum(nil)), req.header.Get("Heroku-Webhook-Hmac-SHA256"), "Heroku HMAC")
	ids := make([]string, len(evs))
	for i, ev := range evs {
		ids[i] = ev.ID()
	}
	slices.Sort(ids)
	h := sha256.New()
	for _, id := range ids {
		h.Write([]byte(id + "\n"))
	}
	assert.Equal(t, "batch_"+hex.EncodeToString(h.Sum(nil)[:16]), req.header.Get("webhook-id"))
	assert.Equal(t, "application/cloudevents-batch+json", req.header.Get("Content-Type"))
	assert.Equal(t, strconv.Itoa(len(evs)), req.header.Get("Heroku-Events-Batch-Size"))
}

// createBatched creates a webhook publication to url delivering in
// batches and returns its signing secret.
func createBatched(t *testing.T, srv *embedded.Server, name, url string, size int, window string) string {
	t.Helper()
	var pub struct {
		Params struct {
			BatchSize   int    `json:"batch_size"`
			BatchWindow string `json:"batch_window"`
		} `json:"params"`
		Extra struct {
			SigningSecret string `json:"signing_secret"`
		} `json:"extra"`
	}
	require.Equal(t, http.StatusCreated, call(t, srv, "POST", "/platforms/webhook/publications",
		map[string]any{"name": name, "url": url, "batch_size": size, "batch_window": window}, &pub))
	require.Equal(t, size, pub.Params.BatchSize)
	require.Equal(t, window, pub.Params.BatchWindow)
	return pub.Extra.SigningSecret
}

// TestBatchedDelivery is the acceptance test of batched delivery: 1,000
// events published to a publication batching 50 per request arrive at a
// real receiver in at most ceil(1000/50) requests plus the few that a
// window may close early, every event exactly once, each request parsed by
// the CloudEvents SDK and its signatures verified independently, and the
// events of each publisher in the order it published them.
func TestBatchedDelivery(t *testing.T) {
	const (
		events     = 1000
		size       = 50
		publishers = 8
	)
	srv := start(t, 5*time.Second)
	rec := newBatchReceiver(t, func(int) int { return http.StatusNoContent })
	secret := createBatched(t, srv, "bulk", rec.URL+"/bulk", size, "1s")

	began := time.Now()
	ids := make([][]string, publishers) // per publisher, in publish order
	var wg sync.WaitGroup
	for p := range publishers {
		wg.Go(func() {
			for i := range events / publishers {
				ids[p] = append(ids[p], publish(t, srv, "bulk", fmt.Sprintf(`{"publisher":%d,"seq":%d}`, p, i)))
			}
		})
	}
	wg.Wait()
	published := time.Since(began)
	require.Eventually(t, func() bool { return len(rec.delivered(t)) == events }, 30*time.Second, 20*time.Millisecond)
	took := time.Since(began)
	time.Sleep(300 * time.Millisecond) // a duplicate would arrive now

	reqs := rec.requests()
	limit := (events+size-1)/size + 2
	t.Logf("%d events in %d requests (at most %d allowed; ideal %d); published in %s, all delivered after %s",
		events, len(reqs), limit, (events+size-1)/size, published.Round(time.Millisecond), took.Round(time.Millisecond))
	assert.LessOrEqual(t, len(reqs), limit)
	got := rec.delivered(t)
	assert.Len(t, got, events)
	for id, n := range got {
		assert.Equal(t, 1, n, "event %s arrived %d times", id, n)
	}
	for _, p := range ids {
		for _, id := range p {
			assert.Contains(t, got, id)
		}
	}
	for i, req := range reqs {
		evs := parseBatch(t, req.body)
		require.NotEmpty(t, evs)
		assert.LessOrEqual(t, len(evs), size, "request %d", i)
		checkSigned(t, secret, req, evs)
		last := map[float64]float64{} // publisher → last seq seen in this request
		for _, ev := range evs {
			var data struct{ Publisher, Seq float64 }
			require.NoError(t, ev.DataAs(&data))
			if prev, ok := last[data.Publisher]; ok {
				assert.Greater(t, data.Seq, prev, "request %d: publisher %v's events in publish order", i, data.Publisher)
			}
			last[data.Publisher] = data.Seq
		}
	}
}

// TestBatchedDeliveryRetriedWhole: a receiver that fails a batch twice
// (503) then takes it gets the same events three times in one request
// each, with the same webhook-id, and each event is delivered once.
func TestBatchedDeliveryRetriedWhole(t *testing.T) {
	srv := start(t, 5*time.Second)
	rec := newBatchReceiver(t, func(n int) int {
		if n <= 2 {
			return http.StatusServiceUnavailable
		}
		return http.StatusOK
	})
	// The window outlasts the 20 publishes, even on a loaded machine.
	secret := createBatched(t, srv, "flaky", rec.URL+"/flaky", 50, "3s")
	ids := make([]string, 20)
	var wg sync.WaitGroup
	for i := range ids {
		wg.Go(func() { ids[i] = publish(t, srv, "flaky", fmt.Sprintf(`{"i":%d}`, i)) })
	}
	wg.Wait()
	require.Eventually(t, func() bool { return len(rec.delivered(t)) == len(ids) }, 30*time.Second, 20*time.Millisecond)
	time.Sleep(300 * time.Millisecond)

	reqs := rec.requests()
	require.Len(t, reqs, 3, "one request per attempt of the whole batch")
	slices.Sort(ids)
	for i, req := range reqs {
		evs := parseBatch(t, req.body)
		checkSigned(t, secret, req, evs)
		got := make([]string, len(evs))
		for j, ev := range evs {
			got[j] = ev.ID()
		}
		slices.Sort(got)
		assert.Equal(t, ids, got, "attempt %d carries the whole batch", i+1)
		assert.Equal(t, reqs[0].header.Get("webhook-id"), req.header.Get("webhook-id"), "a retried batch keeps its webhook-id")
	}
	assert.Equal(t, []int{503, 503, 200}, []int{reqs[0].status, reqs[1].status, reqs[2].status})
	for id, n := range rec.delivered(t) {
		assert.Equal(t, 1, n, "event %s delivered once", id)
	}
}
