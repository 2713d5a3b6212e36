package event

import (
	"bytes"
	"encoding/json"
	"strconv"
	"time"

	"github.com/herokuevents/herokuevents/shared/jsonstr"
)

// DecodeDelivery decodes a delivery as json.Unmarshal into a zero
// Delivery does, with the same result and the same errors. A delivery
// laid out as encoding/json writes it (the members in field order, no
// white space, no escapes in its strings, no extension attributes) is
// read directly: its data is checked with json.Valid only, not decoded
// value by value as json.Unmarshal does with the whole document. Any
// other document goes to json.Unmarshal. The deliver role reads every
// message with it.
func DecodeDelivery(b []byte) (Delivery, error) {
	if d, ok := readDelivery(b); ok {
		return d, nil
	}
	var d Delivery
	err := json.Unmarshal(b, &d)
	return d, err
}

// readDelivery is DecodeDelivery's direct path; ok is false when b is
// not laid out as it expects (or not valid), to be decoded otherwise.
//
// The event's JSON ends at the last `},"attempt":` (every string after it
// is read here and holds no quote), and its data is found by LastData,
// the layout's own reader.
func readDelivery(b []byte) (d Delivery, ok bool) {
	j := bytes.LastIndex(b, []byte(`},"attempt":`))
	if j < 0 {
		return Delivery{}, false
	}
	r := reader{b: b[:j+1]}
	if !(r.lit(`{"tenant":`) && r.str(&d.Tenant) && r.lit(`,"publication":`) && r.str(&d.Publication) && r.lit(`,"event":`)) {
		return Delivery{}, false
	}
	data, head, ok := LastData(r.b)
	if !ok || len(data) == 0 || space(data[0]) || space(data[len(data)-1]) || !json.Valid(data) {
		return Delivery{}, false
	}
	r = reader{b: head}
	ev := &d.Event
	ok = r.lit(`{"id":`) && r.str(&ev.ID) &&
		r.lit(`,"source":`) && r.str(&ev.Source) &&
		r.lit(`,"type":`) && r.str(&ev.Type) &&
		r.opt(`,"subject":`, func() bool { return r.str(&ev.Subject) }) &&
		r.lit(`,"time":`) && r.time(&ev.Time) &&
		r.opt(`,"datacontenttype":`, func() bool { return r.str(&ev.DataContentType) }) &&
		r.opt(`,"dataschema":`, func() bool { return r.str(&ev.DataSchema) }) &&
		r.end()
	if !ok {
		return Delivery{}, false
	}
	ev.Data = bytes.Clone(data)
	r = reader{b: b[j+len(`},`):]}
	ok = r.lit(`"attempt":`) && r.int(&d.Attempt) &&
		r.opt(`,"first_try":`, func() bool { return r.time(&d.FirstTry) }) &&
		r.opt(`,"held":`, func() bool { return r.int(&d.Held) }) &&
		r.opt(`,"held_since":`, func() bool { return r.time(&d.HeldSince) }) &&
		r.opt(`,"rate_slot":`, func() bool { return r.time(&d.RateSlot) }) &&
		r.opt(`,"ordered":`, func() bool { return r.bool(&d.Ordered) }) &&
		r.opt(`,"key":`, func() bool { return r.str(&d.Key) }) &&
		r.lit(`}`) && r.end()
	if !ok {
		return Delivery{}, false
	}
	return d, true
}

// space reports whether c is JSON white space.
func space(c byte) bool { return c == ' ' || c == '\t' || c == '\n' || c == '\r' }

// reader reads the members of readDelivery's layout off b.
type reader struct{ b []byte }

func (r *reader) end() bool { return len(r.b) == 0 }

// lit consumes s.
func (r *reader) lit(s string) bool {
	if !bytes.HasPrefix(r.b, []byte(s)) {
		return false
	}
	r.b = r.b[len(s):]
	return true
}

// opt consumes key and its value (read by value) when b starts with key.
func (r *reader) opt(key string, value func() bool) bool {
	if !r.lit(key) {
		return true
	}
	return value()
}

// quoted consumes a string that needs no decoding (jsonstr.Cut) and
// returns it with its quotes.
func (r *reader) quoted() ([]byte, bool) {
	_, rest, ok := jsonstr.Cut(r.b)
	if !ok {
		return nil, false
	}
	s := r.b[:len(r.b)-len(rest)]
	r.b = rest
	return s, true
}

func (r *reader) str(v *string) bool {
	s, ok := r.quoted()
	if ok {
		*v = string(s[1 : len(s)-1])
	}
	return ok
}

// time reads a time as encoding/json does: by time.Time's UnmarshalJSON.
func (r *reader) time(v *time.Time) bool {
	s, ok := r.quoted()
	return ok && v.UnmarshalJSON(s) == nil
}

// int reads an integer with no fraction or exponent.
func (r *reader) int(v *int) bool {
	k := 0
	if k < len(r.b) && r.b[k] == '-' {
		k++
	}
	digits := k
	for k < len(r.b) && r.b[k] >= '0' && r.b[k] <= '9' {
		k++
	}
	if k == digits || (r.b[digits] == '0' && k > digits+1) {
		return false
	}
	n, err := strconv.Atoi(string(r.b[:k]))
	if err != nil {
		return false
	}
	*v, r.b = n, r.b[k:]
	return true
}

func (r *reader) bool(v *bool) bool {
	switch {
	case r.lit("true"):
		*v = true
	case r.lit("false"):
		*v = false
	default:
		return false
	}
	return true
}
