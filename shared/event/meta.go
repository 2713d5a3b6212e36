package event

import (
	"strings"
	"time"

	"github.com/herokuevents/herokuevents/shared/jsonstr"
)

// Meta is what a stream filter sees of the event besides its data, at
// this._herokuevents: id, source, type, subject, time, dataschema and the
// extension attributes (those a sender gave too: strings, booleans and
// numbers; a filter cannot change them, they are delivered as they came);
// the comma-separated field lists of CDC events (changedfields,
// nulledfields and difffields, decoded from Salesforce's bitmaps) become
// arrays of field names. The filter role and the api's dry-run (streams:test)
// both show a filter this, so a filter behaves the same in both. For example:
//
//	root = if this._herokuevents.changedfields.contains("Industry") { this } else { deleted() }
func Meta(ev Event) map[string]any {
	m := map[string]any{"id": ev.ID, "source": ev.Source, "type": ev.Type}
	if ev.Subject != "" {
		m["subject"] = ev.Subject
	}
	if ev.DataSchema != "" {
		m["dataschema"] = ev.DataSchema
	}
	if !ev.Time.IsZero() {
		m["time"] = ev.Time.UTC().Format(time.RFC3339Nano)
	}
	for k, v := range ev.Extensions {
		if s, ok := v.(string); ok && fieldLists[k] {
			list := []any{}
			for _, f := range strings.Split(s, ",") {
				if f != "" {
					list = append(list, f)
				}
			}
			m[k] = list
			continue
		}
		m[k] = v
	}
	return m
}

// fieldLists are the CDC extensions that Meta shows as arrays
// (sfsub.ExtChangedFields, ExtNulledFields, ExtDiffFields).
var fieldLists = map[string]bool{"changedfields": true, "nulledfields": true, "difffields": true}

// MetaOrJSON returns Meta(ev) encoded as MetaJSON does when it can (js),
// and the map otherwise (meta): what a mapping job carries.
func MetaOrJSON(ev Event) (meta map[string]any, js []byte) {
	if b, ok := MetaJSON(ev); ok {
		return nil, b
	}
	return Meta(ev), nil
}

// MetaJSON returns the JSON of Meta(ev) as encoding/json writes it (its
// keys sorted), without making the map, when ev has no extension
// attributes; ok is false otherwise. FuzzMetaJSON holds it to json.Marshal.
func MetaJSON(ev Event) (b []byte, ok bool) {
	if len(ev.Extensions) > 0 {
		return nil, false
	}
	b = make([]byte, 0, 64+len(ev.ID)+len(ev.Source)+len(ev.Type)+len(ev.Subject)+len(ev.DataSchema))
	b = append(b, '{')
	member := func(k, v string) {
		if len(b) > 1 {
			b = append(b, ',')
		}
		b = append(b, '"')
		b = append(b, k...)
		b = append(b, '"', ':')
		b = jsonstr.Append(b, v)
	}
	// In key order.
	if ev.DataSchema != "" {
		member("dataschema", ev.DataSchema)
	}
	member("id", ev.ID)
	member("source", ev.Source)
	if ev.Subject != "" {
		member("subject", ev.Subject)
	}
	if !ev.Time.IsZero() {
		b = append(b, `,"time":"`...)
		b = ev.Time.UTC().AppendFormat(b, time.RFC3339Nano)
		b = append(b, '"')
	}
	member("type", ev.Type)
	return append(b, '}'), true
}
