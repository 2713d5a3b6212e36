package sqlitededup_test

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/herokuevents/herokuevents/infra/embedded/sqlitededup"
	"github.com/herokuevents/herokuevents/shared/dedup"
	"github.com/herokuevents/herokuevents/shared/event"
)

// benchKeys is how many keys the store holds before a
// BenchmarkClaimConfirm run.
const benchKeys = 20_000

const benchTenant = "8fb2a5b3-b6cb-437d-aea6-c1ef1afe772f"

// benchTemplate is a closed store file of benchKeys confirmed keys, made
// once per process and copied into each benchmark run.
var benchTemplate = sync.OnceValues(func() (string, error) {
	dir, err := os.MkdirTemp("", "sqlitededup-bench")
	if err != nil {
		return "", err
	}
	benchDir = dir
	path := filepath.Join(dir, "dedup.db")
	s, err := sqlitededup.Open(path, nil)
	if err != nil {
		return "", err
	}
	for i := range benchKeys {
		if err := claimConfirm(context.Background(), s, i); err != nil {
			return "", err
		}
	}
	return path, s.Close()
})

// benchDir holds benchTemplate's file; TestMain removes it.
var benchDir string

func TestMain(m *testing.M) {
	code := m.Run()
	if benchDir != "" {
		os.RemoveAll(benchDir)
	}
	os.Exit(code)
}

// claimConfirm is what a publish with an Idempotency-Key does to the
// store: claim its key, confirm it once the event is accepted.
func claimConfirm(ctx context.Context, s *sqlitededup.Store, i int) error {
	key := dedup.Key("770a7934-ee08-4062-86f9-04ffa095b900", dedup.KindHeader, fmt.Sprint("order-", i))
	id := event.New("/s", event.TypePublish, nil).ID
	if _, err := s.Claim(ctx, benchTenant, key, id, time.Hour); err != nil {
		return err
	}
	return s.Confirm(ctx, benchTenant, key, id)
}

// BenchmarkClaimConfirmMany measures a publish's key (a claim and its
// confirmation, two durable commits) in a store of 20k keys: processor
// time and bytes written (the WAL, its checkpoints and any temporary
// file) per key.
func BenchmarkClaimConfirmMany(b *testing.B) {
	tmpl, err := benchTemplate()
	require.NoError(b, err)
	path := filepath.Join(b.TempDir(), "dedup.db")
	copyFile(b, tmpl, path)
	s, err := sqlitededup.Open(path, nil)
	require.NoError(b, err)
	defer s.Close()
	b.ResetTimer()
	cpu, wrote := cpuTime(b), written(b)
	for i := range b.N {
		require.NoError(b, claimConfirm(b.Context(), s, benchKeys+i))
	}
	used, bytes := cpuTime(b)-cpu, written(b)-wrote
	b.StopTimer()
	b.ReportMetric(float64(used.Microseconds())/float64(b.N), "cpu-µs/key")
	b.ReportMetric(float64(bytes)/float64(b.N), "written-B/key")
}

func copyFile(b *testing.B, from, to string) {
	in, err := os.Open(from)
	require.NoError(b, err)
	defer in.Close()
	out, err := os.OpenFile(to, os.O_RDWR|os.O_CREATE|os.O_TRUNC, 0o600)
	require.NoError(b, err)
	_, err = io.Copy(out, in)
	require.NoError(b, err)
	require.NoError(b, out.Close())
}

// cpuTime is the processor time (user + system) this process has used.
func cpuTime(b *testing.B) time.Duration {
	var ru syscall.Rusage
	require.NoError(b, syscall.Getrusage(syscall.RUSAGE_SELF, &ru))
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// written is the bytes this process has passed to write(2) (wchar of
// /proc/self/io).
func written(b *testing.B) int64 {
	f, err := os.ReadFile("/proc/self/io")
	if err != nil {
		b.Skipf("no /proc/self/io: %v", err)
	}
	sc := bufio.NewScanner(bytes.NewReader(f))
	for sc.Scan() {
		if v, ok := bytes.CutPrefix(sc.Bytes(), []byte("wchar: ")); ok {
			n, err := strconv.ParseInt(string(v), 10, 64)
			require.NoError(b, err)
			return n
		}
	}
	b.Fatal("no wchar in /proc/self/io")
	return 0
}
