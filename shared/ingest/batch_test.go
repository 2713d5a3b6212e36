package ingest_test

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/herokuevents/herokuevents/shared/dedup"
	"github.com/herokuevents/herokuevents/shared/dedup/memdedup"
	"github.com/herokuevents/herokuevents/shared/event"
	"github.com/herokuevents/herokuevents/shared/ingest"
	"github.com/herokuevents/herokuevents/shared/journal"
	"github.com/herokuevents/herokuevents/shared/plan"
	"github.com/herokuevents/herokuevents/shared/queue"
)

// ids decodes a batch publish's 202.
func ids(t *testing.T, body []byte) []string {
	t.Helper()
	var a ingest.AcceptedBatch
	require.NoError(t, json.Unmarshal(body, &a), string(body))
	return a.IDs
}

// delivered decodes the events of delivery messages.
func delivered(t *testing.T, msgs []queue.Message) []event.Event {
	t.Helper()
	evs := make([]event.Event, len(msgs))
	for i, m := range msgs {
		var d event.Delivery
		require.NoError(t, json.Unmarshal(m.Body, &d))
		evs[i] = d.Event
	}
	return evs
}

// A JSON array of objects is a batch: each object the data of its own
// event, queued in one send, the 202 giving their ids in order.
func TestPublishBatchOfObjects(t *testing.T) {
	for _, name := range []string{"inbound", "systemStatus"} {
		t.Run(name, func(t *testing.T) {
			log := &entries{}
			h, in, del := setupWith(t, func(o *ingest.Options) { o.Journal = log })
			w := post(h, name, tenant, key, "application/json", ` [{"n":1}, {"n":2},{"n":3, "deep":{"a":[1]}}] `, nil)
			require.Equal(t, http.StatusAccepted, w.Code, w.Body.String())
			got := ids(t, w.Body.Bytes())
			require.Len(t, got, 3)
			msgs := append(in.all(), del.all()...)
			require.Len(t, msgs, 3)
			var evs []event.Event
			if name == "inbound" {
				for _, m := range msgs {
					evs = append(evs, routedEvent(t, m))
				}
			} else {
				evs = delivered(t, msgs)
			}
			for i, ev := range evs {
				assert.Equal(t, got[i], ev.ID)
				assert.Equal(t, event.TypePublish, ev.Type)
				assert.Contains(t, string(ev.Data), fmt.Sprintf(`"n":%d`, i+1))
			}
			assert.Len(t, map[string]bool{got[0]: true, got[1]: true, got[2]: true}, 3, "each event its own id")
			require.Equal(t, 3, log.len(), "one acceptance in the delivery log per event")
			for i, e := range log.es {
				assert.Equal(t, got[i], e.EventID)
				assert.Equal(t, journal.Accepted, e.Stage)
			}
		})
	}
}

// A CloudEvents batch (application/cloudevents-batch+json) keeps every
// event's attributes.
func TestPublishCloudEventsBatch(t *testing.T) {
	h, _, del := setup(t)
	body := `[{"specversion":"1.0","id":"a-1","source":"/orders","type":"order.created","subject":"o-1","myext":"x","data":{"n":1}},
	          {"specversion":"1.0","id":"a-2","source":"/orders","type":"order.paid","time":"2026-12-03T10:00:00Z","data":{"n":2}}]`
	w := post(h, "systemStatus", tenant, key, ingest.ContentTypeBatch+"; charset=utf-8", body, nil)
	require.Equal(t, http.StatusAccepted, w.Code, w.Body.String())
	assert.Equal(t, []string{"a-1", "a-2"}, ids(t, w.Body.Bytes()))
	evs := delivered(t, del.all())
	require.Len(t, evs, 2)
	assert.Equal(t, "/orders", evs[0].Source)
	assert.Equal(t, "order.created", evs[0].Type)
	assert.Equal(t, "o-1", evs[0].Subject)
	assert.Equal(t, "x", evs[0].Extensions["myext"])
	assert.JSONEq(t, `{"n":1}`, string(evs[0].Data))
	assert.Equal(t, time.Date(2026, 12, 3, 10, 0, 0, 0, time.UTC), evs[1].Time)
}

// One bad event refuses the whole batch with 400 naming it, and nothing
// is queued.
func TestBadBatchQueuesNothing(t *testing.T) {
	ce := func(id string) string {
		return fmt.Sprintf(`{"specversion":"1.0","id":%q,"source":"/s","type":"t","data":{}}`, id)
	}
	many := "[" + strings.Repeat(`{},`, ingest.MaxBatch) + "{}]"
	for _, c := range []struct {
		name, ctype, body, want string
	}{
		{"empty array", "application/json", `[]`, "The batch is empty"},
		{"not an object", "application/json", `[{}, 2]`, "Event 2 of the batch (index 1): The event must be a JSON object."},
		{"too many", "application/json", many, fmt.Sprintf("at most %d events; this one has %d", ingest.MaxBatch, ingest.MaxBatch+1)},
		{"batch not an array", ingest.ContentTypeBatch, ce("x"), "must be a JSON array of CloudEvents"},
		{"batch not JSON", ingest.ContentTypeBatch, `[{`, "not valid JSON"},
		{"bad CloudEvent", ingest.ContentTypeBatch, "[" + ce("a") + `,{"specversion":"1.0","id":"b","source":"/s","data":{}}]`, "Event 2 of the batch (index 1): Invalid CloudEvent"},
		{"data not an object", ingest.ContentTypeBatch, `[{"specversion":"1.0","id":"b","source":"/s","type":"t","data":[1]}]`, "Event 1 of the batch (index 0): Invalid CloudEvent data"},
		{"too deep", "application/json", `[` + strings.Repeat(`{"a":`, ingest.MaxDepth+1) + `1` + strings.Repeat(`}`, ingest.MaxDepth+1) + `]`, "nested deeper"},
	} {
		t.Run(c.name, func(t *testing.T) {
			h, in, del := setup(t)
			w := post(h, "systemStatus", tenant, key, c.ctype, c.body, nil)
			require.Equal(t, http.StatusBadRequest, w.Code, w.Body.String())
			var e ingest.Error
			require.NoError(t, json.Unmarshal(w.Body.Bytes(), &e))
			assert.Equal(t, "invalid_event", e.ID)
			assert.Contains(t, e.Message, c.want)
			assert.Empty(t, append(in.all(), del.all()...))
		})
	}
}

// Every plan's burst takes a batch of MaxBatch at once.
func TestEveryPlanTakesAFullBatch(t *testing.T) {
	for _, p := range plan.All() {
		assert.GreaterOrEqual(t, p.Burst, ingest.MaxBatch, p.Name)
	}
}

// A batch spends one event of the plan's rate per event: past the burst,
// it is refused whole with 429 and Retry-After.
func TestBatchSpendsTheRatePerEvent(t *testing.T) {
	l := setupLimited(t, 0)
	batch := func(n int) string { return "[" + strings.TrimSuffix(strings.Repeat(`{"x":1},`, n), ",") + "]" }
	basic := plan.For("basic")
	w := post(l.h, "out", "a", "key-a", "application/json", batch(ingest.MaxBatch), nil)
	require.Equal(t, http.StatusAccepted, w.Code, w.Body.String())
	require.Len(t, ids(t, w.Body.Bytes()), ingest.MaxBatch)
	left := basic.Burst - ingest.MaxBatch
	w = post(l.h, "out", "a", "key-a", "application/json", batch(left+2), nil)
	require.Equal(t, http.StatusTooManyRequests, w.Code, w.Body.String())
	assert.NotEmpty(t, w.Header().Get("Retry-After"))
	assert.Contains(t, w.Body.String(), "rate_limited")
}

// A batch must fit its plan's backlog whole: one that would pass it is
// refused with 429 backlog_full, and queues nothing.
func TestBatchMustFitTheBacklog(t *testing.T) {
	l := setupLimited(t, 0)
	basic := plan.For("basic")
	l.backlog.Add("a", basic.Backlog-3)
	w := post(l.h, "out", "a", "key-a", "application/json", `[{"x":1},{"x":2},{"x":3},{"x":4}]`, nil)
	require.Equal(t, http.StatusTooManyRequests, w.Code, w.Body.String())
	assert.Contains(t, w.Body.String(), "backlog_full")
	assert.Equal(t, "1", w.Header().Get("Retry-After"))
	w = post(l.h, "out", "a", "key-a", "application/json", `[{"x":1},{"x":2},{"x":3}]`, nil)
	require.Equal(t, http.StatusAccepted, w.Code, w.Body.String())
}

// De-duplication works per event of a batch: by CloudEvent source and id
// (an event repeated inside the batch is queued once), or by the
// Idempotency-Key header and the event's index; a repeated batch is
// answered with the same ids and queues nothing.
func TestBatchIsDeduplicatedPerEvent(t *testing.T) {
	ce := func(id string, n int) string {
		return fmt.Sprintf(`{"specversion":"1.0","id":%q,"source":"/s","type":"t","data":{"n":%d}}`, id, n)
	}
	t.Run("cloudevents", func(t *testing.T) {
		h, _, del := setupWith(t, func(o *ingest.Options) { o.Dedup = memdedup.New(time.Now) })
		body := "[" + ce("a", 1) + "," + ce("b", 2) + "," + ce("a", 3) + "]"
		w := post(h, "systemStatus", tenant, key, ingest.ContentTypeBatch, body, nil)
		require.Equal(t, http.StatusAccepted, w.Code, w.Body.String())
		assert.Equal(t, []string{"a", "b", "a"}, ids(t, w.Body.Bytes()))
		assert.Empty(t, w.Header().Get(ingest.HeaderReplayed))
		require.Len(t, del.all(), 2, "the repeated event is queued once")

		w = post(h, "systemStatus", tenant, key, ingest.ContentTypeBatch, "["+ce("b", 2)+","+ce("c", 4)+"]", nil)
		require.Equal(t, http.StatusAccepted, w.Code, w.Body.String())
		assert.Equal(t, []string{"b", "c"}, ids(t, w.Body.Bytes()))
		assert.Empty(t, w.Header().Get(ingest.HeaderReplayed), "c was queued")
		evs := delivered(t, del.all())
		require.Len(t, evs, 3)
		assert.Equal(t, "c", evs[2].ID)

		w = post(h, "systemStatus", tenant, key, ingest.ContentTypeBatch, body, nil)
		require.Equal(t, http.StatusAccepted, w.Code, w.Body.String())
		assert.Equal(t, []string{"a", "b", "a"}, ids(t, w.Body.Bytes()))
		assert.Equal(t, "true", w.Header().Get(ingest.HeaderReplayed))
		assert.Len(t, del.all(), 3)
	})
	t.Run("idempotency key", func(t *testing.T) {
		h, in, _ := setupWith(t, func(o *ingest.Options) { o.Dedup = memdedup.New(time.Now) })
		hdr := map[string]string{"Idempotency-Key": "k-1"}
		w := post(h, "inbound", tenant, key, "application/json", `[{"n":1},{"n":2}]`, hdr)
		require.Equal(t, http.StatusAccepted, w.Code, w.Body.String())
		first := ids(t, w.Body.Bytes())
		w = post(h, "inbound", tenant, key, "application/json", `[{"n":1},{"n":2}]`, hdr)
		require.Equal(t, http.StatusAccepted, w.Code, w.Body.String())
		assert.Equal(t, first, ids(t, w.Body.Bytes()))
		assert.Equal(t, "true", w.Header().Get(ingest.HeaderReplayed))
		require.Len(t, in.all(), 2)

		// a single event under the same key is not the batch's first
		w = post(h, "inbound", tenant, key, "application/json", `{"n":1}`, hdr)
		require.Equal(t, http.StatusAccepted, w.Code, w.Body.String())
		var one ingest.Accepted
		require.NoError(t, json.Unmarshal(w.Body.Bytes(), &one))
		assert.NotContains(t, first, one.ID)
		assert.Len(t, in.all(), 3)
	})
}

// A batch the queue fails is answered 503 and releases its keys: the
// client's retry is queued, under the same ids.
func TestBatchQueueFailureReleasesItsKeys(t *testing.T) {
	h, _, del := setupWith(t, func(o *ingest.Options) { o.Dedup = memdedup.New(time.Now) })
	del.err = errors.New("queue down")
	body := `[{"specversion":"1.0","id":"a","source":"/s","type":"t","data":{}},{"specversion":"1.0","id":"b","source":"/s","type":"t","data":{}}]`
	w := post(h, "systemStatus", tenant, key, ingest.ContentTypeBatch, body, nil)
	require.Equal(t, http.StatusServiceUnavailable, w.Code, w.Body.String())
	assert.NotEmpty(t, w.Header().Get("Retry-After"))

	del.mu.Lock()
	del.err = nil
	del.mu.Unlock()
	w = post(h, "systemStatus", tenant, key, ingest.ContentTypeBatch, body, nil)
	require.Equal(t, http.StatusAccepted, w.Code, w.Body.String())
	assert.Equal(t, []string{"a", "b"}, ids(t, w.Body.Bytes()))
	assert.Empty(t, w.Header().Get(ingest.HeaderReplayed))
	assert.Len(t, del.all(), 2)
}

// A batch with one event whose key is in flight (another request is
// queuing it) is refused whole with 409, and the keys of its other events
// are released: the retry, once that key is confirmed, queues them and
// replays the one in flight.
func TestBatchWithAKeyInFlight(t *testing.T) {
	keys := memdedup.New(time.Now)
	h, _, del := setupWith(t, func(o *ingest.Options) { o.Dedup = keys })
	inFlight := dedup.Key("pub-1", dedup.KindCloudEvent, dedup.CloudEventKey("/s", "b"))
	res, err := keys.Claim(t.Context(), tenant, inFlight, "b", time.Hour)
	require.NoError(t, err)
	require.Equal(t, dedup.Claimed, res.Outcome)
	var evs []string
	for _, id := range []string{"a", "b", "c", "d"} {
		evs = append(evs, fmt.Sprintf(`{"specversion":"1.0","id":%q,"source":"/s","type":"t","data":{}}`, id))
	}
	body := "[" + strings.Join(evs, ",") + "]"
	w := post(h, "systemStatus", tenant, key, ingest.ContentTypeBatch, body, nil)
	require.Equal(t, http.StatusConflict, w.Code, w.Body.String())
	assert.Equal(t, "1", w.Header().Get("Retry-After"))
	assert.Empty(t, del.all())

	require.NoError(t, keys.Confirm(t.Context(), tenant, inFlight, "b"))
	w = post(h, "systemStatus", tenant, key, ingest.ContentTypeBatch, body, nil)
	require.Equal(t, http.StatusAccepted, w.Code, w.Body.String())
	assert.Equal(t, []string{"a", "b", "c", "d"}, ids(t, w.Body.Bytes()))
	got := delivered(t, del.all())
	require.Len(t, got, 3, "b was queued by the other request")
	assert.Equal(t, []string{"a", "c", "d"}, []string{got[0].ID, got[1].ID, got[2].ID})
}
