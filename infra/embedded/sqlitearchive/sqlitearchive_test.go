package sqlitearchive

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/herokuevents/herokuevents/shared/archive"
	"github.com/herokuevents/herokuevents/shared/archive/archivetest"
)

func TestConformance(t *testing.T) {
	archivetest.Run(t, func(t *testing.T, l archive.Limits) archive.Store {
		s, err := Open(filepath.Join(t.TempDir(), "archive.db"), l)
		require.NoError(t, err)
		return s
	})
}

// TestFile: the file is private, and what was appended survives a reopen;
// a prune frees the tenant's budget.
func TestFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "archive.db")
	one := archivetest.Rec("t", "s", "a", 0)
	s, err := Open(path, archive.Limits{MaxTenantBytes: one.Size()})
	require.NoError(t, err)
	require.NoError(t, s.Append(t.Context(), one))
	require.NoError(t, s.Close())
	fi, err := os.Stat(path)
	require.NoError(t, err)
	assert.Equal(t, os.FileMode(0o600), fi.Mode().Perm())

	s, err = Open(path, archive.Limits{MaxTenantBytes: one.Size()})
	require.NoError(t, err)
	defer s.Close()
	n, err := s.Count(t.Context(), archive.Query{Tenant: "t", Subscription: "s"})
	require.NoError(t, err)
	assert.Equal(t, 1, n)
	assert.ErrorIs(t, s.Append(t.Context(), archivetest.Rec("t", "s", "b", time.Second)), archive.ErrFull)
	pruned, err := s.Prune(t.Context(), time.Now().Add(archive.DefaultRetention))
	require.NoError(t, err)
	assert.Equal(t, 1, pruned)
	require.NoError(t, s.Append(t.Context(), archivetest.Rec("t", "s", "b", time.Second)))
	require.NoError(t, s.Append(t.Context(), archivetest.Rec("u", "s", "x", 0)))
	require.NoError(t, s.Forget(t.Context(), "t"))
	n, err = s.Count(t.Context(), archive.Query{Tenant: "t", Subscription: "s"})
	require.NoError(t, err)
	assert.Zero(t, n, "a forgotten tenant's events are gone")
	n, err = s.Count(t.Context(), archive.Query{Tenant: "u", Subscription: "s"})
	require.NoError(t, err)
	assert.Equal(t, 1, n, "not another's")
}

// TestAppendManyNearTheLimit: a batch larger than one INSERT, holding
// records already archived (ignored, not counted) and records of two
// tenants, keeps exactly what record-by-record appends keep.
func TestAppendManyNearTheLimit(t *testing.T) {
	rec := func(tenant string, i int) archive.Record {
		return archivetest.Rec(tenant, "s", fmt.Sprintf("e%04d", i), time.Duration(i)*time.Millisecond)
	}
	limits := archive.Limits{MaxTenantBytes: 125 * rec("t", 0).Size()}
	var old []archive.Record
	for i := range 10 {
		old = append(old, rec("t", i))
	}
	var batch []archive.Record
	for i := range 130 {
		batch = append(batch, rec("t", 10+i), rec("u", i))
		if i%13 == 0 {
			batch = append(batch, old[i/13]) // archived already
		}
	}
	open := func() *Store {
		s, err := Open(filepath.Join(t.TempDir(), "archive.db"), limits)
		require.NoError(t, err)
		t.Cleanup(func() { s.Close() })
		require.NoError(t, s.Append(t.Context(), old...))
		return s
	}
	one, many := open(), open()
	full := 0
	for _, r := range batch {
		if err := one.Append(t.Context(), r); errors.Is(err, archive.ErrFull) {
			full++
		} else {
			require.NoError(t, err)
		}
	}
	require.Equal(t, 21, full, "15 of t's new, 1 of t's archived, 5 of u's")
	err := many.Append(t.Context(), batch...)
	require.ErrorIs(t, err, archive.ErrFull)
	assert.Contains(t, err.Error(), fmt.Sprintf("%d of %d events not kept", full, len(batch)))
	for _, tenant := range []string{"t", "u"} {
		q := archive.Query{Tenant: tenant, Subscription: "s", Limit: 1000}
		want, err := one.Range(t.Context(), q)
		require.NoError(t, err)
		got, err := many.Range(t.Context(), q)
		require.NoError(t, err)
		assert.Equal(t, want, got, tenant)
		var wantBytes, gotBytes int64
		require.NoError(t, one.db.QueryRowContext(t.Context(), `SELECT bytes FROM tenant_bytes WHERE tenant = ?`, tenant).Scan(&wantBytes))
		require.NoError(t, many.db.QueryRowContext(t.Context(), `SELECT bytes FROM tenant_bytes WHERE tenant = ?`, tenant).Scan(&gotBytes))
		assert.Equal(t, wantBytes, gotBytes, tenant)
	}
}

// TestAppendKeepsTheGivenJSON: a record's JSON is stored as given, not
// encoded again from its event.
func TestAppendKeepsTheGivenJSON(t *testing.T) {
	s, err := Open(filepath.Join(t.TempDir(), "archive.db"), archive.Limits{})
	require.NoError(t, err)
	t.Cleanup(func() { s.Close() })
	for i, js := range []string{"", `{"id":"e1","source":"/s","type":"t","time":"2026-12-03T00:00:00Z","data":{"a":1}}`} {
		r := archivetest.Rec("t", "s", fmt.Sprint("e", i), time.Duration(i)*time.Second)
		if js != "" {
			r.JSON = []byte(js)
		}
		require.NoError(t, s.Append(t.Context(), r))
		want := js
		if js == "" {
			b, err := json.Marshal(r.Event)
			require.NoError(t, err)
			want = string(b)
		}
		var got string
		require.NoError(t, s.db.QueryRowContext(t.Context(), `SELECT event FROM archive WHERE event_id = ?`, r.Event.ID).Scan(&got))
		assert.Equal(t, want, got)
	}
}
