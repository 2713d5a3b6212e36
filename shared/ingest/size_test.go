package ingest_test

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/herokuevents/herokuevents/shared/event"
	"github.com/herokuevents/herokuevents/shared/queue"
)

// sqsSize is a message's size as SQS counts it (body, attribute names,
// types and values), written out here independently of the code under test.
func sqsSize(body []byte, attrs map[string]string) int {
	n := len(body)
	for k, v := range attrs {
		n += len(k) + len("String") + len(v)
	}
	return n
}

// TestNearLimitBodiesAreRefusedOrDeliverable posts bodies around 1 MiB to a
// publication and to a subscription: each is refused with 413 or, when
// accepted, every message the event later becomes (the filter's delivery,
// a retry at a high attempt, held and rate-slotted, the dead letter with a
// full reason) still fits the queue. 1 MiB − 50 bytes is refused.
func TestNearLimitBodiesAreRefusedOrDeliverable(t *testing.T) {
	h, in, del := setup(t)
	accepted := map[string]int{}
	for _, target := range []string{"systemStatus", "inbound"} {
		for _, size := range []int{queue.MaxBody - 50, queue.MaxBody - 500, queue.MaxBody - 1000, queue.MaxBody - 1500, queue.MaxBody - 3000, queue.MaxBody - 4000} {
			body := `{"p":"` + strings.Repeat("a", size-len(`{"p":""}`)) + `"}`
			require.Len(t, body, size)
			before := len(in.all()) + len(del.all())
			w := post(h, target, tenant, key, "application/json", body, nil)
			if size == queue.MaxBody-50 {
				require.Equal(t, http.StatusRequestEntityTooLarge, w.Code, "1 MiB - 50 bytes to %s", target)
			}
			if w.Code == http.StatusRequestEntityTooLarge {
				var e struct{ ID, Message string }
				require.NoError(t, json.Unmarshal(w.Body.Bytes(), &e))
				assert.Equal(t, "payload_too_large", e.ID)
				assert.Contains(t, e.Message, "over the 1048576-byte limit")
				assert.Equal(t, before, len(in.all())+len(del.all()), "a refused event changes nothing")
				continue
			}
			require.Equal(t, http.StatusAccepted, w.Code, "%d bytes to %s: %s", size, target, w.Body.String())
			accepted[target]++
			var ev event.Event
			if target == "systemStatus" {
				var d event.Delivery
				require.NoError(t, json.Unmarshal(del.all()[len(del.all())-1].Body, &d))
				ev = d.Event
			} else {
				var r event.Routed
				require.NoError(t, json.Unmarshal(in.all()[len(in.all())-1].Body, &r))
				ev = r.Event
			}
			now := time.Now()
			later := event.Delivery{Tenant: tenant, Publication: uuid.NewString(), Event: ev, Attempt: 1_000_000,
				FirstTry: now, Held: 1_000_000, HeldSince: now, RateSlot: now}
			b, err := json.Marshal(later)
			require.NoError(t, err)
			dead := map[string]string{queue.AttrTenant: tenant, queue.AttrAttempt: "1000000", queue.AttrHeld: uuid.NewString(),
				queue.AttrReason: strings.Repeat("r", queue.MaxReason)}
			assert.LessOrEqual(t, sqsSize(b, dead), queue.MaxBody, "%d bytes to %s: accepted, so it must stay deliverable", size, target)
		}
	}
	assert.Equal(t, map[string]int{"systemStatus": 2, "inbound": 2}, accepted, "bodies up to about 1 MiB - 3 KiB are accepted (the widest envelope includes an ordering key)")
}
