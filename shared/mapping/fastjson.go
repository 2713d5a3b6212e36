package mapping

import (
	"math"
	"strconv"
	"unicode/utf8"
)

// maxFastDepth is the deepest nesting decodeFast reads; deeper documents
// go to encoding/json (whose own limit is far larger).
const maxFastDepth = 512

// decodeFast is decode in one pass for the documents events carry: one
// JSON value, white space around it allowed, no escape sequence and no
// invalid UTF-8 in its strings. It makes what decodeStd (encoding/json,
// then normalize) makes: maps, slices, strings, bools, nil, and numbers as
// int64 where exact, else float64, else their text. ok is false for any
// other input, which decode then reads with decodeStd. A worker decodes every event it filters:
// encoding/json's Decoder was a third of its processor time.
func decodeFast(data []byte) (v any, ok bool) {
	p := fastParser{b: data}
	p.space()
	v, ok = p.value(0)
	if !ok {
		return nil, false
	}
	p.space()
	return v, p.i == len(p.b)
}

type fastParser struct {
	b []byte
	i int
}

func (p *fastParser) space() {
	for p.i < len(p.b) {
		switch p.b[p.i] {
		case ' ', '\t', '\n', '\r':
			p.i++
		default:
			return
		}
	}
}

func (p *fastParser) value(depth int) (any, bool) {
	if p.i >= len(p.b) {
		return nil, false
	}
	switch c := p.b[p.i]; {
	case c == '{':
		return p.object(depth + 1)
	case c == '[':
		return p.array(depth + 1)
	case c == '"':
		s, ok := p.str()
		return s, ok
	case c == 't':
		return true, p.lit("true")
	case c == 'f':
		return false, p.lit("false")
	case c == 'n':
		return nil, p.lit("null")
	case c == '-' || (c >= '0' && c <= '9'):
		return p.number()
	}
	return nil, false
}

func (p *fastParser) lit(s string) bool {
	if len(p.b)-p.i < len(s) || string(p.b[p.i:p.i+len(s)]) != s {
		return false
	}
	p.i += len(s)
	return true
}

func (p *fastParser) object(depth int) (any, bool) {
	if depth > maxFastDepth {
		return nil, false
	}
	m := map[string]any{}
	for more := !p.open('}'); more; {
		p.space()
		k, ok := p.str()
		if !ok {
			return nil, false
		}
		p.space()
		if p.i >= len(p.b) || p.b[p.i] != ':' {
			return nil, false
		}
		p.i++
		p.space()
		v, ok := p.value(depth)
		if !ok {
			return nil, false
		}
		m[k] = v
		if more, ok = p.next('}'); !ok {
			return nil, false
		}
	}
	return m, true
}

func (p *fastParser) array(depth int) (any, bool) {
	if depth > maxFastDepth {
		return nil, false
	}
	a := make([]any, 0)
	for more := !p.open(']'); more; {
		p.space()
		v, ok := p.value(depth)
		if !ok {
			return nil, false
		}
		a = append(a, v)
		if more, ok = p.next(']'); !ok {
			return nil, false
		}
	}
	return a, true
}

// open consumes the opening bracket of an object or array, and its
// closing one when it is empty (reported).
func (p *fastParser) open(closing byte) (empty bool) {
	p.i++
	p.space()
	if p.i < len(p.b) && p.b[p.i] == closing {
		p.i++
		return true
	}
	return false
}

// next consumes what follows a member or an element: a comma (more
// follow) or the closing bracket; ok is false for anything else.
func (p *fastParser) next(closing byte) (more, ok bool) {
	p.space()
	if p.i >= len(p.b) {
		return false, false
	}
	switch p.b[p.i] {
	case ',':
		p.i++
		return true, true
	case closing:
		p.i++
		return false, true
	}
	return false, false
}

// str reads a string with no escape, no control character and valid
// UTF-8 (what encoding/json would change or refuse goes to it): what
// jsonstr.Cut reads, which this package, a leaf (scripts/archtest), does
// not import.
func (p *fastParser) str() (string, bool) {
	if p.i >= len(p.b) || p.b[p.i] != '"' {
		return "", false
	}
	start := p.i + 1
	for k := start; k < len(p.b); k++ {
		switch c := p.b[k]; {
		case c == '"':
			s := p.b[start:k]
			if !utf8.Valid(s) {
				return "", false
			}
			p.i = k + 1
			return string(s), true
		case c == '\\' || c < 0x20:
			return "", false
		}
	}
	return "", false
}

// number reads a JSON number and makes of it what normalize makes of its
// json.Number.
func (p *fastParser) number() (any, bool) {
	start := p.i
	if p.b[p.i] == '-' {
		p.i++
	}
	switch {
	case p.i < len(p.b) && p.b[p.i] == '0':
		p.i++
	case p.i < len(p.b) && p.b[p.i] >= '1' && p.b[p.i] <= '9':
		p.digits()
	default:
		return nil, false
	}
	if p.i < len(p.b) && p.b[p.i] == '.' {
		p.i++
		if !p.digits() {
			return nil, false
		}
	}
	if p.i < len(p.b) && (p.b[p.i] == 'e' || p.b[p.i] == 'E') {
		p.i++
		if p.i < len(p.b) && (p.b[p.i] == '+' || p.b[p.i] == '-') {
			p.i++
		}
		if !p.digits() {
			return nil, false
		}
	}
	s := string(p.b[start:p.i])
	if i, err := strconv.ParseInt(s, 10, 64); err == nil {
		return i, true
	}
	if f, err := strconv.ParseFloat(s, 64); err == nil && !math.IsInf(f, 0) {
		return f, true
	}
	return s, true
}

// digits consumes one or more digits.
func (p *fastParser) digits() bool {
	start := p.i
	for p.i < len(p.b) && p.b[p.i] >= '0' && p.b[p.i] <= '9' {
		p.i++
	}
	return p.i > start
}
