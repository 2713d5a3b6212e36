package sqliterecent_test

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/herokuevents/herokuevents/infra/embedded/sqliterecent"
	"github.com/herokuevents/herokuevents/shared/event"
	"github.com/herokuevents/herokuevents/shared/recent"
	"github.com/herokuevents/herokuevents/shared/recent/recenttest"
)

func TestConformance(t *testing.T) {
	recenttest.Run(t, func(t *testing.T, l recent.Limits) recent.Store {
		s, err := sqliterecent.Open(filepath.Join(t.TempDir(), "recent.db"), l)
		require.NoError(t, err)
		return s
	})
}

// TestFileIsPrivate: the file holds event payloads, so it and its WAL are
// readable by the owner only, even when it existed with wider permissions.
func TestFileIsPrivate(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "recent.db")
	require.NoError(t, os.WriteFile(path, nil, 0o644))
	s, err := sqliterecent.Open(path, recent.Limits{})
	require.NoError(t, err)
	defer s.Close()
	require.NoError(t, s.Keep(t.Context(), recent.Entry{Tenant: "t", Subscription: "s",
		Event: event.Event{ID: "e", Source: "/s", Type: "x", Data: []byte(`{"secret":1}`)}}))
	for _, name := range []string{"recent.db", "recent.db-wal"} {
		st, err := os.Stat(filepath.Join(dir, name))
		require.NoError(t, err, name)
		assert.Equal(t, os.FileMode(0o600), st.Mode().Perm(), name)
	}
}

// TestReopen: kept events survive a restart.
func TestReopen(t *testing.T) {
	path := filepath.Join(t.TempDir(), "recent.db")
	s, err := sqliterecent.Open(path, recent.Limits{})
	require.NoError(t, err)
	require.NoError(t, s.Keep(t.Context(), recent.Entry{Tenant: "t", Subscription: "s",
		Event: event.Event{ID: "e1", Source: "/s", Type: "x", Data: []byte(`{}`)}}))
	require.NoError(t, s.Close())
	s, err = sqliterecent.Open(path, recent.Limits{})
	require.NoError(t, err)
	defer s.Close()
	got, err := s.Latest(t.Context(), "t", "s", 0)
	require.NoError(t, err)
	require.Len(t, got, 1)
	assert.Equal(t, "e1", got[0].Event.ID)
}

// BenchmarkKeep: one op is a batch of 100 events of 1 KiB over 10
// subscriptions, as the Writer sends them.
func BenchmarkKeep(b *testing.B) {
	s, err := sqliterecent.Open(filepath.Join(b.TempDir(), "recent.db"), recent.Limits{})
	require.NoError(b, err)
	defer s.Close()
	data := []byte(`{"blob":"` + strings.Repeat("x", 1000) + `"}`)
	batch := make([]recent.Entry, 100)
	n := 0
	for b.Loop() {
		for i := range batch {
			n++
			batch[i] = recent.Entry{Tenant: "t", Subscription: fmt.Sprint("s-", i%10),
				Event: event.Event{ID: fmt.Sprint("e-", n), Source: "/s", Type: "x", Data: data}}
		}
		require.NoError(b, s.Keep(b.Context(), batch...))
	}
	b.ReportMetric(float64(b.Elapsed().Microseconds())/float64(n), "µs/event")
}
