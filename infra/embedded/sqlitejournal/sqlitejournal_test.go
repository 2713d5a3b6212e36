package sqlitejournal_test

import (
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/herokuevents/herokuevents/infra/embedded/sqlitejournal"
	"github.com/herokuevents/herokuevents/shared/journal"
	"github.com/herokuevents/herokuevents/shared/journal/journaltest"
)

func TestConformance(t *testing.T) {
	journaltest.Run(t, func(t *testing.T, o journaltest.Options) journal.Journal {
		j, err := sqlitejournal.Open(filepath.Join(t.TempDir(), "journal.db"), sqlitejournal.Options{
			Retention: o.Retention, Now: o.Now, PruneEvery: -1,
		})
		require.NoError(t, err)
		return j
	})
}

func TestFilesArePrivate(t *testing.T) {
	path := filepath.Join(t.TempDir(), "journal.db")
	j, err := sqlitejournal.Open(path, sqlitejournal.Options{})
	require.NoError(t, err)
	require.NoError(t, j.Append(t.Context(), journal.Entry{Tenant: "t", EventID: "e", Time: time.Now(), Stage: journal.Accepted}))
	for _, p := range []string{path, path + "-wal", path + "-shm"} {
		st, err := os.Stat(p)
		if os.IsNotExist(err) {
			continue
		}
		require.NoError(t, err)
		assert.Equal(t, os.FileMode(0o600), st.Mode().Perm(), p)
	}
	require.NoError(t, j.Close())
}

// TestReopenKeepsAndPrunes: entries survive a restart, and a restart prunes
// publications over their limit although this process never wrote them.
func TestReopenKeepsAndPrunes(t *testing.T) {
	ctx := t.Context()
	path := filepath.Join(t.TempDir(), "journal.db")
	j, err := sqlitejournal.Open(path, sqlitejournal.Options{PruneEvery: -1, Retention: journal.Retention{PerPublication: 10}})
	require.NoError(t, err)
	now := time.Now()
	for i := range 8 {
		require.NoError(t, j.Append(ctx, journal.Entry{Tenant: "t", EventID: "e", Time: now.Add(time.Duration(i) * time.Millisecond),
			Stage: journal.Attempt, Publication: "p", Attempt: i + 1, Outcome: journal.Retry}))
	}
	require.NoError(t, j.Close())

	j, err = sqlitejournal.Open(path, sqlitejournal.Options{PruneEvery: -1, Retention: journal.Retention{PerPublication: 3}})
	require.NoError(t, err)
	defer j.Close()
	got, err := j.Attempts(ctx, "t", "p", journal.Query{Limit: 100})
	require.NoError(t, err)
	require.Len(t, got, 3)
	assert.Equal(t, 8, got[0].Attempt)
}

// TestBackgroundPrune: the journal prunes on its own every PruneEvery.
func TestBackgroundPrune(t *testing.T) {
	ctx := t.Context()
	j, err := sqlitejournal.Open(filepath.Join(t.TempDir(), "journal.db"), sqlitejournal.Options{
		PruneEvery: 10 * time.Millisecond, Retention: journal.Retention{PerPublication: 2}})
	require.NoError(t, err)
	defer j.Close()
	now := time.Now()
	for i := range 5 {
		require.NoError(t, j.Append(ctx, journal.Entry{Tenant: "t", EventID: "e", Time: now.Add(time.Duration(i) * time.Millisecond),
			Stage: journal.Attempt, Publication: "p", Attempt: i + 1, Outcome: journal.Retry}))
	}
	assert.Eventually(t, func() bool {
		got, err := j.Event(ctx, "t", "e")
		return err == nil && len(got) == 2
	}, 5*time.Second, 10*time.Millisecond)
}
