package sqlitefile_test

import (
	"database/sql"
	"net/url"
	"os"
	"path/filepath"
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
