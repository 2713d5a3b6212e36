// Package sqlitefile names an SQLite database file for the modernc.org/sqlite
// driver, so that every embedded store opens its file the same way.
package sqlitefile

import (
	"database/sql"
	"fmt"
	"net/url"
	"os"
	"strings"
)

// DSN is the driver's URI for the file at path with the query parameters q
// (e.g. _pragma=journal_mode(WAL)). The path is escaped: a data dir whose
// name holds '#', '?' or '%' opens that file, not another one.
func DSN(path string, q url.Values) string {
	u := url.URL{Scheme: "file", OmitHost: true, Path: path, RawQuery: q.Encode()}
	return u.String()
}

// Open opens the small store file at path (what names it in errors),
// created 0600 whatever the umask, in WAL mode with the given synchronous
// level (FULL or NORMAL), immediate transactions, at most 4 connections,
// and runs schema. The directory must exist.
func Open(path, what, synchronous, schema string) (*sql.DB, error) {
	if path == "" || path == ":memory:" || strings.ContainsRune(path, '?') {
		return nil, fmt.Errorf("open %s %q: need a file path without '?'", what, path)
	}
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("open %s: %w", what, err)
	}
	f.Close()
	if err := os.Chmod(path, 0o600); err != nil {
		return nil, fmt.Errorf("open %s: %w", what, err)
	}
	q := url.Values{}
	q.Add("_pragma", "journal_mode(WAL)")
	q.Add("_pragma", "synchronous("+synchronous+")")
	q.Add("_pragma", "busy_timeout(10000)")
	q.Set("_txlock", "immediate")
	db, err := sql.Open("sqlite", DSN(path, q))
	if err != nil {
		return nil, fmt.Errorf("open %s %s: %w", what, path, err)
	}
	db.SetMaxOpenConns(4)
	if _, err := db.Exec(schema); err != nil {
		db.Close()
		return nil, fmt.Errorf("create %s schema in %s: %w", what, path, err)
	}
	return db, nil
}
