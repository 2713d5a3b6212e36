package deliver

import (
	"encoding/json"
	"math"
	"reflect"
	"testing"
	"time"

	"github.com/herokuevents/herokuevents/shared/event"
)

// deliveries are bodies of the delivery queue as json.Marshal writes them.
func deliveries(t testing.TB) [][]byte {
	at := time.Date(2026, 2, 3, 4, 5, 6, 789000000, time.UTC)
	ev := event.Event{
		ID: "0f8fad5b-d9cb-469f-a165-70867728950e", Source: "/tenants/t-1/subscriptions/orders",
		Type: "com.salesforce.platformevent", Subject: "/event/Order_Placed__e", Time: at,
		DataContentType: "application/json", DataSchema: "https://example.com/s.json",
		Data: json.RawMessage(`{"Name__c":{"string":"Ada é 😀"},"n":[1,2.5e3,-0,true,null,"x\"y\\u00e9"],"o":{}}`),
	}
	var out [][]byte
	for _, d := range []event.Delivery{
		{Tenant: "t-1", Publication: "p-1", Event: ev},
		{Tenant: "t-1", Publication: "p-1", Event: event.Event{ID: "a", Source: "/s", Type: "t"}},
		{Tenant: "t-1", Publication: "p-1", Event: event.Event{ID: "a", Source: "/s", Type: "t", Data: json.RawMessage(`"text"`)}},
		{Tenant: "t-1", Publication: "p-1", Event: event.Event{ID: "a", Source: "/s", Type: "t", Data: json.RawMessage(`-12.5e-3`)}},
		{Tenant: "t-1", Publication: "p-1", Event: event.Event{ID: "a", Source: "/s", Type: "t", Data: json.RawMessage(`[]`)}},
		{Tenant: "t-1", Publication: "p-1", Event: event.Event{ID: "a", Source: "/s", Type: "t", Data: json.RawMessage(`false`)},
			Attempt: -3, Held: 7},
		{Tenant: "t-1", Publication: "p-1", Event: func() event.Event {
			e := ev
			e.Extensions = map[string]any{"sfreplayid": "123", "gap": true, "n": 4.5, "nested": map[string]any{"a": []any{"b"}}}
			e.Time = at.In(time.FixedZone("", -7*3600))
			return e
		}(), Attempt: 4, FirstTry: at, Held: 2, HeldSince: at.Add(time.Second), RateSlot: at.Add(time.Minute),
			Ordered: true, Key: "order-42"},
		{Tenant: "t-1", Publication: "p-1", Event: ev, Attempt: math.MaxInt64 / 100000},
	} {
		b, err := json.Marshal(d)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, b)
	}
	return out
}

// TestDecodeDeliveryReadsMarshal: what json.Marshal writes is read
// without falling back, into what json.Unmarshal makes of it.
func TestDecodeDeliveryReadsMarshal(t *testing.T) {
	for _, b := range deliveries(t) {
		t.Run(string(b), func(t *testing.T) {
			var fast event.Delivery
			if r := (reader{b: b}); !r.delivery(&fast) {
				t.Fatal("fell back")
			}
			var want event.Delivery
			if err := json.Unmarshal(b, &want); err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(fast, want) {
				t.Fatalf("decoded\n%+v\nwant\n%+v", fast, want)
			}
		})
	}
}

// TestDecodeDeliveryAsUnmarshal: on any body decodeDelivery gives what
// json.Unmarshal gives, value and error.
func TestDecodeDeliveryAsUnmarshal(t *testing.T) {
	for _, s := range []string{
		``, `null`, `{}`, ` { } `, `{"tenant":"t"}x`, `{"tenant":"t",}`, `{"Tenant":"t"}`, `{"tenant":"t","tenant":"u"}`,
		`{"tenant":null}`, `{"tenant":"a\"b"}`, `{"tenant":"a\u00e9"}`, "{\"tenant\":\"a\xffb\"}", "{\"tenant\":\"a\tb\"}",
		`{"attempt":1.0}`, `{"attempt":1e2}`, `{"attempt":01}`, `{"attempt":-0}`, `{"attempt":99999999999999999999}`, `{"attempt":"1"}`,
		`{"ordered":tru}`, `{"ordered":true }`, `{"ordered":truex}`, `{"ordered":null}`,
		`{"first_try":"2026-13-01T00:00:00Z"}`, `{"first_try":"2026-01-01T00:00:00+01:00"}`, `{"first_try":""}`,
		`{"event":{"data":}}`, `{"event":{"data":{"a":1}}}`, `{"event":{"data":{"a":1}}`, `{"event":{"data":{"a":1]}}`,
		`{"event":{"data":[1,2}}`, `{"event":{"data":"a\"}"}}`, `{"event":{"data":null}}`, `{"event":{"data":nul}}`,
		`{"event":{"data":1 2}}`, `{"event":{"data":-}}`, `{"event":{"data":{"a":"\q"}}}`, `{"event":{"data":{"a":1},"data":2}}`,
		`{"event":{"extensions":{"a":1,"b":"c"}}}`, `{"event":{"extensions":null}}`, `{"event":{"extensions":[1]}}`,
		`{"event":{"extensions":{"a":1}},"event":{"id":"x"}}`, `{"event":{"unknown":1}}`, `{"event":[]}`, `{"key":"k"`,
	} {
		t.Run(s, func(t *testing.T) { sameAsUnmarshal(t, []byte(s)) })
	}
}

func sameAsUnmarshal(t *testing.T, b []byte) {
	t.Helper()
	var got, want event.Delivery
	gerr, werr := decodeDelivery(b, &got), json.Unmarshal(b, &want)
	if (gerr == nil) != (werr == nil) || (gerr != nil && gerr.Error() != werr.Error()) {
		t.Fatalf("error %v, want %v", gerr, werr)
	}
	if werr == nil && !reflect.DeepEqual(got, want) {
		t.Fatalf("decoded\n%+v\nwant\n%+v", got, want)
	}
	var fast event.Delivery
	if r := (reader{b: b}); r.delivery(&fast) && (werr != nil || !reflect.DeepEqual(fast, want)) {
		t.Fatalf("fast path read %q as %+v; json.Unmarshal: %+v, %v", b, fast, want, werr)
	}
}

func FuzzDecodeDelivery(f *testing.F) {
	for _, b := range deliveries(f) {
		f.Add(b)
	}
	f.Add([]byte(`{"event":{"data":{"a":[1,{"b":"}"}]}},"attempt":2}`))
	f.Fuzz(sameAsUnmarshal)
}

func BenchmarkDecodeDelivery(b *testing.B) {
	body := deliveries(b)[0]
	for _, c := range []struct {
		name   string
		decode func([]byte, *event.Delivery) error
	}{
		{"reader", decodeDelivery},
		{"json.Unmarshal", func(b []byte, d *event.Delivery) error { return json.Unmarshal(b, d) }},
	} {
		b.Run(c.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				var d event.Delivery
				if err := c.decode(body, &d); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
