package emf

import (
	"bytes"
	"encoding/json"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"

	"github.com/stretchr/testify/require"

	"github.com/herokuevents/herokuevents/shared/metric"
)

func TestEMFShape(t *testing.T) {
	at := time.Date(2026, 1, 2, 3, 4, 5, 6_000_000, time.UTC)
	tests := []struct {
		name string
		rec  func(e *Recorder)
		want string
	}{
		{
			name: "count with role only",
			rec:  func(e *Recorder) { e.Count(t.Context(), metric.Ingested, 3) },
			want: `{"_aws":{"Timestamp":1767323045006,"CloudWatchMetrics":[{"Namespace":"herokuevents","Dimensions":[["Role"]],"Metrics":[{"Name":"Ingested","Unit":"Count"}]}]},"Role":"ingest","Ingested":3}`,
		},
		{
			name: "count with extra dimension",
			rec:  func(e *Recorder) { e.Count(t.Context(), metric.Delivered, 1, "Platform", "webhook") },
			want: `{"_aws":{"Timestamp":1767323045006,"CloudWatchMetrics":[{"Namespace":"herokuevents","Dimensions":[["Role","Platform"]],"Metrics":[{"Name":"Delivered","Unit":"Count"}]}]},"Role":"ingest","Platform":"webhook","Delivered":1}`,
		},
		{
			name: "duration in milliseconds",
			rec: func(e *Recorder) {
				e.Duration(t.Context(), metric.DeliveryLatency, 1500*time.Microsecond, "Platform", "salesforce")
			},
			want: `{"_aws":{"Timestamp":1767323045006,"CloudWatchMetrics":[{"Namespace":"herokuevents","Dimensions":[["Role","Platform"]],"Metrics":[{"Name":"DeliveryLatency","Unit":"Milliseconds"}]}]},"Role":"ingest","Platform":"salesforce","DeliveryLatency":1.5}`,
		},
		{
			name: "unpaired and reserved dimensions are ignored",
			rec: func(e *Recorder) {
				e.Count(t.Context(), metric.Failed, 2, "Role", "evil", "_aws", "x", "Failed", "y", "Reason", "timeout", "Dangling")
			},
			want: `{"_aws":{"Timestamp":1767323045006,"CloudWatchMetrics":[{"Namespace":"herokuevents","Dimensions":[["Role","Reason"]],"Metrics":[{"Name":"Failed","Unit":"Count"}]}]},"Role":"ingest","Reason":"timeout","Failed":2}`,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var buf bytes.Buffer
			e := New(&buf, "ingest")
			e.now = func() time.Time { return at }
			tt.rec(e)
			out := buf.String()
			require.True(t, strings.HasSuffix(out, "\n"), "one JSON object per line")
			assert.Equal(t, 1, strings.Count(out, "\n"))
			assert.JSONEq(t, tt.want, out)
		})
	}
}

func TestEMFConcurrentLinesStayWhole(t *testing.T) {
	var buf bytes.Buffer
	e := New(&buf, "deliver")
	var wg sync.WaitGroup
	for range 20 {
		wg.Go(func() {
			for range 10 {
				e.Count(t.Context(), metric.DeadLettered, 1, "Reason", "permanent")
			}
		})
	}
	wg.Wait()
	lines := strings.Split(strings.TrimSuffix(buf.String(), "\n"), "\n")
	require.Len(t, lines, 200)
	for _, l := range lines {
		var doc map[string]any
		require.NoError(t, json.Unmarshal([]byte(l), &doc), l)
		assert.InDelta(t, 1.0, doc[metric.DeadLettered], 0)
		assert.Equal(t, "deliver", doc["Role"])
	}
}

// TestEMFLabelsAreProperties: tenant, publication and subscription travel
// on the line but are not dimensions.
func TestEMFLabelsAreProperties(t *testing.T) {
	var buf bytes.Buffer
	e := New(&buf, "deliver")
	e.now = func() time.Time { return time.UnixMilli(1) }
	e.Count(t.Context(), metric.Delivered, 1, metric.DimPlatform, "webhook",
		metric.LabelTenant, "t-1", metric.LabelPublication, "p-1", metric.LabelSubscription, "s-1")
	assert.JSONEq(t, `{"_aws":{"Timestamp":1,"CloudWatchMetrics":[{"Namespace":"herokuevents","Dimensions":[["Role","Platform"]],"Metrics":[{"Name":"Delivered","Unit":"Count"}]}]},
		"Role":"deliver","Platform":"webhook","Tenant":"t-1","Publication":"p-1","Subscription":"s-1","Delivered":1}`, buf.String())
}

// TestEMFOneDimensionSetPerName: recorded as the roles record them (the
// dimensions of metric.Dimensions, with or without labels), each metric
// name has one dimension set: Role and its own.
func TestEMFOneDimensionSetPerName(t *testing.T) {
	for name, dims := range metric.Dimensions {
		t.Run(name, func(t *testing.T) {
			var buf bytes.Buffer
			e := New(&buf, "role")
			var pairs []string
			for _, d := range dims {
				pairs = append(pairs, d, "v")
			}
			e.Count(t.Context(), name, 1, pairs...)
			e.Count(t.Context(), name, 1, append(pairs, metric.LabelTenant, "t", metric.LabelPublication, "p")...)
			e.Duration(t.Context(), name, time.Second, append(pairs, metric.LabelSubscription, "s")...)
			want := append([]string{"Role"}, dims...)
			for _, line := range strings.Split(strings.TrimSuffix(buf.String(), "\n"), "\n") {
				var doc struct {
					AWS struct {
						CloudWatchMetrics []struct{ Dimensions [][]string }
					} `json:"_aws"`
				}
				require.NoError(t, json.Unmarshal([]byte(line), &doc))
				assert.Equal(t, [][]string{want}, doc.AWS.CloudWatchMetrics[0].Dimensions, line)
			}
		})
	}
}
