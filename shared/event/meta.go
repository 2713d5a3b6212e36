package event

import (
	"strings"
	"time"
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
