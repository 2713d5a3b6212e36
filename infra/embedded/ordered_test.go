package embedded_test

import (
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/herokuevents/herokuevents/infra/embedded"
	"github.com/herokuevents/herokuevents/shared/deliver"
	"github.com/herokuevents/herokuevents/shared/order/ordertest"
	"github.com/herokuevents/herokuevents/shared/platform/webhook/webhooktest"
)

// publishOrdered publishes a structured CloudEvent to name.
func publishOrdered(srv *embedded.Server, name string, body []byte) error {
	u, err := url.Parse(srv.Var("HEROKUEVENTS_PUBLISH_URL"))
	if err != nil {
		return err
	}
	pass, _ := u.User.Password()
	user := u.User.Username()
	u.User = nil
	req, err := http.NewRequest(http.MethodPost, u.String()+"/"+name, strings.NewReader(string(body)))
	if err != nil {
		return err
	}
	req.SetBasicAuth(user, pass)
	req.Header.Set("Content-Type", "application/cloudevents+json")
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	if res.StatusCode != http.StatusAccepted {
		return fmt.Errorf("publish: %d %s", res.StatusCode, b)
	}
	return nil
}

// TestOrderedLanes is the acceptance test of ordered lanes in the
// embedded mode: 1,000 CDC-like events over 50 record ids, published
// through a subscription to an ordered publication (default key: the
// record id) whose real HTTP receiver fails one record's events (from its
// first attempt until the other records' events are all in, at most 2 min).
// Every record's events arrive in publish order, the failing record's
// only after it recovered, and the other 49 records' events all while it
// was still failing (ordertest.Check; alone on the host they arrive within
// about 0.3 s of their publish, which the test logs). The retry
// backoff is cut to at most 1 s, so the failing head is retried about
// every 500 ms throughout.
func TestOrderedLanes(t *testing.T) {
	const (
		keys, perKey = 50, 20
		failFor      = 2 * time.Minute // at most: the receiver recovers it once the others are in
	)
	// A retry backoff of up to 1 s (full jitter from 200 ms): the failing
	// head is retried about every half second and goes within a second of
	// its key's recovery, its attempts (about 60) within the default limit.
	srv, err := embedded.Start(t.Context(), embedded.Options{
		Addr: "127.0.0.1:0", DataDir: t.TempDir(), App: "my-app", AllowEgress: loopback,
		Backoff: deliver.Backoff{Base: 200 * time.Millisecond, Cap: time.Second}, DeliveryTimeout: 5 * time.Second,
		Logger: slog.New(slog.DiscardHandler),
	})
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, srv.Close()) })
	rec := ordertest.NewReceiver(t, ordertest.Key(7), failFor)
	require.Equal(t, http.StatusCreated, call(t, srv, "POST", "/platforms/webhook/subscriptions", map[string]any{"name": "cdc"}, nil))
	require.Equal(t, http.StatusCreated, call(t, srv, "POST", "/platforms/webhook/publications",
		map[string]any{"name": "accounts", "url": rec.URL + "/cdc", "source": "cdc", "ordered": true}, nil))

	var ks []string
	for i := range keys {
		ks = append(ks, ordertest.Key(i))
	}
	w := ordertest.Publish(t, ks, perKey, 10, 20*time.Millisecond, func(body []byte) error { return publishOrdered(srv, "cdc", body) })
	w.Check(t, rec, failFor)
}

// TestOrderedOnFailure: past its retry horizon (max_age 1s here) a lane's
// failing head is dead-lettered and the lane goes on (skip), or the lane
// stays blocked, shown with its head's event id, until the head is
// delivered (block); other lanes flow meanwhile.
func TestOrderedOnFailure(t *testing.T) {
	tests := []struct {
		onFailure string
		want      []string // the events of lane a, in arrival order, once b-0 arrived and the receiver recovered
	}{
		{"skip", []string{"a-1"}},
		{"block", []string{"a-0", "a-1"}},
	}
	for _, tc := range tests {
		t.Run(tc.onFailure, func(t *testing.T) {
			t.Parallel()
			srv := start(t, 5*time.Second)
			var (
				mu      sync.Mutex
				healthy bool
				got     []string
			)
			rec := httptest.NewServer(webhooktest.Consent(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				var ev struct{ ID string }
				b, _ := io.ReadAll(r.Body)
				_ = json.Unmarshal(b, &ev)
				mu.Lock()
				defer mu.Unlock()
				if ev.ID == "a-0" && !healthy {
					w.WriteHeader(http.StatusServiceUnavailable)
					return
				}
				if !slices.Contains(got, ev.ID) {
					got = append(got, ev.ID)
				}
				w.WriteHeader(http.StatusNoContent)
			})))
			t.Cleanup(rec.Close)
			require.Equal(t, http.StatusCreated, call(t, srv, "POST", "/platforms/webhook/publications",
				map[string]any{"name": "lanes", "url": rec.URL, "ordered": true, "on_failure": tc.onFailure}, nil))
			require.Equal(t, http.StatusOK, call(t, srv, "PATCH", "/publications/lanes", map[string]any{"max_age": "1s"}, nil))
			for _, id := range []string{"a-0", "a-1", "b-0"} {
				ce := fmt.Sprintf(`{"specversion":"1.0","id":%q,"source":"/t","type":"t","subject":%q,"data":{}}`, id, id[:1])
				require.NoError(t, publishOrdered(srv, "lanes", []byte(ce)))
			}
			arrived := func(id string) func() bool {
				return func() bool { mu.Lock(); defer mu.Unlock(); return slices.Contains(got, id) }
			}
			require.Eventually(t, arrived("b-0"), 5*time.Second, 10*time.Millisecond, "lane b flows")
			if tc.onFailure == "block" {
				var pub struct {
					Order struct {
						Blocked []struct {
							Key     string `json:"key"`
							EventID string `json:"event_id"`
						} `json:"blocked"`
					} `json:"order"`
				}
				require.Eventually(t, func() bool {
					call(t, srv, "GET", "/publications/lanes", nil, &pub)
					return len(pub.Order.Blocked) == 1
				}, 10*time.Second, 50*time.Millisecond, "the lane is shown blocked")
				assert.Equal(t, "a", pub.Order.Blocked[0].Key)
				assert.Equal(t, "a-0", pub.Order.Blocked[0].EventID)
				assert.False(t, arrived("a-1")(), "nothing passes the blocked head")
				mu.Lock()
				healthy = true
				mu.Unlock()
			}
			require.Eventually(t, arrived("a-1"), 15*time.Second, 10*time.Millisecond)
			mu.Lock()
			var lane []string
			for _, id := range got {
				if id[0] == 'a' {
					lane = append(lane, id)
				}
			}
			mu.Unlock()
			assert.Equal(t, tc.want, lane)
			if tc.onFailure == "skip" {
				dead, err := srv.Queue(embedded.DeliveryQueue+"-dlq").List(t.Context(), 10)
				require.NoError(t, err)
				require.Len(t, dead, 1)
				assert.Contains(t, string(dead[0].Body), `"id":"a-0"`)
				return
			}
			require.Eventually(t, func() bool {
				var pub struct {
					Order struct {
						Blocked []any `json:"blocked"`
					} `json:"order"`
				}
				call(t, srv, "GET", "/publications/lanes", nil, &pub)
				return len(pub.Order.Blocked) == 0
			}, 5*time.Second, 50*time.Millisecond, "delivered, the lane is no longer blocked")
		})
	}
}
