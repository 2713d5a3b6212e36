package order_test

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"

	"github.com/herokuevents/herokuevents/shared/event"
	"github.com/herokuevents/herokuevents/shared/order"
)

func cdc(ids ...string) event.Event {
	b, _ := json.Marshal(map[string]any{"ChangeEventHeader": map[string]any{"changeType": "UPDATE", "recordIds": ids}, "Name": "Acme"})
	return event.Event{ID: "e1", Source: "/s", Type: event.TypeCDC, Subject: "/data/AccountChangeEvent", Data: b}
}

func TestDefaultKey(t *testing.T) {
	long := strings.Repeat("k", order.MaxKey+1)
	tests := []struct {
		name string
		ev   event.Event
		want string
	}{
		{"CDC: the first record id", cdc("001A", "001B"), "001A"},
		{"CDC without record ids: the subject", cdc(), "/data/AccountChangeEvent"},
		{"other events: the subject", event.Event{Type: event.TypePublish, Subject: "order-7"}, "order-7"},
		{"no subject: the one keyless lane", event.Event{Type: event.TypePublish}, ""},
		{"a long key is hashed", event.Event{Type: event.TypePublish, Subject: long}, "sha256:"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := order.DefaultKey(tc.ev)
			if strings.HasSuffix(tc.want, ":") {
				assert.True(t, strings.HasPrefix(got, tc.want), got)
				assert.LessOrEqual(t, len(got), order.MaxKey)
				return
			}
			assert.Equal(t, tc.want, got)
		})
	}
}

// FuzzDefaultKey: any event data (untrusted: what a client published)
// gives a key of at most MaxKey bytes, without a panic.
func FuzzDefaultKey(f *testing.F) {
	f.Add([]byte(`{"ChangeEventHeader":{"recordIds":["001A"]}}`), "s")
	f.Add([]byte(`{"ChangeEventHeader":{"recordIds":"x"}}`), "")
	f.Add([]byte(`[1,2`), "subject")
	f.Fuzz(func(t *testing.T, data []byte, subject string) {
		for _, typ := range []string{event.TypeCDC, event.TypePublish} {
			k := order.DefaultKey(event.Event{Type: typ, Subject: subject, Data: data})
			if len(k) > order.MaxKey {
				t.Fatalf("key of %d bytes", len(k))
			}
		}
	})
}
