package journal

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/herokuevents/herokuevents/shared/event"
)

// reference is what MarshalDetail encoded with encoding/json.
func reference(e Entry) ([]byte, error) {
	e.Tenant, e.EventID = "", ""
	return json.Marshal(detail{Entry: e, LatencyMicros: e.Latency.Microseconds()})
}

func TestMarshalDetailIsEncodingJSON(t *testing.T) {
	now := time.Date(2026, 12, 3, 8, 5, 4, 123456789, time.UTC)
	cases := map[string]Entry{
		"empty":    {},
		"accepted": {Tenant: "t", EventID: "e", Time: now, Stage: Accepted, Subscription: "s", SubscriptionName: "inbound", Via: ViaPublish},
		"attempt": {Tenant: "t", EventID: "e", Time: now, Stage: Attempt, Publication: "p", PublicationName: "systemStatus",
			Attempt: 3, Outcome: Retry, Status: 503, Latency: 1500 * time.Microsecond, Response: `{"error":"<busy> & \"later\""}`,
			Error: "status 503\n\tline\x00\x1f\u2028\u2029é😀", NextAttempt: now.Add(time.Minute), FirstTry: now.Add(-time.Hour), Event: &event.Event{ID: "e"}},
		"filtered":      {Time: now, Stage: FilteredOut, Reason: "bad utf8 \xff\xfe end", Publication: "p"},
		"zones":         {Time: now.In(time.FixedZone("x", -(23*3600 + 59*60))), FirstTry: now.In(time.FixedZone("y", 5*3600+30*60+17))},
		"whole seconds": {Time: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC), Latency: -time.Second, Attempt: -1},
		"year 10000":    {Time: time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC)},
		"zone 24h":      {Time: now.In(time.FixedZone("z", 24*3600))},
	}
	for name, e := range cases {
		t.Run(name, func(t *testing.T) {
			want, wantErr := reference(e)
			got, err := MarshalDetail(e)
			if wantErr != nil {
				require.Error(t, err)
				return
			}
			require.NoError(t, err)
			assert.Equal(t, string(want), string(got))
		})
	}
}

func FuzzMarshalDetail(f *testing.F) {
	f.Add("inbound", "reason <&>", `{"a":"b"}`, "err\n\u2028\xff", 2, 200, int64(1500), int64(1733842936123456789))
	f.Fuzz(func(t *testing.T, name, reason, response, errText string, attempt, status int, latency, at int64) {
		tm := time.Unix(0, at).UTC()
		e := Entry{Time: tm, Stage: Attempt, SubscriptionName: name, PublicationName: name, Via: name, Reason: reason,
			Attempt: attempt, Outcome: Outcome(name), Status: status, Latency: time.Duration(latency), Response: response,
			Error: errText, NextAttempt: tm.Add(time.Second), FirstTry: tm}
		want, wantErr := reference(e)
		got, err := MarshalDetail(e)
		if wantErr != nil {
			require.Error(t, err)
			return
		}
		require.NoError(t, err)
		assert.Equal(t, string(want), string(got))
	})
}
