package event_test

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/herokuevents/herokuevents/shared/event"
)

// FuzzMetaJSON holds MetaJSON to json.Marshal(Meta(ev)) byte for byte, and
// to saying it cannot when the event has extension attributes.
func FuzzMetaJSON(f *testing.F) {
	f.Add("0193b1f2-7425-70de-944b-e07fc1f90ae7", "/tenants/t/subscriptions/in", "com.herokuevents.publish", "", "", int64(1_700_000_000_123_456_789), "")
	f.Add("e<1>", "s\u2028&", "t\"", "sub\\", "https://example.com/s", int64(0), "color")
	f.Add("\xff", "", "", "", "", int64(-9_000_000_000_000_000_000), "")
	f.Fuzz(func(t *testing.T, id, source, typ, subject, schema string, at int64, ext string) {
		ev := event.Event{ID: id, Source: source, Type: typ, Subject: subject, DataSchema: schema}
		if at != 0 {
			ev.Time = time.Unix(0, at)
		}
		if ext != "" {
			ev.Extensions = map[string]any{ext: "x"}
		}
		got, ok := event.MetaJSON(ev)
		if ext != "" {
			assert.False(t, ok)
			return
		}
		require.True(t, ok)
		want, err := json.Marshal(event.Meta(ev))
		require.NoError(t, err)
		assert.Equal(t, string(want), string(got))
	})
}
