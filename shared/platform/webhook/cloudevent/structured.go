package cloudevent

import (
	"encoding/json"
	"slices"
	"strings"
	"time"

	sdk "github.com/cloudevents/sdk-go/v2/event"

	"github.com/herokuevents/herokuevents/shared/event"
)

// appendStructured appends ev in the structured mode, as cejson.Structured
// encodes it, and reports true; or reports false, having appended
// nothing of use, for an event whose attributes the SDK would rewrite or
// refuse (spaces around the id, type or subject; a source that is not a
// plain path; a dataschema; a data content type other than JSON's; an
// extension that is not a lower-case name with a string or boolean value;
// an invalid event or data), which cejson.Structured then encodes.
//
// The SDK (event.WriteJson) writes specversion, id, source, type, subject,
// datacontenttype, dataschema, time, data and the extensions by name, each
// string as jsoniter's ConfigFastest writes it (appendString).
func appendStructured(b []byte, ev event.Event) ([]byte, bool) {
	if !plain(ev.ID) || !plain(ev.Type) || (ev.Subject != "" && !plain(ev.Subject)) ||
		!pathOnly(ev.Source) || ev.DataSchema != "" ||
		(ev.DataContentType != "" && ev.DataContentType != sdk.ApplicationJSON) {
		return b, false
	}
	var names [8]string
	keys := names[:0]
	for k, v := range ev.Extensions {
		if !extensionName(k) {
			return b, false
		}
		switch v.(type) {
		case string, bool:
			keys = append(keys, k)
		case nil: // SetExtension deletes it
		default:
			return b, false
		}
	}
	if len(ev.Data) > 0 && !json.Valid(ev.Data) {
		return b, false
	}
	slices.Sort(keys)

	b = append(b, `{"specversion":"1.0","id":`...)
	b = appendString(b, ev.ID)
	b = append(b, `,"source":`...)
	b = appendString(b, ev.Source)
	b = append(b, `,"type":`...)
	b = appendString(b, ev.Type)
	if ev.Subject != "" {
		b = append(b, `,"subject":`...)
		b = appendString(b, ev.Subject)
	}
	if len(ev.Data) > 0 {
		b = append(b, `,"datacontenttype":"application/json"`...)
	}
	at := ev.Time
	if at.IsZero() {
		at = time.Now()
	}
	b = append(b, `,"time":"`...)
	b = at.UTC().AppendFormat(b, time.RFC3339Nano)
	b = append(b, '"')
	if len(ev.Data) > 0 {
		b = append(b, `,"data":`...)
		b = append(b, ev.Data...)
	}
	for _, k := range keys {
		b = append(b, ',', '"')
		b = append(b, k...)
		b = append(b, '"', ':')
		switch v := ev.Extensions[k].(type) {
		case string:
			b = appendString(b, v)
		case bool:
			if v {
				b = append(b, "true"...)
			} else {
				b = append(b, "false"...)
			}
		}
	}
	return append(b, '}'), true
}

// plain says s is non-empty and has no white space at either end (the SDK
// trims the id, type and subject).
func plain(s string) bool { return s != "" && strings.TrimSpace(s) == s }

// pathOnly says s is a non-empty path of unreserved characters and
// slashes, not starting with two: what url.Parse reads as a path and
// URL.String writes back unchanged.
func pathOnly(s string) bool {
	if s == "" || strings.HasPrefix(s, "//") {
		return false
	}
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9',
			c == '-', c == '.', c == '_', c == '~', c == '/':
		default:
			return false
		}
	}
	return true
}

// specAttributes are the names no extension may take.
var specAttributes = map[string]bool{
	"specversion": true, "id": true, "source": true, "type": true, "subject": true,
	"time": true, "datacontenttype": true, "dataschema": true,
}

// extensionName says the SDK keeps an extension of that name as it is:
// lower-case ASCII letters and digits, within its length limit, not a spec
// attribute.
func extensionName(k string) bool {
	if k == "" || (sdk.MaxExtensionNameLength > 0 && len(k) > sdk.MaxExtensionNameLength) || specAttributes[k] {
		return false
	}
	for i := 0; i < len(k); i++ {
		if c := k[i]; (c < 'a' || c > 'z') && (c < '0' || c > '9') {
			return false
		}
	}
	return true
}

// appendString appends s quoted as jsoniter's ConfigFastest writes a
// string: '"' and '\' escaped, \n, \r and \t by name, other bytes below
// 0x20 as \u00xx, every other byte as it is (no HTML escaping, no UTF-8
// check).
func appendString(b []byte, s string) []byte {
	const hex = "0123456789abcdef"
	b = append(b, '"')
	start := 0
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c >= 0x20 && c != '"' && c != '\\' {
			continue
		}
		b = append(b, s[start:i]...)
		switch c {
		case '"', '\\':
			b = append(b, '\\', c)
		case '\n':
			b = append(b, '\\', 'n')
		case '\r':
			b = append(b, '\\', 'r')
		case '\t':
			b = append(b, '\\', 't')
		default:
			b = append(b, '\\', 'u', '0', '0', hex[c>>4], hex[c&0xf])
		}
		start = i + 1
	}
	b = append(b, s[start:]...)
	return append(b, '"')
}
