package ingest

import (
	"encoding/json"
	"errors"
	"strconv"

	cloudevents "github.com/cloudevents/sdk-go/v2/event"

	"github.com/herokuevents/herokuevents/shared/dedup"
	"github.com/herokuevents/herokuevents/shared/event"
	"github.com/herokuevents/herokuevents/shared/httpjson"
)

// A publish request can carry several events (a batch), each accepted,
// queued and delivered as if it had been published alone: a CloudEvents
// batch (Content-Type application/cloudevents-batch+json, the HTTP
// binding's batched mode: a JSON array of structured events) or a plain
// JSON array of objects, each the data of a new event. The batch is
// accepted whole or not at all: one bad event refuses the request (400,
// naming its index) and nothing is queued. Its 202 gives the events' ids
// in the order they were posted (AcceptedBatch).

// MaxBatch is the most events one publish request may carry.
const MaxBatch = 100

// ContentTypeBatch is the media type of a CloudEvents batch.
const ContentTypeBatch = cloudevents.ApplicationCloudEventsBatchJSON

// AcceptedBatch is the 202 response body of a batch publish.
type AcceptedBatch struct {
	IDs []string `json:"ids"`
}

// posted is what a publish request carries: its events, whether as a
// batch, and whether as CloudEvents (whose source and id de-duplicate).
type posted struct {
	evs       []event.Event
	batch, ce bool
}

// place is event i's index in its batch, -1 for a single event.
func (p posted) place(i int) int {
	if !p.batch {
		return -1
	}
	return i
}

// isArray reports whether body is (or starts as) a JSON array.
func isArray(body []byte) bool {
	trimmed := httpjson.TrimSpace(body)
	return len(trimmed) > 0 && trimmed[0] == '['
}

// decodeBatch decodes a batch's events: structured CloudEvents when ce,
// else objects that become the data of new events of rt.
func (h *Handler) decodeBatch(body []byte, tenant string, rt route, ce bool) ([]event.Event, error) {
	trimmed := httpjson.TrimSpace(body)
	switch {
	case len(trimmed) == 0:
		return nil, badEvent("The body is empty: post a JSON array of events.")
	case !json.Valid(trimmed):
		return nil, badEvent("The body is not valid JSON.")
	case trimmed[0] != '[':
		return nil, badEventf("A %s body must be a JSON array of CloudEvents.", ContentTypeBatch)
	case httpjson.Depth(trimmed) > MaxDepth+1:
		return nil, badEventf("The JSON is nested deeper than %d levels.", MaxDepth+1)
	}
	var elems []json.RawMessage
	if err := json.Unmarshal(trimmed, &elems); err != nil {
		return nil, badEventf("The body is not a JSON array: %v", err)
	}
	switch {
	case len(elems) == 0:
		return nil, badEvent("The batch is empty: post at least one event.")
	case len(elems) > MaxBatch:
		return nil, badEventf("A batch carries at most %d events; this one has %d: split it.", MaxBatch, len(elems))
	}
	now := h.o.Now().UTC()
	evs := make([]event.Event, len(elems))
	for i, el := range elems {
		var err error
		// The array was checked whole (valid, and nested at most one level
		// deeper than an event may be): an element is a JSON value.
		if ce {
			evs[i], err = decodeBatched(el)
		} else if el[0] != '{' {
			err = badEvent("The event must be a JSON object.")
		} else {
			evs[i] = event.New(event.Source(tenant, rt.kind+"s", rt.name), event.TypePublish, el)
			evs[i].Time = now
		}
		if err != nil {
			return nil, at(i, err)
		}
	}
	return evs, nil
}

// decodeBatched decodes one structured CloudEvent of a batch with the
// SDK's JSON format, as decodeCloudEvent does a structured request.
func decodeBatched(raw []byte) (event.Event, error) {
	var ce cloudevents.Event
	if err := json.Unmarshal(raw, &ce); err != nil {
		return event.Event{}, badEventf("Invalid CloudEvent: %v", err)
	}
	return fromSDK(&ce, raw)
}

// at prefixes a problem with the event's place in a batch (i ≥ 0).
func at(i int, err error) error {
	if i < 0 {
		return err
	}
	var bad badEvent
	if errors.As(err, &bad) {
		return badEventf("Event %d of the batch (index %d): %v", i+1, i, err)
	}
	return err
}

// publishKey returns the de-duplication key of the i-th event of a
// publish (i < 0: a single event), "" when it has none: from the
// Idempotency-Key header, an event of a batch under its index; else from
// a CloudEvent's source and id.
func publishKey(rt route, header string, ce bool, i int, ev event.Event) string {
	switch {
	case header != "" && i < 0:
		return dedup.Key(rt.id, dedup.KindHeader, header)
	case header != "":
		// a header holds no control character: no single key is this
		return dedup.Key(rt.id, dedup.KindHeader, header+"\x00"+strconv.Itoa(i))
	case ce:
		return dedup.Key(rt.id, dedup.KindCloudEvent, dedup.CloudEventKey(ev.Source, ev.ID))
	}
	return ""
}
