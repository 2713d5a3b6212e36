package sqlitearchive

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/herokuevents/herokuevents/infra/embedded/sqlitefile/sqlitefiletest"
	"github.com/herokuevents/herokuevents/shared/archive"
	"github.com/herokuevents/herokuevents/shared/event"
)

// oneKB is an event of about 1 KB of data.
var oneKB = event.Event{ID: "00000000-0000-0000-0000-000000000000", Source: "/tenants/t/subscriptions/orders", Type: event.TypePublish,
	Subject: "k1", Time: time.Now().UTC(), DataContentType: "application/json",
	Data: json.RawMessage(`{"pad":"` + strings.Repeat("x", 1000) + `"}`)}

// BenchmarkAppend is the archive's write cost per event in the embedded
// mode: batches of 500 events of 1 KB (what the Writer gathers under
// load), one transaction each.
func BenchmarkAppend(b *testing.B) {
	s, err := Open(filepath.Join(b.TempDir(), "archive.db"), archive.Limits{})
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	const batch = 500
	seq := time.Now().UnixNano()
	recs := make([]archive.Record, batch)
	b.ResetTimer()
	cpu := sqlitefiletest.CPUTime(b)
	for i := 0; i < b.N; i += batch {
		for j := range recs {
			seq++
			ev := oneKB
			ev.ID = fmt.Sprint(seq)
			recs[j] = archive.Record{Tenant: "t", Subscription: "s", Seq: seq, Event: ev}
		}
		if err := s.Append(context.Background(), recs...); err != nil {
			b.Fatal(err)
		}
	}
	// Processor time per event: what a loaded host changes less than the
	// rate.
	b.ReportMetric(float64((sqlitefiletest.CPUTime(b)-cpu).Microseconds())/float64(b.N), "cpu-µs/event")
}

// BenchmarkKeep is what archiving costs the filter's hot path per event:
// Writer.Keep (a sequence number and a channel send), the appends running
// in the background.
func BenchmarkKeep(b *testing.B) {
	s, err := Open(filepath.Join(b.TempDir(), "archive.db"), archive.Limits{})
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	w := archive.NewWriter(s, archive.WriterOptions{})
	b.ResetTimer()
	for range b.N {
		w.Keep("t", "s", 0, oneKB, nil)
	}
	b.StopTimer()
	_ = w.Close(context.Background())
	b.ReportMetric(float64(w.Dropped())/float64(b.N), "dropped/op")
}

// benchRecords is how many records the archive holds before a
// BenchmarkAppendStream run appends: its indexes are then larger than the
// pages one batch touches.
const benchRecords = 200_000

// benchTemplate is a closed archive file of benchRecords records, made
// once per process and copied into each benchmark run.
var benchTemplate = sqlitefiletest.Template("archive.db", func(path string) error {
	s, err := Open(path, archive.Limits{})
	if err != nil {
		return err
	}
	st := newStream(time.Now().Add(-time.Hour))
	for range benchRecords / 500 {
		if err := s.Append(context.Background(), st.batch()...); err != nil {
			return err
		}
	}
	return s.Close()
})

func TestMain(m *testing.M) {
	code := m.Run()
	sqlitefiletest.RemoveTemplates()
	os.Exit(code)
}

// stream makes the records the embedded filter archives: events published
// (ids from event.New) through 10 subscriptions of a tenant, sequence
// numbers from the accept clock as archive.Writer stamps them; or, with
// tenants set, through one subscription of each of that many tenants,
// round-robin.
type stream struct {
	subs    []string
	tenants []string
	seq     int64
	ev      event.Event
	n       int
}

// newTenantsStream is a stream through one subscription of each of n
// tenants.
func newTenantsStream(from time.Time, n int) *stream {
	s := newStream(from)
	for i := range n {
		s.tenants = append(s.tenants, fmt.Sprintf("8fb2a5b3-b6cb-437d-aea6-c1ef1afe%04d", i))
	}
	return s
}

func newStream(from time.Time) *stream {
	s := &stream{seq: from.UnixNano(), ev: event.Event{Source: "/tenants/t/subscriptions/inbound", Type: event.TypePublish, DataContentType: "application/json",
		Data: json.RawMessage(`{"seq":"e123","Context__c":{"string":"bench"},"CreatedById":"005Ws000001eUtGIAU","CreatedDate":1733842936}`)}}
	for i := range 10 {
		s.subs = append(s.subs, fmt.Sprintf("0c9a1f0e-6a39-4a0f-9b8e-0b7f6f1f35%02d", i))
	}
	return s
}

// batch is 500 records (DefaultBatch), 20 µs of accept clock apart.
func (s *stream) batch() []archive.Record {
	out := make([]archive.Record, 500)
	for i := range out {
		s.seq += 20_000
		ev := event.New(s.ev.Source, s.ev.Type, s.ev.Data)
		ev.Time = time.Unix(0, s.seq).UTC()
		out[i] = archive.Record{Tenant: "8fb2a5b3-b6cb-437d-aea6-c1ef1afe772f", Subscription: s.subs[s.n%len(s.subs)], Seq: s.seq, Event: ev}
		if len(s.tenants) > 0 {
			out[i].Tenant, out[i].Subscription = s.tenants[s.n%len(s.tenants)], s.subs[0]
		}
		s.n++
	}
	return out
}

// BenchmarkAppendStream measures appending batches of 500 records to an
// archive already holding 200k: processor time and bytes written (the
// WAL, the checkpoints and any temporary file) per record. subs=10 is
// events through 10 subscriptions of a tenant; tenants=500 is 500 apps
// publishing round-robin, one subscription each.
func BenchmarkAppendStream(b *testing.B) {
	b.Run("subs=10", func(b *testing.B) { benchAppendStream(b, newStream(time.Now())) })
	b.Run("tenants=500", func(b *testing.B) { benchAppendStream(b, newTenantsStream(time.Now(), 500)) })
}

func benchAppendStream(b *testing.B, st *stream) {
	tmpl, err := benchTemplate()
	if err != nil {
		b.Fatal(err)
	}
	path := filepath.Join(b.TempDir(), "archive.db")
	sqlitefiletest.Copy(b, tmpl, path)
	s, err := Open(path, archive.Limits{})
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	batches := make([][]archive.Record, 0, b.N/500+1)
	records := 0
	for records < b.N {
		batches = append(batches, st.batch())
		records += 500
	}
	b.ResetTimer()
	m := sqlitefiletest.Start(b)
	for _, batch := range batches {
		if err := s.Append(b.Context(), batch...); err != nil {
			b.Fatal(err)
		}
	}
	m.Report(b, records, "record")
}
