// Package ordertest is the acceptance workload of ordered lanes, run
// against both modes: CDC-like events over a set of record ids, published
// concurrently (each key by one publisher, so its publish order is
// known), to a real HTTP receiver that fails one key for a while. Check
// asserts that every key's events arrived once each in publish order and
// that no other key was delayed by more than a bound, measured per event
// at the receiver.
package ordertest

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"sort"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/herokuevents/herokuevents/shared/platform/webhook/webhooktest"
)

// Key is the record id of key i.
func Key(i int) string { return fmt.Sprintf("001xx%010dAAA", i) }

// CDC is a structured CloudEvent (application/cloudevents+json) of a
// Salesforce change of record key, the seq-th of that record.
func CDC(key string, seq int) []byte {
	b, _ := json.Marshal(map[string]any{
		"specversion": "1.0", "id": fmt.Sprintf("%s-%d", key, seq), "source": "/sobjects/Account", "type": "com.salesforce.cdc",
		"subject": "/data/AccountChangeEvent", "datacontenttype": "application/json",
		"data": map[string]any{"ChangeEventHeader": map[string]any{"changeType": "UPDATE", "entityName": "Account", "recordIds": []string{key}}, "Seq": seq},
	})
	return b
}

// Arrival is one delivery a Receiver accepted.
type Arrival struct {
	Seq int
	At  time.Time
}

// Receiver is a real HTTP webhook receiver: it answers 503 to the events
// of its failing key until FailUntil, 204 to everything else, and keeps
// the accepted deliveries per key in arrival order. The key fails from its
// first delivery attempt for at most failFor, and recovers earlier when
// Recover is called (Check calls it once every other key's events are in).
type Receiver struct {
	*httptest.Server
	FailKey   string
	FailUntil time.Time // zero until the failing key's first attempt
	failFor   time.Duration

	mu       sync.Mutex
	got      map[string][]Arrival
	failures int
}

// NewReceiver starts a receiver failing key for at most failFor from its
// first attempt.
func NewReceiver(t *testing.T, key string, failFor time.Duration) *Receiver {
	t.Helper()
	r := &Receiver{FailKey: key, failFor: failFor, got: map[string][]Arrival{}}
	r.Server = httptest.NewServer(webhooktest.Consent(http.HandlerFunc(r.serve)))
	t.Cleanup(r.Close)
	return r
}

func (r *Receiver) serve(w http.ResponseWriter, req *http.Request) {
	now := time.Now()
	b, err := io.ReadAll(req.Body)
	if err != nil {
		w.WriteHeader(http.StatusBadRequest)
		return
	}
	var ev struct {
		Data struct {
			Header struct {
				RecordIDs []string `json:"recordIds"`
			} `json:"ChangeEventHeader"`
			Seq int
		} `json:"data"`
	}
	if err := json.Unmarshal(b, &ev); err != nil || len(ev.Data.Header.RecordIDs) != 1 {
		w.WriteHeader(http.StatusBadRequest)
		return
	}
	key := ev.Data.Header.RecordIDs[0]
	r.mu.Lock()
	defer r.mu.Unlock()
	if key == r.FailKey && r.FailUntil.IsZero() {
		r.FailUntil = now.Add(r.failFor)
	}
	if key == r.FailKey && now.Before(r.FailUntil) {
		r.failures++
		w.WriteHeader(http.StatusServiceUnavailable)
		return
	}
	r.got[key] = append(r.got[key], Arrival{Seq: ev.Data.Seq, At: now})
	w.WriteHeader(http.StatusNoContent)
}

// Recover ends the failing key's failure now (if it has not ended).
func (r *Receiver) Recover() {
	r.mu.Lock()
	defer r.mu.Unlock()
	if now := time.Now(); r.FailUntil.IsZero() || now.Before(r.FailUntil) {
		r.FailUntil = now
	}
}

// Delivered counts the distinct events accepted.
func (r *Receiver) Delivered() int { return r.delivered(func(string) bool { return true }) }

// delivered counts the distinct events accepted of the keys that count.
func (r *Receiver) delivered(count func(key string) bool) int {
	r.mu.Lock()
	defer r.mu.Unlock()
	n := 0
	for k, as := range r.got {
		if !count(k) {
			continue
		}
		seen := map[int]bool{}
		for _, a := range as {
			seen[a.Seq] = true
		}
		n += len(seen)
	}
	return n
}

// Workload publishes keys × perKey events.
type Workload struct {
	Keys   []string
	PerKey int
	mu     sync.Mutex
	sent   map[string]map[int]time.Time // key → seq → when its publish began
}

// Publish publishes perKey events of each of keys CDC events with
// publishers goroutines, each owning every publishers-th key and going
// round its keys, one publish every pace (per publisher). publish must
// return once the event is accepted.
func Publish(t *testing.T, keys []string, perKey, publishers int, pace time.Duration, publish func(body []byte) error) *Workload {
	t.Helper()
	w := &Workload{Keys: keys, PerKey: perKey, sent: map[string]map[int]time.Time{}}
	for _, k := range keys {
		w.sent[k] = map[int]time.Time{}
	}
	var wg sync.WaitGroup
	errs := make(chan error, publishers)
	for p := range publishers {
		wg.Go(func() {
			var mine []string
			for i := p; i < len(keys); i += publishers {
				mine = append(mine, keys[i])
			}
			tick := time.NewTicker(pace)
			defer tick.Stop()
			for seq := range perKey {
				for _, k := range mine {
					<-tick.C
					at := time.Now()
					if err := publish(CDC(k, seq)); err != nil {
						errs <- fmt.Errorf("publish %s #%d: %w", k, seq, err)
						return
					}
					w.mu.Lock()
					w.sent[k][seq] = at
					w.mu.Unlock()
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		require.NoError(t, err)
	}
	return w
}

// Stats are the per-event latencies measured at the receiver.
type Stats struct {
	Others, Failing []time.Duration // sorted
}

// Pct returns the q-quantile (0..1) of sorted ds.
func Pct(ds []time.Duration, q float64) time.Duration {
	if len(ds) == 0 {
		return 0
	}
	return ds[min(len(ds)-1, int(q*float64(len(ds))))]
}

// Check waits up to within for every other key's events to arrive while
// the failing key still fails, then lets the failing key recover and waits
// for its events too; it asserts that every key's events arrived in
// publish order, that the failing key's events arrived only after it
// recovered, and that every other key's events arrived while the failing
// key was still failing: its lane held up only itself. (No latency bound,
// which a loaded host breaks; the log line gives the other keys' p50, p99
// and max for the record.)
func (w *Workload) Check(t *testing.T, r *Receiver, within time.Duration) Stats {
	t.Helper()
	total := len(w.Keys) * w.PerKey
	others := func(k string) bool { return k != r.FailKey }
	require.Eventually(t, func() bool { return r.delivered(others) == total-w.PerKey }, within, 50*time.Millisecond,
		"every other key's events arrive (have %d of %d)", r.delivered(others), total-w.PerKey)
	r.Recover()
	require.Eventually(t, func() bool { return r.Delivered() == total }, within, 50*time.Millisecond,
		"every event arrives (have %d of %d)", r.Delivered(), total)
	r.mu.Lock()
	defer r.mu.Unlock()
	var st Stats
	for _, k := range w.Keys {
		var order []int
		seen := map[int]bool{}
		for _, a := range r.got[k] {
			if seen[a.Seq] {
				continue // a redelivery: receivers de-duplicate on the event id
			}
			seen[a.Seq] = true
			order = append(order, a.Seq)
			d := a.At.Sub(w.sent[k][a.Seq])
			if k == r.FailKey {
				assert.False(t, a.At.Before(r.FailUntil), "key %s: event %d accepted while the key was failing", k, a.Seq)
				st.Failing = append(st.Failing, d)
				continue
			}
			assert.True(t, a.At.Before(r.FailUntil), "key %s: event %d arrived only after key %s recovered (%s after its publish): the failing lane held it up", k, a.Seq, r.FailKey, d)
			st.Others = append(st.Others, d)
		}
		want := make([]int, w.PerKey)
		for i := range want {
			want[i] = i
		}
		assert.Equal(t, want, order, "key %s: its events in publish order", k)
	}
	sort.Slice(st.Others, func(i, j int) bool { return st.Others[i] < st.Others[j] })
	sort.Slice(st.Failing, func(i, j int) bool { return st.Failing[i] < st.Failing[j] })
	assert.Positive(t, r.failures, "the failing key was failed")
	t.Logf("%d events over %d keys: other keys' latency p50 %s p99 %s max %s; failing key %s: %d refusals, its events arrived %s..%s after publish",
		total, len(w.Keys), Pct(st.Others, .5).Round(time.Millisecond), Pct(st.Others, .99).Round(time.Millisecond),
		slices.Max(append(st.Others, 0)).Round(time.Millisecond), r.FailKey, r.failures,
		Pct(st.Failing, 0).Round(time.Millisecond), slices.Max(append(st.Failing, 0)).Round(time.Millisecond))
	return st
}
