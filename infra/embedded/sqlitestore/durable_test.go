package sqlitestore

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"syscall"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/herokuevents/herokuevents/shared/config"
)

const childEnv = "SQLITESTORE_TEST_CHILD_DB"

// TestMain lets the test binary act as a writer process that is killed with
// SIGKILL right after its writes return.
func TestMain(m *testing.M) {
	if path := os.Getenv(childEnv); path != "" {
		os.Exit(writeAndDie(path))
	}
	os.Exit(m.Run())
}

func writeAndDie(path string) int {
	s, err := Open(path)
	if err != nil {
		return 2
	}
	it, err := s.Create(bg(), config.Item{Tenant: "t", Kind: config.KindSubscription, ID: "sub-1", Name: "orders", Body: []byte(`{"v":1}`)})
	if err != nil {
		return 3
	}
	it.Body = []byte(`{"v":2}`)
	if _, err := s.Update(bg(), it); err != nil {
		return 4
	}
	// No Close: die the hard way.
	_ = syscall.Kill(os.Getpid(), syscall.SIGKILL)
	select {}
}

func bg() context.Context { return context.Background() }

func TestSurvivesKill9(t *testing.T) {
	path := filepath.Join(t.TempDir(), "config.db")
	cmd := exec.CommandContext(t.Context(), os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), childEnv+"="+path)
	err := cmd.Run()
	var exit *exec.ExitError
	require.ErrorAs(t, err, &exit)
	status, ok := exit.Sys().(syscall.WaitStatus)
	require.True(t, ok)
	require.True(t, status.Signaled(), "child exited with %v instead of being killed", err)
	require.Equal(t, syscall.SIGKILL, status.Signal())

	s, err := Open(path)
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, s.Close()) })
	got, err := s.Get(t.Context(), "t", config.KindSubscription, "orders")
	require.NoError(t, err)
	require.Equal(t, int64(2), got.Version)
	require.Equal(t, `{"v":2}`, string(got.Body))
}

func TestPragmas(t *testing.T) {
	s, err := Open(filepath.Join(t.TempDir(), "config.db"))
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, s.Close()) })

	// Every pooled connection carries the settings, not just the first.
	var wg sync.WaitGroup
	for range maxConns {
		wg.Go(func() {
			conn, err := s.db.Conn(t.Context())
			if !assertNoError(t, err) {
				return
			}
			defer conn.Close()
			var mode string
			var sync, busy int
			assertNoError(t, conn.QueryRowContext(t.Context(), "PRAGMA journal_mode").Scan(&mode))
			assertNoError(t, conn.QueryRowContext(t.Context(), "PRAGMA synchronous").Scan(&sync))
			assertNoError(t, conn.QueryRowContext(t.Context(), "PRAGMA busy_timeout").Scan(&busy))
			if mode != "wal" || sync != 2 || busy != busyTimeoutMillis {
				t.Errorf("journal_mode=%s synchronous=%d busy_timeout=%d", mode, sync, busy)
			}
		})
	}
	wg.Wait()
}

func assertNoError(t *testing.T, err error) bool {
	t.Helper()
	if err != nil {
		t.Error(err)
		return false
	}
	return true
}

func TestReopenKeepsData(t *testing.T) {
	path := filepath.Join(t.TempDir(), "config.db")
	s, err := Open(path)
	require.NoError(t, err)
	_, err = s.Create(t.Context(), config.Item{Tenant: "t", Kind: config.KindPublication, ID: "p", Name: "hook", Index: "1", Body: []byte("{}")})
	require.NoError(t, err)
	require.NoError(t, s.Close())

	s, err = Open(path)
	require.NoError(t, err, "the schema statements are idempotent")
	t.Cleanup(func() { require.NoError(t, s.Close()) })
	got, err := s.Get(t.Context(), "t", config.KindPublication, "hook")
	require.NoError(t, err)
	require.Equal(t, "p", got.ID)
	_, err = s.Create(t.Context(), config.Item{Tenant: "t", Kind: config.KindPublication, ID: "q", Name: "hook"})
	require.ErrorIs(t, err, config.ErrConflict, "the name index survives a reopen")
}

// Two stores on one file behave like two processes: SQLite arbitrates.
func TestTwoHandlesOneFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "config.db")
	a, err := Open(path)
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, a.Close()) })
	b, err := Open(path)
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, b.Close()) })

	base, err := a.Create(t.Context(), config.Item{Tenant: "t", Kind: config.KindSubscription, ID: "gen", Body: []byte("0")})
	require.NoError(t, err)

	var wg sync.WaitGroup
	results := make(chan error, 8)
	for i := range 8 {
		s := a
		if i%2 == 1 {
			s = b
		}
		wg.Go(func() {
			_, err := s.Update(t.Context(), base)
			results <- err
		})
	}
	wg.Wait()
	close(results)
	wins := 0
	for err := range results {
		if err == nil {
			wins++
			continue
		}
		require.ErrorIs(t, err, config.ErrConflict)
	}
	require.Equal(t, 1, wins)
}

func TestOpenRejectsNonFiles(t *testing.T) {
	for _, p := range []string{"", ":memory:", filepath.Join(t.TempDir(), "x.db?mode=ro")} {
		_, err := Open(p)
		require.Error(t, err, "path %q", p)
	}
	_, err := Open(filepath.Join(t.TempDir(), "missing", "dir", "x.db"))
	require.Error(t, err)
}
