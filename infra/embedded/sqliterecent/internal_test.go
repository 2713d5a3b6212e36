package sqliterecent

import (
	"fmt"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/herokuevents/herokuevents/infra/embedded/sqlitefile/sqlitefiletest"
	"github.com/herokuevents/herokuevents/shared/event"
	"github.com/herokuevents/herokuevents/shared/recent"
)

// TestQueryPlans: every statement Keep and Latest run finds its rows by an index
// seek, never by walking the table (EXPLAIN QUERY PLAN over 20
// subscriptions of 50 events).
func TestQueryPlans(t *testing.T) {
	s, err := Open(filepath.Join(t.TempDir(), "recent.db"), recent.Limits{})
	require.NoError(t, err)
	t.Cleanup(func() { assert.NoError(t, s.Close()) })
	var batch []recent.Entry
	for i := range 1000 {
		batch = append(batch, recent.Entry{Tenant: "t", Subscription: fmt.Sprint("s-", i%20),
			Event: event.New("/s", "x", []byte(`{}`))})
	}
	require.NoError(t, s.Keep(t.Context(), batch...))
	var replaceArgs []any
	for i := range 50 {
		replaceArgs = append(replaceArgs, "t", fmt.Sprint("s-", i%20), fmt.Sprint("e-", i))
	}
	cases := []struct {
		name string
		sql  string
		args []any
		want string
	}{
		{"replace", replaces.Statement(50), replaceArgs, "USING COVERING INDEX recent_event_id (tenant=? AND subscription=? AND event_id=?)"},
		{"oldest kept", oldestKeptSQL, []any{"t", "s-1", 49}, "USING COVERING INDEX recent_event_seq (tenant=? AND subscription=?)"},
		{"evict", evictSQL, []any{"t", "s-1", 100}, "USING INDEX recent_event_seq (tenant=? AND subscription=? AND seq<?)"},
		{"latest", latestSQL, []any{"t", "s-1", int64(0), 50}, "USING INDEX recent_event_seq (tenant=? AND subscription=?)"},
		{"expire", expireSQL, []any{int64(0)}, "USING INDEX recent_event_kept (kept_at<?)"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			plan := explain(t, s, c.sql, c.args...)
			assert.NotContains(t, plan, "SCAN recent_event", "walks the table")
			assert.Contains(t, plan, c.want)
		})
	}
}

// explain returns the lines of SQLite's query plan for query.
func explain(t *testing.T, s *Store, query string, args ...any) string {
	t.Helper()
	return sqlitefiletest.Plan(t, s.db, query, args...)
}

// TestKeepFailingMidwayStoresNothing: a Keep whose INSERT fails after some
// of its rows went in (INSERT OR FAIL keeps them in the transaction), and
// after the rows it replaces were deleted, changes nothing.
func TestKeepFailingMidwayStoresNothing(t *testing.T) {
	ctx := t.Context()
	s, err := Open(filepath.Join(t.TempDir(), "recent.db"), recent.Limits{PerSubscription: 1000})
	require.NoError(t, err)
	defer s.Close()
	entries := func(from, to int) []recent.Entry {
		var out []recent.Entry
		for i := from; i < to; i++ {
			out = append(out, recent.Entry{Tenant: "t", Subscription: "s", Event: event.Event{ID: fmt.Sprint("e-", i), Source: "/s", Type: "x"}})
		}
		return out
	}
	require.NoError(t, s.Keep(ctx, entries(0, 10)...))
	_, err = s.db.ExecContext(ctx, `CREATE TRIGGER refuse BEFORE INSERT ON recent_event WHEN NEW.event_id = 'e-60' BEGIN SELECT RAISE(FAIL, 'refused'); END`)
	require.NoError(t, err)
	require.ErrorContains(t, s.Keep(ctx, entries(5, 100)...), "refused")
	got, err := s.Latest(ctx, "t", "s", 0)
	require.NoError(t, err)
	var ids []string
	for _, e := range got {
		ids = append(ids, e.Event.ID)
	}
	assert.Equal(t, []string{"e-0", "e-1", "e-2", "e-3", "e-4", "e-5", "e-6", "e-7", "e-8", "e-9"}, ids,
		"neither the replaced rows nor the rows before the failing one changed")
	require.NoError(t, s.Keep(ctx, entries(5, 60)...), "the store takes keeps after")
	got, err = s.Latest(ctx, "t", "s", 0)
	require.NoError(t, err)
	assert.Len(t, got, 60)
}

// TestEvictionBound: a subscription holds at most PerSubscription +
// evictEvery - 1 rows, whatever the sizes of the Keeps; Latest returns
// PerSubscription; the first Keep after Open evicts.
func TestEvictionBound(t *testing.T) {
	ctx := t.Context()
	path := filepath.Join(t.TempDir(), "recent.db")
	s, err := Open(path, recent.Limits{})
	require.NoError(t, err)
	limit, every := recent.DefaultPerSubscription, s.evictEvery()
	require.Equal(t, 10, every)
	rows := func(s *Store) int {
		var n int
		require.NoError(t, s.db.QueryRowContext(ctx, `SELECT count(*) FROM recent_event WHERE tenant = 't' AND subscription = 's'`).Scan(&n))
		return n
	}
	n := 0
	keep := func(s *Store, k int) {
		var batch []recent.Entry
		for range k {
			n++
			batch = append(batch, recent.Entry{Tenant: "t", Subscription: "s", Event: event.Event{ID: fmt.Sprint("e-", n), Source: "/s", Type: "x"}},
				recent.Entry{Tenant: "t", Subscription: fmt.Sprint("other-", n%7), Event: event.Event{ID: fmt.Sprint("o-", n), Source: "/s", Type: "x"}})
		}
		require.NoError(t, s.Keep(ctx, batch...))
	}
	most := 0
	for _, k := range []int{60, 1, 1, 3, 2, 9, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 12, 4, 4, 4, 1} {
		keep(s, k)
		got := rows(s)
		assert.LessOrEqual(t, got, limit+every-1, "after keeping %d", k)
		most = max(most, got)
		latest, err := s.Latest(ctx, "t", "s", 0)
		require.NoError(t, err)
		require.Len(t, latest, limit)
		assert.Equal(t, fmt.Sprint("e-", n), latest[limit-1].Event.ID, "the newest last")
	}
	assert.Greater(t, most, limit, "evictions are spaced: some Keeps leave rows past the limit")
	require.Greater(t, rows(s), limit, "rows past the limit before the restart")
	require.NoError(t, s.Close())

	s, err = Open(path, recent.Limits{})
	require.NoError(t, err)
	t.Cleanup(func() { assert.NoError(t, s.Close()) })
	keep(s, 1)
	assert.Equal(t, limit, rows(s), "the first Keep after Open evicts")
}
