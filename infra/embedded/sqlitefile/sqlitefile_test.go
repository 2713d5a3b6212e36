package sqlitefile_test

import (
	"database/sql"
	"errors"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	_ "modernc.org/sqlite"

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
