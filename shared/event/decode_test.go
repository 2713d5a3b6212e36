package event_test

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/herokuevents/herokuevents/shared/event"
)

// sameAsUnmarshal asserts that DecodeDelivery(b) is what json.Unmarshal
// makes of b: the same delivery, or an error with the same message.
func sameAsUnmarshal(t *testing.T, b []byte) event.Delivery {
	t.Helper()
	var want event.Delivery
	wantErr := json.Unmarshal(b, &want)
	got, err := event.DecodeDelivery(b)
	if wantErr != nil {
		require.Error(t, err)
		assert.Equal(t, wantErr.Error(), err.Error())
		return got
	}
	require.NoError(t, err)
	assert.Equal(t, want, got)
	return got
}

func TestDecodeDelivery(t *testing.T) {
	at := time.Date(2026, 12, 4, 1, 2, 3, 456789000, time.UTC)
	ev := event.Event{ID: "0193b1f2-7425-70de-944b-e07fc1f90ae7", Source: "/tenants/t/subscriptions/in", Type: "com.herokuevents.publish",
		Time: at, DataContentType: "application/json", Data: json.RawMessage(`{"Context__c":"x","n":[1,{"attempt":2}],"s":"},\"attempt\":3"}`)}
	full := ev
	full.Subject, full.DataSchema = "sub", "https://example.com/schema"
	cases := []struct {
		name   string
		d      event.Delivery
		direct bool // read directly, not by json.Unmarshal
	}{
		{"first attempt", event.Delivery{Tenant: "t", Publication: "p", Event: ev, FirstTry: at}, true},
		{"every field", event.Delivery{Tenant: "t", Publication: "p", Event: full, Attempt: 3, FirstTry: at, Held: 2, HeldSince: at.Add(time.Second),
			RateSlot: at.Add(time.Minute), Ordered: true, Key: "k/1"}, true},
		{"no content type", event.Delivery{Tenant: "t", Publication: "p", Event: event.Event{ID: "e", Source: "s", Type: "t", Time: at, Data: json.RawMessage(`"text"`)}}, true},
		{"negative attempt", event.Delivery{Tenant: "t", Publication: "p", Event: ev, Attempt: -1}, true},
		{"time with an offset", event.Delivery{Tenant: "t", Publication: "p", Event: event.Event{ID: "e", Source: "s", Type: "t",
			Time: at.In(time.FixedZone("", 3600)), Data: json.RawMessage(`1`)}}, true},
		{"escaped string", event.Delivery{Tenant: "t", Publication: "p", Event: event.Event{ID: "e\"<>", Source: "s", Type: "t", Time: at, Data: json.RawMessage(`1`)}}, false},
		{"extension attributes", event.Delivery{Tenant: "t", Publication: "p", Event: event.Event{ID: "e", Source: "s", Type: "t", Time: at, Data: json.RawMessage(`{}`),
			Extensions: map[string]any{"color": "red"}}}, false},
		{"no data", event.Delivery{Tenant: "t", Publication: "p", Event: event.Event{ID: "e", Source: "s", Type: "t", Time: at}}, false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			b, err := json.Marshal(c.d)
			require.NoError(t, err)
			got := sameAsUnmarshal(t, b)
			assert.Equal(t, c.d.Tenant, got.Tenant)
			assert.True(t, c.d.Event.Time.Equal(got.Event.Time))
			assert.Equal(t, c.direct, event.ReadsDirectly(b))
		})
	}
}

// TestDecodeDeliveryOtherForms: documents json.Unmarshal accepts in other
// forms (or refuses) are decoded (or refused) as it does them.
func TestDecodeDeliveryOtherForms(t *testing.T) {
	for _, doc := range []string{
		` {"tenant":"t","publication":"p","event":{"id":"e","source":"s","type":"t","time":"2026-12-04T01:02:03Z","data":1},"attempt":1}`,
		`{"tenant":"t","publication":"p","event":{"id":"e","source":"s","type":"t","time":"2026-12-04T01:02:03Z","data": 1},"attempt":1}`,
		`{"publication":"p","tenant":"t","event":{"id":"e","source":"s","type":"t","time":"2026-12-04T01:02:03Z","data":1},"attempt":1}`,
		`{"Tenant":"t","publication":"p","event":{"id":"e","source":"s","type":"t","time":"2026-12-04T01:02:03Z","data":1},"attempt":1}`,
		`{"tenant":"t","publication":"p","event":{"id":"e","source":"s","type":"t","time":"2026-12-04T01:02:03Z","data":1},"attempt":1.5}`,
		`{"tenant":"t","publication":"p","event":{"id":"e","source":"s","type":"t","time":"2026-12-04T01:02:03Z","data":1},"attempt":01}`,
		`{"tenant":"t","publication":"p","event":{"id":"e","source":"s","type":"t","time":"2026-12-04T01:02:03Z","data":1},"attempt":99999999999999999999}`,
		`{"tenant":"t","publication":"p","event":{"id":"e","source":"s","type":"t","time":"yesterday","data":1},"attempt":1}`,
		`{"tenant":"t","publication":"p","event":{"id":"e","source":"s","type":"t","time":"2026-12-04T01:02:03Z","data":{"a":}},"attempt":1}`,
		`{"tenant":"t","publication":"p","event":{"id":"e","source":"s","type":"t","time":"2026-12-04T01:02:03Z","data":null},"attempt":1,"ordered":false}`,
		`{"tenant":"t","publication":"p","event":{"id":"e","source":"s","type":"t","time":"2026-12-04T01:02:03Z","data":1},"attempt":1,"key":"a","key":"b"}`,
		`{"tenant":"t\u00e9","publication":"p","event":{"id":"e","source":"s","type":"t","time":"2026-12-04T01:02:03Z","data":1},"attempt":1}`,
		"{\"tenant\":\"\xff\",\"publication\":\"p\",\"event\":{\"id\":\"e\",\"source\":\"s\",\"type\":\"t\",\"time\":\"2026-12-04T01:02:03Z\",\"data\":1},\"attempt\":1}",
		`{"tenant":"t","publication":"p","event":{"id":"e","source":"s","type":"t","time":"2026-12-04T01:02:03Z","data":1},"attempt":1}}`,
		`{"tenant":"t","publication":"p","event":{"id":"e","source":"s","type":"t","time":"2026-12-04T01:02:03Z","data":1},"attempt":1,"extra":2}`,
		`not json`,
	} {
		t.Run(doc, func(t *testing.T) {
			sameAsUnmarshal(t, []byte(doc))
		})
	}
}

// FuzzDecodeDelivery holds DecodeDelivery to json.Unmarshal on any input.
func FuzzDecodeDelivery(f *testing.F) {
	at := time.Date(2026, 12, 4, 1, 2, 3, 456789000, time.UTC)
	for _, d := range []event.Delivery{
		{Tenant: "t", Publication: "p", Event: event.Event{ID: "e", Source: "s", Type: "t", Time: at, DataContentType: "application/json",
			Data: json.RawMessage(`{"a":[1,"},\"attempt\":"],"b":{"attempt":1}}`)}, FirstTry: at},
		{Tenant: "t", Publication: "p", Event: event.Event{ID: "e", Source: "s", Type: "t", Subject: "x", Time: at, DataSchema: "u", Data: json.RawMessage(`[]`)},
			Attempt: 4, Held: 1, HeldSince: at, RateSlot: at, Ordered: true, Key: "k"},
	} {
		b, err := json.Marshal(d)
		require.NoError(f, err)
		f.Add(b)
	}
	f.Add([]byte(`{"tenant":"t","publication":"p","event":{"id":"e","source":"s","type":"t","time":"2026-12-04T01:02:03Z","data":1},"attempt":-0}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		sameAsUnmarshal(t, b)
	})
}

// BenchmarkDecodeDelivery compares DecodeDelivery with json.Unmarshal on
// a delivery as the filter writes it.
func BenchmarkDecodeDelivery(b *testing.B) {
	d := event.Delivery{Tenant: "0193b1f2-7425-70de-944b-e07fc1f90ae7", Publication: "0193b1f2-7425-70de-944b-e07fc1f90ae8",
		Event: event.Event{ID: "0193b1f2-7425-70de-944b-e07fc1f90ae9", Source: "/tenants/t/subscriptions/inbound", Type: "com.herokuevents.publish",
			Time: time.Now().UTC(), DataContentType: "application/json",
			Data: json.RawMessage(`{"Context__c":"bench","Id":"a0B5e000001XyZ","Name":"systemStatus","Status__c":"ok","Value__c":42,"Tags__c":["a","b","c"]}`)},
		FirstTry: time.Now().UTC()}
	msg, err := json.Marshal(d)
	require.NoError(b, err)
	b.Run("DecodeDelivery", func(b *testing.B) {
		for b.Loop() {
			if _, err := event.DecodeDelivery(msg); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("json.Unmarshal", func(b *testing.B) {
		for b.Loop() {
			var d event.Delivery
			if err := json.Unmarshal(msg, &d); err != nil {
				b.Fatal(err)
			}
		}
	})
}
