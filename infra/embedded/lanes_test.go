package embedded

import (
	"encoding/json"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/herokuevents/herokuevents/shared/event"
	"github.com/herokuevents/herokuevents/shared/queue"
)

func TestDeliveryLane(t *testing.T) {
	d, err := json.Marshal(event.Delivery{Tenant: "t1", Publication: "pub-1", Event: event.Event{ID: "e", Source: "s", Type: "x", Data: json.RawMessage(`{"publication":"not this"}`)}})
	require.NoError(t, err)
	for _, c := range []struct {
		name, body, want string
	}{
		{"a delivery", string(d), "pub-1"},
		{"fields in another order", `{"event":{"publication":"inner"},"attempt":2,"publication":"p"}`, "p"},
		{"no publication", `{"tenant":"t"}`, ""},
		{"not an object", `["publication","p"]`, ""},
		{"not JSON", `publication`, ""},
		{"a publication that is not a string", `{"publication":3}`, ""},
		{"a publication with an escape", `{"tenant":"t","publication":"p\u00e9"}`, "pé"},
		{"a tenant with an escape", `{"tenant":"t\"","publication":"p"}`, "p"},
		{"space between the fields", `{"tenant":"t", "publication":"p"}`, "p"},
		{"a cut body", `{"tenant":"t","publication":"p`, ""},
	} {
		t.Run(c.name, func(t *testing.T) {
			assert.Equal(t, c.want, deliveryLane(queue.Message{Body: []byte(c.body)}))
		})
	}
	assert.Equal(t, 5, laneCap(20))
	assert.Equal(t, 1, laneCap(1))
}

// FuzzDeliveryLane: any body gets a lane without panicking; a delivery
// gets its publication, whatever the publication and the event hold.
func FuzzDeliveryLane(f *testing.F) {
	f.Add([]byte(`{"tenant":"t","publication":"p","event":{}}`), "pub", `{"publication":"x"}`)
	f.Add([]byte(`{"publication":"\u00e9"}`), "é", `"\""`)
	f.Add([]byte(`{"event":{"id":"x"},"publication":"p"}`), "", `[]`)
	f.Add([]byte(`{`), "\x00", `{"a":[1,2,{"b":null}]}`)
	f.Add([]byte(`{"tenant":"t","publication":"p\u00e9","event":{}}`), "p\"", `1`)
	f.Add([]byte(`{"tenant":"t\n","publication":"p"}`), "\xff", `{}`)
	f.Fuzz(func(t *testing.T, body []byte, pub, data string) {
		assert.Equal(t, decodedLane(body), deliveryLane(queue.Message{Body: body}), "the direct read gives what a decoder does")
		if !json.Valid([]byte(data)) {
			data = "null"
		}
		d, err := json.Marshal(event.Delivery{Tenant: "t", Publication: pub, Event: event.Event{ID: "e", Data: json.RawMessage(data)}})
		if err != nil {
			return
		}
		var back event.Delivery
		require.NoError(t, json.Unmarshal(d, &back))
		assert.Equal(t, back.Publication, deliveryLane(queue.Message{Body: d}))
	})
}
