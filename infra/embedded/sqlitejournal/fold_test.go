package sqlitejournal_test

import (
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/herokuevents/herokuevents/infra/embedded/sqlitejournal"
	"github.com/herokuevents/herokuevents/shared/journal"
)

// TestFoldedRowsReadAsAppended: an event's entries before its attempts,
// appended together, share a row; Event reads them back as they were
// appended, by time and then by append order, whatever the rows.
func TestFoldedRowsReadAsAppended(t *testing.T) {
	t0 := time.Now().UTC().Truncate(time.Millisecond)
	t1 := t0.Add(time.Millisecond)
	accepted := func(id string, at time.Time) journal.Entry {
		return journal.Entry{Tenant: "t", EventID: id, Time: at, Stage: journal.Accepted, Subscription: "s", SubscriptionName: "inbound", Via: journal.ViaPublish}
	}
	routed := func(id, pub string, at time.Time) journal.Entry {
		return journal.Entry{Tenant: "t", EventID: id, Time: at, Stage: journal.Routed, Subscription: "s", Publication: pub}
	}
	dropped := func(id, pub string, at time.Time) journal.Entry {
		return journal.Entry{Tenant: "t", EventID: id, Time: at, Stage: journal.FilteredOut, Subscription: "s", Publication: pub, Reason: "dropped"}
	}
	attempt := func(id string, at time.Time) journal.Entry {
		return journal.Entry{Tenant: "t", EventID: id, Time: at, Stage: journal.Attempt, Publication: "p1", Attempt: 1, Outcome: journal.Delivered, Status: 204}
	}
	for _, tc := range []struct {
		name    string
		appends [][]journal.Entry
		rows    int
		want    []journal.Entry // of e1
	}{{
		name: "a stream's entries of two events, interleaved",
		appends: [][]journal.Entry{{
			accepted("e1", t0), accepted("e2", t0), routed("e1", "p1", t1), routed("e2", "p1", t1), dropped("e1", "p2", t1), attempt("e1", t1),
		}},
		rows: 3,
		want: []journal.Entry{accepted("e1", t0), routed("e1", "p1", t1), dropped("e1", "p2", t1), attempt("e1", t1)},
	}, {
		name:    "an attempt ends a run",
		appends: [][]journal.Entry{{accepted("e1", t0), attempt("e1", t0), routed("e1", "p2", t0)}},
		rows:    3,
		want:    []journal.Entry{accepted("e1", t0), attempt("e1", t0), routed("e1", "p2", t0)},
	}, {
		name:    "a later append at the same time reads after a folded row's entry",
		appends: [][]journal.Entry{{accepted("e1", t0), routed("e1", "p1", t1)}, {dropped("e1", "p2", t0)}},
		rows:    2,
		want:    []journal.Entry{accepted("e1", t0), dropped("e1", "p2", t0), routed("e1", "p1", t1)},
	}, {
		name:    "an earlier append at the same time reads before it",
		appends: [][]journal.Entry{{dropped("e1", "p2", t1)}, {accepted("e1", t0), routed("e1", "p1", t1)}},
		rows:    2,
		want:    []journal.Entry{accepted("e1", t0), dropped("e1", "p2", t1), routed("e1", "p1", t1)},
	}} {
		t.Run(tc.name, func(t *testing.T) {
			j, err := sqlitejournal.Open(filepath.Join(t.TempDir(), "journal.db"), sqlitejournal.Options{PruneEvery: -1})
			require.NoError(t, err)
			defer j.Close()
			for _, a := range tc.appends {
				require.NoError(t, j.Append(t.Context(), a...))
			}
			n, err := j.Rows(t.Context())
			require.NoError(t, err)
			assert.Equal(t, tc.rows, n, "rows")
			got, err := j.Event(t.Context(), "t", "e1")
			require.NoError(t, err)
			require.Len(t, got, len(tc.want))
			for i := range tc.want {
				assert.True(t, tc.want[i].Time.Equal(got[i].Time), "entry %d time", i)
				got[i].Time = tc.want[i].Time
				assert.Equal(t, tc.want[i], got[i], "entry %d", i)
			}
		})
	}
}
