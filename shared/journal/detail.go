package journal

import (
	"encoding/json"
	"strconv"
	"time"

	"github.com/herokuevents/herokuevents/shared/jsonstr"
)

// MarshalDetail encodes the fields of e that drivers store as one value:
// everything but Tenant, EventID and Event (kept in their own columns or
// attributes). UnmarshalDetail reverses it.
//
// The encoding is JSON, byte for byte what encoding/json makes of detail,
// written out field by field: every entry of every event is encoded, and
// reflection was a noticeable part of the journal's cost.
func MarshalDetail(e Entry) ([]byte, error) {
	e.Tenant, e.EventID = "", ""
	if !rfc3339(e.Time) || !rfc3339(e.NextAttempt) || !rfc3339(e.FirstTry) {
		// encoding/json refuses such times: let it say so.
		return json.Marshal(detail{Entry: e, LatencyMicros: e.Latency.Microseconds()})
	}
	return appendDetail(make([]byte, 0, 256+len(e.Response)+len(e.Error)+len(e.Reason)), e), nil
}

// rfc3339 reports whether t is zero or encoding/json encodes it (RFC 3339
// allows 4-digit years and zone offsets under 24 hours).
func rfc3339(t time.Time) bool {
	if t.IsZero() {
		return true
	}
	_, off := t.Zone()
	return t.Year() >= 0 && t.Year() <= 9999 && off > -24*3600 && off < 24*3600
}

// appendDetail appends e's detail (Tenant and EventID left out) to b.
func appendDetail(b []byte, e Entry) []byte {
	d := detailWriter{b: append(b, '{')}
	d.str("tenant", e.Tenant)
	d.str("event_id", e.EventID)
	d.time("time", e.Time)
	d.str("stage", string(e.Stage))
	d.str("subscription", e.Subscription)
	d.str("subscription_name", e.SubscriptionName)
	d.str("publication", e.Publication)
	d.str("publication_name", e.PublicationName)
	d.str("via", e.Via)
	d.str("reason", e.Reason)
	d.int("attempt", int64(e.Attempt))
	d.str("outcome", string(e.Outcome))
	d.int("status", int64(e.Status))
	d.str("response", e.Response)
	d.str("error", e.Error)
	d.time("next_attempt", e.NextAttempt)
	d.time("first_try", e.FirstTry)
	d.int("latency_us", e.Latency.Microseconds())
	return append(d.b, '}')
}

// detailWriter appends the fields of a JSON object, leaving out empty
// ones (omitempty, omitzero).
type detailWriter struct {
	b    []byte
	some bool
}

func (d *detailWriter) key(k string) {
	if d.some {
		d.b = append(d.b, ',')
	}
	d.some = true
	d.b = append(d.b, '"')
	d.b = append(d.b, k...)
	d.b = append(d.b, '"', ':')
}

func (d *detailWriter) str(k, v string) {
	if v == "" {
		return
	}
	d.key(k)
	d.b = jsonstr.Append(d.b, v)
}

func (d *detailWriter) int(k string, v int64) {
	if v == 0 {
		return
	}
	d.key(k)
	d.b = strconv.AppendInt(d.b, v, 10)
}

func (d *detailWriter) time(k string, t time.Time) {
	if t.IsZero() {
		return
	}
	d.key(k)
	d.b = append(d.b, '"')
	d.b = t.AppendFormat(d.b, time.RFC3339Nano)
	d.b = append(d.b, '"')
}
