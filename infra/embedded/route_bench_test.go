package embedded

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/herokuevents/herokuevents/infra/embedded/sqlitestore"
	"github.com/herokuevents/herokuevents/shared/archive"
	"github.com/herokuevents/herokuevents/shared/config"
	"github.com/herokuevents/herokuevents/shared/filter"
	"github.com/herokuevents/herokuevents/shared/ingest"
	"github.com/herokuevents/herokuevents/shared/journal"
	"github.com/herokuevents/herokuevents/shared/order/keyer"
	"github.com/herokuevents/herokuevents/shared/pull/mempull"
	"github.com/herokuevents/herokuevents/shared/queue"
	"github.com/herokuevents/herokuevents/shared/recent"
	"github.com/herokuevents/herokuevents/shared/recent/memrecent"
)

// countingSender takes messages and keeps only their count: the queues'
// own cost (sqlitequeue) is measured by their own benchmarks.
type countingSender struct{ n atomic.Int64 }

func (c *countingSender) Send(_ context.Context, msgs ...queue.Message) error {
	c.n.Add(int64(len(msgs)))
	return nil
}

// discardArchive is an archive store that keeps nothing.
type discardArchive struct{ archive.Store }

func (discardArchive) Append(context.Context, ...archive.Record) error { return nil }

type discardJournal struct{}

func (discardJournal) Append(context.Context, ...journal.Entry) error { return nil }

// BenchmarkPublishThroughStream is the publish request of an event to a
// webhook subscription whose stream has a Bloblang filter, as the
// embedded mode wires it: ingest, then the filter in process
// (routeAtIngest), with the cached SQLite config store, the archive,
// recent-events, pull and journal writers. The queues only count (their
// cost is sqlitequeue's); the filter runs in its worker process, whose
// time is not counted. cpu-µs/op is this process's processor time per
// published event (user + system, every goroutine: the async writers
// included).
func BenchmarkPublishThroughStream(b *testing.B) {
	ctx := b.Context()
	st, err := sqlitestore.Open(filepath.Join(b.TempDir(), "config.db"))
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { st.Close() })
	const tenant, key = "t-bench", "publish-key"
	sum := sha256.Sum256([]byte(key))
	must := func(_ any, err error) {
		if err != nil {
			b.Fatal(err)
		}
	}
	must(config.Insert(ctx, st, config.Item{Kind: config.KindTenant, ID: tenant, Name: "bench-app"},
		config.Tenant{ID: tenant, App: "bench-app", Plan: "test", PublishKeyHash: hex.EncodeToString(sum[:])}))
	must(config.Insert(ctx, st, config.Item{Tenant: tenant, Kind: config.KindSubscription, ID: "sub-1", Name: "inbound"},
		config.Subscription{ID: "sub-1", Name: "inbound", Platform: config.PlatformWebhook}))
	must(config.Insert(ctx, st, config.Item{Tenant: tenant, Kind: config.KindPublication, ID: "3f1c2a9e-0000-4000-8000-000000000001", Name: "out"},
		config.Publication{ID: "3f1c2a9e-0000-4000-8000-000000000001", Name: "out", Platform: config.PlatformWebhook}))
	s := config.Stream{ID: "s-1", Subscription: "sub-1", Publication: "3f1c2a9e-0000-4000-8000-000000000001",
		Filter: `root = if this.Context__c.string == "drop" { deleted() } else { this }`}
	must(config.Insert(ctx, st, config.Item{Tenant: tenant, Kind: config.KindStream, ID: s.ID, Name: config.StreamName(s.Subscription, s.Publication)}, s))

	cached := config.Cached(st, 5*time.Second)
	logger := slog.New(slog.NewJSONHandler(io.Discard, nil))
	jw := journal.NewAsync(discardJournal{}, journal.AsyncOptions{Logger: logger})
	b.Cleanup(func() { jw.Close() })
	keeper := recent.NewWriter(memrecent.New(recent.Limits{}), recent.WriterOptions{Logger: logger, Linger: 100 * time.Millisecond, Batch: 500})
	b.Cleanup(func() { keeper.Close(context.Background()) })
	archiver := archive.NewWriter(discardArchive{}, archive.WriterOptions{Logger: logger})
	b.Cleanup(func() { archiver.Close(context.Background()) })
	delivery, ingestQ := &countingSender{}, &countingSender{}
	flt, err := filter.New(filter.Options{Store: cached, Delivery: delivery, Logger: logger, Recent: keeper, Journal: jw,
		Pull: mempull.New(time.Hour, nil), Archive: archiver})
	if err != nil {
		b.Fatal(err)
	}
	direct := routeAtIngest{filter: flt, ingest: ingestQ, dlq: ingestQ, settings: queue.Settings{BatchSize: 10, MaxReceives: 5}}
	ing, err := ingest.New(ingest.Options{Store: cached, Ingest: direct, Delivery: delivery, Keys: &keyer.Keyer{}, Logger: logger, Journal: jw})
	if err != nil {
		b.Fatal(err)
	}
	const payload = `{"Context__c":{"string":"keep"},"CreatedById":"005Ws000001eUtGIAU","CreatedDate":1733842936000,"Order":{"TotalValue":1234.5,"Lines":[1,2,3]}}`
	publish := func() {
		req := httptest.NewRequest(http.MethodPost, "/publish/inbound", strings.NewReader(payload))
		req.SetBasicAuth(tenant, key)
		req.Header.Set("Content-Type", "application/json")
		w := httptest.NewRecorder()
		ing.ServeHTTP(w, req)
		if w.Code != http.StatusAccepted {
			b.Fatalf("publish: %d %s", w.Code, w.Body)
		}
	}
	publish() // the worker is started, the caches filled
	start := processCPU()
	sent := delivery.n.Load()
	for b.Loop() {
		publish()
	}
	b.ReportMetric(float64((processCPU()-start).Microseconds())/float64(b.N), "cpu-µs/op")
	if got := delivery.n.Load() - sent; got != int64(b.N) {
		b.Fatalf("%d deliveries for %d events", got, b.N)
	}
}

// processCPU is the processor time this process used so far.
func processCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
