package sqlitejournal_test

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/herokuevents/herokuevents/infra/embedded/sqlitefile/sqlitefiletest"
	"github.com/herokuevents/herokuevents/infra/embedded/sqlitejournal"
	"github.com/herokuevents/herokuevents/shared/event"
	"github.com/herokuevents/herokuevents/shared/journal"
)

// benchRows is how many entries the journal holds before a
// BenchmarkAppendStream run writes: the entry_event index is then larger
// than the pages one batch touches.
const benchRows = 200_000

// benchTemplate is a closed journal file of benchRows entries, made once
// per process and copied into each benchmark run.
var benchTemplate = sqlitefiletest.Template("journal.db", func(path string) error {
	j, err := sqlitejournal.Open(path, benchOptions())
	if err != nil {
		return err
	}
	start := time.Now().Add(-time.Hour)
	s := newStream()
	for n := 0; n < benchRows; {
		batch := s.batch(start.Add(time.Duration(n) * 10 * time.Millisecond))
		if err := j.Append(context.Background(), batch...); err != nil {
			return err
		}
		n += len(batch)
	}
	return j.Close()
})

func TestMain(m *testing.M) {
	code := m.Run()
	sqlitefiletest.RemoveTemplates()
	os.Exit(code)
}

func benchOptions() sqlitejournal.Options {
	// No pruning: 200k rows stay (retention is not what is measured).
	return sqlitejournal.Options{PruneEvery: -1, Retention: journal.Retention{PerPublication: 1 << 30}}
}

// stream makes the entries of events going through a stream as the
// embedded product writes them: accepted, routed, and a first attempt
// keeping the event, ids made as the product makes them (event.New).
type stream struct {
	tenant, sub string
	pubs        []string
	ev          event.Event
	n           int
}

func newStream() *stream {
	s := &stream{tenant: "8fb2a5b3-b6cb-437d-aea6-c1ef1afe772f", sub: "0c9a1f0e-6a39-4a0f-9b8e-0b7f6f1f35d2"}
	for i := range 10 {
		s.pubs = append(s.pubs, fmt.Sprintf("770a7934-ee08-4062-86f9-04ffa095b9%02d", i))
	}
	s.ev = event.Event{Source: "/tenants/t/subscriptions/inbound", Type: event.TypePublish, DataContentType: "application/json",
		Data: json.RawMessage(`{"seq":"e123","Context__c":{"string":"bench"},"CreatedById":"005Ws000001eUtGIAU","CreatedDate":1733842936}`)}
	return s
}

// batch is the 500 entries (DefaultBatch, as journal.Async writes) of
// events published about at.
func (s *stream) batch(at time.Time) []journal.Entry {
	out := make([]journal.Entry, 0, journal.DefaultBatch)
	for len(out)+3 <= cap(out) {
		ev := event.New(s.ev.Source, s.ev.Type, s.ev.Data)
		ev.Time = at
		pub := s.pubs[s.n%len(s.pubs)]
		s.n++
		out = append(out,
			journal.Entry{Tenant: s.tenant, EventID: ev.ID, Time: at, Stage: journal.Accepted, Subscription: s.sub, SubscriptionName: "inbound", Via: journal.ViaPublish},
			journal.Entry{Tenant: s.tenant, EventID: ev.ID, Time: at, Stage: journal.Routed, Subscription: s.sub, Publication: pub},
			journal.Entry{Tenant: s.tenant, EventID: ev.ID, Time: at, Stage: journal.Attempt, Publication: pub, PublicationName: "systemStatus",
				Attempt: 1, Outcome: journal.Delivered, Status: 204, Latency: time.Millisecond, FirstTry: at, Event: &ev})
	}
	return out
}

// BenchmarkAppendStream measures appending the entries of events through a
// stream (accepted, routed, attempt; batches of 500) to a journal already
// holding 200k entries: processor time and bytes written (the WAL, and the
// checkpoints copying it into the file) per entry.
func BenchmarkAppendStream(b *testing.B) {
	tmpl, err := benchTemplate()
	require.NoError(b, err)
	path := filepath.Join(b.TempDir(), "journal.db")
	sqlitefiletest.Copy(b, tmpl, path)
	j, err := sqlitejournal.Open(path, benchOptions())
	require.NoError(b, err)
	defer j.Close()
	s := newStream()
	batches := make([][]journal.Entry, 0, b.N/journal.DefaultBatch+1)
	entries := 0
	for entries < b.N {
		batches = append(batches, s.batch(time.Now()))
		entries += len(batches[len(batches)-1])
	}
	b.ResetTimer()
	m := sqlitefiletest.Start(b)
	for _, batch := range batches {
		require.NoError(b, j.Append(b.Context(), batch...))
	}
	m.Report(b, entries, "entry")
}

// pruneRows is how many attempts of one publication the prune benchmark's
// journal holds: a minute of 4,000 deliveries a second on top of the
// default limit, about what a busy publication holds at each prune.
const pruneRows = 250_000

// pruneTemplate is a closed journal of pruneRows attempts of one
// publication, a millisecond apart, appended in batches of 500.
var pruneTemplate = sqlitefiletest.Template("prune.db", func(path string) error {
	j, err := sqlitejournal.Open(path, benchOptions())
	if err != nil {
		return err
	}
	s := newStream()
	start := time.Now().Add(-time.Hour)
	batch := make([]journal.Entry, 0, journal.DefaultBatch)
	for i := range pruneRows {
		at := start.Add(time.Duration(i) * time.Millisecond)
		batch = append(batch, journal.Entry{Tenant: s.tenant, EventID: event.New(s.ev.Source, s.ev.Type, nil).ID, Time: at,
			Stage: journal.Attempt, Publication: s.pubs[0], PublicationName: "systemStatus", Attempt: 1, Outcome: journal.Delivered,
			Status: 204, Latency: time.Millisecond, FirstTry: at})
		if len(batch) == cap(batch) {
			if err := j.Append(context.Background(), batch...); err != nil {
				return err
			}
			batch = batch[:0]
		}
	}
	return j.Close()
})

// BenchmarkPrunePublication measures the per-publication prune of a
// publication holding pruneRows attempts: keeping all of them (the walk
// that finds the limit alone) and keeping the default 10,000 (the walk and
// the deletes).
func BenchmarkPrunePublication(b *testing.B) {
	tmpl, err := pruneTemplate()
	require.NoError(b, err)
	for _, keep := range []int{1 << 30, journal.DefaultPerPublication} {
		b.Run(fmt.Sprintf("keep=%d", min(keep, pruneRows)), func(b *testing.B) {
			var took time.Duration
			for i := 0; b.Loop(); i++ {
				b.StopTimer()
				path := filepath.Join(b.TempDir(), fmt.Sprintf("journal-%d.db", i))
				sqlitefiletest.Copy(b, tmpl, path)
				o := benchOptions()
				o.Retention.PerPublication = keep
				o.Retention.Age = 30 * 24 * time.Hour
				j, err := sqlitejournal.Open(path, benchOptions()) // no prune at Open: nothing is over its limit
				require.NoError(b, err)
				s := newStream()
				ev := event.New(s.ev.Source, s.ev.Type, nil)
				require.NoError(b, j.Append(b.Context(), journal.Entry{Tenant: s.tenant, EventID: ev.ID, Time: time.Now(),
					Stage: journal.Attempt, Publication: s.pubs[0], Attempt: 1, Outcome: journal.Delivered, Status: 204}))
				j.SetRetention(o.Retention)
				start := time.Now()
				b.StartTimer()
				require.NoError(b, j.Prune(b.Context()))
				b.StopTimer()
				took += time.Since(start)
				require.NoError(b, j.Close())
				b.StartTimer()
			}
			b.ReportMetric(float64(took.Milliseconds())/float64(b.N), "ms/prune")
		})
	}
}
