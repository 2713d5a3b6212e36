// Package generatetest holds test helpers of the generate role: a
// recording queue sender, a generator fixture and the concurrency check
// every config.Store implementation must pass under the generate ticker
// (two concurrent ticks emit each slot exactly once).
package generatetest

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/herokuevents/herokuevents/shared/config"
	"github.com/herokuevents/herokuevents/shared/event"
	"github.com/herokuevents/herokuevents/shared/generate"
	"github.com/herokuevents/herokuevents/shared/mapping"
	"github.com/herokuevents/herokuevents/shared/queue"
)

// Recorder is a queue.Sender that keeps what it was sent. Fail, when set,
// makes Send fail (nothing is kept). Safe for concurrent use.
type Recorder struct {
	mu   sync.Mutex
	msgs []queue.Message
	Fail error
}

// Send implements queue.Sender.
func (r *Recorder) Send(_ context.Context, msgs ...queue.Message) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.Fail != nil {
		return r.Fail
	}
	r.msgs = append(r.msgs, msgs...)
	return nil
}

// Messages returns the messages sent so far.
func (r *Recorder) Messages() []queue.Message {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]queue.Message(nil), r.msgs...)
}

// Routed decodes every message sent so far.
func (r *Recorder) Routed(t testing.TB) []event.Routed {
	t.Helper()
	var out []event.Routed
	for _, m := range r.Messages() {
		var v event.Routed
		require.NoError(t, json.Unmarshal(m.Body, &v))
		out = append(out, v)
	}
	return out
}

// Insert stores a generator of tenant due at next, as the api would.
func Insert(t testing.TB, s config.Store, tenant, name, interval, mapping string, next time.Time) config.Subscription {
	t.Helper()
	sub := config.Subscription{
		ID: uuid.NewString(), Name: name, Platform: config.PlatformGenerate,
		Params:  config.Params{Interval: interval, Mapping: mapping},
		Created: next.Add(-time.Second),
		State:   &config.SourceState{Status: generate.StatusActive, NextRun: next},
	}
	it := config.Item{Tenant: tenant, Kind: config.KindSubscription, ID: sub.ID, Name: name, Index: config.IndexTime(next)}
	_, err := config.Insert(context.Background(), s, it, sub)
	require.NoError(t, err)
	return sub
}

// barrierStore makes the due-generator query of the two tickers return at
// the same moment, so both hold the same versions and race for every claim.
type barrierStore struct {
	config.Store
	mu sync.Mutex
	n  int
	ch chan struct{}
}

func (b *barrierStore) IndexedBefore(ctx context.Context, kind, upTo string, limit int) ([]config.Item, error) {
	items, err := b.Store.IndexedBefore(ctx, kind, upTo, limit)
	b.mu.Lock()
	if b.ch == nil {
		b.ch = make(chan struct{})
	}
	ch := b.ch
	b.n++
	if b.n == 2 {
		close(ch)
		b.ch, b.n = nil, 0
	}
	b.mu.Unlock()
	select {
	case <-ch:
	case <-time.After(5 * time.Second):
		return nil, errors.New("barrier: the other ticker never queried")
	}
	return items, err
}

// ConcurrentTicks checks on store that two tickers ticking at the same
// times emit every slot of every generator exactly once, with no slot lost.
func ConcurrentTicks(t *testing.T, store config.Store) {
	ctx := t.Context()
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	tenant := uuid.NewString()
	const rounds = 12
	type gen struct {
		interval string
		every    time.Duration // 0: a one-per-minute cron
	}
	gens := []gen{{"1s", time.Second}, {"1s", time.Second}, {"@every 1s", time.Second}, {"2s", 2 * time.Second}, {"5s", 5 * time.Second}, {"* * * * *", 0}}
	want := map[string]bool{}
	for i, g := range gens {
		sub := Insert(t, store, tenant, fmt.Sprintf("gen%d", i), g.interval, `root = {"n": 1}`, t0)
		horizon := t0.Add(rounds * time.Second)
		want[generate.EventID(sub.ID, t0)] = true
		if g.every > 0 {
			for s := t0.Add(g.every); s.Before(horizon); s = s.Add(g.every) {
				want[generate.EventID(sub.ID, s)] = true
			}
		}
	}
	shared := &barrierStore{Store: store}
	var recs [2]*Recorder
	var tickers [2]*generate.Ticker
	for i := range tickers {
		recs[i] = &Recorder{}
		tk, err := generate.New(generate.Options{Compile: compile,
			Store: shared, Ingest: recs[i], Window: time.Second, Logger: slog.New(slog.DiscardHandler),
			Now: func() time.Time { return t0 },
		})
		require.NoError(t, err)
		tickers[i] = tk
	}
	conflicts := 0
	for r := range rounds {
		at := t0.Add(time.Duration(r) * time.Second)
		var wg sync.WaitGroup
		var stats [2]generate.Stats
		var errs [2]error
		for i := range tickers {
			wg.Go(func() { stats[i], errs[i] = tickers[i].Run(ctx, at) })
		}
		wg.Wait()
		require.NoError(t, errors.Join(errs[:]...), "round %d", r)
		conflicts += stats[0].Conflicts + stats[1].Conflicts
	}
	seen := map[string]int{}
	for _, rec := range recs {
		for _, r := range rec.Routed(t) {
			seen[r.Event.ID]++
			assert.Equal(t, tenant, r.Tenant)
		}
	}
	for id, n := range seen {
		assert.Equal(t, 1, n, "event %s emitted %d times", id, n)
		assert.True(t, want[id], "unexpected event %s", id)
	}
	for id := range want {
		assert.Contains(t, seen, id, "slot lost")
	}
	assert.Len(t, seen, len(want))
	assert.Positive(t, conflicts, "the tickers raced for claims")
	t.Logf("%d events, %d lost claims in %d rounds", len(seen), conflicts, rounds)
}

// compile compiles mappings with shared/mapping, as the wiring does.
func compile(src string) (generate.Program, error) { return mappings.Get(src) }

var mappings = &mapping.Cache{}
