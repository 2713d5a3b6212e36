package embedded_test

import (
	"crypto/rand"
	"io/fs"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/herokuevents/herokuevents/infra/embedded"
)

// usedDataDir is a data dir that served: a tenant, a publication with a
// sealed token, an event waiting in the delivery queue.
func usedDataDir(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	srv, err := embedded.Start(t.Context(), embedded.Options{Addr: "127.0.0.1:0", DataDir: dir, App: "my-app", AllowEgress: loopback})
	require.NoError(t, err)
	down := newHook(t, func(_ int, w http.ResponseWriter) { w.WriteHeader(http.StatusServiceUnavailable) })
	require.Equal(t, http.StatusCreated, call(t, srv, "POST", "/platforms/webhook/publications",
		map[string]any{"name": "target", "url": down.URL + "/hook", "token": "s3cret-token"}, nil))
	publish(t, srv, "target", `{"n":1}`)
	require.NoError(t, srv.Close())
	return dir
}

func copyDir(t *testing.T, from string) string {
	t.Helper()
	to := t.TempDir()
	require.NoError(t, os.CopyFS(to, os.DirFS(from)))
	require.NoError(t, filepath.WalkDir(to, func(p string, d fs.DirEntry, err error) error {
		if err != nil || !d.Type().IsRegular() {
			return err
		}
		return os.Chmod(p, 0o600)
	}))
	return to
}

// Each damage to a data dir stops the start with a message naming the file
// and the way back; nothing is re-made.
func TestDamagedDataDirIsRefused(t *testing.T) {
	used := usedDataDir(t)
	remove := func(names ...string) func(t *testing.T, dir string) {
		return func(t *testing.T, dir string) {
			for _, n := range names {
				for _, suffix := range []string{"", "-wal", "-shm"} {
					if err := os.Remove(filepath.Join(dir, n+suffix)); err != nil && !os.IsNotExist(err) {
						require.NoError(t, err)
					}
				}
			}
		}
	}
	truncate := func(name string, to func(size int64) int64) func(t *testing.T, dir string) {
		return func(t *testing.T, dir string) {
			p := filepath.Join(dir, name)
			fi, err := os.Stat(p)
			require.NoError(t, err)
			require.NoError(t, os.Truncate(p, to(fi.Size())))
		}
	}
	tests := []struct {
		name     string
		damage   func(t *testing.T, dir string)
		file     string
		says     []string
		reset    bool // --reset-queues takes it
		remakes  string
		noRemake string // a file the refusal must not re-make
	}{
		{name: "seal.key deleted", damage: remove("seal.key"), file: "seal.key",
			says: []string{"missing while config.db holds sealed secrets", "Restore it from a backup"}, noRemake: "seal.key"},
		{name: "seal.key of another data dir", damage: func(t *testing.T, dir string) {
			key := make([]byte, 32)
			_, _ = rand.Read(key)
			require.NoError(t, os.WriteFile(filepath.Join(dir, "seal.key"), key, 0o600))
		}, file: "seal.key", says: []string{"opens none of the secrets sealed in config.db"}},
		{name: "config.db deleted", damage: remove("config.db"), file: "config.db",
			says: []string{"missing or empty while queues.db", "Restore it"}, noRemake: "config.db"},
		{name: "config.db truncated to nothing", damage: truncate("config.db", func(int64) int64 { return 0 }), file: "config.db",
			says: []string{"missing or empty"}},
		{name: "config.db truncated by half", damage: truncate("config.db", func(n int64) int64 { return n / 2 }), file: "config.db",
			says: []string{"quick_check"}},
		{name: "queues.db deleted", damage: remove("queues.db"), file: "queues.db",
			says: []string{"missing or empty while config.db exists", "--reset-queues"}, reset: true, noRemake: "queues.db"},
		{name: "queues.db truncated to nothing", damage: truncate("queues.db", func(int64) int64 { return 0 }), file: "queues.db",
			says: []string{"missing or empty"}, reset: true},
		{name: "queues.db truncated by half", damage: truncate("queues.db", func(n int64) int64 { return n / 2 }), file: "queues.db",
			says: []string{"quick_check", "--reset-queues"}, reset: true},
		{name: "queues.db page overwritten", damage: func(t *testing.T, dir string) {
			f, err := os.OpenFile(filepath.Join(dir, "queues.db"), os.O_RDWR, 0)
			require.NoError(t, err)
			defer f.Close()
			_, err = f.WriteAt([]byte(strings.Repeat("\xff", 4096)), 4096)
			require.NoError(t, err)
		}, file: "queues.db", says: []string{"quick_check"}, reset: true},
		{name: "queues.db replaced by another database", damage: func(t *testing.T, dir string) {
			src, err := os.ReadFile(filepath.Join(dir, "recent.db"))
			require.NoError(t, err)
			remove("queues.db")(t, dir)
			require.NoError(t, os.WriteFile(filepath.Join(dir, "queues.db"), src, 0o600))
		}, file: "queues.db", says: []string{"has no message table"}, reset: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := copyDir(t, used)
			tt.damage(t, dir)
			_, err := embedded.Start(t.Context(), embedded.Options{Addr: "127.0.0.1:0", DataDir: dir, App: "my-app"})
			require.ErrorIs(t, err, embedded.ErrDataDir)
			assert.Contains(t, err.Error(), filepath.Join(dir, tt.file))
			for _, s := range tt.says {
				assert.Contains(t, err.Error(), s)
			}
			if tt.noRemake != "" {
				assert.NoFileExists(t, filepath.Join(dir, tt.noRemake), "not re-made")
			}
			if !tt.reset {
				return
			}
			srv, err := embedded.Start(t.Context(), embedded.Options{Addr: "127.0.0.1:0", DataDir: dir, App: "my-app", ResetQueues: true})
			require.NoError(t, err, "--reset-queues goes on with empty queues")
			var pubs []struct{ Name string }
			assert.Equal(t, http.StatusOK, call(t, srv, "GET", "/publications", nil, &pubs))
			assert.Len(t, pubs, 1, "the configuration is kept")
			require.NoError(t, srv.Close())
		})
	}
}

// A fresh data dir initialises, and restarts, with no fault.
func TestFreshDataDirStarts(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "new")
	for range 2 {
		srv, err := embedded.Start(t.Context(), embedded.Options{Addr: "127.0.0.1:0", DataDir: dir, App: "my-app"})
		require.NoError(t, err)
		require.NoError(t, srv.Close())
	}
}

// Every file of the data dir is 0600, whatever the umask and the mode of
// the directory, also those of a data dir made by an earlier version.
func TestDataDirFilesArePrivate(t *testing.T) {
	old := syscall.Umask(0)
	t.Cleanup(func() { syscall.Umask(old) })
	dir := filepath.Join(t.TempDir(), "open")
	require.NoError(t, os.Mkdir(dir, 0o777))
	require.NoError(t, os.Chmod(dir, 0o777))
	check := func() {
		t.Helper()
		n := 0
		require.NoError(t, filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
			require.NoError(t, err)
			if d.Type().IsRegular() {
				fi, err := d.Info()
				require.NoError(t, err)
				assert.Equal(t, fs.FileMode(0o600), fi.Mode().Perm(), p)
				n++
			}
			return nil
		}))
		assert.Greater(t, n, 5)
	}
	srv, err := embedded.Start(t.Context(), embedded.Options{Addr: "127.0.0.1:0", DataDir: dir, App: "my-app", AllowEgress: loopback})
	require.NoError(t, err)
	h := newHook(t, ok)
	wire(t, srv, h.URL, "")
	id := publish(t, srv, "inbound", `{"n":1}`)
	require.Eventually(t, func() bool { return h.attemptsOf(id) == 1 }, 10*time.Second, 10*time.Millisecond)
	check() // while serving: the -wal and -shm files too
	require.NoError(t, srv.Close())

	// An earlier version's 0644 files are narrowed.
	for _, n := range []string{"config.db", "queues.db"} {
		require.NoError(t, os.Chmod(filepath.Join(dir, n), 0o644))
	}
	srv, err = embedded.Start(t.Context(), embedded.Options{Addr: "127.0.0.1:0", DataDir: dir, App: "my-app"})
	require.NoError(t, err)
	check()
	require.NoError(t, srv.Close())
}

// A first start that stopped between making config.db and queues.db (no
// tenant yet, nothing queued) starts again.
func TestFirstStartCutShortStarts(t *testing.T) {
	dir := t.TempDir()
	srv, err := embedded.Start(t.Context(), embedded.Options{Addr: "127.0.0.1:0", DataDir: dir})
	require.NoError(t, err)
	require.NoError(t, srv.Close())
	require.NoError(t, os.Truncate(filepath.Join(dir, "queues.db"), 0))
	for _, n := range []string{"seal.key", "operator.json"} {
		require.NoError(t, os.Remove(filepath.Join(dir, n)))
	}
	srv, err = embedded.Start(t.Context(), embedded.Options{Addr: "127.0.0.1:0", DataDir: dir, App: "my-app"})
	require.NoError(t, err)
	require.NoError(t, srv.Close())
}
