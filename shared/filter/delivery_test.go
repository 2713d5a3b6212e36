package filter

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/herokuevents/herokuevents/shared/event"
)

// FuzzSpliceDelivery holds spliceDelivery to encoding/json: on a routed
// message as encoding/json writes it, its delivery is json.Marshal's byte
// for byte whenever it makes one; on any other message r decodes from, its
// delivery decodes to what json.Marshal's does.
func FuzzSpliceDelivery(f *testing.F) {
	f.Add("7c9e6679-7425-40de-944b-e07fc1f90ae7", "s1", "p1", "0193b1f2-7425-70de-944b-e07fc1f90ae7", "/tenants/t/subscriptions/in",
		"com.herokuevents.publish", "", `{"a":1}`, `{"b":[1,2]}`, int64(1_700_000_000_123_456_789), false, "", []byte(`{"tenant":"t","subscription":"s","event":{"id":"e","data":{}}}`))
	f.Add("t<&>", "s\u2028", "p\"", "e\\", "", "", "k", ``, `"x"`, int64(0), true, "lane", []byte(`{"tenant":"t","subscription":"s","event":{"id":"e","data":1,"DATA":2}}`))
	f.Add("t", "s", "p", "e", "s", "t", "", `[1, 2]`, ``, int64(-1), true, "", []byte(` {"tenant":"t","subscription":"s","event":{"id":"e"}}`))
	f.Fuzz(func(t *testing.T, tenant, sub, pub, id, source, typ, subject, data, out string, at int64, ordered bool, key string, raw []byte) {
		r := event.Routed{Tenant: tenant, Subscription: sub,
			Event: event.Event{ID: id, Source: source, Type: typ, Subject: subject, Time: time.Unix(0, at).UTC()}}
		if json.Valid([]byte(data)) {
			r.Event.Data = json.RawMessage(data)
		}
		body, err := json.Marshal(r)
		if err != nil {
			return // a time encoding/json cannot write: ingest refuses it
		}
		var sent event.Routed // what the filter has: the message decoded
		require.NoError(t, json.Unmarshal(body, &sent))
		// Byte for byte when encoding/json writes the decoded message as
		// it was (not so for invalid UTF-8, written as \ufffd).
		again, err := json.Marshal(sent)
		require.NoError(t, err)
		canonical := string(again) == string(body)
		for i, b := range [][]byte{body, raw} {
			r := sent
			if i == 1 {
				r = event.Routed{}
				if json.Unmarshal(raw, &r) != nil {
					continue
				}
			}
			ev := r.Event
			if out != "" {
				// the filter's output, as the mapping writes it
				o, err := json.Marshal(out)
				require.NoError(t, err)
				ev.Data = o
			}
			d := event.Delivery{Tenant: r.Tenant, Publication: pub, Event: ev, FirstTry: time.Unix(0, at/3).UTC(), Ordered: ordered, Key: key}
			want, wantErr := json.Marshal(d)
			js, _ := eventJSON(b, r) // as the filter finds it
			got, ok := spliceDelivery(js, r, d)
			if !ok {
				continue
			}
			require.NoError(t, wantErr, "spliced a delivery encoding/json cannot write")
			if i == 0 && canonical {
				require.Equal(t, string(want), string(got))
				continue
			}
			var wantD, gotD event.Delivery
			require.NoError(t, json.Unmarshal(want, &wantD))
			require.NoError(t, json.Unmarshal(got, &gotD), "%s", got)
			assert.Equal(t, wantD, gotD)
		}
	})
}

// TestSpliceDeliveryTakesTheEventFromTheMessage: the usual delivery, of an
// event with ids, data and a filter's output, is spliced.
func TestSpliceDeliveryTakesTheEventFromTheMessage(t *testing.T) {
	ev := event.New("/tenants/t/subscriptions/inbound", event.TypePublish, json.RawMessage(`{"amount":12,"note":"<b>"}`))
	r := event.Routed{Tenant: "7c9e6679-7425-40de-944b-e07fc1f90ae7", Subscription: "1d5e2b8c-0000-4000-8000-000000000001", Event: ev}
	body, err := json.Marshal(r)
	require.NoError(t, err)
	require.NoError(t, json.Unmarshal(body, &r)) // what the filter has
	ev = r.Event
	for name, data := range map[string]json.RawMessage{"unfiltered": ev.Data, "filtered": json.RawMessage(`{"amount":12}`), "no data": nil} {
		t.Run(name, func(t *testing.T) {
			e := ev
			e.Data = data
			d := event.Delivery{Tenant: r.Tenant, Publication: "9c9e6679-7425-40de-944b-e07fc1f90ae7", Event: e, FirstTry: time.Now().UTC()}
			ev, ok := eventJSON(body, r)
			require.True(t, ok)
			got, ok := spliceDelivery(ev, r, d)
			require.True(t, ok)
			want, err := json.Marshal(d)
			require.NoError(t, err)
			assert.Equal(t, string(want), string(got))
		})
	}
}

// TestEventJSON: the event's JSON is found in a message as encoding/json
// writes it, and not in one with more after the event.
func TestEventJSON(t *testing.T) {
	r := event.Routed{Tenant: "t<1>", Subscription: "s1", Event: event.New("/s", event.TypePublish, json.RawMessage(`{"a":1}`))}
	body, err := json.Marshal(r)
	require.NoError(t, err)
	got, ok := eventJSON(body, r)
	require.True(t, ok)
	want, err := json.Marshal(r.Event)
	require.NoError(t, err)
	assert.Equal(t, string(want), string(got))

	r.Replay = &event.Replay{ID: "rp1"}
	body, err = json.Marshal(r)
	require.NoError(t, err)
	_, ok = eventJSON(body, r)
	assert.False(t, ok, "a replay's message has a member after the event")
}
