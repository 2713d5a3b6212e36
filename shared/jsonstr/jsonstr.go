// Package jsonstr appends strings as JSON exactly as encoding/json writes
// them (json.Marshal of a string): the hand-written encoders of the hot
// path (the delivery log's details, the embedded queue's attributes) share
// it instead of paying for reflection, and FuzzAppend holds it to
// encoding/json byte for byte. Cut reads back the strings that need no
// decoding, for the hand-written decoders (the embedded queue's
// attributes, a delivery, a mapping worker's events).
package jsonstr

import "unicode/utf8"

// Append appends s to b as a JSON string, as encoding/json writes it: HTML
// characters, U+2028 and U+2029 escaped, invalid UTF-8 as U+FFFD.
func Append(b []byte, s string) []byte {
	const hex = "0123456789abcdef"
	b = append(b, '"')
	start := 0
	for i := 0; i < len(s); {
		if c := s[i]; c < utf8.RuneSelf {
			if c >= 0x20 && c != '"' && c != '\\' && c != '<' && c != '>' && c != '&' {
				i++
				continue
			}
			b = append(b, s[start:i]...)
			switch c {
			case '"', '\\':
				b = append(b, '\\', c)
			case '\b':
				b = append(b, '\\', 'b')
			case '\f':
				b = append(b, '\\', 'f')
			case '\n':
				b = append(b, '\\', 'n')
			case '\r':
				b = append(b, '\\', 'r')
			case '\t':
				b = append(b, '\\', 't')
			default:
				b = append(b, '\\', 'u', '0', '0', hex[c>>4], hex[c&0xf])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		switch {
		case r == utf8.RuneError && size == 1:
			b = append(b, s[start:i]...)
			b = append(b, `\ufffd`...)
		case r == '\u2028' || r == '\u2029':
			b = append(b, s[start:i]...)
			b = append(b, '\\', 'u', '2', '0', '2', hex[r&0xf])
		default:
			i += size
			continue
		}
		i += size
		start = i
	}
	b = append(b, s[start:]...)
	return append(b, '"')
}

// Cut reads the JSON string at the start of s when it holds no escape
// sequence, no control character and no invalid UTF-8 (a string
// encoding/json decodes to its bytes between the quotes): v is those
// bytes and rest what follows the closing quote. ok is false for anything
// else, which the caller decodes otherwise.
func Cut[T ~string | ~[]byte](s T) (v, rest T, ok bool) {
	if len(s) == 0 || s[0] != '"' {
		return v, rest, false
	}
	for i := 1; i < len(s); i++ {
		switch c := s[i]; {
		case c == '"':
			v = s[1:i]
			return v, s[i+1:], validUTF8(v)
		case c == '\\' || c < 0x20:
			return v, rest, false
		}
	}
	return v, rest, false
}

// validUTF8 is utf8.Valid for either type, without a copy for ASCII.
func validUTF8[T ~string | ~[]byte](v T) bool {
	for i := 0; i < len(v); i++ {
		if v[i] >= utf8.RuneSelf {
			return utf8.ValidString(string(v))
		}
	}
	return true
}
