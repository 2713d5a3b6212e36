package deliver

import (
	"encoding/json"
	"time"
	"unicode/utf8"

	"github.com/herokuevents/herokuevents/shared/event"
)

// decodeDelivery is json.Unmarshal(b, d) for a zero d. The delivery
// queue's bodies are json.Marshal's output (the filter's, ingest's and
// this role's retries), which a reader of that one shape decodes without
// reflection: every member once, by its exact name, strings without
// escapes. Anything else — another spelling of a name, a repeated member,
// an escape, null, a number that is not a plain integer, invalid JSON —
// is left to json.Unmarshal, which then decides (and words the error).
func decodeDelivery(b []byte, d *event.Delivery) error {
	if r := (reader{b: b}); r.delivery(d) {
		return nil
	}
	*d = event.Delivery{}
	return json.Unmarshal(b, d)
}

// reader reads one JSON text; its methods report false on anything
// outside the shape they read.
type reader struct {
	b []byte
	i int
}

func (r *reader) ws() {
	for r.i < len(r.b) {
		switch r.b[r.i] {
		case ' ', '\t', '\n', '\r':
			r.i++
		default:
			return
		}
	}
}

// byte consumes c, after white space.
func (r *reader) byte(c byte) bool {
	r.ws()
	if r.i < len(r.b) && r.b[r.i] == c {
		r.i++
		return true
	}
	return false
}

// object reads an object whose members member reads, each name at most
// once (seen has a bit per name: member returns the bit of the name it
// read, 0 for a name it does not know or a value it cannot read).
func (r *reader) object(member func(name []byte) uint) bool {
	if !r.byte('{') {
		return false
	}
	if r.byte('}') {
		return true
	}
	var seen uint
	for {
		name, ok := r.raw()
		if !ok || !r.byte(':') {
			return false
		}
		r.ws()
		bit := member(name)
		if bit == 0 || seen&bit != 0 {
			return false
		}
		seen |= bit
		if r.byte('}') {
			return true
		}
		if !r.byte(',') {
			return false
		}
	}
}

// raw reads a string without escapes or control characters and returns
// its bytes, which are valid UTF-8.
func (r *reader) raw() ([]byte, bool) {
	r.ws()
	if r.i >= len(r.b) || r.b[r.i] != '"' {
		return nil, false
	}
	start := r.i + 1
	for i := start; i < len(r.b); i++ {
		switch c := r.b[i]; {
		case c == '"':
			s := r.b[start:i]
			if !utf8.Valid(s) {
				return nil, false
			}
			r.i = i + 1
			return s, true
		case c < 0x20 || c == '\\':
			return nil, false
		}
	}
	return nil, false
}

func (r *reader) string(s *string) bool {
	b, ok := r.raw()
	*s = string(b)
	return ok
}

// time reads an RFC 3339 string as time.Time.UnmarshalJSON does.
func (r *reader) time(t *time.Time) bool {
	start := r.i
	if _, ok := r.raw(); !ok {
		return false
	}
	return t.UnmarshalJSON(r.b[start:r.i]) == nil
}

// int reads an integer without fraction or exponent that fits an int.
func (r *reader) int(n *int) bool {
	neg := r.i < len(r.b) && r.b[r.i] == '-'
	if neg {
		r.i++
	}
	start, v := r.i, 0
	for r.i < len(r.b) && r.b[r.i] >= '0' && r.b[r.i] <= '9' {
		v = v*10 + int(r.b[r.i]-'0')
		r.i++
	}
	digits := r.i - start
	if digits == 0 || digits > 18 || (digits > 1 && r.b[start] == '0') {
		return false
	}
	if r.i < len(r.b) && (r.b[r.i] == '.' || r.b[r.i] == 'e' || r.b[r.i] == 'E') {
		return false
	}
	if neg {
		v = -v
	}
	*n = v
	return true
}

func (r *reader) bool(v *bool) bool {
	for _, lit := range [...]string{"true", "false"} {
		if len(r.b)-r.i >= len(lit) && string(r.b[r.i:r.i+len(lit)]) == lit {
			r.i += len(lit)
			*v = lit == "true"
			return true
		}
	}
	return false
}

// value reads any JSON value but null and returns its bytes.
func (r *reader) value() ([]byte, bool) {
	start := r.i
	if r.i >= len(r.b) {
		return nil, false
	}
	switch r.b[r.i] {
	case '"':
		if !r.skipString() {
			return nil, false
		}
	case '{', '[':
		for depth := 0; ; {
			if r.i >= len(r.b) {
				return nil, false
			}
			switch r.b[r.i] {
			case '"':
				if !r.skipString() {
					return nil, false
				}
				continue
			case '{', '[':
				depth++
			case '}', ']':
				depth--
			}
			r.i++
			if depth == 0 {
				break
			}
		}
	default: // a number or a literal
		for r.i < len(r.b) && !isDelim(r.b[r.i]) {
			r.i++
		}
	}
	return r.valid(start)
}

// skipString moves past the string at r.i.
func (r *reader) skipString() bool {
	for r.i++; r.i < len(r.b); r.i++ {
		switch r.b[r.i] {
		case '\\':
			r.i++
		case '"':
			r.i++
			return true
		}
	}
	return false
}

func isDelim(c byte) bool {
	switch c {
	case ' ', '\t', '\n', '\r', ',', '}', ']', ':':
		return true
	}
	return false
}

// valid returns the bytes from start to r.i when they are one valid JSON
// value other than null.
func (r *reader) valid(start int) ([]byte, bool) {
	v := r.b[start:r.i]
	if len(v) == 0 || string(v) == "null" || !json.Valid(v) {
		return nil, false
	}
	return v, true
}

func (r *reader) delivery(d *event.Delivery) bool {
	ok := r.object(func(name []byte) uint {
		switch string(name) {
		case "tenant":
			return bit(1, r.string(&d.Tenant))
		case "publication":
			return bit(2, r.string(&d.Publication))
		case "event":
			return bit(3, r.event(&d.Event))
		case "attempt":
			return bit(4, r.int(&d.Attempt))
		case "first_try":
			return bit(5, r.time(&d.FirstTry))
		case "held":
			return bit(6, r.int(&d.Held))
		case "held_since":
			return bit(7, r.time(&d.HeldSince))
		case "rate_slot":
			return bit(8, r.time(&d.RateSlot))
		case "ordered":
			return bit(9, r.bool(&d.Ordered))
		case "key":
			return bit(10, r.string(&d.Key))
		}
		return 0
	})
	r.ws()
	return ok && r.i == len(r.b)
}

func (r *reader) event(e *event.Event) bool {
	return r.object(func(name []byte) uint {
		switch string(name) {
		case "id":
			return bit(1, r.string(&e.ID))
		case "source":
			return bit(2, r.string(&e.Source))
		case "type":
			return bit(3, r.string(&e.Type))
		case "subject":
			return bit(4, r.string(&e.Subject))
		case "time":
			return bit(5, r.time(&e.Time))
		case "datacontenttype":
			return bit(6, r.string(&e.DataContentType))
		case "dataschema":
			return bit(7, r.string(&e.DataSchema))
		case "data":
			v, ok := r.value()
			if ok {
				e.Data = append(json.RawMessage(nil), v...)
			}
			return bit(8, ok)
		case "extensions":
			v, ok := r.value()
			return bit(9, ok && v[0] == '{' && json.Unmarshal(v, &e.Extensions) == nil)
		}
		return 0
	})
}

// bit is 1<<n when ok, else 0.
func bit(n uint, ok bool) uint {
	if !ok {
		return 0
	}
	return 1 << n
}
