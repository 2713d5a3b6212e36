package sqlitequeue

import (
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/herokuevents/herokuevents/infra/embedded/sqlitefile/sqlitefiletest"
	"github.com/herokuevents/herokuevents/shared/queue"
)

// TestQueryPlans: every statement of the hot path finds its rows by
// primary key or an index seek, never by walking a queue's backlog
// (SQLite's EXPLAIN QUERY PLAN over a queue of 2,000 messages; without
// ANALYZE statistics, as in a running server, the plan does not depend on
// the number of rows).
func TestQueryPlans(t *testing.T) {
	db, err := Open(filepath.Join(t.TempDir(), "queues.db"))
	require.NoError(t, err)
	t.Cleanup(func() { assert.NoError(t, db.Close()) })
	q := db.Queue("q")
	msgs := make([]queue.Message, 2000)
	for i := range msgs {
		tenant := []string{"a", "b", "c"}[i%3]
		msgs[i] = queue.Message{Body: []byte(`{}`), Attributes: map[string]string{queue.AttrTenant: tenant}}
	}
	require.NoError(t, q.Send(t.Context(), msgs...))
	now := time.Now().UnixMicro()
	const (
		pk   = "USING INTEGER PRIMARY KEY (rowid=?)"
		lane = "USING COVERING INDEX message_lane"
	)
	cases := []struct {
		name string
		sql  string
		args []any
		want []string // each must appear in the plan
	}{
		{"send", sendSQL, []any{"q", []byte("{}"), nil, now, now, "a", "", ""}, nil},
		{"send many", sendMany.Statement(2), []any{"q", []byte("{}"), nil, now, now, "a", "", "", 0, 0, 0, "q", []byte("{}"), nil, now, now, "a", "", "", 1, 1, now}, nil},
		{"group waiting", groupWaitingSQL, []any{"q", "g"}, []string{"USING COVERING INDEX message_group (queue=? AND grp=?)"}},
		{"unpark a group's head", unparkSQL, []any{now, "q", "g", int64(parked)}, []string{pk, "message_group (queue=? AND grp=?)"}},
		{"retry in place", laterSQL, []any{now, "q", 1, ""}, []string{pk}},
		{"held in place", laterSQL, []any{now, "q", 1, "pub"}, []string{pk}},
		{"claim: next tenant", tenantAfterSQL, []any{"q", "a"}, []string{lane + " (queue=? AND tenant>?)"}},
		{"claim: next lane", laneAfterSQL, []any{"q", "a", ""}, []string{lane + " (queue=? AND tenant=? AND lane>?)"}},
		{"claim: a lane's messages", claimLaneSQL, []any{now + 1, "q", "a", "", 10, now}, []string{pk, lane + " (queue=? AND tenant=? AND lane=? AND visible_at<?)"}},
		{"claim: a lane's next visible", laneNextSQL, []any{"q", "a", ""}, []string{lane + " (queue=? AND tenant=? AND lane=?)"}},
		{"delete", deleteSQL, []any{"q", "[1,2,3]"}, []string{pk}},
		{"unclaim", unclaimSQL, []any{now, "q", "[1,2,3]"}, []string{pk}},
		{"depth", depthSQL, []any{"q"}, []string{"USING COVERING INDEX"}},
		{"wake held", wakeHeldSQL, []any{now, "q", "a", "pub", int64(parked)}, []string{"USING INDEX message_lane (queue=? AND tenant=?"}},
		{"dead letters of a tenant", tenantDeadLetters, []any{"q-dlq", "a"}, []string{"message_lane (queue=? AND tenant=?)"}},
		{"revive a dead letter", reviveMessage, []any{"q", []byte("{}"), nil, "", now, now, 1}, []string{pk}},
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
	plan := sqlitefiletest.Plan(t, db.db, query, args...)
	t.Logf("%s\n%s", strings.Join(strings.Fields(query), " "), plan)
	return plan
}
