package filter

import (
	"bytes"
	"encoding/json"
	"time"

	"github.com/herokuevents/herokuevents/shared/event"
	"github.com/herokuevents/herokuevents/shared/jsonstr"
)

// deliveryJSON returns the JSON of d, a delivery of the event of r with
// the data the stream's filter made of it. It writes it around ev, the
// event's JSON from its message (eventJSON), instead of encoding the event
// again (spliceDelivery), and encodes d with encoding/json when it cannot.
func deliveryJSON(ev []byte, r event.Routed, d event.Delivery) ([]byte, error) {
	if b, ok := spliceDelivery(ev, r, d); ok {
		return b, nil
	}
	return json.Marshal(d)
}

const dataMember = `,"data":`

// spliceDelivery writes d as encoding/json does around ev, the JSON of r's
// event taken from its message (eventJSON: nil when the message is not as
// encoding/json writes it), when the event has no extension
// attributes (its data, when it has any, is then its last member) and d is
// a first delivery (no attempt, hold or rate slot yet). d's event is r's
// but for its data: the event's, or the filter's output, JSON as
// encoding/json writes it (mapping.Result.Out). FuzzSpliceDelivery holds it to json.Marshal byte for
// byte; ok is false when it cannot tell.
func spliceDelivery(ev []byte, r event.Routed, d event.Delivery) (b []byte, ok bool) {
	if len(r.Event.Extensions) > 0 || len(d.Event.Extensions) > 0 ||
		d.Attempt != 0 || d.Held != 0 || !d.HeldSince.IsZero() || !d.RateSlot.IsZero() || d.FirstTry.IsZero() {
		return nil, false
	}
	if y := d.FirstTry.Year(); y < 0 || y > 9999 {
		return nil, false // encoding/json refuses it
	}
	if len(ev) < 2 {
		return nil, false
	}
	// ev without its data member, when it has one, and without its
	// closing brace.
	head := ev[:len(ev)-1]
	if old := r.Event.Data; len(old) > 0 {
		data, h, ok := event.LastData(ev)
		if !ok || !bytes.Equal(data, old) {
			return nil, false
		}
		head = h
	}
	if len(head) < 2 || head[0] != '{' || ev[len(ev)-1] != '}' {
		return nil, false
	}
	b = make([]byte, 0, len(head)+len(d.Event.Data)+len(d.Tenant)+len(d.Publication)+len(d.Key)+128)
	b = append(b, `{"tenant":`...)
	b = jsonstr.Append(b, d.Tenant)
	b = append(b, `,"publication":`...)
	b = jsonstr.Append(b, d.Publication)
	b = append(b, `,"event":`...)
	b = append(b, head...)
	if len(d.Event.Data) > 0 {
		b = append(b, dataMember...)
		b = append(b, d.Event.Data...)
	}
	b = append(b, `},"attempt":0,"first_try":"`...)
	b = d.FirstTry.AppendFormat(b, time.RFC3339Nano)
	b = append(b, '"')
	if d.Ordered {
		b = append(b, `,"ordered":true`...)
	}
	if d.Key != "" {
		b = append(b, `,"key":`...)
		b = jsonstr.Append(b, d.Key)
	}
	return append(b, '}'), true
}

// eventJSON returns the JSON of r's event in body, the message r was
// decoded from, when body is r as encoding/json writes it (a prefix
// {"tenant":…,"subscription":…,"event": written as encoding/json writes
// it, and no member after the event); ok is false otherwise.
func eventJSON(body []byte, r event.Routed) (ev []byte, ok bool) {
	if r.Error != "" || r.Replay != nil {
		return nil, false
	}
	var buf [160]byte
	p := append(buf[:0], `{"tenant":`...)
	p = jsonstr.Append(p, r.Tenant)
	p = append(p, `,"subscription":`...)
	p = jsonstr.Append(p, r.Subscription)
	p = append(p, `,"event":`...)
	if !bytes.HasPrefix(body, p) || len(body) < len(p)+3 || body[len(body)-1] != '}' {
		return nil, false
	}
	return body[len(p) : len(body)-1], true
}
