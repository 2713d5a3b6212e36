package sqlitepull_test

import (
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/herokuevents/herokuevents/infra/embedded/sqlitepull"
	"github.com/herokuevents/herokuevents/shared/pull"
	"github.com/herokuevents/herokuevents/shared/pull/pulltest"
)

func TestConformance(t *testing.T) {
	pulltest.Run(t, func(t *testing.T, retention time.Duration, now func() time.Time) pull.Buffer {
		b, err := sqlitepull.Open(filepath.Join(t.TempDir(), "pull.db"), sqlitepull.Options{Retention: retention, Now: now})
		require.NoError(t, err)
		t.Cleanup(func() { assert.NoError(t, b.Close()) })
		return b
	})
}

// A lease taken before the process stopped holds after a reopen, and ends.
func TestLeaseOutlivesReopen(t *testing.T) {
	path := filepath.Join(t.TempDir(), "pull.db")
	c := pulltest.NewClock(time.Now())
	b, err := sqlitepull.Open(path, sqlitepull.Options{Now: c.Now})
	require.NoError(t, err)
	require.NoError(t, b.Put(t.Context(), "t", "s", pulltest.Event(1)))
	got, err := b.Lease(t.Context(), "t", "s", 10, time.Minute)
	require.NoError(t, err)
	require.Len(t, got, 1)
	require.NoError(t, b.Close())

	b, err = sqlitepull.Open(path, sqlitepull.Options{Now: c.Now})
	require.NoError(t, err)
	t.Cleanup(func() { b.Close() })
	got, err = b.Lease(t.Context(), "t", "s", 10, time.Minute)
	require.NoError(t, err)
	assert.Empty(t, got, "still leased")
	c.Advance(time.Minute)
	got, err = b.Lease(t.Context(), "t", "s", 10, time.Minute)
	require.NoError(t, err)
	require.Len(t, got, 1)
	assert.Equal(t, 2, got[0].Receives)
	fi, err := os.Stat(path)
	require.NoError(t, err)
	assert.Equal(t, os.FileMode(0o600), fi.Mode().Perm())
}
