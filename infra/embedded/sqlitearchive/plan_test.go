package sqlitearchive

import (
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/herokuevents/herokuevents/infra/embedded/sqlitefile/sqlitefiletest"
	"github.com/herokuevents/herokuevents/shared/archive"
	"github.com/herokuevents/herokuevents/shared/archive/archivetest"
)

// TestQueryPlans: reading a window, pruning and reading tenants' bytes
// seek an index, never walk the table (EXPLAIN QUERY PLAN over 20 subscriptions of 50 records).
func TestQueryPlans(t *testing.T) {
	s, err := Open(filepath.Join(t.TempDir(), "archive.db"), archive.Limits{})
	require.NoError(t, err)
	t.Cleanup(func() { assert.NoError(t, s.Close()) })
	var recs []archive.Record
	for i := range 1000 {
		recs = append(recs, archivetest.Rec("t", fmt.Sprint("s-", i%20), fmt.Sprint("e-", i), time.Duration(i)*time.Millisecond))
	}
	require.NoError(t, s.Append(t.Context(), recs...))
	q := archive.Query{Tenant: "t", Subscription: "s-1"}
	where, args, err := s.window(q)
	require.NoError(t, err)
	q.After = "5/e-5"
	whereAfter, argsAfter, err := s.window(q)
	require.NoError(t, err)
	var tenants []any
	for i := range 50 {
		tenants = append(tenants, fmt.Sprint("t-", i))
	}
	const key = "USING INDEX archive_key (tenant=? AND subscription=? AND seq>? AND seq<?)"
	cases := []struct {
		name string
		sql  string
		args []any
		want string
	}{
		{"range", `SELECT seq, event_id, expires, event FROM archive WHERE ` + where + ` ORDER BY seq, event_id LIMIT ?`, append(args, 100), key},
		{"range after", `SELECT seq, event_id, expires, event FROM archive WHERE ` + whereAfter + ` ORDER BY seq, event_id LIMIT ?`, append(argsAfter, 100), key},
		{"count", `SELECT count(*) FROM archive WHERE ` + where, args, key},
		{"prune", `DELETE FROM archive WHERE expires <= ? RETURNING tenant, size`, []any{time.Now().UnixNano()}, "INDEX archive_expires (expires<?)"},
		{"tenant bytes", tenantBytesReads.Statement(50), tenants, "SEARCH tenant_bytes USING PRIMARY KEY (tenant=?)"},
		{"a tenant's bytes", tenantBytesReads.Statement(1), tenants[:1], "SEARCH tenant_bytes USING PRIMARY KEY (tenant=?)"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			plan := explain(t, s, c.sql, c.args...)
			assert.NotContains(t, plan, "SCAN archive", "walks the table")
			assert.NotContains(t, plan, "SCAN tenant_bytes", "walks the table")
			assert.NotContains(t, plan, "TEMP B-TREE", "sorts")
			assert.Contains(t, plan, c.want)
		})
	}
}

// explain returns the lines of SQLite's query plan for query.
func explain(t *testing.T, s *Store, query string, args ...any) string {
	t.Helper()
	return sqlitefiletest.Plan(t, s.db, query, args...)
}
