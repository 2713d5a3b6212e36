package sqlitequeue

import (
	"encoding/json"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/herokuevents/herokuevents/shared/jsonstr"
)

// Attributes are stored as a JSON object of strings (SQL reads them with
// json_extract). Every message is encoded once and decoded at every
// claim, so both directions are written out here rather than left to
// encoding/json's reflection; anything unusual falls back to it.

// encodeAttrs returns a's JSON object (keys sorted), nil when a is empty.
func encodeAttrs(a map[string]string) (any, error) {
	if len(a) == 0 {
		return nil, nil
	}
	keys := make([]string, 0, len(a))
	size := 2
	for k, v := range a {
		if !utf8.ValidString(k) || !utf8.ValidString(v) {
			return marshalAttrs(a)
		}
		keys = append(keys, k)
		size += len(k) + len(v) + 6
	}
	slices.Sort(keys)
	b := make([]byte, 0, size)
	b = append(b, '{')
	for i, k := range keys {
		if i > 0 {
			b = append(b, ',')
		}
		b = jsonstr.Append(b, k)
		b = append(b, ':')
		b = jsonstr.Append(b, a[k])
	}
	b = append(b, '}')
	return string(b), nil
}

func marshalAttrs(a map[string]string) (any, error) {
	b, err := json.Marshal(a)
	if err != nil {
		return nil, fmt.Errorf("encode attributes: %w", err)
	}
	return string(b), nil
}

// decodeAttrs decodes a JSON object of strings. The common form (no
// whitespace, no escapes: what encodeAttrs writes for plain values) is
// read directly; anything else goes to encoding/json, so the result is
// always the same as json.Unmarshal's.
func decodeAttrs(s string) (map[string]string, error) {
	if m, ok := decodeFlat(s); ok {
		return m, nil
	}
	var m map[string]string
	if err := json.Unmarshal([]byte(s), &m); err != nil {
		return nil, err
	}
	return m, nil
}

// decodeFlat reads {"k":"v",...} with no whitespace and no escape, control
// character or invalid UTF-8 in its strings; ok is false for anything else.
func decodeFlat(s string) (map[string]string, bool) {
	if len(s) < 2 || s[0] != '{' || s[len(s)-1] != '}' {
		return nil, false
	}
	body := s[1 : len(s)-1]
	m := make(map[string]string, strings.Count(body, `":"`))
	if body == "" {
		return m, true
	}
	for {
		k, rest, ok := jsonstr.Cut(body)
		if !ok || rest == "" || rest[0] != ':' {
			return nil, false
		}
		v, rest, ok := jsonstr.Cut(rest[1:])
		if !ok {
			return nil, false
		}
		m[k] = v
		if rest == "" {
			return m, true
		}
		if rest[0] != ',' {
			return nil, false
		}
		body = rest[1:]
	}
}

// idsJSON encodes message IDs as a JSON array of integers for json_each.
// IDs that are not integers cannot match a message and are left out.
func idsJSON(ids []string) (string, error) {
	b := make([]byte, 0, 2+len(ids)*8)
	b = append(b, '[')
	n := 0
	for _, id := range ids {
		v, err := strconv.ParseInt(id, 10, 64)
		if err != nil {
			continue
		}
		if n > 0 {
			b = append(b, ',')
		}
		b = strconv.AppendInt(b, v, 10)
		n++
	}
	return string(append(b, ']')), nil
}
