package sqlitequeue

import (
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/herokuevents/herokuevents/shared/queue"
)

// TestQueryPlans: every statement of the hot path finds its rows by
// primary key or an index seek, never by walking a queue's backlog
// (SQLite's EXPLAIN QUERY PLAN over a queue of 20,000 messages; without
// ANALYZE statistics, as in a running server).
func TestQueryPlans(t *testing.T) {
	db, err := Open(filepath.Join(t.TempDir(), "queues.db"))
	require.NoError(t, err)
	t.Cleanup(func() { assert.NoError(t, db.Close()) })
	q := db.Queue("q")
	for i := range 200 {
		msgs := make([]queue.Message, 100)
		for j := range msgs {
			tenant := []string{"a", "b", "c"}[(i+j)%3]
			msgs[j] = queue.Message{Body: []byte(`{}`), Attributes: map[string]string{queue.AttrTenant: tenant}}
		}
		require.NoError(t, q.Send(t.Context(), msgs...))
	}
	now := time.Now().UnixMicro()
	const (
		pk    = "USING INTEGER PRIMARY KEY (rowid=?)"
		lane  = "USING COVERING INDEX message_lane"
		ready = "USING COVERING INDEX message_visible"
	)
	cases := []struct {
		name string
		sql  string
		args []any
		want []string // each must appear in the plan
	}{
		{"send", sendSQL, []any{"q", []byte("{}"), nil, now, now, "a", ""}, nil},
		{"claim", claimSQL, []any{now + 1, "q", now, 10}, []string{pk, ready + " (queue=? AND visible_at<?)"}},
		{"next visible", nextSQL, []any{"q"}, []string{ready + " (queue=?)"}},
		{"delete", deleteSQL, []any{"q", "[1,2,3]"}, []string{pk}},
		{"unclaim", unclaimSQL, []any{now, "q", "[1,2,3]"}, []string{pk}},
		{"depth", depthSQL, []any{"q"}, []string{"USING COVERING INDEX"}},
		{"wake held", wakeHeldSQL, []any{now, "q", "a", "pub"}, []string{"USING INDEX message_lane (queue=? AND tenant=?"}},
		{"dead letters of a tenant", tenantDeadLetters, []any{"q-dlq", "a"}, []string{"message_lane (queue=? AND tenant=?)"}},
		{"revive a dead letter", reviveMessage, []any{"q", []byte("{}"), nil, now, now, 1}, []string{pk}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			plan := explain(t, db, c.sql, c.args...)
			assert.NotContains(t, plan, "SCAN message", "walks the table")
			for _, w := range c.want {
				assert.Contains(t, plan, w)
			}
		})
	}
}

// explain returns the lines of SQLite's query plan for query.
func explain(t *testing.T, db *DB, query string, args ...any) string {
	t.Helper()
	rows, err := db.db.QueryContext(t.Context(), "EXPLAIN QUERY PLAN "+query, args...)
	require.NoError(t, err)
	defer rows.Close()
	var lines []string
	for rows.Next() {
		var id, parent, unused int
		var detail string
		require.NoError(t, rows.Scan(&id, &parent, &unused, &detail))
		lines = append(lines, detail)
	}
	require.NoError(t, rows.Err())
	plan := strings.Join(lines, "\n")
	t.Logf("%s\n%s", strings.Join(strings.Fields(query), " "), plan)
	return plan
}
