package sqlitearchive

import (
	"context"
	"encoding/json"
	"fmt"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

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
	cpu := cpuTime(b)
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
	b.ReportMetric(float64((cpuTime(b)-cpu).Microseconds())/float64(b.N), "cpu-µs/event")
}

// cpuTime is the processor time (user + system) this process has used.
func cpuTime(b *testing.B) time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		b.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
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
		w.Keep("t", "s", 0, oneKB)
	}
	b.StopTimer()
	_ = w.Close(context.Background())
	b.ReportMetric(float64(w.Dropped())/float64(b.N), "dropped/op")
}
