package generate_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"log/slog"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/herokuevents/herokuevents/shared/api"
	"github.com/herokuevents/herokuevents/shared/config"
	"github.com/herokuevents/herokuevents/shared/config/memstore"
	"github.com/herokuevents/herokuevents/shared/event"
	"github.com/herokuevents/herokuevents/shared/generate"
	"github.com/herokuevents/herokuevents/shared/generate/generatetest"
	"github.com/herokuevents/herokuevents/shared/queue"
)

var t0 = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)

func newStore(t *testing.T) config.Store {
	t.Helper()
	s := memstore.New()
	t.Cleanup(func() { _ = s.Close() })
	return s
}

type fixture struct {
	store  config.Store
	rec    *generatetest.Recorder
	ticker *generate.Ticker
	logs   *bytes.Buffer
	tenant string
}

func newFixture(t *testing.T, window time.Duration, now time.Time) *fixture {
	f := &fixture{store: newStore(t), rec: &generatetest.Recorder{}, logs: &bytes.Buffer{}, tenant: uuid.NewString()}
	var err error
	f.ticker, err = generate.New(generate.Options{Compile: compile,
		Store: f.store, Ingest: f.rec, Window: window,
		Logger: slog.New(slog.NewJSONHandler(f.logs, nil)),
		Now:    func() time.Time { return now },
	})
	require.NoError(t, err)
	return f
}

func (f *fixture) load(t *testing.T, id string) (config.Subscription, config.Item) {
	t.Helper()
	r, err := config.Load[config.Subscription](t.Context(), f.store, f.tenant, config.KindSubscription, id)
	require.NoError(t, err)
	return r.Value, r.Item
}

func TestTickEmitsSlotsOfTheWindow(t *testing.T) {
	now := t0.Add(-200 * time.Millisecond)
	f := newFixture(t, time.Minute, now)
	sub := generatetest.Insert(t, f.store, f.tenant, "status", "15s", `root = {"status": "up", "n": 42}`, t0)

	st, err := f.ticker.Run(t.Context(), t0)
	require.NoError(t, err)
	assert.Equal(t, generate.Stats{Generators: 1, Events: 4}, st)

	msgs := f.rec.Messages()
	require.Len(t, msgs, 4)
	for i, m := range msgs {
		slot := t0.Add(time.Duration(i) * 15 * time.Second)
		var r event.Routed
		require.NoError(t, json.Unmarshal(m.Body, &r))
		assert.Equal(t, f.tenant, r.Tenant)
		assert.Equal(t, sub.ID, r.Subscription)
		assert.Equal(t, generate.EventID(sub.ID, slot), r.Event.ID)
		assert.Equal(t, event.TypeGenerate, r.Event.Type)
		assert.Equal(t, "/tenants/"+f.tenant+"/subscriptions/status", r.Event.Source)
		assert.Equal(t, slot, r.Event.Time, "stamped with its scheduled time")
		assert.Equal(t, "application/json", r.Event.DataContentType)
		assert.JSONEq(t, `{"status":"up","n":42}`, string(r.Event.Data))
		assert.NoError(t, r.Event.Validate())
		assert.Equal(t, slot.Sub(now), m.Delay, "delivered at its slot")
		assert.Equal(t, f.tenant, m.Attributes[queue.AttrTenant])
	}

	got, it := f.load(t, sub.ID)
	next := t0.Add(time.Minute)
	assert.Equal(t, api.IndexTime(next), it.Index)
	require.NotNil(t, got.State)
	assert.Equal(t, next, got.State.NextRun)
	assert.Equal(t, generate.StatusActive, got.State.Status)
	assert.Equal(t, t0, got.State.CheckedAt)

	// A retried tick at the same time finds nothing due: slots are claimed.
	st, err = f.ticker.Run(t.Context(), t0)
	require.NoError(t, err)
	assert.Equal(t, generate.Stats{}, st)
	assert.Len(t, f.rec.Messages(), 4)
}

func TestTickDistinctIDsAcrossGenerators(t *testing.T) {
	a, b := uuid.NewString(), uuid.NewString()
	assert.NotEqual(t, generate.EventID(a, t0), generate.EventID(b, t0))
	assert.NotEqual(t, generate.EventID(a, t0), generate.EventID(a, t0.Add(time.Second)))
	assert.Equal(t, generate.EventID(a, t0), generate.EventID(a, t0.In(time.FixedZone("X", 7200))))
}

func TestTickSendFailureRollsBack(t *testing.T) {
	f := newFixture(t, time.Minute, t0)
	sub := generatetest.Insert(t, f.store, f.tenant, "status", "30s", `root.at = "x"`, t0)
	_, before := f.load(t, sub.ID)

	f.rec.Fail = errors.New("queue down")
	_, err := f.ticker.Run(t.Context(), t0)
	require.ErrorContains(t, err, "queue down")
	got, it := f.load(t, sub.ID)
	assert.Equal(t, before.Index, it.Index, "claim rolled back")
	assert.Equal(t, t0, got.State.NextRun)
	assert.Contains(t, f.logs.String(), "claim rolled back")

	f.rec.Fail = nil
	st, err := f.ticker.Run(t.Context(), t0)
	require.NoError(t, err)
	assert.Equal(t, 2, st.Events)
	var ids []string
	for _, r := range f.rec.Routed(t) {
		ids = append(ids, r.Event.ID)
	}
	assert.Equal(t, []string{generate.EventID(sub.ID, t0), generate.EventID(sub.ID, t0.Add(30*time.Second))}, ids,
		"the retry emits the same ids")
}

func TestTickMappingErrors(t *testing.T) {
	f := newFixture(t, time.Minute, t0)
	bad := generatetest.Insert(t, f.store, f.tenant, "bad", "30s", `root = throw("boom")`, t0)
	quiet := generatetest.Insert(t, f.store, f.tenant, "quiet", "30s", `root = deleted()`, t0)
	good := generatetest.Insert(t, f.store, f.tenant, "good", "30s", `root.ok = true`, t0)

	st, err := f.ticker.Run(t.Context(), t0)
	require.NoError(t, err, "a mapping error never fails the tick")
	assert.Equal(t, generate.Stats{Generators: 3, Events: 2, Errors: 2}, st)
	failed := 0
	for _, r := range f.rec.Routed(t) {
		if r.Subscription == bad.ID {
			failed++
			assert.Contains(t, r.Error, "generator bad: ", "the failed event is queued for the filter to dead-letter")
			assert.Contains(t, r.Error, "boom")
			assert.Empty(t, r.Event.Data)
			require.NoError(t, r.Event.Validate())
			continue
		}
		assert.Equal(t, good.ID, r.Subscription)
		assert.Empty(t, r.Error)
	}
	assert.Equal(t, 2, failed, "one failed event per slot")

	got, it := f.load(t, bad.ID)
	assert.Equal(t, generate.StatusFailing, got.State.Status)
	assert.Contains(t, got.State.LastError, "boom")
	assert.Equal(t, api.IndexTime(t0.Add(time.Minute)), it.Index, "still scheduled")
	assert.Contains(t, f.logs.String(), `"msg":"mapping failed"`)

	got, _ = f.load(t, quiet.ID)
	assert.Equal(t, generate.StatusActive, got.State.Status)
	assert.Empty(t, got.State.LastError)
}

func TestTickCatchUpAfterDowntime(t *testing.T) {
	at := t0.Add(time.Hour)
	f := newFixture(t, 2*time.Second, at)
	sub := generatetest.Insert(t, f.store, f.tenant, "sec", "1s", `root = {}`, t0)
	hourly := generatetest.Insert(t, f.store, f.tenant, "hourly", "0 * * * *", `root = {}`, t0.Add(-5*time.Hour))

	st, err := f.ticker.Run(t.Context(), at)
	require.NoError(t, err)
	var secSlots, hourlySlots []time.Time
	for _, r := range f.rec.Routed(t) {
		switch r.Subscription {
		case sub.ID:
			secSlots = append(secSlots, r.Event.Time)
		case hourly.ID:
			hourlySlots = append(hourlySlots, r.Event.Time)
		}
	}
	// One catch-up (the latest missed slot), then the slots late by at most
	// the grace (one window) and those of the window.
	assert.Equal(t, []time.Time{at.Add(-3 * time.Second), at.Add(-2 * time.Second), at.Add(-time.Second), at, at.Add(time.Second)}, secSlots)
	assert.Equal(t, []time.Time{t0, at}, hourlySlots, "one catch-up (t0; 5 missed hours skipped), then the due slot")
	assert.Equal(t, 3597+1, st.Skipped)
	_, it := f.load(t, hourly.ID)
	assert.Equal(t, api.IndexTime(at.Add(time.Hour)), it.Index)
	assert.Contains(t, f.logs.String(), "missed slots: one catch-up event")
}

func TestTickSkipsOtherPlatformsAndStopsBrokenGenerators(t *testing.T) {
	f := newFixture(t, time.Minute, t0)
	other := config.Subscription{ID: uuid.NewString(), Name: "sf", Platform: config.PlatformSalesforce}
	_, err := config.Insert(t.Context(), f.store, config.Item{Tenant: f.tenant, Kind: config.KindSubscription, ID: other.ID, Name: "sf", Index: api.IndexTime(t0)}, other)
	require.NoError(t, err)
	broken := generatetest.Insert(t, f.store, f.tenant, "broken", "soon", `root = {}`, t0)

	st, err := f.ticker.Run(t.Context(), t0)
	require.NoError(t, err)
	assert.Equal(t, generate.Stats{Stopped: 1}, st)
	assert.Empty(t, f.rec.Messages())

	_, it := f.load(t, other.ID)
	assert.Equal(t, api.IndexTime(t0), it.Index, "not ours: untouched")
	assert.Equal(t, int64(1), it.Version)
	got, it := f.load(t, broken.ID)
	assert.Empty(t, it.Index, "unscheduled")
	assert.Equal(t, generate.StatusStopped, got.State.Status)
	assert.Contains(t, got.State.LastError, `interval "soon"`)
}

func TestTickPages(t *testing.T) {
	store := newStore(t)
	rec := &generatetest.Recorder{}
	tk, err := generate.New(generate.Options{Compile: compile, Store: store, Ingest: rec, Window: time.Second, Limit: 3,
		Logger: slog.New(slog.DiscardHandler), Now: func() time.Time { return t0 }})
	require.NoError(t, err)
	tenant := uuid.NewString()
	for i := range 10 {
		generatetest.Insert(t, store, tenant, "g"+string(rune('a'+i)), "1m", `root = {}`, t0.Add(time.Duration(i)*time.Millisecond))
	}
	st, err := tk.Run(t.Context(), t0)
	require.NoError(t, err)
	assert.Equal(t, 10, st.Generators)
	assert.Len(t, rec.Messages(), 10)
}

func TestConcurrentTicksSQLite(t *testing.T) {
	generatetest.ConcurrentTicks(t, newStore(t))
}

// TestTickLooksPastOtherSchedulers: the index is shared by every
// subscription kind's scheduler; a full page of salesforce subscriptions
// that are due must not hide the generators behind it.
func TestTickLooksPastOtherSchedulers(t *testing.T) {
	store := newStore(t)
	rec := &generatetest.Recorder{}
	tk, err := generate.New(generate.Options{Compile: compile, Store: store, Ingest: rec, Window: time.Second, Limit: 3,
		Logger: slog.New(slog.DiscardHandler), Now: func() time.Time { return t0 }})
	require.NoError(t, err)
	tenant := uuid.NewString()
	for i := range 5 {
		other := config.Subscription{ID: uuid.NewString(), Name: "sf" + string(rune('a'+i)), Platform: config.PlatformSalesforce}
		_, err := config.Insert(t.Context(), store, config.Item{Tenant: tenant, Kind: config.KindSubscription, ID: other.ID,
			Name: other.Name, Index: api.IndexTime(t0.Add(-time.Hour))}, other)
		require.NoError(t, err)
	}
	generatetest.Insert(t, store, tenant, "late1", "1m", `root = {}`, t0)
	generatetest.Insert(t, store, tenant, "late2", "1m", `root = {}`, t0)
	st, err := tk.Run(t.Context(), t0)
	require.NoError(t, err)
	assert.Equal(t, 2, st.Generators)
	assert.Len(t, rec.Messages(), 2)
}
