// Package sqlitefile names an SQLite database file for the modernc.org/sqlite
// driver, so that every embedded store opens its file the same way.
package sqlitefile

import (
	"context"
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

// Inserts is a multi-row INSERT: one statement holds up to max rows, so
// that a statement's fixed cost (parsing, binding, stepping through the
// driver) is paid once per chunk of rows rather than once per row. The
// embedded stores that write many rows at a time (the queue's sends, the
// delivery log, the recent events) share it.
type Inserts struct {
	columns int
	stmts   []string // stmts[n]: the statement of n rows
}

// NewInserts returns the inserts of head (e.g. `INSERT INTO t (a, b)
// VALUES `) with rows of columns values, at most max rows per statement.
func NewInserts(head string, columns, max int) *Inserts {
	row := "(" + strings.Repeat("?, ", columns-1) + "?)"
	in := &Inserts{columns: columns, stmts: make([]string, max+1)}
	for n := 1; n <= max; n++ {
		in.stmts[n] = head + strings.Repeat(row+", ", n-1) + row
	}
	return in
}

// Statement is the INSERT of n rows (1 ≤ n ≤ max).
func (in *Inserts) Statement(n int) string { return in.stmts[n] }

// Run inserts n rows in order, at most max per statement: for each chunk
// it appends the values of the chunk's rows (row(i, args) returns args
// with row i's columns values appended), then calls exec with the chunk's
// statement (which must not keep args: they are reused). The first error
// stops it.
func (in *Inserts) Run(n int, row func(i int, args []any) ([]any, error), exec func(query string, args ...any) error) error {
	max := len(in.stmts) - 1
	args := make([]any, 0, in.columns*min(n, max))
	for start := 0; start < n; start += max {
		end := min(start+max, n)
		args = args[:0]
		for i := start; i < end; i++ {
			var err error
			if args, err = row(i, args); err != nil {
				return err
			}
		}
		if err := exec(in.stmts[end-start], args...); err != nil {
			return err
		}
	}
	return nil
}

// Prepared returns an exec of statements in tx that prepares each
// statement text once per transaction.
func Prepared(ctx context.Context, tx *sql.Tx) func(query string, args ...any) error {
	exec := PreparedResults(ctx, tx)
	return func(query string, args ...any) error {
		_, err := exec(query, args...)
		return err
	}
}

// PreparedResults is Prepared returning each statement's result.
func PreparedResults(ctx context.Context, tx *sql.Tx) func(query string, args ...any) (sql.Result, error) {
	stmts := map[string]*sql.Stmt{}
	return func(query string, args ...any) (sql.Result, error) {
		st, ok := stmts[query]
		if !ok {
			var err error
			if st, err = tx.PrepareContext(ctx, query); err != nil {
				return nil, err
			}
			stmts[query] = st
		}
		return st.ExecContext(ctx, args...)
	}
}
