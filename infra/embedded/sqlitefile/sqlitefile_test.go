package sqlitefile_test

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"sync/atomic"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"modernc.org/sqlite"

	"github.com/herokuevents/herokuevents/infra/embedded/sqlitefile"
)

func TestDSNOpensThatFile(t *testing.T) {
	for _, name := range []string{"plain", "with space", "hash#frag", "query?x=1", "pct%41", "ümlaut"} {
		t.Run(name, func(t *testing.T) {
			dir := filepath.Join(t.TempDir(), name)
			require.NoError(t, os.MkdirAll(dir, 0o700))
			path := filepath.Join(dir, "db.sqlite")
			q := url.Values{}
			q.Add("_pragma", "journal_mode(WAL)")
			db, err := sql.Open("sqlite", sqlitefile.DSN(path, q))
			require.NoError(t, err)
			_, err = db.ExecContext(t.Context(), `CREATE TABLE t (x INTEGER)`)
			require.NoError(t, err)
			var mode string
			require.NoError(t, db.QueryRowContext(t.Context(), `PRAGMA journal_mode`).Scan(&mode))
			require.NoError(t, db.Close())
			assert.Equal(t, "wal", mode)
			_, err = os.Stat(path)
			assert.NoError(t, err, "the file is where the path says")
		})
	}
}

// TestInserts: n rows go in order, at most max per statement, each
// statement holding as many value tuples as rows.
func TestInserts(t *testing.T) {
	in := sqlitefile.NewInserts("INSERT INTO t (a, b) VALUES ", 2, 3)
	require.Equal(t, "INSERT INTO t (a, b) VALUES (?, ?), (?, ?)", in.Statement(2))
	for _, n := range []int{0, 1, 3, 7} {
		t.Run(fmt.Sprint(n), func(t *testing.T) {
			var got [][]any
			var queries []string
			err := in.Run(n, func(i int, args []any) ([]any, error) { return append(args, i, -i), nil },
				func(query string, args ...any) error {
					queries = append(queries, query)
					got = append(got, slices.Clone(args)) // exec may not keep args
					return nil
				})
			require.NoError(t, err)
			var rows []any
			for i, args := range got {
				require.Equal(t, in.Statement(len(args)/2), queries[i])
				require.LessOrEqual(t, len(args), 6)
				rows = append(rows, args...)
			}
			var want []any
			for i := range n {
				want = append(want, i, -i)
			}
			require.Equal(t, want, rows)
		})
	}
	t.Run("errors stop it", func(t *testing.T) {
		boom := errors.New("boom")
		calls := 0
		err := in.Run(7, func(i int, args []any) ([]any, error) {
			if i == 4 {
				return nil, boom
			}
			return append(args, i, i), nil
		}, func(string, ...any) error { calls++; return nil })
		require.ErrorIs(t, err, boom)
		require.Equal(t, 1, calls, "the first chunk went, the second stopped at its bad row")
	})
}

// TestInsertsWithTail: a statement whose rows are followed by more SQL
// (an upsert, a DELETE … IN (VALUES …)) runs in chunks like an INSERT.
func TestInsertsWithTail(t *testing.T) {
	ctx := t.Context()
	db, err := sql.Open("sqlite", filepath.Join(t.TempDir(), "t.db"))
	require.NoError(t, err)
	t.Cleanup(func() { db.Close() })
	_, err = db.ExecContext(ctx, `CREATE TABLE t (a INTEGER PRIMARY KEY, b INTEGER NOT NULL)`)
	require.NoError(t, err)
	upsert := sqlitefile.NewInserts("INSERT INTO t (a, b) VALUES ", 2, 3).WithTail(" ON CONFLICT (a) DO UPDATE SET b = excluded.b")
	require.Equal(t, "INSERT INTO t (a, b) VALUES (?, ?), (?, ?) ON CONFLICT (a) DO UPDATE SET b = excluded.b", upsert.Statement(2))
	exec := func(query string, args ...any) error { _, err := db.ExecContext(ctx, query, args...); return err }
	for _, b := range []int{1, 2} { // the second run updates every row
		require.NoError(t, upsert.Run(7, func(i int, args []any) ([]any, error) { return append(args, i, b*i), nil }, exec))
	}
	del := sqlitefile.NewInserts("DELETE FROM t WHERE a IN (VALUES ", 1, 3).WithTail(")")
	require.Equal(t, "DELETE FROM t WHERE a IN (VALUES (?), (?))", del.Statement(2))
	require.NoError(t, del.Run(4, func(i int, args []any) ([]any, error) { return append(args, 2*i), nil }, exec)) // 0, 2, 4, 6
	var sum, n int
	require.NoError(t, db.QueryRowContext(ctx, `SELECT count(*), sum(b) FROM t`).Scan(&n, &sum))
	assert.Equal(t, 3, n, "rows 1, 3 and 5 are left")
	assert.Equal(t, 2*(1+3+5), sum, "updated by the second run")
}

// Statements are prepared once and run as they are in every transaction:
// the driver prepares nothing more however many transactions run them,
// where a nil *Statements prepares each statement in each transaction.
// Rows commit or roll back with their transaction either way.
func TestStatements(t *testing.T) {
	in := sqlitefile.NewInserts("INSERT INTO t (a, b) VALUES ", 2, 3)
	run := func(t *testing.T, db *sql.DB, s *sqlitefile.Statements, commit bool) {
		tx, err := db.BeginTx(t.Context(), nil)
		require.NoError(t, err)
		defer tx.Rollback() //nolint:errcheck // after Commit it is a no-op
		require.NoError(t, in.Run(7, func(i int, args []any) ([]any, error) { return append(args, i, -i), nil }, s.Exec(t.Context(), tx)))
		if commit {
			require.NoError(t, tx.Commit())
		}
	}
	for _, prepared := range []bool{true, false} {
		t.Run(fmt.Sprintf("prepared=%t", prepared), func(t *testing.T) {
			var prepares atomic.Int64
			db := sql.OpenDB(countingConnector{path: filepath.Join(t.TempDir(), "s.db"), prepares: &prepares})
			db.SetMaxOpenConns(1)
			t.Cleanup(func() { db.Close() })
			_, err := db.ExecContext(t.Context(), `CREATE TABLE t (a INTEGER, b INTEGER)`)
			require.NoError(t, err)
			var s *sqlitefile.Statements
			if prepared {
				s, err = sqlitefile.Prepare(t.Context(), db, in.Statements()...)
				require.NoError(t, err)
				t.Cleanup(func() { assert.NoError(t, s.Close()) })
			}
			before := prepares.Load()
			for i := range 4 {
				run(t, db, s, i != 2) // the third rolls back
			}
			if prepared {
				assert.Equal(t, before, prepares.Load(), "no statement prepared again")
			} else {
				assert.Equal(t, before+4*2, prepares.Load(), "the 3-row and 1-row INSERTs in each transaction")
			}
			var n int
			require.NoError(t, db.QueryRowContext(t.Context(), `SELECT count(*) FROM t`).Scan(&n))
			assert.Equal(t, 3*7, n)
		})
	}
	t.Run("a bad statement", func(t *testing.T) {
		db, err := sqlitefile.Open(filepath.Join(t.TempDir(), "s.db"), "test", "NORMAL", `CREATE TABLE t (a INTEGER, b INTEGER)`)
		require.NoError(t, err)
		t.Cleanup(func() { db.Close() })
		_, err = sqlitefile.Prepare(t.Context(), db, in.Statement(1), "INSERT INTO nowhere VALUES (?)")
		require.ErrorContains(t, err, "prepare statement: ")
		require.ErrorContains(t, err, "no such table: nowhere")
	})
}

// countingConnector opens the SQLite file at path and counts the
// statements its connections prepare.
type countingConnector struct {
	path     string
	prepares *atomic.Int64
}

func (c countingConnector) Connect(context.Context) (driver.Conn, error) {
	conn, err := (&sqlite.Driver{}).Open(c.path)
	if err != nil {
		return nil, err
	}
	return countingConn{conn.(fullConn), c.prepares}, nil
}

func (c countingConnector) Driver() driver.Driver { return &sqlite.Driver{} }

type fullConn interface {
	driver.Conn
	driver.ConnPrepareContext
	driver.ConnBeginTx
}

// countingConn hides the driver's Exec and Query, so that every statement
// goes through a prepare it counts.
type countingConn struct {
	fullConn
	prepares *atomic.Int64
}

func (c countingConn) Prepare(query string) (driver.Stmt, error) {
	c.prepares.Add(1)
	return c.fullConn.Prepare(query)
}

func (c countingConn) PrepareContext(ctx context.Context, query string) (driver.Stmt, error) {
	c.prepares.Add(1)
	return c.fullConn.PrepareContext(ctx, query)
}
