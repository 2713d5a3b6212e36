package event

import (
	"encoding/json"
	"fmt"
	"math"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"unicode/utf8"
)

// MaxExtensions bounds the extension attributes of an event received from
// outside (CheckAttributes).
const MaxExtensions = 32

// MaxExtensionName bounds the length of an extension attribute's name.
// CloudEvents asks for at most 20 characters (a SHOULD); longer names
// are accepted up to this bound.
const MaxExtensionName = 64

// extensionName is the CloudEvents attribute name rule: lower-case ASCII
// letters and digits.
var extensionName = regexp.MustCompile(`^[a-z0-9]+$`)

// reserved are the names an extension may not take: the CloudEvents 1.0
// context attributes, and data (the JSON format's member for the payload).
var reserved = map[string]bool{
	"specversion": true, "id": true, "source": true, "type": true, "subject": true, "time": true,
	"datacontenttype": true, "dataschema": true, "data": true,
}

// CheckExtension checks one extension attribute by the CloudEvents rules
// and returns its value in canonical form. The name is 1 to
// MaxExtensionName lower-case ASCII letters and digits and is not a
// context attribute's name nor "data". The value is a String (valid UTF-8
// without control characters), a Boolean, or an Integer: a whole number in
// the 32-bit signed range, given as any Go integer, a float64 with no
// fraction (what a JSON round trip gives) or a json.Number; integers come
// back as int32. The other CloudEvents types (URI, Timestamp, Binary) travel
// as their canonical strings, as in the JSON format and the HTTP binding.
// Errors wrap ErrInvalid.
func CheckExtension(name string, v any) (any, error) {
	switch {
	case name == "" || len(name) > MaxExtensionName || !extensionName.MatchString(name):
		return nil, fmt.Errorf("%w: extension attribute name %q: use 1 to %d lower-case ASCII letters and digits", ErrInvalid, name, MaxExtensionName)
	case reserved[name]:
		return nil, fmt.Errorf("%w: extension attribute name %q is reserved", ErrInvalid, name)
	}
	switch v := v.(type) {
	case string:
		if err := CheckString("extension attribute "+name, v); err != nil {
			return nil, err
		}
		return v, nil
	case bool:
		return v, nil
	case int:
		return integer(name, int64(v), true)
	case int8:
		return int32(v), nil
	case int16:
		return int32(v), nil
	case int32:
		return v, nil
	case int64:
		return integer(name, v, true)
	case uint8:
		return int32(v), nil
	case uint16:
		return int32(v), nil
	case uint32:
		return integer(name, int64(v), true)
	case uint:
		return integer(name, int64(min(v, math.MaxInt64)), v <= math.MaxInt64)
	case uint64:
		return integer(name, int64(min(v, math.MaxInt64)), v <= math.MaxInt64)
	case float32:
		return float(name, float64(v))
	case float64:
		return float(name, v)
	case json.Number:
		n, err := strconv.ParseInt(string(v), 10, 64)
		if err != nil {
			f, ferr := v.Float64()
			if ferr != nil {
				return nil, fmt.Errorf("%w: extension attribute %s: %q is not a number", ErrInvalid, name, string(v))
			}
			return float(name, f)
		}
		return integer(name, n, true)
	case nil:
		return nil, fmt.Errorf("%w: extension attribute %s has no value", ErrInvalid, name)
	}
	return nil, fmt.Errorf("%w: extension attribute %s: a %T is not a CloudEvents string, boolean or integer", ErrInvalid, name, v)
}

func integer(name string, n int64, ok bool) (any, error) {
	if !ok || n < math.MinInt32 || n > math.MaxInt32 {
		return nil, fmt.Errorf("%w: extension attribute %s: integers are 32-bit signed", ErrInvalid, name)
	}
	return int32(n), nil
}

func float(name string, f float64) (any, error) {
	if f != math.Trunc(f) || math.IsInf(f, 0) || math.IsNaN(f) {
		return nil, fmt.Errorf("%w: extension attribute %s: %v is not an integer", ErrInvalid, name, f)
	}
	if f < math.MinInt32 || f > math.MaxInt32 {
		return integer(name, 0, false)
	}
	return int32(f), nil
}

// CheckString checks a CloudEvents String value: valid UTF-8 without the
// control characters U+0000-U+001F and U+007F-U+009F, which the
// specification excludes. what names the attribute in the error, which
// wraps ErrInvalid.
func CheckString(what, s string) error {
	if !utf8.ValidString(s) {
		return fmt.Errorf("%w: %s is not valid UTF-8", ErrInvalid, what)
	}
	for _, r := range s {
		if r < 0x20 || (r >= 0x7f && r <= 0x9f) {
			return fmt.Errorf("%w: %s contains the control character %U", ErrInvalid, what, r)
		}
	}
	return nil
}

// CheckAttributes validates an event received from outside more strictly
// than Validate: the required attributes, String attributes (id, source,
// type, subject) by CheckString, dataschema an absolute URI, at most
// MaxExtensions extension attributes each passing CheckExtension. It
// replaces e.Extensions' values by their canonical forms. Errors wrap
// ErrInvalid.
func (e *Event) CheckAttributes() error {
	if err := e.Validate(); err != nil {
		return err
	}
	for _, a := range [...]struct{ name, v string }{{"id", e.ID}, {"source", e.Source}, {"type", e.Type}, {"subject", e.Subject}} {
		if err := CheckString(a.name, a.v); err != nil {
			return err
		}
	}
	if e.DataSchema != "" {
		if err := CheckString("dataschema", e.DataSchema); err != nil {
			return err
		}
		if u, err := url.Parse(e.DataSchema); err != nil || !u.IsAbs() {
			return fmt.Errorf("%w: dataschema %q is not an absolute URI", ErrInvalid, e.DataSchema)
		}
	}
	if len(e.Extensions) > MaxExtensions {
		return fmt.Errorf("%w: %d extension attributes; at most %d are accepted", ErrInvalid, len(e.Extensions), MaxExtensions)
	}
	for k, v := range e.Extensions {
		c, err := CheckExtension(k, v)
		if err != nil {
			return err
		}
		e.Extensions[k] = c
	}
	return nil
}

// EncodeHeader percent-encodes an attribute's canonical string for an
// HTTP header, as the CloudEvents HTTP binding requires (3.1.3.2): space,
// double quote, percent and every byte outside the printable ASCII range
// U+0021-U+007E become %XX (upper-case hex) of their UTF-8 bytes; all else
// is kept.
func EncodeHeader(s string) string {
	n := 0
	for i := 0; i < len(s); i++ {
		if headerEscaped(s[i]) {
			n++
		}
	}
	if n == 0 {
		return s
	}
	const hex = "0123456789ABCDEF"
	var b strings.Builder
	b.Grow(len(s) + 2*n)
	for i := 0; i < len(s); i++ {
		c := s[i]
		if headerEscaped(c) {
			b.WriteByte('%')
			b.WriteByte(hex[c>>4])
			b.WriteByte(hex[c&0xf])
			continue
		}
		b.WriteByte(c)
	}
	return b.String()
}

func headerEscaped(c byte) bool { return c <= ' ' || c >= 0x7f || c == '"' || c == '%' }

// DecodeHeader decodes an HTTP header value into the attribute's string,
// as the CloudEvents HTTP binding requires (3.1.3.2): double-quoted
// strings are unquoted first (their backslash escapes processed), then one
// round of percent-decoding (upper- or lower-case hex; a '%' not followed
// by two hex digits is kept as it is, for senders that did not encode).
// The result must be valid UTF-8: overlong or broken sequences such as
// "%C0%A0" are refused. Errors wrap ErrInvalid.
func DecodeHeader(v string) (string, error) {
	if strings.IndexByte(v, '"') >= 0 {
		var err error
		if v, err = unquote(v); err != nil {
			return "", err
		}
	}
	if strings.IndexByte(v, '%') >= 0 {
		b := make([]byte, 0, len(v))
		for i := 0; i < len(v); i++ {
			if v[i] == '%' && i+2 < len(v) && isHex(v[i+1]) && isHex(v[i+2]) {
				b = append(b, unhex(v[i+1])<<4|unhex(v[i+2]))
				i += 2
				continue
			}
			b = append(b, v[i])
		}
		v = string(b)
	}
	if !utf8.ValidString(v) {
		return "", fmt.Errorf("%w: the header value is not valid UTF-8 once percent-decoded", ErrInvalid)
	}
	return v, nil
}

// unquote removes the double quotes of RFC 7230 quoted strings in v and
// processes their backslash escapes.
func unquote(v string) (string, error) {
	var b strings.Builder
	b.Grow(len(v))
	quoted := false
	for i := 0; i < len(v); i++ {
		c := v[i]
		switch {
		case c == '"':
			quoted = !quoted
		case c == '\\' && quoted:
			if i+1 == len(v) {
				return "", fmt.Errorf("%w: the header value ends inside a quoted string", ErrInvalid)
			}
			i++
			b.WriteByte(v[i])
		default:
			b.WriteByte(c)
		}
	}
	if quoted {
		return "", fmt.Errorf("%w: the header value has an unterminated quoted string", ErrInvalid)
	}
	return b.String(), nil
}

func isHex(c byte) bool {
	return ('0' <= c && c <= '9') || ('a' <= c && c <= 'f') || ('A' <= c && c <= 'F')
}

func unhex(c byte) byte {
	switch {
	case c <= '9':
		return c - '0'
	case c <= 'F':
		return c - 'A' + 10
	}
	return c - 'a' + 10
}
