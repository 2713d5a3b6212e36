package embedded

import (
	"bytes"
	"encoding/json"

	"github.com/herokuevents/herokuevents/infra/embedded/sqlitequeue"
	"github.com/herokuevents/herokuevents/shared/jsonstr"
	"github.com/herokuevents/herokuevents/shared/queue"
)

// Fairness between tenants (DESIGN §6). Every queue's claims go
// round-robin across the tenants with waiting messages (sqlitequeue);
// deliveries are laned by publication within their tenant. A lane past a
// quarter of its consumer's concurrent batches (at least one) takes no
// more once only that quarter is free: a lane alone runs at nearly full
// speed, and a slow endpoint or a costly filter never holds the slots the
// others need. With the deliver function's concurrency of 20 batches of
// 10, one publication uses up to 15 batches (150 deliveries) and the
// other publications always find 5 free.

// laneShare is the part of a consumer's concurrency kept for the other
// lanes.
const laneShare = 4

// laneCap is a lane's cap (and the reserve) out of concurrency.
func laneCap(concurrency int) int { return max(1, concurrency/laneShare) }

// fairLanes sets the lanes and their caps of the queues consumed in this
// process (and of their dead-letter queues, so that a redriven message
// keeps its lane).
func fairLanes(ingest, delivery, deliveryDLQ, partner *sqlitequeue.Queue, filter, deliver, notify queue.Settings) {
	ingest.Lanes(nil, laneCap(filter.Concurrency))
	delivery.Lanes(deliveryLane, laneCap(deliver.Concurrency))
	deliveryDLQ.Lanes(deliveryLane, 0)
	partner.Lanes(nil, laneCap(notify.Concurrency))
}

// deliveryLane is the publication of a delivery (an event.Delivery in
// JSON), read from the body's first fields: event.Delivery encodes tenant
// and publication before the event, so the event itself is not decoded.
// A body it cannot read is in the tenant's "" lane. A body laid out as
// encoding/json writes a delivery is read directly (jsonstr.Cut); any
// other goes through a json.Decoder (decodedLane), which gives the same.
func deliveryLane(m queue.Message) string {
	b := m.Body
	if rest, ok := bytes.CutPrefix(b, []byte(`{"tenant":`)); ok {
		if _, rest, ok := jsonstr.Cut(rest); ok {
			if rest, ok := bytes.CutPrefix(rest, []byte(`,"publication":`)); ok {
				if pub, _, ok := jsonstr.Cut(rest); ok {
					return string(pub)
				}
			}
		}
	}
	return decodedLane(b)
}

// decodedLane is deliveryLane for any body: the first publication field
// of a JSON object.
func decodedLane(b []byte) string {
	dec := json.NewDecoder(bytes.NewReader(b))
	if t, err := dec.Token(); err != nil || t != json.Delim('{') {
		return ""
	}
	for dec.More() {
		k, err := dec.Token()
		if err != nil {
			return ""
		}
		if k == "publication" {
			var pub string
			if err := dec.Decode(&pub); err != nil {
				return ""
			}
			return pub
		}
		var skip json.RawMessage
		if err := dec.Decode(&skip); err != nil {
			return ""
		}
	}
	return ""
}
