package cloudevent

import (
	"bytes"
	"encoding/json"
	"fmt"
	"testing"
	"time"

	"github.com/herokuevents/herokuevents/shared/cejson"
	"github.com/herokuevents/herokuevents/shared/event"
)

// odd are strings an attribute may hold: escapes, control characters,
// HTML, non-ASCII, invalid UTF-8, the JavaScript line separators, spaces.
var odd = []string{
	"a", "0f8fad5b-d9cb-469f-a165-70867728950e", `q"uote`, `back\slash`, "nl\ncr\rtab\t", "nul\x00bel\x07us\x1f del\x7f",
	"<html>&amp;", "é中😀", "bad\xffutf8\xc3", "sep\u2028\u2029", " lead", "trail ", "\tboth\n", "/event/Order_Placed__e",
}

// events are many events, common and odd, all with a time (a zero time
// is the current one, compared apart).
func events() []event.Event {
	at := time.Date(2026, 2, 3, 4, 5, 6, 789000000, time.UTC)
	base := event.Event{
		ID: "0f8fad5b-d9cb-469f-a165-70867728950e", Source: "/tenants/t-1/subscriptions/orders",
		Type: "com.salesforce.platformevent", Subject: "/event/Order_Placed__e", Time: at,
		DataContentType: "application/json",
		Data:            json.RawMessage(`{"seq":"e1","Context__c":{"string":"bench"},"CreatedById":"005Ws000001eUtGIAU","CreatedDate":1733842936}`),
	}
	var out []event.Event
	add := func(f func(e *event.Event)) {
		e := base
		f(&e)
		out = append(out, e)
	}
	add(func(*event.Event) {})
	for _, s := range odd {
		add(func(e *event.Event) { e.ID = s })
		add(func(e *event.Event) { e.Type = s })
		add(func(e *event.Event) { e.Subject = s })
		add(func(e *event.Event) { e.Source = s })
		add(func(e *event.Event) { e.Extensions = map[string]any{"ext": s} })
	}
	for _, src := range []string{"/", "rel/path", "//host/p", "https://example.com/x", "/a b", "/a%20b", "/a?q=1", "/a#f", "/a:b", "a:b", "/ü", "/a;b=c", "~user", "/x/./y/../z"} {
		add(func(e *event.Event) { e.Source = src })
	}
	for _, d := range []string{``, `{}`, `[]`, `"text"`, `12.50`, `-0`, `true`, `null`, ` { "spaced" : [ 1 , 2 ] } `,
		`{"u":"\u00e9\ud83d\ude00","h":"<&>","s":"\u2028"}`, "{\"raw\":\"é中\"}", `{"a":1`, `{"a":1}}`, `nope`, "\"bad\xff\""} {
		add(func(e *event.Event) { e.Data = json.RawMessage(d) })
		add(func(e *event.Event) { e.Data, e.DataContentType = json.RawMessage(d), "" })
	}
	for _, ct := range []string{"", "application/json", "text/json", "application/json; charset=utf-8", "text/plain", "application/cloudevents+json", " application/json"} {
		add(func(e *event.Event) { e.DataContentType = ct })
		add(func(e *event.Event) { e.DataContentType, e.Data = ct, nil })
	}
	for _, ds := range []string{"https://example.com/schema.json", "relative", " https://x/ "} {
		add(func(e *event.Event) { e.DataSchema = ds })
	}
	for _, ext := range []map[string]any{
		{"sfreplayid": "0000000000007346", "sfeventuuid": "e1154f77", "gap": true, "changetype": "CREATE"},
		{"a": false, "b": nil}, {"Upper": "x"}, {"bad-name": "x"}, {"": "x"}, {"id": "x"}, {"ID": "x"},
		{"data": "x"}, {"n": 4.0}, {"n": 4.5}, {"n": 1e12}, {"i": 3}, {"t": at}, {"o": map[string]any{"a": 1}}, {"l": []any{1}},
		{"long": "x", "averyveryveryverylongextensionnamethatgoesonandon": "y"}, {"b": []byte("hi")},
	} {
		add(func(e *event.Event) { e.Extensions = ext })
	}
	add(func(e *event.Event) { e.Time = at.In(time.FixedZone("", 5*3600+30*60)) })
	add(func(e *event.Event) { e.Time = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC) })
	add(func(e *event.Event) { e.Time = time.Date(2026, 1, 1, 0, 0, 0, 100, time.UTC) })
	add(func(e *event.Event) { e.Time = time.Date(12026, 1, 1, 0, 0, 0, 0, time.UTC) })
	add(func(e *event.Event) { e.Time = time.Date(1, 1, 1, 0, 0, 0, 1, time.UTC) })
	add(func(e *event.Event) { e.ID, e.Source, e.Type = "", "", "" })
	add(func(e *event.Event) { e.Subject = "" })
	return out
}

// TestStructuredAsSDK: Structured writes every event byte for byte as the
// SDK does (cejson.Structured), or fails as it does; the common events take
// the direct path.
func TestStructuredAsSDK(t *testing.T) {
	fast := 0
	for i, ev := range events() {
		t.Run(fmt.Sprint(i), func(t *testing.T) {
			sameAsSDK(t, ev)
			if _, ok := appendStructured(nil, ev); ok {
				fast++
			}
		})
	}
	for _, i := range []int{0, 1, 2, 4} { // the base event, odd ids, types, extensions
		if _, ok := appendStructured(nil, events()[i]); !ok {
			t.Errorf("event %d was not written directly", i)
		}
	}
	t.Logf("%d of %d events written directly", fast, len(events()))
}

func sameAsSDK(t *testing.T, ev event.Event) {
	t.Helper()
	got, gerr := Structured(ev)
	want, werr := cejson.Structured(ev)
	if (gerr == nil) != (werr == nil) { // the SDK words an invalid event's errors in random order
		t.Fatalf("error %v, want %v", gerr, werr)
	}
	if !bytes.Equal(got, want) {
		t.Fatalf("encoded\n%s\nwant\n%s", got, want)
	}
}

// TestStructuredNow: an event without a time gets the current one.
func TestStructuredNow(t *testing.T) {
	ev := events()[0]
	ev.Time = time.Time{}
	before := time.Now()
	b, err := Structured(ev)
	if err != nil {
		t.Fatal(err)
	}
	var got struct{ Time time.Time }
	if err := json.Unmarshal(b, &got); err != nil {
		t.Fatal(err)
	}
	if got.Time.Before(before.Add(-time.Second)) || got.Time.After(time.Now()) || got.Time.Location() != time.UTC {
		t.Fatalf("time %v, want about %v in UTC", got.Time, before)
	}
}

func FuzzStructured(f *testing.F) {
	for _, s := range odd {
		f.Add(s, s, s, "/tenants/t/subscriptions/s", s, `{"a":1}`, "application/json")
	}
	f.Fuzz(func(t *testing.T, id, typ, subject, source, ext, data, ct string) {
		sameAsSDK(t, event.Event{
			ID: id, Type: typ, Subject: subject, Source: source, DataContentType: ct, Data: json.RawMessage(data),
			Time: time.Date(2026, 2, 3, 4, 5, 6, 789, time.UTC), Extensions: map[string]any{"ext": ext, "flag": len(ext)%2 == 0},
		})
	})
}

func BenchmarkStructured(b *testing.B) {
	ev := events()[0]
	for _, c := range []struct {
		name   string
		encode func(event.Event) ([]byte, error)
	}{{"direct", Structured}, {"sdk", cejson.Structured}} {
		b.Run(c.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, err := c.encode(ev); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
