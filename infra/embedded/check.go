package embedded

import (
	"context"
	"database/sql"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	_ "modernc.org/sqlite" // the SQLite driver of every embedded file

	"github.com/herokuevents/herokuevents/infra/embedded/filesealer"
	"github.com/herokuevents/herokuevents/infra/embedded/sqlitefile"
)

// ErrDataDir is wrapped by the refusal to start on a data dir whose files
// are missing, mismatched or damaged. Its message names the file and the
// way to recover; nothing is re-made silently.
var ErrDataDir = errors.New("data dir is not whole")

// Files of a data dir.
const (
	configFile  = "config.db"
	queuesFile  = "queues.db"
	keyFile     = "seal.key"
	journalFile = "journal.db"
	recentFile  = "recent.db"
)

// fault is one reason a data dir is refused.
type fault struct {
	path, problem, recovery string
}

func (f *fault) Error() string {
	return fmt.Sprintf("%s: %s %s. %s", ErrDataDir, f.path, f.problem, f.recovery)
}

func (f *fault) Unwrap() error { return ErrDataDir }

// checkDataDir refuses a data dir that is not whole: a fresh (empty) dir
// passes, and so does one whose files are all there and sound. Otherwise
// (config.db missing while other files exist, queues.db missing beside
// config.db, seal.key missing while config.db holds sealed secrets, a key
// that opens none of them, a file that is empty or fails quick_check) it
// returns a *fault wrapping ErrDataDir. With resetQueues, a missing or
// damaged queues.db is accepted (a damaged one is kept aside) and the
// queues start empty.
func checkDataDir(ctx context.Context, dir string, resetQueues bool, log *slog.Logger) error {
	path := func(name string) string { return filepath.Join(dir, name) }
	has := func(name string) bool { return holdsData(path(name)) }
	if !has(configFile) && !has(queuesFile) && !exists(path(keyFile)) && !exists(path("operator.json")) && !exists(path("apps")) {
		return nil // a fresh data dir
	}
	if !has(configFile) {
		others := slices.DeleteFunc([]string{queuesFile, keyFile, "operator.json", "apps", journalFile}, func(n string) bool { return !exists(path(n)) })
		return &fault{path(configFile), fmt.Sprintf("is missing or empty while %s exist", strings.Join(others, ", ")),
			"Restore it (with its -wal file, if any) from a backup; to start afresh instead, move the whole data dir away (its apps' credentials and queued events are then lost)"}
	}
	if err := checkSQLite(ctx, path(configFile), "items"); err != nil {
		return &fault{path(configFile), err.Error(), "Restore it (with its -wal file, if any) from a backup; `sqlite3 config.db .recover` may save what is left"}
	}
	queuesRecovery := "Restore it (with its -wal file, if any) from a backup, or run serve with --reset-queues to go on with empty queues (the events queued in it are lost)"
	if !has(queuesFile) {
		if empty, err := noItems(ctx, path(configFile)); err == nil && empty {
			return nil // a first start that stopped before its queues were made
		}
		if !resetQueues {
			return &fault{path(queuesFile), "is missing or empty while config.db exists", queuesRecovery}
		}
		log.WarnContext(ctx, "queues reset", "file", path(queuesFile), "reason", "missing or empty")
	} else if err := checkSQLite(ctx, path(queuesFile), "message"); err != nil {
		if !resetQueues {
			return &fault{path(queuesFile), err.Error(), queuesRecovery}
		}
		aside := fmt.Sprintf("%s.damaged-%d", path(queuesFile), time.Now().Unix())
		for _, suffix := range []string{"", "-wal", "-shm"} {
			if err := os.Rename(path(queuesFile)+suffix, aside+suffix); err != nil && !errors.Is(err, fs.ErrNotExist) {
				return fmt.Errorf("move damaged %s aside: %w", path(queuesFile), err)
			}
		}
		log.WarnContext(ctx, "queues reset", "file", path(queuesFile), "reason", err.Error(), "kept_as", aside)
	}
	return checkKey(ctx, path(configFile), path(keyFile))
}

// checkKey refuses a missing key while config.db holds sealed secrets, and
// a key that opens none of them.
func checkKey(ctx context.Context, configPath, keyPath string) error {
	sealed, err := sealedValues(ctx, configPath, 20)
	if err != nil {
		return &fault{configPath, "cannot be read: " + err.Error(), "Restore it from a backup"}
	}
	if !exists(keyPath) {
		if len(sealed) == 0 {
			return nil // nothing sealed yet: a new key harms nothing
		}
		return &fault{keyPath, "is missing while config.db holds sealed secrets (webhook tokens, signing secrets, OAuth tokens)",
			"Restore it from a backup: without it every delivery that needs a secret fails. To start afresh instead, move the whole data dir away"}
	}
	if len(sealed) == 0 {
		return nil
	}
	s, err := filesealer.Open(keyPath)
	if err != nil {
		return &fault{keyPath, "cannot be used: " + err.Error(), "Restore this data dir's key from a backup"}
	}
	for _, v := range sealed {
		if _, err := s.Open(ctx, v); err == nil {
			return nil
		}
	}
	return &fault{keyPath, "opens none of the secrets sealed in config.db: it is not this data dir's key",
		"Put this data dir's seal.key back (from a backup)"}
}

// sealedValues returns up to n sealed values (the JSON fields named
// *_sealed, at any depth) of the items of config.db.
func sealedValues(ctx context.Context, path string, n int) ([][]byte, error) {
	db, err := openCheck(path)
	if err != nil {
		return nil, err
	}
	defer db.Close()
	rows, err := db.QueryContext(ctx, `SELECT body FROM items WHERE CAST(body AS TEXT) LIKE '%_sealed":"%'`)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out [][]byte
	for rows.Next() && len(out) < n {
		var body []byte
		if err := rows.Scan(&body); err != nil {
			return nil, err
		}
		var v any
		if json.Unmarshal(body, &v) == nil {
			out = appendSealed(out, v)
		}
	}
	return out, rows.Err()
}

func appendSealed(out [][]byte, v any) [][]byte {
	switch v := v.(type) {
	case map[string]any:
		for k, x := range v {
			if s, ok := x.(string); ok && strings.HasSuffix(k, "_sealed") && s != "" {
				if b, err := base64.StdEncoding.DecodeString(s); err == nil {
					out = append(out, b)
				}
				continue
			}
			out = appendSealed(out, x)
		}
	case []any:
		for _, x := range v {
			out = appendSealed(out, x)
		}
	}
	return out
}

// noItems reports whether config.db holds no item at all.
func noItems(ctx context.Context, path string) (bool, error) {
	db, err := openCheck(path)
	if err != nil {
		return false, err
	}
	defer db.Close()
	var n int
	err = db.QueryRowContext(ctx, "SELECT count(*) FROM (SELECT 1 FROM items LIMIT 1)").Scan(&n)
	return n == 0, err
}

// checkSQLite opens an existing SQLite file (never creating it) and checks
// it: PRAGMA quick_check says ok and the file has its table.
func checkSQLite(ctx context.Context, path, table string) error {
	db, err := openCheck(path)
	if err != nil {
		return err
	}
	defer db.Close()
	rows, err := db.QueryContext(ctx, "PRAGMA quick_check")
	if err != nil {
		return fmt.Errorf("fails SQLite's quick_check (%v)", err)
	}
	var problems []string
	for rows.Next() {
		var line string
		if err := rows.Scan(&line); err != nil {
			rows.Close()
			return fmt.Errorf("fails SQLite's quick_check (%v)", err)
		}
		problems = append(problems, line)
	}
	err = rows.Err()
	rows.Close()
	switch {
	case err != nil:
		return fmt.Errorf("fails SQLite's quick_check (%v)", err)
	case len(problems) != 1 || problems[0] != "ok":
		if len(problems) > 3 {
			problems = append(problems[:3], "…")
		}
		return fmt.Errorf("fails SQLite's quick_check (%s)", strings.Join(problems, "; "))
	}
	var n int
	if err := db.QueryRowContext(ctx, "SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = ?", table).Scan(&n); err != nil {
		return fmt.Errorf("cannot be read (%v)", err)
	}
	if n == 0 {
		return fmt.Errorf("has no %s table: it is not a herokuevents file, or it was truncated", table)
	}
	return nil
}

// openCheck opens path read-write without creating it.
func openCheck(path string) (*sql.DB, error) {
	q := url.Values{}
	q.Set("mode", "rw")
	q.Add("_pragma", "busy_timeout(10000)")
	db, err := sql.Open("sqlite", sqlitefile.DSN(path, q))
	if err != nil {
		return nil, err
	}
	db.SetMaxOpenConns(1)
	return db, nil
}

func exists(path string) bool {
	_, err := os.Lstat(path)
	return err == nil
}

// holdsData reports whether the SQLite file at path exists with content
// (in itself or in its write-ahead log): an empty file is no data.
func holdsData(path string) bool {
	for _, p := range []string{path, path + "-wal"} {
		if fi, err := os.Stat(p); err == nil && fi.Size() > 0 {
			return true
		}
	}
	return false
}

// privateFiles makes the files of the data dir 0600 whatever the umask
// and the directory's mode: the SQLite files are created here, empty,
// before their stores open them (SQLite gives a file's -wal and -shm the
// file's own mode), and files left by an earlier version are narrowed.
func privateFiles(dir string) error {
	for _, name := range []string{configFile, queuesFile, journalFile, recentFile} {
		p := filepath.Join(dir, name)
		f, err := os.OpenFile(p, os.O_RDWR|os.O_CREATE, 0o600)
		if err != nil {
			return fmt.Errorf("create %s: %w", p, err)
		}
		f.Close()
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		return fmt.Errorf("read data dir: %w", err)
	}
	for _, e := range entries {
		if !e.Type().IsRegular() {
			continue
		}
		if err := os.Chmod(filepath.Join(dir, e.Name()), 0o600); err != nil {
			return fmt.Errorf("make %s private: %w", e.Name(), err)
		}
	}
	return nil
}
