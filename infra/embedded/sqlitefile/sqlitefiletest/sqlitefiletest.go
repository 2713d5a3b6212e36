// Package sqlitefiletest holds what the benchmarks of the embedded SQLite
// stores share: a store file filled once per process and copied into each
// run (so that a run writes into a store of realistic size without paying
// for filling it), and the processor time and bytes written per unit of
// work, the figures that a shared, noisy host changes least.
package sqlitefiletest

import (
	"bufio"
	"bytes"
	"context"
	"database/sql"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

var (
	mu   sync.Mutex
	dirs []string
)

// Template returns a function that makes, once per process, the file
// name in a new temporary directory with fill(path), and returns its
// path. RemoveTemplates removes the directories (call it from TestMain).
func Template(name string, fill func(path string) error) func() (string, error) {
	return sync.OnceValues(func() (string, error) {
		dir, err := os.MkdirTemp("", "sqlitefiletest")
		if err != nil {
			return "", err
		}
		mu.Lock()
		dirs = append(dirs, dir)
		mu.Unlock()
		path := filepath.Join(dir, name)
		return path, fill(path)
	})
}

// RemoveTemplates removes the files Template made.
func RemoveTemplates() {
	mu.Lock()
	defer mu.Unlock()
	for _, d := range dirs {
		os.RemoveAll(d)
	}
	dirs = nil
}

// Copy copies the file at from (a template) to a new file at to.
func Copy(tb testing.TB, from, to string) {
	tb.Helper()
	in, err := os.Open(from)
	if err != nil {
		tb.Fatal(err)
	}
	defer in.Close()
	out, err := os.OpenFile(to, os.O_RDWR|os.O_CREATE|os.O_TRUNC, 0o600)
	if err != nil {
		tb.Fatal(err)
	}
	if _, err := io.Copy(out, in); err != nil {
		tb.Fatal(err)
	}
	if err := out.Close(); err != nil {
		tb.Fatal(err)
	}
}

// Meter measures the processor time and bytes written from Start.
type Meter struct {
	cpu   time.Duration
	wrote int64
}

// Start starts a Meter.
func Start(tb testing.TB) Meter { return Meter{cpu: CPUTime(tb), wrote: Written(tb)} }

// Report reports, per unit of the n done since m started, the processor
// time (cpu-µs/unit) and bytes written (written-B/unit), and the units
// per second of the benchmark's elapsed time (unit/s); ns/op is left out
// (an op is not a unit).
func (m Meter) Report(b *testing.B, n int, unit string) {
	used, bytes := CPUTime(b)-m.cpu, Written(b)-m.wrote
	b.StopTimer()
	b.ReportMetric(float64(n)/b.Elapsed().Seconds(), unit+"/s")
	b.ReportMetric(float64(used.Microseconds())/float64(n), "cpu-µs/"+unit)
	b.ReportMetric(float64(bytes)/float64(n), "written-B/"+unit)
	b.ReportMetric(0, "ns/op")
}

// CPUTime is the processor time (user + system) this process has used.
func CPUTime(tb testing.TB) time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		tb.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// Written is the bytes this process has passed to write(2) (wchar of
// /proc/self/io): a store's WAL frames, temporary files and the
// checkpoints' pages.
func Written(tb testing.TB) int64 {
	f, err := os.ReadFile("/proc/self/io")
	if err != nil {
		tb.Fatalf("read the bytes written: %v", err)
	}
	sc := bufio.NewScanner(bytes.NewReader(f))
	for sc.Scan() {
		if v, ok := bytes.CutPrefix(sc.Bytes(), []byte("wchar: ")); ok {
			n, err := strconv.ParseInt(string(v), 10, 64)
			if err != nil {
				tb.Fatal(err)
			}
			return n
		}
	}
	tb.Fatal("no wchar in /proc/self/io")
	return 0
}

// Plan returns the lines of SQLite's query plan for query run with args
// on db (EXPLAIN QUERY PLAN), for tests that hold a statement to an index.
func Plan(tb testing.TB, db *sql.DB, query string, args ...any) string {
	tb.Helper()
	rows, err := db.QueryContext(context.Background(), "EXPLAIN QUERY PLAN "+query, args...)
	if err != nil {
		tb.Fatalf("explain %s: %v", query, err)
	}
	defer rows.Close()
	var lines []string
	for rows.Next() {
		var id, parent, unused int
		var detail string
		if err := rows.Scan(&id, &parent, &unused, &detail); err != nil {
			tb.Fatal(err)
		}
		lines = append(lines, detail)
	}
	if err := rows.Err(); err != nil {
		tb.Fatal(err)
	}
	return strings.Join(lines, "\n")
}
