// Package sqlitefile names an SQLite database file for the modernc.org/sqlite
// driver, so that every embedded store opens its file the same way.
package sqlitefile

import (
	"context"
	"database/sql"
	"errors"
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
// delivery log, the recent events, the archive) share it.
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

// WithTail returns in with tail after each statement's rows: an upsert's
// ON CONFLICT clause, or the closing parenthesis of a statement that
// takes its rows as `… IN (VALUES `, so that it too runs in chunks of as
// many rows as it has (e.g. `DELETE FROM t WHERE (a, b) IN (VALUES ` and
// ")").
func (in *Inserts) WithTail(tail string) *Inserts {
	out := &Inserts{columns: in.columns, stmts: make([]string, len(in.stmts))}
	for n := 1; n < len(in.stmts); n++ {
		out.stmts[n] = in.stmts[n] + tail
	}
	return out
}

// Statement is the INSERT of n rows (1 ≤ n ≤ max).
func (in *Inserts) Statement(n int) string { return in.stmts[n] }

// Statements are the INSERTs of 1 to max rows, to Prepare.
func (in *Inserts) Statements() []string { return in.stmts[1:] }

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

// Statements are statements prepared once on a DB and run in any of its
// transactions. A statement prepared in a transaction (Tx.PrepareContext,
// or an unprepared Exec) is parsed, planned and freed in each one; one of
// Statements is prepared once per connection, and Tx.StmtContext runs it
// on the transaction's connection as it is. A nil *Statements holds none.
type Statements struct {
	stmts map[string]*sql.Stmt
}

// Prepare prepares queries on db. Close them before closing db.
func Prepare(ctx context.Context, db *sql.DB, queries ...string) (*Statements, error) {
	s := &Statements{stmts: make(map[string]*sql.Stmt, len(queries))}
	for _, q := range queries {
		if _, ok := s.stmts[q]; ok {
			continue
		}
		st, err := db.PrepareContext(ctx, q)
		if err != nil {
			s.Close()
			return nil, fmt.Errorf("prepare statement: %w", err)
		}
		s.stmts[q] = st
	}
	return s, nil
}

// Close closes the statements.
func (s *Statements) Close() error {
	if s == nil {
		return nil
	}
	var errs []error
	for _, st := range s.stmts {
		errs = append(errs, st.Close())
	}
	return errors.Join(errs...)
}

// Stmt returns query as a statement of tx: the one of s, prepared on db,
// or else one prepared in tx.
func (s *Statements) Stmt(ctx context.Context, tx *sql.Tx, query string) (*sql.Stmt, error) {
	if s != nil {
		if st, ok := s.stmts[query]; ok {
			return tx.StmtContext(ctx, st), nil
		}
	}
	return tx.PrepareContext(ctx, query)
}

// Results returns an exec of statements in tx (Stmt, each query's
// statement kept for the transaction).
func (s *Statements) Results(ctx context.Context, tx *sql.Tx) func(query string, args ...any) (sql.Result, error) {
	inTx := map[string]*sql.Stmt{}
	return func(query string, args ...any) (sql.Result, error) {
		st, ok := inTx[query]
		if !ok {
			var err error
			if st, err = s.Stmt(ctx, tx, query); err != nil {
				return nil, err
			}
			inTx[query] = st
		}
		return st.ExecContext(ctx, args...)
	}
}

// Exec is Results without the results.
func (s *Statements) Exec(ctx context.Context, tx *sql.Tx) func(query string, args ...any) error {
	exec := s.Results(ctx, tx)
	return func(query string, args ...any) error {
		_, err := exec(query, args...)
		return err
	}
}
