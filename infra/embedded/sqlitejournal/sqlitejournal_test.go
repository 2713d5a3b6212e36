package sqlitejournal_test

import (
	"encoding/json"
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/herokuevents/herokuevents/infra/embedded/sqlitejournal"
	"github.com/herokuevents/herokuevents/shared/event"
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

// BenchmarkAppend measures batches of 500 entries shaped like a publish's:
// an acceptance and a first attempt keeping a 400-byte event.
func BenchmarkAppend(b *testing.B) {
	j, err := sqlitejournal.Open(filepath.Join(b.TempDir(), "journal.db"), sqlitejournal.Options{PruneEvery: -1})
	require.NoError(b, err)
	defer j.Close()
	ev := &event.Event{ID: "x", Source: "/tenants/t/subscriptions/inbound", Type: event.TypePublish, Time: time.Now(), DataContentType: "application/json",
		Data: json.RawMessage(`{"seq":"e123","Context__c":{"string":"bench"},"CreatedById":"005Ws000001eUtGIAU","CreatedDate":1733842936}`)}
	tenant, pub := "8fb2a5b3-b6cb-437d-aea6-c1ef1afe772f", "770a7934-ee08-4062-86f9-04ffa095b9da"
	ids := make([]string, b.N)
	for i := range ids {
		ids[i] = uuid.NewString() // random, as event ids are
	}
	batch := make([]journal.Entry, 0, 500)
	b.ResetTimer()
	cpu := cpuTime(b)
	for i := 0; i < b.N; i++ {
		id := ids[i]
		now := time.Now()
		batch = append(batch,
			journal.Entry{Tenant: tenant, EventID: id, Time: now, Stage: journal.Accepted, Subscription: pub, SubscriptionName: "inbound", Via: journal.ViaPublish},
			journal.Entry{Tenant: tenant, EventID: id, Time: now, Stage: journal.Attempt, Publication: pub, PublicationName: "systemStatus",
				Attempt: 1, Outcome: journal.Delivered, Status: 204, Latency: time.Millisecond, FirstTry: now, Event: ev})
		if len(batch) >= 500 {
			require.NoError(b, j.Append(b.Context(), batch...))
			batch = batch[:0]
		}
	}
	used := cpuTime(b) - cpu
	b.StopTimer()
	b.ReportMetric(float64(b.N)*2/b.Elapsed().Seconds(), "entries/s")
	// Processor time per entry: what a loaded host changes less than the
	// rate.
	b.ReportMetric(float64(used.Microseconds())/float64(b.N*2), "cpu-µs/entry")
}

// cpuTime is the processor time (user + system) this process has used.
func cpuTime(b *testing.B) time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		b.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
