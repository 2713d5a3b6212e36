package sqlitearchive

import (
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
