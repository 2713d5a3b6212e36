package embedded_test

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/herokuevents/herokuevents/infra/embedded"
	"github.com/herokuevents/herokuevents/shared/platform/webhook/webhooktest"
)

// heavyFilter is a filter costing tens of milliseconds of processor time
// per event, legal under the mappings' 100 ms limit.
const heavyFilter = `root = if range(0, 5000).fold(0, item -> item.tally + item.value) >= 0 { this } else { deleted() }`

// arrivals is a webhook that records when each event (data {"n": …})
// arrives, after answering in delay.
type arrivals struct {
	*httptest.Server
	mu  sync.Mutex
	at  map[int]time.Time
	hit atomic.Int64
}

func newArrivals(t *testing.T, delay time.Duration) *arrivals {
	a := &arrivals{at: map[int]time.Time{}}
	a.Server = httptest.NewServer(webhooktest.Consent(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		now := time.Now()
		a.hit.Add(1)
		var ce struct {
			Data struct{ N *int } `json:"data"`
		}
		b, _ := io.ReadAll(r.Body)
		if json.Unmarshal(b, &ce) == nil && ce.Data.N != nil {
			a.mu.Lock()
			if _, seen := a.at[*ce.Data.N]; !seen {
				a.at[*ce.Data.N] = now
			}
			a.mu.Unlock()
		}
		select {
		case <-time.After(delay):
		case <-r.Context().Done():
		}
		w.WriteHeader(http.StatusNoContent)
	})))
	t.Cleanup(a.Close)
	return a
}

func (a *arrivals) arrived(n int) (time.Time, bool) {
	a.mu.Lock()
	defer a.mu.Unlock()
	at, ok := a.at[n]
	return at, ok
}

// tenant is an app's management and publish URLs.
type tenant struct{ api, publish string }

func provisionTenant(t *testing.T, srv *embedded.Server, app string) tenant {
	t.Helper()
	status, body := operatorCall(t, srv, true, http.MethodPost, "/heroku/resources", fmt.Sprintf(`{"app":%q}`, app))
	require.Equal(t, http.StatusOK, status, body)
	var resp struct{ Config map[string]string }
	require.NoError(t, json.Unmarshal([]byte(body), &resp))
	return tenant{api: resp.Config["HEROKUEVENTS_API_URL"], publish: resp.Config["HEROKUEVENTS_PUBLISH_URL"]}
}

func (tn tenant) create(t *testing.T, rel, body string) {
	t.Helper()
	status, out := asTenant(t, tn.api, http.MethodPost, rel, body)
	require.Equal(t, http.StatusCreated, status, out)
}

// post publishes one event; it returns the HTTP status.
func (tn tenant) post(c *http.Client, name, body string) (int, error) {
	u, err := url.Parse(tn.publish)
	if err != nil {
		return 0, err
	}
	user, pass := u.User.Username(), ""
	pass, _ = u.User.Password()
	u.User = nil
	req, err := http.NewRequest(http.MethodPost, strings.TrimSuffix(u.String(), "/")+"/"+name, strings.NewReader(body))
	if err != nil {
		return 0, err
	}
	req.SetBasicAuth(user, pass)
	req.Header.Set("Content-Type", "application/json")
	res, err := c.Do(req)
	if err != nil {
		return 0, err
	}
	_, _ = io.Copy(io.Discard, res.Body)
	res.Body.Close()
	return res.StatusCode, nil
}

// latencies publishes count events of tenant b at 10 per second to name
// (data {"n": from…}) and returns each one's publish→delivery time at hook.
func latencies(t *testing.T, b tenant, name string, hook *arrivals, from, count int) []time.Duration {
	t.Helper()
	sent := make([]time.Time, count)
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	for i := range count {
		<-tick.C
		sent[i] = time.Now()
		status, err := b.post(http.DefaultClient, name, fmt.Sprintf(`{"n":%d}`, from+i))
		require.NoError(t, err)
		require.Equal(t, http.StatusAccepted, status)
	}
	out := make([]time.Duration, count)
	require.Eventually(t, func() bool {
		for i := range count {
			at, ok := hook.arrived(from + i)
			if !ok {
				return false
			}
			out[i] = at.Sub(sent[i])
		}
		return true
	}, 20*time.Second, 10*time.Millisecond, "every event of tenant b delivered")
	return out
}

// percentiles returns p50 and p99 of d.
func percentiles(d []time.Duration) (time.Duration, time.Duration) {
	s := slices.Clone(d)
	slices.Sort(s)
	p := func(q float64) time.Duration { return s[min(len(s)-1, int(q*float64(len(s))))] }
	return p(0.50), p(0.99)
}

// TestNoisyNeighbour (issue 11): tenant a floods a webhook that answers in
// 2 s, or publishes back to back through a costly filter, while tenant b publishes
// 10 events/s to a fast webhook: b's p99 publish→delivery stays within 2×
// its idle p99 + 50 ms. (The 20,000-event flood, scaled down to
// keep the test short; `go run ./scripts/bench/fairness` runs it whole.)
func TestNoisyNeighbour(t *testing.T) {
	cases := []struct {
		name string
		// noise starts tenant a's load and returns whether it still goes on.
		noise func(t *testing.T, srv *embedded.Server, a tenant, stop <-chan struct{}) (active func() bool)
	}{
		{"slow endpoint", func(t *testing.T, srv *embedded.Server, a tenant, stop <-chan struct{}) func() bool {
			slow := newArrivals(t, 2*time.Second)
			a.create(t, "/platforms/webhook/publications", fmt.Sprintf(`{"name":"slow","url":%q}`, slow.URL+"/hook"))
			flood(t, a, "slow", floodSize(t), 8)
			require.Eventually(t, func() bool { return slow.hit.Load() > 0 }, 10*time.Second, 10*time.Millisecond)
			return func() bool { // a's backlog is still there
				n, err := srv.Queue(embedded.DeliveryQueue).Len(t.Context())
				return err == nil && n > 0
			}
		}},
		{"costly filter", func(t *testing.T, srv *embedded.Server, a tenant, stop <-chan struct{}) func() bool {
			sink := newArrivals(t, 0)
			a.create(t, "/platforms/webhook/subscriptions", `{"name":"heavy"}`)
			a.create(t, "/platforms/webhook/publications", fmt.Sprintf(`{"name":"sink","url":%q}`, sink.URL+"/hook"))
			a.create(t, "/streams", fmt.Sprintf(`{"source":"heavy","target":"sink","filter":%q}`, heavyFilter))
			go func() {
				c := &http.Client{Timeout: 30 * time.Second}
				for {
					select {
					case <-stop:
						return
					default:
					}
					_, _ = a.post(c, "heavy", `{"n":-1}`)
				}
			}()
			require.Eventually(t, func() bool { return sink.hit.Load() > 0 }, 10*time.Second, 10*time.Millisecond)
			return func() bool { return true } // a publishes until stop
		}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			srv := start(t, 10*time.Second)
			a := provisionTenant(t, srv, "noisy-app")
			b := provisionTenant(t, srv, "quiet-app")
			fast := newArrivals(t, 0)
			b.create(t, "/platforms/webhook/publications", fmt.Sprintf(`{"name":"fast","url":%q}`, fast.URL+"/hook"))

			idle := latencies(t, b, "fast", fast, 0, 30)
			i50, i99 := percentiles(idle)
			bound := 2*i99 + 50*time.Millisecond + raceSlack
			stop := make(chan struct{})
			defer close(stop)
			active := c.noise(t, srv, a, stop)
			// This host is shared: a round may catch another process's
			// burst. What the test guards against (b waiting behind a's
			// backlog, slow deliveries or filter) is in every round that
			// ends with a's load still on.
			var rounds []time.Duration
			for round := range 3 {
				busy := latencies(t, b, "fast", fast, 1000*(round+1), 50)
				b50, b99 := percentiles(busy)
				t.Logf("tenant b publish→delivery: idle p50 %v p99 %v; beside a's %s p50 %v p99 %v (round %d)", i50, i99, c.name, b50, b99, round+1)
				rounds = append(rounds, b99)
				if !active() {
					t.Fatalf("a's load ended before round %d did: make it larger", round+1)
				}
				if b99 <= bound {
					return
				}
			}
			t.Errorf("b's p99 beside a's %s: %v in each round, above 2 × idle p99 %v + 50 ms (+ %v under the race detector)", c.name, rounds, i99, time.Duration(raceSlack))
		})
	}
}

// floodSize is how many events tenant a floods its slow endpoint with:
// 2,000, or NOISY_NEIGHBOUR_FLOOD (the 20,000 in the fairness
// benchmark, see the README).
func floodSize(t *testing.T) int {
	n := 2000
	if v := os.Getenv("NOISY_NEIGHBOUR_FLOOD"); v != "" {
		var err error
		n, err = strconv.Atoi(v)
		require.NoError(t, err, "NOISY_NEIGHBOUR_FLOOD")
	}
	return n
}

// flood publishes n events of a to name with workers concurrent clients;
// events refused for the tenant's backlog are left out.
func flood(t *testing.T, a tenant, name string, n, workers int) {
	t.Helper()
	var next, accepted atomic.Int64
	var wg sync.WaitGroup
	for range workers {
		wg.Go(func() {
			c := &http.Client{Timeout: 30 * time.Second}
			for i := next.Add(1); i <= int64(n); i = next.Add(1) {
				status, err := a.post(c, name, fmt.Sprintf(`{"n":%d}`, -i))
				if err == nil && status == http.StatusAccepted {
					accepted.Add(1)
				}
			}
		})
	}
	wg.Wait()
	t.Logf("tenant a: %d of %d events accepted", accepted.Load(), n)
	require.Positive(t, accepted.Load())
}
