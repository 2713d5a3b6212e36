package deliver_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/herokuevents/herokuevents/infra/embedded/filesealer"
	"github.com/herokuevents/herokuevents/infra/embedded/openmetrics"
	"github.com/herokuevents/herokuevents/shared/config"
	"github.com/herokuevents/herokuevents/shared/config/memstore"
	"github.com/herokuevents/herokuevents/shared/deliver"
	"github.com/herokuevents/herokuevents/shared/event"
	"github.com/herokuevents/herokuevents/shared/journal"
	"github.com/herokuevents/herokuevents/shared/platform/webhook/cloudevent"
	"github.com/herokuevents/herokuevents/shared/queue"
	"github.com/herokuevents/herokuevents/shared/sink"
)

// cpuTime is the processor time (user and system) of this process so far.
func cpuTime(b *testing.B) time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		b.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// discardJournal stands for the embedded mode's journal.Async: it takes
// the entries and keeps nothing.
type discardJournal struct{}

func (discardJournal) Append(context.Context, ...journal.Entry) error { return nil }

// BenchmarkHandleBatch delivers batches of 10 messages, as the embedded
// delivery consumer claims them, to a webhook publication (bearer token,
// signing secret) on a real HTTP server, with the embedded mode's
// recorders: the OpenMetrics registry, a JSON logger at Info, a journal.
// One op is one delivered event; cpu-µs/op is the processor time of the
// whole process (the endpoint included) per event.
func BenchmarkHandleBatch(b *testing.B) {
	dir := b.TempDir()
	store := config.Cached(memstore.New(), 5*time.Second)
	sealer, err := filesealer.Open(filepath.Join(dir, "secret.key"))
	if err != nil {
		b.Fatal(err)
	}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		w.WriteHeader(http.StatusNoContent)
	}))
	b.Cleanup(srv.Close)
	allow, err := sink.ParseAllow("127.0.0.0/8,::1")
	if err != nil {
		b.Fatal(err)
	}
	ctx := context.Background()
	whsec, err := sink.NewSigningSecret()
	if err != nil {
		b.Fatal(err)
	}
	tok, _ := sealer.Seal(ctx, []byte("tok-bench"))
	sec, _ := sealer.Seal(ctx, []byte(whsec))
	pub := config.Publication{
		ID: "5b0e8a52-4d0f-4b8e-9d8e-4c3f3f1c2a10", Name: "bench-hook", Platform: config.PlatformWebhook,
		Params: config.Params{URL: srv.URL + "/hooks/bench"}, Created: time.Now().UTC(),
		TokenSealed: tok, SecretSealed: sec,
	}
	if _, err := config.Insert(ctx, store, config.Item{Tenant: tenant, Kind: config.KindPublication, ID: pub.ID, Name: pub.Name}, pub); err != nil {
		b.Fatal(err)
	}
	h, err := deliver.New(deliver.Options{
		Store: store,
		Publishers: map[string]deliver.Publisher{
			config.PlatformWebhook: &cloudevent.Publisher{Sealer: sealer, Client: sink.NewEgress(allow).Client(10 * time.Second)},
		},
		Requeue: queue.SenderFunc(func(context.Context, ...queue.Message) error { return nil }),
		Metrics: openmetrics.New(nil).Role("deliver"),
		Logger:  slog.New(slog.NewJSONHandler(io.Discard, nil)),
		Journal: discardJournal{},
		// As the embedded mode runs it.
		KeepWorkers: true,
	})
	if err != nil {
		b.Fatal(err)
	}

	// 1,000 distinct deliveries as the filter queues them.
	msgs := make([]queue.Message, 1000)
	for i := range msgs {
		d := event.Delivery{Tenant: tenant, Publication: pub.ID, Event: event.Event{
			ID:              fmt.Sprintf("0f8fad5b-d9cb-469f-a165-%012d", i),
			Source:          event.Source(tenant, "subscriptions", "orders"),
			Type:            event.TypePlatformEvent,
			Time:            time.Date(2026, 2, 3, 4, 5, 6, 789000000+i, time.UTC),
			DataContentType: "application/json",
			Data:            fmt.Appendf(nil, `{"seq":"e%d","Context__c":{"string":"bench"},"CreatedById":"005Ws000001eUtGIAU","CreatedDate":1733842936}`, i),
		}}
		body, err := json.Marshal(d)
		if err != nil {
			b.Fatal(err)
		}
		msgs[i] = queue.Message{ID: fmt.Sprint(i + 1), Body: body, Receives: 1, SentAt: time.Now(),
			Attributes: map[string]string{queue.AttrTenant: tenant}}
	}

	const batch = 10
	b.ReportAllocs()
	b.ResetTimer()
	start := cpuTime(b)
	for i := 0; i < b.N; i += batch {
		lo := i % len(msgs)
		n := min(batch, b.N-i, len(msgs)-lo)
		if res := h.HandleBatch(ctx, msgs[lo:lo+n]); len(res.Failures) > 0 {
			b.Fatal(res.Failures[0].Err)
		}
	}
	b.StopTimer()
	b.ReportMetric(float64((cpuTime(b)-start).Microseconds())/float64(b.N), "cpu-µs/op")
}
