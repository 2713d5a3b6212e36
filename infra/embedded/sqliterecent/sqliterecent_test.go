package sqliterecent_test

import (
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/herokuevents/herokuevents/infra/embedded/sqliterecent"
	"github.com/herokuevents/herokuevents/shared/event"
	"github.com/herokuevents/herokuevents/shared/recent"
	"github.com/herokuevents/herokuevents/shared/recent/memrecent"
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
	cpu := cpuTime(b)
	for b.Loop() {
		for i := range batch {
			n++
			batch[i] = recent.Entry{Tenant: "t", Subscription: fmt.Sprint("s-", i%10),
				Event: event.Event{ID: fmt.Sprint("e-", n), Source: "/s", Type: "x", Data: data}}
		}
		require.NoError(b, s.Keep(b.Context(), batch...))
	}
	b.ReportMetric(float64(b.Elapsed().Microseconds())/float64(n), "µs/event")
	// Processor time per event: what a loaded host changes less than the
	// rate.
	b.ReportMetric(float64((cpuTime(b)-cpu).Microseconds())/float64(n), "cpu-µs/event")
}

// cpuTime is the processor time (user + system) this process has used.
func cpuTime(b *testing.B) time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		b.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// TestKeepManyAsOneByOne: a batch larger than one INSERT statement, with
// an event id kept twice (within a statement and across two), leaves
// what keeping its events one by one leaves.
func TestKeepManyAsOneByOne(t *testing.T) {
	var batch []recent.Entry
	for i := range 120 {
		id := fmt.Sprint("e-", i)
		switch i {
		case 7:
			id = "e-3" // within the first statement
		case 90:
			id = "e-10" // across statements
		}
		batch = append(batch, recent.Entry{Tenant: "t", Subscription: fmt.Sprint("s-", i%3), Kept: time.Unix(0, 0).Add(time.Duration(i) * time.Second),
			Event: event.Event{ID: id, Source: "/s", Type: "x", Data: []byte(fmt.Sprintf(`{"n":%d}`, i))}})
	}
	open := func() *sqliterecent.Store {
		s, err := sqliterecent.Open(filepath.Join(t.TempDir(), "recent.db"), recent.Limits{PerSubscription: 30, MaxAge: 100 * 365 * 24 * time.Hour})
		require.NoError(t, err)
		t.Cleanup(func() { s.Close() })
		return s
	}
	one, many := open(), open()
	for _, e := range batch {
		require.NoError(t, one.Keep(t.Context(), e))
	}
	require.NoError(t, many.Keep(t.Context(), batch...))
	for i := range 3 {
		sub := fmt.Sprint("s-", i)
		want, err := one.Latest(t.Context(), "t", sub, 0)
		require.NoError(t, err)
		got, err := many.Latest(t.Context(), "t", sub, 0)
		require.NoError(t, err)
		assert.Len(t, got, 30)
		assert.Equal(t, want, got, sub)
	}
}

// TestKeepReplacesAsMemrecent: random batches over two tenants' three
// subscriptions, event ids drawn from a small pool (kept again within a
// batch, across batches, more than one replace statement's worth of a
// subscription at once, ids that are not valid UTF-8) leave in each
// subscription what memrecent, which inserts one entry at a time
// replacing any entry of the same id, leaves.
func TestKeepReplacesAsMemrecent(t *testing.T) {
	l := recent.Limits{PerSubscription: 70, MaxEventBytes: 40, MaxAge: time.Hour}
	s, err := sqliterecent.Open(filepath.Join(t.TempDir(), "recent.db"), l)
	require.NoError(t, err)
	defer s.Close()
	mem := memrecent.New(l)
	rng := rand.New(rand.NewPCG(1, 2))
	type sub struct{ tenant, subscription string }
	subs := []sub{{"t1", "s1"}, {"t1", "s2"}, {"t2", "s1"}}
	ids := []string{"\xff\xfe", `"quoted"`, "x\u2028y"}
	for i := range 150 {
		ids = append(ids, fmt.Sprint("e-", i))
	}
	at := time.Now().Truncate(time.Microsecond)
	for range 40 {
		batch := make([]recent.Entry, 1+rng.IntN(300))
		for i := range batch {
			at = at.Add(time.Microsecond)
			k := subs[rng.IntN(len(subs))]
			batch[i] = recent.Entry{Tenant: k.tenant, Subscription: k.subscription, Kept: at,
				Event: event.Event{ID: ids[rng.IntN(len(ids))], Source: "/s", Type: "x",
					Data: []byte(fmt.Sprintf(`{"n":%d,"pad":"%s"}`, i, strings.Repeat("p", rng.IntN(40))))}}
		}
		require.NoError(t, s.Keep(t.Context(), batch...))
		require.NoError(t, mem.Keep(t.Context(), batch...))
		for _, k := range subs {
			want, err := mem.Latest(t.Context(), k.tenant, k.subscription, 0)
			require.NoError(t, err)
			got, err := s.Latest(t.Context(), k.tenant, k.subscription, 0)
			require.NoError(t, err)
			require.Len(t, got, len(want), k)
			for i := range want {
				require.Equal(t, asJSON(want[i].Event.ID), got[i].Event.ID, "%v #%d", k, i)
				require.True(t, want[i].Kept.Equal(got[i].Kept), "%v #%d kept", k, i)
				require.Equal(t, string(want[i].Event.Data), string(got[i].Event.Data), "%v #%d", k, i)
				require.Equal(t, want[i].Oversize, got[i].Oversize, "%v #%d", k, i)
			}
		}
	}
}

// asJSON is s as it comes back from JSON (the kept event is stored as
// JSON, which holds no invalid UTF-8).
func asJSON(s string) string {
	b, _ := json.Marshal(s)
	var out string
	_ = json.Unmarshal(b, &out)
	return out
}
