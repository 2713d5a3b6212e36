package sqliterecent_test

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/herokuevents/herokuevents/infra/embedded/sqlitefile/sqlitefiletest"
	"github.com/herokuevents/herokuevents/infra/embedded/sqliterecent"
	"github.com/herokuevents/herokuevents/shared/event"
	"github.com/herokuevents/herokuevents/shared/recent"
)

// benchSubs is how many subscriptions the store holds events of before a
// BenchmarkKeepStream run writes (DefaultPerSubscription each: 50,000
// rows), some of them receiving the run's events.
const benchSubs = 1000

// benchTemplate is a closed store file of benchSubs full subscriptions,
// made once per process and copied into each benchmark run.
var benchTemplate = sqlitefiletest.Template("recent.db", func(path string) error {
	s, err := sqliterecent.Open(path, recent.Limits{})
	if err != nil {
		return err
	}
	st := newStream(benchSubs)
	for range benchSubs * recent.DefaultPerSubscription / 500 {
		if err := s.Keep(context.Background(), st.batch()...); err != nil {
			return err
		}
	}
	return s.Close()
})

func TestMain(m *testing.M) {
	code := m.Run()
	sqlitefiletest.RemoveTemplates()
	os.Exit(code)
}

// stream makes the entries the embedded filter keeps: events published
// (ids from event.New) round-robin to subscriptions of a few tenants.
type stream struct {
	tenants, subs []string
	data          json.RawMessage
	n             int
}

func newStream(subs int) *stream {
	s := &stream{data: json.RawMessage(`{"seq":"e123","Context__c":{"string":"bench"},"CreatedById":"005Ws000001eUtGIAU","CreatedDate":1733842936}`)}
	for i := range subs {
		s.tenants = append(s.tenants, fmt.Sprintf("8fb2a5b3-b6cb-437d-aea6-c1ef1afe%04d", i%100))
		s.subs = append(s.subs, fmt.Sprintf("0c9a1f0e-6a39-4a0f-9b8e-0b7f6f1f%04d", i))
	}
	return s
}

// batch is 500 entries (the embedded writer's Batch), as many of each
// subscription.
func (s *stream) batch() []recent.Entry {
	out := make([]recent.Entry, 500)
	now := time.Now()
	for i := range out {
		k := s.n % len(s.subs)
		s.n++
		ev := event.New("/tenants/t/subscriptions/inbound", event.TypePublish, s.data)
		out[i] = recent.Entry{Tenant: s.tenants[k], Subscription: s.subs[k], Event: ev, Kept: now}
	}
	return out
}

// BenchmarkKeepStream measures keeping batches of 500 events of hot
// subscriptions (round-robin) in a store already holding 50 events of
// each of 1,000 subscriptions: processor time and bytes written (the WAL,
// the checkpoints and any temporary file) per event. hot=10 is a few busy
// apps; hot=500 is 500 tenants publishing round-robin, one event of each
// subscription per batch.
func BenchmarkKeepStream(b *testing.B) {
	for _, hot := range []int{10, 500} {
		b.Run(fmt.Sprintf("hot=%d", hot), func(b *testing.B) { benchKeepStream(b, hot) })
	}
}

func benchKeepStream(b *testing.B, hot int) {
	tmpl, err := benchTemplate()
	require.NoError(b, err)
	path := filepath.Join(b.TempDir(), "recent.db")
	sqlitefiletest.Copy(b, tmpl, path)
	s, err := sqliterecent.Open(path, recent.Limits{})
	require.NoError(b, err)
	defer s.Close()
	st := newStream(hot)
	batches := make([][]recent.Entry, 0, b.N/500+1)
	entries := 0
	for entries < b.N {
		batches = append(batches, st.batch())
		entries += 500
	}
	b.ResetTimer()
	m := sqlitefiletest.Start(b)
	for _, batch := range batches {
		require.NoError(b, s.Keep(b.Context(), batch...))
	}
	m.Report(b, entries, "event")
}
