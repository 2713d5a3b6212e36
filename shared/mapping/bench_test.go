package mapping

import (
	"bytes"
	"fmt"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

const benchFilter = `root = if this.Context__c.string == "drop" { deleted() } else { this }`

var benchDoc = []byte(`{"Context__c":{"string":"keep"},"CreatedById":"005Ws000001eUtGIAU","CreatedDate":1733842936000,"Order":{"TotalValue":1234.5,"Lines":[1,2,3]}}`)

// BenchmarkApplyInWorker is a filter run through a worker process, as
// every mapping the screen does not pass runs, one event per call;
// cpu-µs/op counts this process and its workers.
func BenchmarkApplyInWorker(b *testing.B) {
	m, err := compileInWorker(benchFilter)
	if err != nil {
		b.Fatal(err)
	}
	cpu := treeCPU(b)
	for b.Loop() {
		if _, _, err := m.ApplyMeta(benchDoc, map[string]any{"subject": "/event/X__e"}); err != nil {
			b.Fatal(err)
		}
	}
	cpu.report(b, b.N)
}

// BenchmarkApplyAllInWorker is the filter run on a batch of 10 events in
// one call, as the filter role evaluates a queue batch; figures per event.
func BenchmarkApplyAllInWorker(b *testing.B) {
	m, err := compileInWorker(benchFilter)
	if err != nil {
		b.Fatal(err)
	}
	jobs := make([]Job, 10)
	for i := range jobs {
		jobs[i] = Job{Mapping: m, Data: benchDoc, Meta: map[string]any{"subject": "/event/X__e"}}
	}
	cpu := treeCPU(b)
	start := time.Now()
	for b.Loop() {
		for _, r := range ApplyAll(jobs) {
			if r.Err != nil {
				b.Fatal(r.Err)
			}
		}
	}
	b.ReportMetric(float64(time.Since(start).Microseconds())/float64(b.N*len(jobs)), "wall-µs/event")
	cpu.report(b, b.N*len(jobs))
}

// BenchmarkApplyScreened is the same filter as Compile makes it: it
// passes the screen, so it runs in this process.
func BenchmarkApplyScreened(b *testing.B) {
	m, err := Compile(benchFilter)
	if err != nil {
		b.Fatal(err)
	}
	if m.exec == nil {
		b.Fatal("the filter did not pass the screen")
	}
	cpu := treeCPU(b)
	for b.Loop() {
		if _, _, err := m.ApplyMeta(benchDoc, map[string]any{"subject": "/event/X__e"}); err != nil {
			b.Fatal(err)
		}
	}
	cpu.report(b, b.N)
}

// BenchmarkApplyInProcess is the evaluation alone, without the worker or
// the screen's call path.
func BenchmarkApplyInProcess(b *testing.B) {
	exec, err := env().Parse(benchFilter)
	if err != nil {
		b.Fatal(err)
	}
	cpu := treeCPU(b)
	for b.Loop() {
		if _, _, _, err := run(exec, benchDoc, []byte(`{"subject":"/event/X__e"}`), DefaultOutput); err != nil {
			b.Fatal(err)
		}
	}
	cpu.report(b, b.N)
}

// cpuMark is the processor time of this process and its children (the
// workers) at one moment.
type cpuMark time.Duration

func treeCPU(b *testing.B) cpuMark {
	b.Helper()
	self := os.Getpid()
	var ticks int64
	entries, _ := os.ReadDir("/proc")
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		st, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
		if err != nil {
			continue
		}
		f := strings.Fields(string(st[bytes.LastIndexByte(st, ')')+2:]))
		if ppid, _ := strconv.Atoi(f[1]); pid != self && ppid != self {
			continue
		}
		for _, i := range []int{11, 12, 13, 14} { // utime, stime, cutime, cstime
			n, _ := strconv.ParseInt(f[i], 10, 64)
			ticks += n
		}
	}
	return cpuMark(time.Duration(ticks) * time.Second / 100)
}

func (m cpuMark) report(b *testing.B, n int) {
	b.Helper()
	used := time.Duration(treeCPU(b) - m)
	b.ReportMetric(float64(used.Microseconds())/float64(n), "cpu-µs/event")
}

// BenchmarkApplyConcurrentCallers is the embedded publish path with a
// mapping that goes to the workers: many requests at once, each running
// its filter on its one event (ApplyMeta, a batch of 1); figures per
// event.
func BenchmarkApplyConcurrentCallers(b *testing.B) {
	m, err := compileInWorker(benchFilter)
	if err != nil {
		b.Fatal(err)
	}
	for _, callers := range []int{1, 50} {
		b.Run(fmt.Sprintf("callers=%d", callers), func(b *testing.B) {
			var next atomic.Int64
			var wg sync.WaitGroup
			cpu := treeCPU(b)
			start := time.Now()
			b.ResetTimer()
			for range callers {
				wg.Go(func() {
					for next.Add(1) <= int64(b.N) {
						if _, _, err := m.ApplyMeta(benchDoc, map[string]any{"subject": "/event/X__e"}); err != nil {
							b.Error(err)
							return
						}
					}
				})
			}
			wg.Wait()
			b.StopTimer()
			b.ReportMetric(float64(time.Since(start).Microseconds())/float64(b.N), "wall-µs/event")
			cpu.report(b, b.N)
		})
	}
}
