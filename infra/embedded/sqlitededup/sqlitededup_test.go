package sqlitededup_test

import (
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/herokuevents/herokuevents/infra/embedded/sqlitededup"
	"github.com/herokuevents/herokuevents/shared/dedup"
	"github.com/herokuevents/herokuevents/shared/dedup/deduptest"
)

func TestConformance(t *testing.T) {
	deduptest.Run(t, func(t *testing.T, now func() time.Time) dedup.Store {
		s, err := sqlitededup.Open(filepath.Join(t.TempDir(), "dedup.db"), now)
		require.NoError(t, err)
		return s
	})
}

// TestReopen: a key claimed and confirmed is there after the file is
// opened again (a restart), and a pending one is taken over after its
// lease; the file is private.
func TestReopen(t *testing.T) {
	path := filepath.Join(t.TempDir(), "dedup.db")
	c := deduptest.NewClock()
	s, err := sqlitededup.Open(path, c.Now)
	require.NoError(t, err)
	k, pending := dedup.Key("pub", dedup.KindHeader, "a"), dedup.Key("pub", dedup.KindHeader, "b")
	_, err = s.Claim(t.Context(), "t", k, "ev-1", time.Hour)
	require.NoError(t, err)
	require.NoError(t, s.Confirm(t.Context(), "t", k, "ev-1"))
	_, err = s.Claim(t.Context(), "t", pending, "ev-2", time.Hour)
	require.NoError(t, err)
	require.NoError(t, s.Close())

	info, err := os.Stat(path)
	require.NoError(t, err)
	assert.Equal(t, os.FileMode(0o600), info.Mode().Perm())

	s, err = sqlitededup.Open(path, c.Now)
	require.NoError(t, err)
	defer s.Close()
	r, err := s.Claim(t.Context(), "t", k, "ev-3", time.Hour)
	require.NoError(t, err)
	assert.Equal(t, dedup.Result{Outcome: dedup.Duplicate, EventID: "ev-1"}, r)
	c.Advance(dedup.Lease + time.Second)
	r, err = s.Claim(t.Context(), "t", pending, "ev-4", time.Hour)
	require.NoError(t, err)
	assert.Equal(t, dedup.Result{Outcome: dedup.Claimed, EventID: "ev-2"}, r)
}

// TestPrune: keys whose window passed are deleted, live ones kept; claims
// prune by themselves at most once per PruneEvery.
func TestPrune(t *testing.T) {
	c := deduptest.NewClock()
	s, err := sqlitededup.Open(filepath.Join(t.TempDir(), "dedup.db"), c.Now)
	require.NoError(t, err)
	defer s.Close()
	for i, w := range []time.Duration{time.Minute, time.Minute, time.Hour} {
		_, err := s.Claim(t.Context(), "t", dedup.Key("pub", dedup.KindHeader, string(rune('a'+i))), "ev", w)
		require.NoError(t, err)
	}
	n, err := s.Prune(t.Context())
	require.NoError(t, err)
	assert.Zero(t, n)
	c.Advance(2 * time.Minute)
	n, err = s.Prune(t.Context())
	require.NoError(t, err)
	assert.Equal(t, int64(2), n, "the two short windows passed")

	c.Advance(2 * time.Hour)
	_, err = s.Claim(t.Context(), "t", dedup.Key("pub", dedup.KindHeader, "z"), "ev", time.Hour) // prunes first
	require.NoError(t, err)
	n, err = s.Prune(t.Context())
	require.NoError(t, err)
	assert.Zero(t, n, "the claim pruned the expired key already")
}

// BenchmarkClaimConfirm: what a keyed publish adds in the embedded mode
// (two synchronous=FULL commits).
func BenchmarkClaimConfirm(b *testing.B) {
	s, err := sqlitededup.Open(filepath.Join(b.TempDir(), "dedup.db"), nil)
	require.NoError(b, err)
	defer s.Close()
	i := 0
	for b.Loop() {
		k := dedup.Key("pub", dedup.KindHeader, strconv.Itoa(i))
		i++
		if _, err := s.Claim(b.Context(), "t", k, "ev", time.Hour); err != nil {
			b.Fatal(err)
		}
		if err := s.Confirm(b.Context(), "t", k, "ev"); err != nil {
			b.Fatal(err)
		}
	}
}
