package deliver_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/herokuevents/herokuevents/shared/config"
	"github.com/herokuevents/herokuevents/shared/event"
	"github.com/herokuevents/herokuevents/shared/queue"
)

// batched stores a webhook publication to url delivering size events per
// request gathered for window.
func (e *env) batched(t *testing.T, name, url string, size int, window string) config.Publication {
	t.Helper()
	p, _ := e.publication(t, name, url, config.RetryPolicy{})
	p.Params.BatchSize, p.Params.BatchWindow = size, window
	_, err := config.Modify(t.Context(), e.store, tenant, config.KindPublication, p.ID, 1, func(r *config.Record[config.Publication]) (bool, error) {
		r.Value = p
		return true, nil
	})
	require.NoError(t, err)
	return p
}

// batchMsgs returns n deliveries to pub, message ids first.. and queued in
// that order, with attempt counters from attempts (0 when short).
func batchMsgs(t *testing.T, pub config.Publication, first, n int, attempts ...int) []queue.Message {
	t.Helper()
	base := time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)
	var out []queue.Message
	for i := range n {
		seq := first + i
		ev := sampleEvent()
		ev.ID = fmt.Sprintf("ev-%03d", seq)
		d := event.Delivery{Tenant: tenant, Publication: pub.ID, Event: ev}
		if i < len(attempts) {
			d.Attempt = attempts[i]
		}
		m := delivery(t, strconv.Itoa(seq), d)
		m.SentAt = base.Add(time.Duration(seq) * time.Millisecond)
		out = append(out, m)
	}
	return out
}

// idsOf returns the event ids of a batch body, in order.
func idsOf(t *testing.T, body []byte) []string {
	t.Helper()
	var evs []struct{ ID string }
	require.NoError(t, json.Unmarshal(body, &evs), string(body))
	ids := make([]string, len(evs))
	for i, ev := range evs {
		ids[i] = ev.ID
	}
	return ids
}

// TestBatchCoalesces: the messages of concurrent HandleBatch calls for one
// batched publication go out in requests of at most its size — a full one
// at once, the rest when the window has passed — each in queue order, and
// every message succeeds.
func TestBatchCoalesces(t *testing.T) {
	e := newEnv(t, 5*time.Second)
	srv, got := endpoint(t, status(http.StatusOK))
	pub := e.batched(t, "bulk", srv.URL, 25, "300ms")

	began := time.Now()
	var wg sync.WaitGroup
	results := make([]queue.BatchResult, 3)
	for c := range 3 {
		wg.Go(func() { results[c] = e.handler.HandleBatch(t.Context(), batchMsgs(t, pub, 1+10*c, 10)) })
	}
	wg.Wait()
	for _, res := range results {
		assert.Empty(t, res.Failures)
	}
	assert.GreaterOrEqual(t, time.Since(began), 300*time.Millisecond, "the partial batch waited its window")
	reqs := got()
	require.Len(t, reqs, 2)
	seen := map[string]int{}
	sizes := []int{}
	for _, r := range reqs {
		ids := idsOf(t, r.body)
		sizes = append(sizes, len(ids))
		assert.IsIncreasing(t, ids, "queue order within a request")
		for _, id := range ids {
			seen[id]++
		}
		assert.Equal(t, "application/cloudevents-batch+json", r.header.Get("Content-Type"))
		assert.Equal(t, strconv.Itoa(len(ids)), r.header.Get("Heroku-Events-Batch-Size"))
	}
	assert.ElementsMatch(t, []int{25, 5}, sizes)
	assert.Len(t, seen, 30)
	for id, n := range seen {
		assert.Equal(t, 1, n, id)
	}
	assert.Empty(t, e.requeued())
	assert.Contains(t, e.logs.String(), `"msg":"delivery batch"`)
}

// TestBatchOutcome: the endpoint's answer is every member's. A 5xx
// re-queues each event with one delay — the backoff ceiling after the
// attempts of the most-tried (here its third), the same for all — and its
// own attempt count; a 410 disables the publication and dead-letters all;
// a 400 dead-letters all. With Solo the batch goes without waiting out its
// window.
func TestBatchOutcome(t *testing.T) {
	for _, tt := range []struct {
		name      string
		status    int
		permanent bool
		disabled  bool
	}{
		{name: "503 retries all together", status: http.StatusServiceUnavailable},
		{name: "410 disables", status: http.StatusGone, permanent: true, disabled: true},
		{name: "400 dead-letters all", status: http.StatusBadRequest, permanent: true},
	} {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t, 5*time.Second)
			e.handler.Solo = true
			srv, got := endpoint(t, status(tt.status))
			pub := e.batched(t, "bulk", srv.URL, 10, "5s")
			began := time.Now()
			res := e.handler.HandleBatch(t.Context(), batchMsgs(t, pub, 1, 4, 0, 2, 0, 1))
			assert.Less(t, time.Since(began), 2*time.Second, "Solo: sent once every message waited in the batch")
			require.Len(t, got(), 1, "one request for the batch")
			fails := failures(res)
			if !tt.permanent {
				assert.Empty(t, fails)
				re := e.requeued()
				require.Len(t, re, 4)
				attempts := map[string]int{}
				for _, m := range re {
					assert.Equal(t, 8*time.Second, m.Delay, "ceiling after 3 attempts with a 2s base, for every event")
					var d event.Delivery
					require.NoError(t, json.Unmarshal(m.Body, &d))
					attempts[d.Event.ID] = d.Attempt
				}
				assert.Equal(t, map[string]int{"ev-001": 1, "ev-002": 3, "ev-003": 1, "ev-004": 2}, attempts)
				return
			}
			require.Len(t, fails, 4)
			for id, err := range fails {
				assert.True(t, queue.IsPermanent(err), "%s: %v", id, err)
			}
			assert.Equal(t, tt.disabled, e.load(t, pub.ID).Disabled)
		})
	}
}

// TestBatchContextEnds: a message whose invocation ends while it waits for
// its batch leaves it and is redelivered by the queue; nothing is sent.
func TestBatchContextEnds(t *testing.T) {
	e := newEnv(t, 5*time.Second)
	srv, got := endpoint(t, status(http.StatusOK))
	pub := e.batched(t, "bulk", srv.URL, 10, "5s")
	ctx, cancel := context.WithTimeout(t.Context(), 100*time.Millisecond)
	defer cancel()
	res := e.handler.HandleBatch(ctx, batchMsgs(t, pub, 1, 3))
	fails := failures(res)
	require.Len(t, fails, 3)
	for _, err := range fails {
		assert.False(t, queue.IsPermanent(err))
		assert.ErrorIs(t, err, context.DeadlineExceeded)
	}
	time.Sleep(100 * time.Millisecond)
	assert.Empty(t, got())
	assert.Empty(t, e.requeued())
}

// TestBatchOff: a publication without a batch size gets one request per
// event, as before.
func TestBatchOff(t *testing.T) {
	e := newEnv(t, 5*time.Second)
	srv, got := endpoint(t, status(http.StatusOK))
	pub := e.batched(t, "single", srv.URL, 0, "")
	res := e.handler.HandleBatch(t.Context(), batchMsgs(t, pub, 1, 3))
	assert.Empty(t, res.Failures)
	require.Len(t, got(), 3)
	for _, r := range got() {
		assert.Equal(t, "application/cloudevents+json", r.header.Get("Content-Type"))
	}
}
