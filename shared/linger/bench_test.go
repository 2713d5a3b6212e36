package linger_test

import (
	"context"
	"syscall"
	"testing"
	"time"

	"github.com/herokuevents/herokuevents/shared/linger"
)

// BenchmarkAdd: the cost of Add to the callers (the archive and recent
// writers take one per event), with the writer draining concurrently.
func BenchmarkAdd(b *testing.B) {
	type record [216]byte // an archive.Record's size
	w := linger.New(func(context.Context, []record) error { return nil }, linger.Options[record]{Buffer: 16384, Batch: 500, Linger: time.Millisecond, Logger: quiet()})
	var before, after syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &before)
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			w.Add(record{1})
		}
	})
	b.StopTimer()
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &after)
	cpu := time.Duration(syscall.TimevalToNsec(after.Utime) + syscall.TimevalToNsec(after.Stime) - syscall.TimevalToNsec(before.Utime) - syscall.TimevalToNsec(before.Stime))
	b.ReportMetric(float64(cpu.Microseconds())/float64(b.N), "cpu-µs/op")
	_ = w.Close(context.Background())
}
