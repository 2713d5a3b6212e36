package sqlitejournal

import (
	"context"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/herokuevents/herokuevents/shared/event"
	"github.com/herokuevents/herokuevents/shared/journal"
)

func TestEventKey(t *testing.T) {
	v7 := "019ae3c4-5b2a-7c3d-8e4f-0123456789ab"
	for _, tc := range []struct {
		name, id string
		v7       bool
	}{
		{"uuid v7", v7, true},
		{"uuid v7, variant b", "019ae3c4-5b2a-7c3d-be4f-0123456789ab", true},
		{"uuid v4", "6f1c2d3e-4a5b-4c6d-8e7f-0123456789ab", false},
		{"upper case v7", strings.ToUpper(v7), false},
		{"v7 without hyphens", strings.ReplaceAll(v7, "-", ""), false},
		{"v7 in braces", "{" + v7 + "}", false},
		{"v7 with another variant", "019ae3c4-5b2a-7c3d-ce4f-0123456789ab", false},
		{"not hex", "019ae3c4-5b2a-7c3d-8e4f-0123456789ag", false},
		{"hyphen misplaced", "019ae3c4-5b2a-7c3d-8e4f0-123456789ab", false},
		{"salesforce-made", "3d1f0c6a9b7e4d2c8a5f1e0b9c7d6a4e", false},
		{"empty", "", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			k, isV7 := eventKey("t1", tc.id)
			assert.Equal(t, tc.v7, isV7)
			if !tc.v7 {
				assert.Equal(t, key("t1", tc.id), k, "other ids keep the hash")
				return
			}
			assert.Equal(t, int64(0x019ae3c45b2a), k>>16, "the id's time leads")
			assert.Equal(t, key("t1", tc.id)&0xffff, k&0xffff)
			other, _ := eventKey("t2", tc.id)
			assert.NotEqual(t, k, other, "the tenant tells keys of one id apart")
		})
	}
}

// TestEventKeysFollowTime: keys of ids made one after another grow with
// their time (what keeps the index's inserts at its end).
func TestEventKeysFollowTime(t *testing.T) {
	prev := int64(0)
	for range 100 {
		k, v7 := eventKey("t", event.New("/s", "t", nil).ID)
		require.True(t, v7)
		require.GreaterOrEqual(t, k>>16, prev>>16)
		prev = k
		time.Sleep(100 * time.Microsecond)
	}
}

// A UUIDv7's key starts with its first 48 bits, the milliseconds since the
// epoch (RFC 9562 test vector and one of this package's).
func TestEventKeyIsTheUUIDv7Time(t *testing.T) {
	for id, ms := range map[string]uint64{
		"017f22e2-79b0-7cc3-98c4-dc0c0c07398f": 0x017f22e279b0, // RFC 9562, appendix A.6
		"019ae3c4-5b2a-7c3d-8e4f-0123456789ab": 0x019ae3c45b2a,
	} {
		k, v7 := eventKey("t", id)
		require.True(t, v7, id)
		assert.Equal(t, ms, uint64(k)>>16, id)
	}
}

// FuzzEventKey: an id is keyed by its time exactly when it is a canonical
// lower-case UUIDv7, and by the hash otherwise.
func FuzzEventKey(f *testing.F) {
	for _, id := range []string{"019ae3c4-5b2a-7c3d-8e4f-0123456789ab", "6f1c2d3e-4a5b-4c6d-8e7f-0123456789ab",
		"019AE3C4-5B2A-7C3D-8E4F-0123456789AB", "urn:uuid:019ae3c4-5b2a-7c3d-8e4f-0123456789ab", "e1", ""} {
		f.Add("t", id)
	}
	f.Fuzz(func(t *testing.T, tenant, id string) {
		k, v7 := eventKey(tenant, id)
		u, err := uuid.Parse(id)
		want := err == nil && u.String() == id && u.Version() == 7 && u.Variant() == uuid.RFC4122
		require.Equal(t, want, v7, "id %q", id)
		if !v7 {
			require.Equal(t, key(tenant, id), k)
			return
		}
		sec, nsec := u.Time().UnixTime()
		require.Equal(t, time.Unix(sec, nsec).UnixMilli(), int64(uint64(k)>>16))
	})
}

// TestEventFindsOldRows: entries written before ids were keyed by their
// UUIDv7 time (under the hash) are found beside the new ones, in order,
// and the lookup uses the index.
func TestEventFindsOldRows(t *testing.T) {
	ctx := t.Context()
	j, err := Open(filepath.Join(t.TempDir(), "journal.db"), Options{PruneEvery: -1})
	require.NoError(t, err)
	defer j.Close()
	now := time.Now().UTC().Truncate(time.Millisecond)
	ids := []string{event.New("/s", "t", nil).ID, "6f1c2d3e-4a5b-4c6d-8e7f-0123456789ab", "e-1"}
	for i, id := range ids {
		// Before: the old way, every id under key(tenant, id).
		old := journal.Entry{Tenant: "t", EventID: id, Time: now.Add(time.Duration(i) * time.Second), Stage: journal.Accepted, Via: journal.ViaPublish}
		d, err := detail(old)
		require.NoError(t, err)
		_, err = j.db.ExecContext(ctx, `INSERT INTO entry (ekey, pkey, tenant, event_id, publication, stage, outcome, at, detail) VALUES (?, ?, ?, ?, '', ?, '', ?, ?)`,
			key("t", id), key("t", ""), "t", id, string(old.Stage), nanos(old.Time), d)
		require.NoError(t, err)
		// After: this version's Append.
		require.NoError(t, j.Append(ctx, journal.Entry{Tenant: "t", EventID: id, Time: old.Time.Add(time.Millisecond),
			Stage: journal.Attempt, Publication: "p", Attempt: 1, Outcome: journal.Delivered, Status: 204}))
	}
	for i, id := range ids {
		got, err := j.Event(ctx, "t", id)
		require.NoError(t, err)
		require.Len(t, got, 2, id)
		assert.Equal(t, journal.Accepted, got[0].Stage)
		assert.Equal(t, now.Add(time.Duration(i)*time.Second), got[0].Time)
		assert.Equal(t, journal.Attempt, got[1].Stage)
		other, err := j.Event(ctx, "t2", id)
		require.NoError(t, err)
		assert.Empty(t, other, "another tenant's event of the same id")
	}
	plan := queryPlan(ctx, t, j, eventQuery, int64(1), int64(2), "t", "e", int64(0))
	assert.Contains(t, plan, "USING INDEX entry_event (ekey=?)", plan)
}

func queryPlan(ctx context.Context, t *testing.T, j *Journal, query string, args ...any) string {
	rows, err := j.db.QueryContext(ctx, "EXPLAIN QUERY PLAN "+query, args...)
	require.NoError(t, err)
	defer rows.Close()
	var plan []string
	for rows.Next() {
		var id, parent, unused int
		var detail string
		require.NoError(t, rows.Scan(&id, &parent, &unused, &detail))
		plan = append(plan, detail)
	}
	require.NoError(t, rows.Err())
	return strings.Join(plan, "\n")
}

// TestAppendFailingMidwayStoresNothing: an Append whose INSERT fails after
// some of the batch's rows went in (INSERT OR FAIL keeps them in the
// transaction) stores none of its entries.
func TestAppendFailingMidwayStoresNothing(t *testing.T) {
	ctx := t.Context()
	j, err := Open(filepath.Join(t.TempDir(), "journal.db"), Options{PruneEvery: -1})
	require.NoError(t, err)
	defer j.Close()
	_, err = j.db.ExecContext(ctx, `CREATE TRIGGER refuse BEFORE INSERT ON entry WHEN NEW.event_id = 'e-60' BEGIN SELECT RAISE(FAIL, 'refused'); END`)
	require.NoError(t, err)
	now := time.Now()
	var batch []journal.Entry
	for i := range 100 {
		batch = append(batch, journal.Entry{Tenant: "t", EventID: fmt.Sprintf("e-%d", i), Time: now, Stage: journal.Accepted})
	}
	require.ErrorContains(t, j.Append(ctx, batch...), "refused")
	var n int
	require.NoError(t, j.db.QueryRowContext(ctx, `SELECT COUNT(*) FROM entry`).Scan(&n))
	assert.Zero(t, n, "the rows before the failing one are rolled back with the batch")
	require.NoError(t, j.Append(ctx, batch[:60]...), "the journal takes appends after")
	got, err := j.Event(ctx, "t", "e-59")
	require.NoError(t, err)
	assert.Len(t, got, 1)
}

// TestPrunePublicationKeepsTheNewest: the per-publication prune keeps a
// publication's newest attempts by time, then by append order among
// attempts of the same time, leaves another tenant's publication of the
// same id alone, and finds its limit in the entry_attempt index alone.
func TestPrunePublicationKeepsTheNewest(t *testing.T) {
	ctx := t.Context()
	j, err := Open(filepath.Join(t.TempDir(), "journal.db"), Options{PruneEvery: -1, Retention: journal.Retention{PerPublication: 10}})
	require.NoError(t, err)
	defer j.Close()
	now := time.Now().UTC().Truncate(time.Millisecond)
	var all []journal.Entry
	for i := range 30 {
		at := now.Add(time.Duration(i/3) * time.Second) // three attempts a second: the limit falls inside a second
		all = append(all, journal.Entry{Tenant: "t", EventID: fmt.Sprintf("e%02d", i), Time: at, Stage: journal.Attempt, Publication: "p",
			Attempt: 1, Outcome: journal.Delivered, Status: 204})
		all = append(all, journal.Entry{Tenant: "t2", EventID: fmt.Sprintf("e%02d", i), Time: at, Stage: journal.Attempt, Publication: "q",
			Attempt: 1, Outcome: journal.Delivered, Status: 204})
	}
	require.NoError(t, j.Append(ctx, all[:len(all)-9]...)) // the last attempts of the same second come later
	require.NoError(t, j.Append(ctx, all[len(all)-9:]...))
	require.NoError(t, j.Prune(ctx))
	for _, c := range []struct{ tenant, pub string }{{"t", "p"}, {"t2", "q"}} {
		got, err := j.Attempts(ctx, c.tenant, c.pub, journal.Query{Limit: 100})
		require.NoError(t, err)
		require.Len(t, got, 10, "%s/%s keeps its newest 10", c.tenant, c.pub)
		var ids []string
		for _, e := range got {
			ids = append(ids, e.EventID)
		}
		assert.ElementsMatch(t, []string{"e20", "e21", "e22", "e23", "e24", "e25", "e26", "e27", "e28", "e29"}, ids)
	}
	plan := queryPlan(ctx, t, j, pruneCutSQL, key("t", "p"), 10)
	assert.Contains(t, plan, "USING COVERING INDEX entry_attempt", plan)
	plan = queryPlan(ctx, t, j, pruneDeleteSQL, key("t", "p"), int64(1), int64(2), "t", "p")
	assert.Contains(t, plan, "USING INDEX entry_attempt (pkey=? AND at<?)", plan)
}
