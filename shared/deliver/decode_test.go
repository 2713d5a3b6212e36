package deliver

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/herokuevents/herokuevents/shared/event"
)

// FuzzDecodeDelivery holds decodeDelivery to encoding/json: on the bodies
// the router writes (encoding/json's encoding of a Delivery) it decodes
// the same value, and on any other bytes it takes what encoding/json takes
// and decodes it the same.
func FuzzDecodeDelivery(f *testing.F) {
	f.Add("t1", "p1", "e1", "/s", "com.example", "k", `{"a":[1,2.5,"x"],"b":null}`, "color", "blue", 3, true, []byte(`{"tenant":"t"}`))
	f.Add("tén\u2028ant", "<p>", "e\"1", "", "", "", `"only a string"`, "n", "", 0, false, []byte(`{"tenant":"\xff","event":{"data":{}}}`))
	f.Add("t", "p", "id", "s", "t", "", `[]`, "", "", 1, false, []byte(`{"Tenant":"a","tenant":"b","attempt":1e2}`))
	f.Fuzz(func(t *testing.T, tenant, publication, id, source, typ, subject, data, extKey, extValue string, attempt int, ordered bool, raw []byte) {
		d := event.Delivery{Tenant: tenant, Publication: publication, Attempt: attempt, Ordered: ordered, Key: subject,
			FirstTry: time.Unix(1_700_000_000, int64(attempt)).UTC(),
			Event:    event.Event{ID: id, Source: source, Type: typ, Subject: subject, Time: time.Unix(1_700_000_000, 5).UTC()}}
		if json.Valid([]byte(data)) {
			d.Event.Data = json.RawMessage(data)
		}
		if extKey != "" {
			d.Event.Extensions = map[string]any{extKey: extValue, "n": float64(attempt)}
		}
		body, err := json.Marshal(d)
		require.NoError(t, err)
		for _, b := range [][]byte{body, raw} {
			var want event.Delivery
			wantErr := json.Unmarshal(b, &want)
			got, err := decodeDelivery(b)
			if wantErr != nil {
				require.EqualError(t, err, wantErr.Error(), "%q", b)
				continue
			}
			require.NoError(t, err, "%q", b)
			assert.Equal(t, want, got, "%q", b)
		}
	})
}

// BenchmarkDecodeDelivery compares decodeDelivery with encoding/json on a
// delivery of 250 bytes of data.
func BenchmarkDecodeDelivery(b *testing.B) {
	d := event.Delivery{Tenant: "7c9e6679-7425-40de-944b-e07fc1f90ae7", Publication: "9c9e6679-7425-40de-944b-e07fc1f90ae7", FirstTry: time.Now().UTC(),
		Event: event.Event{ID: "0193b1f2-7425-70de-944b-e07fc1f90ae7", Source: "/tenants/x/subscriptions/inbound", Type: event.TypePublish,
			Time: time.Now().UTC(), DataContentType: "application/json",
			Data: json.RawMessage(`{"n":1,"pad":"` + strings.Repeat("x", 200) + `","nested":{"a":[1,2,3],"b":"hello"}}`)}}
	body, err := json.Marshal(d)
	require.NoError(b, err)
	b.Run("encoding/json", func(b *testing.B) {
		for b.Loop() {
			var got event.Delivery
			if err := json.Unmarshal(body, &got); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("decodeDelivery", func(b *testing.B) {
		for b.Loop() {
			if _, err := decodeDelivery(body); err != nil {
				b.Fatal(err)
			}
		}
	})
}
