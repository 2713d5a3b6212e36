package openmetrics_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/herokuevents/herokuevents/infra/embedded/openmetrics"
	"github.com/herokuevents/herokuevents/infra/embedded/openmetrics/openmetricstest"
	"github.com/herokuevents/herokuevents/shared/metric"
)

func render(t *testing.T, r *openmetrics.Registry) []byte {
	t.Helper()
	var b bytes.Buffer
	require.NoError(t, r.WriteTo(t.Context(), &b))
	return b.Bytes()
}

func TestRenderParses(t *testing.T) {
	ctx := t.Context()
	reg := openmetrics.New(nil)
	ingest, filter, deliver := reg.Role("ingest"), reg.Role("filter"), reg.Role("deliver")
	const tenant, pub, sub = "t-1", "p-1", "s-1"
	for range 20 {
		ingest.Count(ctx, metric.Ingested, 1, metric.DimPlatform, "webhook", metric.LabelTenant, tenant, metric.LabelSubscription, sub)
	}
	for range 10 {
		filter.Count(ctx, metric.FilteredOut, 1, metric.LabelTenant, tenant, metric.LabelPublication, pub)
	}
	for _, d := range []time.Duration{3 * time.Millisecond, 40 * time.Millisecond, 40 * time.Millisecond, 2 * time.Second, 2 * time.Hour} {
		deliver.Count(ctx, metric.Delivered, 1, metric.DimPlatform, "webhook", metric.LabelTenant, tenant, metric.LabelPublication, pub)
		deliver.Duration(ctx, metric.DeliveryLatency, d, metric.DimPlatform, "webhook", metric.LabelTenant, tenant, metric.LabelPublication, pub)
	}
	deliver.Count(ctx, metric.Failed, 2, metric.DimPlatform, "webhook", metric.LabelTenant, tenant, metric.LabelPublication, pub)
	deliver.Count(ctx, metric.Retried, 2, metric.DimPlatform, "webhook", metric.LabelTenant, tenant, metric.LabelPublication, pub)
	deliver.Count(ctx, metric.DeadLettered, 1, metric.DimReason, metric.ReasonPermanent, metric.LabelTenant, tenant, metric.LabelPublication, pub)
	reg.Role("sfsubscribe").Count(ctx, "ReplayFallback", 1, metric.DimPlatform, "salesforce")
	reg.Gauge("herokuevents_queue_depth", "Messages in a queue.", "queue", func(context.Context) (map[string]float64, error) {
		return map[string]float64{"delivery": 3, "ingest": 0, "delivery-dlq": 1}, nil
	})

	text := render(t, reg)
	fams := openmetricstest.Parse(t, text)
	at := map[string]string{"platform": "webhook", "publication": pub, "role": "deliver", "tenant": tenant}
	assert.Equal(t, 20.0, openmetricstest.Find(t, fams["herokuevents_accepted"], "herokuevents_accepted_total",
		map[string]string{"platform": "webhook", "role": "ingest", "subscription": sub, "tenant": tenant}))
	assert.Equal(t, 10.0, openmetricstest.Find(t, fams["herokuevents_filtered_out"], "herokuevents_filtered_out_total",
		map[string]string{"publication": pub, "role": "filter", "tenant": tenant}))
	assert.Equal(t, 5.0, openmetricstest.Find(t, fams["herokuevents_delivered"], "herokuevents_delivered_total", at))
	assert.Equal(t, 2.0, openmetricstest.Find(t, fams["herokuevents_delivery_failures"], "herokuevents_delivery_failures_total", at))
	assert.Equal(t, 2.0, openmetricstest.Find(t, fams["herokuevents_retried"], "herokuevents_retried_total", at))
	assert.Equal(t, 1.0, openmetricstest.Find(t, fams["herokuevents_dead_lettered"], "herokuevents_dead_lettered_total",
		map[string]string{"publication": pub, "reason": "Permanent", "role": "deliver", "tenant": tenant}))
	assert.Equal(t, 1.0, openmetricstest.Find(t, fams["herokuevents_replay_fallback"], "herokuevents_replay_fallback_total",
		map[string]string{"platform": "salesforce", "role": "sfsubscribe"}))

	lat := fams["herokuevents_delivery_latency_seconds"]
	assert.Equal(t, "histogram", lat.Type)
	assert.Equal(t, "seconds", lat.Unit)
	bucket := func(le string) float64 {
		l := map[string]string{"le": le}
		for k, v := range at {
			l[k] = v
		}
		return openmetricstest.Find(t, lat, "herokuevents_delivery_latency_seconds_bucket", l)
	}
	assert.Equal(t, 1.0, bucket("0.005"))
	assert.Equal(t, 3.0, bucket("0.05"))
	assert.Equal(t, 4.0, bucket("2.5"))
	assert.Equal(t, 4.0, bucket("3600.0"))
	assert.Equal(t, 5.0, bucket("+Inf"))
	assert.Equal(t, 5.0, openmetricstest.Find(t, lat, "herokuevents_delivery_latency_seconds_count", at))
	assert.InDelta(t, 2*3600+2+0.083, openmetricstest.Find(t, lat, "herokuevents_delivery_latency_seconds_sum", at), 1e-9)

	depth := fams["herokuevents_queue_depth"]
	assert.Equal(t, "gauge", depth.Type)
	assert.Equal(t, 3.0, openmetricstest.Find(t, depth, "herokuevents_queue_depth", map[string]string{"queue": "delivery"}))
	assert.Equal(t, 1.0, openmetricstest.Find(t, depth, "herokuevents_queue_depth", map[string]string{"queue": "delivery-dlq"}))
	assert.Equal(t, 0.0, openmetricstest.Find(t, fams["herokuevents_metrics_dropped_series"], "herokuevents_metrics_dropped_series_total", map[string]string{}))
	assert.True(t, bytes.HasSuffix(text, []byte("# EOF\n")))
}

// TestLabelValuesEscaped: quotes, backslashes, newlines and non-ASCII in
// label values come back intact through the parser.
func TestLabelValuesEscaped(t *testing.T) {
	reg := openmetrics.New(nil)
	odd := "café \"x\" 100% \\ back\nslash"
	reg.Count(t.Context(), metric.Delivered, 3, metric.DimPlatform, "webhook", metric.LabelTenant, odd, "Weird-Name!", "v", "Dangling")
	fams := openmetricstest.Parse(t, render(t, reg))
	assert.Equal(t, 3.0, openmetricstest.Find(t, fams["herokuevents_delivered"], "herokuevents_delivered_total",
		map[string]string{"platform": "webhook", "tenant": odd, "weird_name_": "v"}))
}

// TestEmptyRegistryParses: a fresh registry renders valid text.
func TestEmptyRegistryParses(t *testing.T) {
	fams := openmetricstest.Parse(t, render(t, openmetrics.New(nil)))
	assert.Contains(t, fams, "herokuevents_metrics_dropped_series")
}

// TestMaxSeries: beyond the bound new series are dropped and counted;
// existing ones keep counting.
func TestMaxSeries(t *testing.T) {
	reg := openmetrics.New(nil)
	reg.SetMaxSeries(2)
	for i := range 5 {
		reg.Count(t.Context(), metric.Delivered, 1, metric.LabelTenant, fmt.Sprint("t-", i))
	}
	reg.Count(t.Context(), metric.Delivered, 1, metric.LabelTenant, "t-0")
	fams := openmetricstest.Parse(t, render(t, reg))
	assert.Len(t, fams["herokuevents_delivered"].Samples, 2)
	assert.Equal(t, 2.0, openmetricstest.Find(t, fams["herokuevents_delivered"], "herokuevents_delivered_total", map[string]string{"tenant": "t-0"}))
	assert.Equal(t, 3.0, openmetricstest.Find(t, fams["herokuevents_metrics_dropped_series"], "herokuevents_metrics_dropped_series_total", map[string]string{}))
}

// TestGaugeFailure: a gauge that cannot be read renders without samples;
// the rest is served.
func TestGaugeFailure(t *testing.T) {
	reg := openmetrics.New(nil)
	reg.Count(t.Context(), metric.Ingested, 1)
	reg.Gauge("herokuevents_queue_depth", "Messages in a queue.", "queue", func(context.Context) (map[string]float64, error) {
		return nil, errors.New("database is locked")
	})
	fams := openmetricstest.Parse(t, render(t, reg))
	assert.Empty(t, fams["herokuevents_queue_depth"].Samples)
	assert.Equal(t, 1.0, openmetricstest.Find(t, fams["herokuevents_accepted"], "herokuevents_accepted_total", map[string]string{}))
}

// TestConcurrentRecording: recording from many goroutines while scraping
// loses nothing (run with -race).
func TestConcurrentRecording(t *testing.T) {
	reg := openmetrics.New(nil)
	rec := reg.Role("deliver")
	var wg sync.WaitGroup
	for w := range 8 {
		wg.Go(func() {
			for i := range 100 {
				rec.Count(t.Context(), metric.Delivered, 1, metric.LabelPublication, fmt.Sprint("p-", w%2))
				rec.Duration(t.Context(), metric.DeliveryLatency, time.Duration(i)*time.Millisecond, metric.LabelPublication, fmt.Sprint("p-", w%2))
			}
		})
	}
	wg.Go(func() {
		for range 10 {
			_ = reg.WriteTo(t.Context(), io.Discard)
		}
	})
	wg.Wait()
	fams := openmetricstest.Parse(t, render(t, reg))
	for _, p := range []string{"p-0", "p-1"} {
		l := map[string]string{"publication": p, "role": "deliver"}
		assert.Equal(t, 400.0, openmetricstest.Find(t, fams["herokuevents_delivered"], "herokuevents_delivered_total", l))
		assert.Equal(t, 400.0, openmetricstest.Find(t, fams["herokuevents_delivery_latency_seconds"], "herokuevents_delivery_latency_seconds_count", l))
	}
}

func TestHandler(t *testing.T) {
	reg := openmetrics.New(nil)
	reg.Count(t.Context(), metric.Ingested, 7, metric.DimPlatform, "webhook")
	srv := httptest.NewServer(reg.Handler(func(user, pass string) bool { return user == "op" && pass == "secret" }))
	defer srv.Close()
	tests := []struct {
		name       string
		user, pass string
		status     int
	}{
		{"operator", "op", "secret", http.StatusOK},
		{"wrong password", "op", "nope", http.StatusUnauthorized},
		{"no credentials", "", "", http.StatusUnauthorized},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req, err := http.NewRequestWithContext(t.Context(), http.MethodGet, srv.URL+"/metrics", nil)
			require.NoError(t, err)
			if tt.user != "" {
				req.SetBasicAuth(tt.user, tt.pass)
			}
			res, err := http.DefaultClient.Do(req)
			require.NoError(t, err)
			defer res.Body.Close()
			body, err := io.ReadAll(res.Body)
			require.NoError(t, err)
			require.Equal(t, tt.status, res.StatusCode, "%s", body)
			if tt.status != http.StatusOK {
				assert.JSONEq(t, `{"id":"unauthorized","message":"Invalid credentials provided."}`, string(body))
				assert.NotEmpty(t, res.Header.Get("WWW-Authenticate"))
				return
			}
			assert.Equal(t, openmetrics.ContentType, res.Header.Get("Content-Type"))
			fams := openmetricstest.Parse(t, body)
			assert.Equal(t, 7.0, openmetricstest.Find(t, fams["herokuevents_accepted"], "herokuevents_accepted_total", map[string]string{"platform": "webhook"}))
		})
	}
}

// TestSameSeriesWhateverTheCall: calls that name one series (dimensions in
// another order, names in another case, the role as a dimension) add to
// it, whichever call came first; calls of other labels stay apart, and a
// dropped series stays dropped.
func TestSameSeriesWhateverTheCall(t *testing.T) {
	ctx := t.Context()
	reg := openmetrics.New(nil)
	reg.SetMaxSeries(3)
	dlv := reg.Role("deliver")
	for range 2 {
		dlv.Count(ctx, metric.Delivered, 1, metric.DimPlatform, "webhook", metric.LabelTenant, "t-1")
		dlv.Count(ctx, metric.Delivered, 2, metric.LabelTenant, "t-1", metric.DimPlatform, "webhook", "Unpaired")
		reg.Count(ctx, metric.Delivered, 4, "role", "deliver", "PLATFORM", "webhook", "tenant", "t-1")
		dlv.Count(ctx, metric.Delivered, 8, metric.LabelTenant, "t-2")
		dlv.Count(ctx, metric.Delivered, 16, metric.LabelTenant, "t-2", metric.DimPlatform, "")
		dlv.Count(ctx, metric.Delivered, 32, metric.LabelTenant, "t-3") // over the bound: dropped
		dlv.Duration(ctx, metric.DeliveryLatency, time.Second, metric.LabelTenant, "t-1")
	}
	fams := openmetricstest.Parse(t, render(t, reg))
	name := "herokuevents_delivered_total"
	assert.Equal(t, 14.0, openmetricstest.Find(t, fams["herokuevents_delivered"], name, map[string]string{"platform": "webhook", "role": "deliver", "tenant": "t-1"}))
	assert.Equal(t, 16.0, openmetricstest.Find(t, fams["herokuevents_delivered"], name, map[string]string{"role": "deliver", "tenant": "t-2"}))
	assert.Equal(t, 32.0, openmetricstest.Find(t, fams["herokuevents_delivered"], name, map[string]string{"role": "deliver", "tenant": "t-2", "platform": ""}))
	assert.Len(t, fams["herokuevents_delivered"].Samples, 3)
	assert.NotContains(t, fams, "herokuevents_delivery_latency_seconds")
	assert.Equal(t, 4.0, openmetricstest.Find(t, fams["herokuevents_metrics_dropped_series"], "herokuevents_metrics_dropped_series_total", map[string]string{}))
}

// BenchmarkRoleRecorder is the deliver role's two recordings of a
// delivered event.
func BenchmarkRoleRecorder(b *testing.B) {
	ctx := context.Background()
	dlv := openmetrics.New(nil).Role("deliver")
	b.ReportAllocs()
	for b.Loop() {
		dlv.Count(ctx, metric.Delivered, 1, metric.DimPlatform, "webhook", metric.LabelTenant, "t-1", metric.LabelPublication, "5b0e8a52-4d0f-4b8e-9d8e-4c3f3f1c2a10")
		dlv.Duration(ctx, metric.DeliveryLatency, 42*time.Millisecond, metric.DimPlatform, "webhook", metric.LabelTenant, "t-1", metric.LabelPublication, "5b0e8a52-4d0f-4b8e-9d8e-4c3f3f1c2a10")
	}
}
