package sfsub_test

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/herokuevents/herokuevents/shared/api"
	"github.com/herokuevents/herokuevents/shared/config"
	"github.com/herokuevents/herokuevents/shared/config/memstore"
	"github.com/herokuevents/herokuevents/shared/event"
	"github.com/herokuevents/herokuevents/shared/metric"
	"github.com/herokuevents/herokuevents/shared/queue"
	"github.com/herokuevents/herokuevents/shared/salesforce"
	"github.com/herokuevents/herokuevents/shared/salesforce/pubsub"
	"github.com/herokuevents/herokuevents/shared/salesforce/standin"
	"github.com/herokuevents/herokuevents/shared/sfsub"
)

const tenant = "tenant-1"

// sink records the routed events enqueued on the ingest queue.
type sink struct {
	mu     sync.Mutex
	events []event.Routed
	// fail, when set, is called before recording a batch; an error fails it.
	fail func(n int) error
}

func (s *sink) Send(_ context.Context, msgs ...queue.Message) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	var batch []event.Routed
	for _, m := range msgs {
		var r event.Routed
		if err := json.Unmarshal(m.Body, &r); err != nil {
			return err
		}
		if m.Attributes[queue.AttrTenant] != r.Tenant {
			return errors.New("tenant attribute missing")
		}
		batch = append(batch, r)
	}
	s.events = append(s.events, batch...)
	if s.fail != nil {
		if err := s.fail(len(s.events)); err != nil {
			return err
		}
	}
	return nil
}

func (s *sink) all() []event.Routed {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]event.Routed(nil), s.events...)
}

// counting is a session source counting its Session calls.
type counting struct {
	salesforce.SessionSource
	n atomic.Int64
}

func (c *counting) Session(ctx context.Context) (salesforce.Session, error) {
	c.n.Add(1)
	return c.SessionSource.Session(ctx)
}

func (c *counting) Invalidate(tok string) {
	if inv, ok := c.SessionSource.(salesforce.Invalidator); ok {
		inv.Invalidate(tok)
	}
}

type counter struct {
	mu sync.Mutex
	n  map[string]int
}

func (c *counter) Count(_ context.Context, name string, n int, _ ...string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.n == nil {
		c.n = map[string]int{}
	}
	c.n[name] += n
}
func (c *counter) Duration(context.Context, string, time.Duration, ...string) {}
func (c *counter) get(name string) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.n[name]
}

type env struct {
	org     *standin.Org
	store   config.Store
	sink    *sink
	client  *pubsub.Client
	tok     *salesforce.Token
	src     *counting
	metrics *counter
}

func setup(t *testing.T) *env {
	t.Helper()
	org, err := standin.Start(standin.Options{Keepalive: 100 * time.Millisecond})
	require.NoError(t, err)
	t.Cleanup(func() { org.Close() })
	store := memstore.New()
	t.Cleanup(func() { store.Close() })
	client, err := sfsub.Dial(t.Context(), org.PubSubEndpoint(), org.CACertFile(), nil)
	require.NoError(t, err)
	t.Cleanup(func() { client.Close() })
	tok := org.IssueToken()
	return &env{org: org, store: store, sink: &sink{}, client: client, tok: tok,
		src: &counting{SessionSource: org.OAuth("").RefreshTokenSource(tok, nil)}, metrics: &counter{}}
}

func (e *env) runner(t *testing.T, mut ...func(*sfsub.Options)) *sfsub.Runner {
	o := sfsub.Options{
		Store: e.store, Ingest: e.sink, Client: e.client,
		Sessions: func(_ context.Context, tn, alias string) (salesforce.SessionSource, error) {
			if tn != tenant || alias != "example-org" {
				return nil, fmt.Errorf("unknown authorization %s/%s", tn, alias)
			}
			return e.src, nil
		},
		Lease: 3 * time.Second, ScanInterval: 50 * time.Millisecond, BatchSize: 3,
		MinBackoff: 200 * time.Millisecond, MaxBackoff: 400 * time.Millisecond,
		Metrics: e.metrics,
	}
	for _, m := range mut {
		m(&o)
	}
	r, err := sfsub.New(o)
	require.NoError(t, err)
	return r
}

func (e *env) subscribe(t *testing.T, name, topic, replay string, checkpoint []byte) config.Subscription {
	t.Helper()
	sub := config.Subscription{ID: uuid.NewString(), Name: name, Platform: config.PlatformSalesforce,
		Params: config.Params{Event: topic, OrgName: "example-org"}, Replay: replay,
		State: &config.SourceState{Status: sfsub.StatusPending, Checkpoint: checkpoint}}
	_, err := config.Insert(t.Context(), e.store, config.Item{Tenant: tenant, Kind: config.KindSubscription, ID: sub.ID,
		Name: name, Index: api.IndexTime(time.Now().Add(-time.Second))}, sub)
	require.NoError(t, err)
	return sub
}

func (e *env) state(t *testing.T, id string) config.SourceState {
	t.Helper()
	r, err := config.Load[config.Subscription](t.Context(), e.store, tenant, config.KindSubscription, id)
	require.NoError(t, err)
	require.NotNil(t, r.Value.State)
	return *r.Value.State
}

func (e *env) emit(t *testing.T, topic string, bodies ...string) []*standin.EmitResult {
	t.Helper()
	var out []*standin.EmitResult
	for _, b := range bodies {
		r, err := e.org.Emit(topic, []byte(b))
		require.NoError(t, err)
		out = append(out, r)
	}
	return out
}

func accounts(from, to int) []string {
	var out []string
	for i := from; i < to; i++ {
		out = append(out, fmt.Sprintf(`{"ChangeEventHeader":{"changeType":"CREATE","recordIds":["001xx00000000%02dAAA"]},"Name":"Acme %d","Industry":"Energy"}`, i, i))
	}
	return out
}

// runFor runs r in the embedded mode until cond holds, then stops it.
func runFor(t *testing.T, r *sfsub.Runner, cond func() bool) {
	t.Helper()
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error, 1)
	go func() { done <- r.Run(ctx) }()
	assert.Eventually(t, cond, 10*time.Second, 20*time.Millisecond)
	cancel()
	require.NoError(t, <-done)
}

func replayIDs(rs []event.Routed) []string {
	var out []string
	for _, r := range rs {
		out = append(out, r.Event.Extensions[sfsub.ExtReplayID].(string))
	}
	return out
}

func hexIDs(res []*standin.EmitResult) []string {
	var out []string
	for _, r := range res {
		out = append(out, fmt.Sprintf("%x", r.ReplayID))
	}
	return out
}

func TestRunEnqueuesEventsAndCheckpoints(t *testing.T) {
	e := setup(t)
	emitted := e.emit(t, standin.AccountChangeTopic, accounts(0, 5)...)
	sub := e.subscribe(t, "accountChange", standin.AccountChangeTopic, sfsub.ReplayEarliest, nil)
	r := e.runner(t)
	runFor(t, r, func() bool { return len(e.sink.all()) == 5 })

	got := e.sink.all()
	assert.Equal(t, hexIDs(emitted), replayIDs(got), "every event once, in order")
	for i, rt := range got {
		assert.Equal(t, tenant, rt.Tenant)
		assert.Equal(t, sub.ID, rt.Subscription)
		ev := rt.Event
		require.NoError(t, ev.Validate())
		assert.Equal(t, sfsub.EventID(sub.ID, sub.Params.Event, emitted[i].ReplayID), ev.ID)
		assert.Equal(t, event.TypeCDC, ev.Type)
		assert.Equal(t, standin.AccountChangeTopic, ev.Subject)
		assert.Equal(t, "/tenants/"+tenant+"/subscriptions/accountChange", ev.Source)
		assert.JSONEq(t, string(emitted[i].Data), string(ev.Data), "data is the Avro JSON, untouched")
		assert.Contains(t, string(ev.Data), fmt.Sprintf(`"Name":{"string":"Acme %d"}`, i))
		assert.Equal(t, "Name,Industry", ev.Extensions[sfsub.ExtChangedFields])
		assert.Equal(t, emitted[i].EventID, ev.Extensions[sfsub.ExtEventUUID])
		assert.WithinDuration(t, time.Now(), ev.Time, time.Minute)
	}
	st := e.state(t, sub.ID)
	assert.Equal(t, sfsub.StatusActive, st.Status)
	assert.Empty(t, st.LastError)
	assert.Equal(t, emitted[4].ReplayID, st.Checkpoint)
	assert.Equal(t, 5, e.metrics.get(metric.Ingested))

	// Released: the lease is gone and the subscription is due again.
	it, err := e.store.Get(t.Context(), tenant, config.KindSubscription, sub.ID)
	require.NoError(t, err)
	assert.NotContains(t, string(it.Body), `"owner"`)
	assert.LessOrEqual(t, it.Index, api.IndexTime(time.Now()))
}

func TestLatestStartsWithNewEventsAndKeepaliveAdvancesCheckpoint(t *testing.T) {
	e := setup(t)
	old := e.emit(t, standin.SystemStatusTopic, `{"Context__c":"before"}`)
	sub := e.subscribe(t, "status", standin.SystemStatusTopic, sfsub.ReplayLatest, nil)
	r := e.runner(t)
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- r.Run(ctx) }()
	// The keepalive of an idle topic stores its latest replay id.
	require.Eventually(t, func() bool {
		st := e.state(t, sub.ID)
		return st.Status == sfsub.StatusActive && string(st.Checkpoint) == string(old[0].ReplayID)
	}, 10*time.Second, 20*time.Millisecond)
	fresh := e.emit(t, standin.SystemStatusTopic, `{"Context__c":"after"}`)
	require.Eventually(t, func() bool { return len(e.sink.all()) == 1 }, 10*time.Second, 20*time.Millisecond)
	cancel()
	require.NoError(t, <-done)
	got := e.sink.all()
	assert.Equal(t, hexIDs(fresh), replayIDs(got))
	assert.Equal(t, event.TypePlatformEvent, got[0].Event.Type)
	assert.JSONEq(t, string(fresh[0].Data), string(got[0].Event.Data))
	assert.Contains(t, string(got[0].Event.Data), `"Context__c":{"string":"after"}`)
	assert.Empty(t, got[0].Event.Extensions[sfsub.ExtChangedFields])
}

func TestResumeAfterCrashRedeliversOnlyTheUncheckpointedBatch(t *testing.T) {
	e := setup(t)
	first := e.emit(t, standin.AccountChangeTopic, accounts(0, 7)...)
	sub := e.subscribe(t, "accountChange", standin.AccountChangeTopic, sfsub.ReplayEarliest, nil)

	// The process "dies" right after enqueueing the second batch (3 per
	// batch): the events are queued, the checkpoint is not.
	ctx, cancel := context.WithCancel(t.Context())
	e.sink.fail = func(n int) error {
		if n >= 6 {
			cancel()
			return context.Canceled
		}
		return nil
	}
	done := make(chan error, 1)
	go func() { done <- e.runner(t).Run(ctx) }()
	require.NoError(t, <-done)
	assert.Equal(t, first[2].ReplayID, e.state(t, sub.ID).Checkpoint, "checkpoint after the first batch only")

	// More events while stopped, then a restart (a new process: new owner).
	second := e.emit(t, standin.AccountChangeTopic, accounts(7, 10)...)
	e.sink.fail = nil
	runFor(t, e.runner(t), func() bool { return len(e.sink.all()) == 6+7 })

	got := e.sink.all()
	all := append(hexIDs(first), hexIDs(second)...)
	assert.Equal(t, all[:6], replayIDs(got[:6]))
	assert.Equal(t, all[3:], replayIDs(got[6:]), "resumed after the checkpoint: nothing skipped")
	seen := map[string]int{}
	for _, r := range got {
		seen[r.Event.ID]++
	}
	for i, res := range append(first, second...) {
		id := sfsub.EventID(sub.ID, sub.Params.Event, res.ReplayID)
		want := 1
		if i >= 3 && i < 6 {
			want = 2 // the un-checkpointed batch, with the same CloudEvent ids
		}
		assert.Equal(t, want, seen[id], "event %d", i)
	}
	assert.Equal(t, second[2].ReplayID, e.state(t, sub.ID).Checkpoint)
}

func TestTokenExpiryRefreshesAndContinues(t *testing.T) {
	e := setup(t)
	sub := e.subscribe(t, "accountChange", standin.AccountChangeTopic, sfsub.ReplayEarliest, nil)
	before := e.emit(t, standin.AccountChangeTopic, accounts(0, 2)...)
	r := e.runner(t)
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- r.Run(ctx) }()
	require.Eventually(t, func() bool { return len(e.sink.all()) == 2 }, 10*time.Second, 20*time.Millisecond)
	oldToken := e.tok.AccessToken
	e.org.ExpireAccessTokens()
	after := e.emit(t, standin.AccountChangeTopic, accounts(2, 5)...)
	require.Eventually(t, func() bool { return len(e.sink.all()) == 5 }, 10*time.Second, 20*time.Millisecond)
	cancel()
	require.NoError(t, <-done)
	assert.Equal(t, append(hexIDs(before), hexIDs(after)...), replayIDs(e.sink.all()))
	s, err := e.src.Session(t.Context())
	require.NoError(t, err)
	assert.NotEqual(t, oldToken, s.AccessToken, "refreshed")
	st := e.state(t, sub.ID)
	assert.Equal(t, sfsub.StatusActive, st.Status)
	assert.Empty(t, st.LastError)
}

func TestRevokedAuthorizationFailsWithoutCrashLooping(t *testing.T) {
	e := setup(t)
	sub := e.subscribe(t, "accountChange", standin.AccountChangeTopic, sfsub.ReplayEarliest, nil)
	r := e.runner(t)
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- r.Run(ctx) }()
	require.Eventually(t, func() bool { return e.state(t, sub.ID).Status == sfsub.StatusActive }, 10*time.Second, 20*time.Millisecond)

	require.True(t, e.org.RevokeRefreshToken(e.tok.RefreshToken))
	require.Eventually(t, func() bool { return e.state(t, sub.ID).Status == sfsub.StatusFailing }, 10*time.Second, 20*time.Millisecond)
	st := e.state(t, sub.ID)
	assert.Contains(t, st.LastError, "authorization example-org was refused by Salesforce; reconnect it")
	assert.Contains(t, st.LastError, "invalid_grant")

	// Backing off (200 ms doubling to 400 ms): a handful of attempts in 1.5 s, not a spin.
	n0 := e.src.n.Load()
	time.Sleep(1500 * time.Millisecond)
	attempts := e.src.n.Load() - n0
	assert.LessOrEqual(t, attempts, int64(8))
	assert.GreaterOrEqual(t, attempts, int64(2), "still retrying")
	cancel()
	require.NoError(t, <-done)
	assert.Equal(t, sfsub.StatusFailing, e.state(t, sub.ID).Status)
}

func replay(n uint64) []byte {
	b := make([]byte, 8)
	binary.BigEndian.PutUint64(b, n)
	return b
}

func TestRefusedReplayIDFollowsTheGapPolicy(t *testing.T) {
	tests := []struct {
		name, gap string
		wantOld   bool
		wantNote  string
	}{
		{name: "earliest by default", wantOld: true, wantNote: "resumed from EARLIEST (--on-replay-gap earliest) at replay id "},
		{name: "latest", gap: sfsub.GapLatest, wantNote: "resumed from LATEST (--on-replay-gap latest) at replay id "},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := setup(t)
			old := e.emit(t, standin.SystemStatusTopic, `{"Context__c":"old"}`)
			sub := e.subscribeGap(t, "status", standin.SystemStatusTopic, tt.gap, replay(1<<40))
			r := e.runner(t)
			ctx, cancel := context.WithCancel(t.Context())
			defer cancel()
			done := make(chan error, 1)
			go func() { done <- r.Run(ctx) }()
			require.Eventually(t, func() bool { return e.state(t, sub.ID).Status == sfsub.StatusActive }, 10*time.Second, 20*time.Millisecond)
			fresh := e.emit(t, standin.SystemStatusTopic, `{"Context__c":"new"}`)
			want := hexIDs(fresh)
			if tt.wantOld {
				want = append(hexIDs(old), want...)
			}
			require.Eventually(t, func() bool { return len(e.sink.all()) == len(want) }, 10*time.Second, 20*time.Millisecond)
			cancel()
			require.NoError(t, <-done)
			assert.Equal(t, want, replayIDs(e.sink.all()))
			st := e.state(t, sub.ID)
			assert.Contains(t, st.LastError, "Salesforce refused replay id 0000010000000000", "the replay id before")
			assert.Contains(t, st.LastError, tt.wantNote, "the replay id after")
			assert.Equal(t, fresh[0].ReplayID, st.Checkpoint)
			assert.Equal(t, 1, e.metrics.get(sfsub.ReplayFallback))
		})
	}
}

// With halt, a refused replay id leaves the subscription failing at its
// checkpoint, retried with backoff, and no event is skipped.
func TestRefusedReplayIDWithHaltFails(t *testing.T) {
	e := setup(t)
	e.emit(t, standin.SystemStatusTopic, `{"Context__c":"old"}`)
	bad := replay(1 << 40)
	sub := e.subscribeGap(t, "status", standin.SystemStatusTopic, sfsub.GapHalt, bad)
	r := e.runner(t)
	runFor(t, r, func() bool {
		st := e.state(t, sub.ID)
		return st.Status == sfsub.StatusFailing && e.metrics.get(sfsub.ReplayHalted) >= 2
	})
	e.emit(t, standin.SystemStatusTopic, `{"Context__c":"new"}`)
	st := e.state(t, sub.ID)
	assert.Equal(t, sfsub.StatusFailing, st.Status)
	assert.Contains(t, st.LastError, "salesforce refused replay id 0000010000000000 and the gap policy is halt")
	assert.Equal(t, bad, st.Checkpoint, "the checkpoint stays")
	assert.Empty(t, e.sink.all(), "nothing skipped, nothing delivered")
	assert.Zero(t, e.metrics.get(sfsub.ReplayFallback))
	assert.GreaterOrEqual(t, e.metrics.get(sfsub.SubscriptionFailing), 1, "counted")
}

// A stream that goes silent (no events, no keepalives) is stalled within
// twice the keepalive interval, reconnected with backoff, and active again
// when Salesforce speaks again, with the events of the stall.
func TestStalledStreamIsReportedAndRecovers(t *testing.T) {
	e := setup(t) // the stand-in's keepalive: 100 ms
	sub := e.subscribe(t, "status", standin.SystemStatusTopic, sfsub.ReplayLatest, nil)
	log := &lockedBuffer{}
	r := e.runner(t, func(o *sfsub.Options) {
		o.Keepalive = 100 * time.Millisecond
		o.Logger = slog.New(slog.NewJSONHandler(log, nil))
	})
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- r.Run(ctx) }()
	require.Eventually(t, func() bool { return e.state(t, sub.ID).Status == sfsub.StatusActive }, 10*time.Second, 20*time.Millisecond)

	e.org.Stall(true)
	stalledAt := time.Now()
	require.Eventually(t, func() bool { return e.state(t, sub.ID).Status == sfsub.StatusStalled }, 10*time.Second, 20*time.Millisecond)
	assert.Less(t, time.Since(stalledAt), 5*time.Second)
	assert.Contains(t, e.state(t, sub.ID).LastError, "no events or keepalives for 200ms")
	assert.GreaterOrEqual(t, e.metrics.get(sfsub.SubscriptionStalled), 1)
	assert.Contains(t, log.String(), `"msg":"salesforce subscription stalled"`)
	assert.Contains(t, log.String(), `"tenant":"tenant-1","subscription":"status"`)
	during := e.emit(t, standin.SystemStatusTopic, `{"Context__c":"during"}`)

	e.org.Stall(false)
	require.Eventually(t, func() bool { return e.state(t, sub.ID).Status == sfsub.StatusActive && len(e.sink.all()) == 1 },
		10*time.Second, 20*time.Millisecond)
	cancel()
	require.NoError(t, <-done)
	assert.Empty(t, e.state(t, sub.ID).LastError)
	assert.Equal(t, hexIDs(during), replayIDs(e.sink.all()))
	assert.Contains(t, log.String(), `"msg":"salesforce subscription recovered"`)
}

// A Salesforce that ends every stream as soon as it starts (a reconnect
// loop: no event, no keepalive) makes the subscription failing with the
// reason, counted and logged, after reconnectLoop streams in a row, well
// within the 2 minutes of issue 14; it is retried with backoff and active
// again, with the events of the outage, once streams are served.
func TestReconnectLoopFailsAndRecovers(t *testing.T) {
	e := setup(t)
	topic := standin.SystemStatusTopic
	sub := e.subscribe(t, "status", topic, sfsub.ReplayLatest, nil)
	log := &lockedBuffer{}
	r := e.runner(t, func(o *sfsub.Options) { o.Logger = slog.New(slog.NewJSONHandler(log, nil)) })
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- r.Run(ctx) }()
	require.Eventually(t, func() bool { return e.state(t, sub.ID).Status == sfsub.StatusActive }, 10*time.Second, 20*time.Millisecond)
	before := e.org.SubscribeCount(topic)

	e.org.DropStreams(true)
	droppedAt := time.Now()
	require.Eventually(t, func() bool { return e.state(t, sub.ID).Status == sfsub.StatusFailing }, 10*time.Second, 20*time.Millisecond)
	assert.Less(t, time.Since(droppedAt), 5*time.Second, "failing within seconds (backoff 200 ms here, 1 s by default)")
	assert.Contains(t, e.state(t, sub.ID).LastError, "salesforce ended the stream 3 times in a row without a batch (a reconnect loop)")
	assert.GreaterOrEqual(t, e.org.SubscribeCount(topic)-before, 2, "the open stream ended, then two reconnects ended at once")
	assert.GreaterOrEqual(t, e.metrics.get(sfsub.SubscriptionFailing), 1)
	assert.Contains(t, log.String(), `"msg":"salesforce subscription failing"`)
	assert.Contains(t, log.String(), `"tenant":"tenant-1","subscription":"status"`)
	assert.Contains(t, log.String(), `"decision":"retry"`)
	during := e.emit(t, topic, `{"Context__c":"during"}`)

	e.org.DropStreams(false)
	require.Eventually(t, func() bool { return e.state(t, sub.ID).Status == sfsub.StatusActive && len(e.sink.all()) == 1 },
		10*time.Second, 20*time.Millisecond, "retried with backoff, then active with the events of the outage")
	cancel()
	require.NoError(t, <-done)
	assert.Empty(t, e.state(t, sub.ID).LastError)
	assert.Equal(t, hexIDs(during), replayIDs(e.sink.all()))
	assert.Contains(t, log.String(), `"msg":"salesforce subscription recovered"`)
}

type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

func (e *env) subscribeGap(t *testing.T, name, topic, gap string, checkpoint []byte) config.Subscription {
	t.Helper()
	sub := config.Subscription{ID: uuid.NewString(), Name: name, Platform: config.PlatformSalesforce,
		Params: config.Params{Event: topic, OrgName: "example-org", OnReplayGap: gap},
		State:  &config.SourceState{Status: sfsub.StatusPending, Checkpoint: checkpoint}}
	_, err := config.Insert(t.Context(), e.store, config.Item{Tenant: tenant, Kind: config.KindSubscription, ID: sub.ID,
		Name: name, Index: api.IndexTime(time.Now().Add(-time.Second))}, sub)
	require.NoError(t, err)
	return sub
}

func TestTickLeasesOneConsumerPerSubscription(t *testing.T) {
	e := setup(t)
	emitted := e.emit(t, standin.AccountChangeTopic, accounts(0, 4)...)
	sub := e.subscribe(t, "accountChange", standin.AccountChangeTopic, sfsub.ReplayEarliest, nil)
	a, b := e.runner(t, func(o *sfsub.Options) { o.Owner = "a" }), e.runner(t, func(o *sfsub.Options) { o.Owner = "b" })
	deadline := time.Now().Add(1500 * time.Millisecond)
	var wg sync.WaitGroup
	for _, r := range []*sfsub.Runner{a, b} {
		wg.Go(func() { assert.NoError(t, r.Tick(t.Context(), deadline)) })
	}
	wg.Wait()
	assert.Equal(t, hexIDs(emitted), replayIDs(e.sink.all()), "one consumer: no duplicates")
	assert.False(t, time.Now().After(deadline.Add(time.Second)), "stops at the deadline")

	// Released at the deadline: the next tick resumes from the checkpoint.
	more := e.emit(t, standin.AccountChangeTopic, accounts(4, 6)...)
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error, 1)
	go func() { done <- b.Tick(ctx, time.Now().Add(10*time.Second)) }()
	assert.Eventually(t, func() bool { return len(e.sink.all()) == 6 }, 10*time.Second, 20*time.Millisecond)
	cancel()
	require.NoError(t, <-done)
	assert.Equal(t, append(hexIDs(emitted), hexIDs(more)...), replayIDs(e.sink.all()))
	assert.Equal(t, more[1].ReplayID, e.state(t, sub.ID).Checkpoint)
}

func TestTickSkipsLeasedAndOtherSubscriptions(t *testing.T) {
	e := setup(t)
	e.emit(t, standin.AccountChangeTopic, accounts(0, 2)...)
	sub := e.subscribe(t, "accountChange", standin.AccountChangeTopic, sfsub.ReplayEarliest, nil)
	// Leased by a live consumer elsewhere (the index lags).
	it, err := e.store.Get(t.Context(), tenant, config.KindSubscription, sub.ID)
	require.NoError(t, err)
	var body map[string]any
	require.NoError(t, json.Unmarshal(it.Body, &body))
	body["lease"] = map[string]any{"owner": "elsewhere", "until": time.Now().Add(time.Hour)}
	it.Body, err = json.Marshal(body)
	require.NoError(t, err)
	_, err = e.store.Update(t.Context(), it)
	require.NoError(t, err)
	// A due generate subscription is not ours.
	gen := config.Subscription{ID: uuid.NewString(), Name: "gen", Platform: config.PlatformGenerate}
	_, err = config.Insert(t.Context(), e.store, config.Item{Tenant: tenant, Kind: config.KindSubscription, ID: gen.ID,
		Name: gen.Name, Index: api.IndexTime(time.Now().Add(-time.Second))}, gen)
	require.NoError(t, err)

	require.NoError(t, e.runner(t).Tick(t.Context(), time.Now().Add(500*time.Millisecond)))
	assert.Empty(t, e.sink.all())
	git, err := e.store.Get(t.Context(), tenant, config.KindSubscription, gen.ID)
	require.NoError(t, err)
	assert.Equal(t, int64(1), git.Version, "generate subscription untouched")
}

func TestMissingAuthorizationFails(t *testing.T) {
	e := setup(t)
	sub := config.Subscription{ID: uuid.NewString(), Name: "orphan", Platform: config.PlatformSalesforce,
		Params: config.Params{Event: standin.SystemStatusTopic, OrgName: "gone-org"}, Replay: sfsub.ReplayLatest}
	_, err := config.Insert(t.Context(), e.store, config.Item{Tenant: tenant, Kind: config.KindSubscription, ID: sub.ID,
		Name: sub.Name, Index: api.IndexTime(time.Now().Add(-time.Second))}, sub)
	require.NoError(t, err)
	require.NoError(t, e.runner(t).Tick(t.Context(), time.Now().Add(300*time.Millisecond)))
	st := e.state(t, sub.ID)
	assert.Equal(t, sfsub.StatusFailing, st.Status)
	assert.Contains(t, st.LastError, "authorization gone-org")
	it, err := e.store.Get(t.Context(), tenant, config.KindSubscription, sub.ID)
	require.NoError(t, err)
	assert.Greater(t, it.Index, api.IndexTime(time.Now().Add(-time.Second)), "due again after its backoff")
}

func TestTickFuncStopsBeforeTheInvocationDeadline(t *testing.T) {
	e := setup(t)
	e.subscribe(t, "status", standin.SystemStatusTopic, sfsub.ReplayLatest, nil)
	r := e.runner(t)
	ctx, cancel := context.WithTimeout(t.Context(), 700*time.Millisecond)
	defer cancel()
	start := time.Now()
	require.NoError(t, r.TickFunc(time.Minute, 500*time.Millisecond)(ctx, start))
	assert.Less(t, time.Since(start), 600*time.Millisecond, "margin before the deadline")
	start = time.Now()
	require.NoError(t, r.TickFunc(200*time.Millisecond, 0)(t.Context(), start))
	assert.GreaterOrEqual(t, time.Since(start), 200*time.Millisecond)
	assert.Less(t, time.Since(start), time.Second)
}

// CDC gap events are delivered with their change type and flagged.
func TestGapEventsAreFlagged(t *testing.T) {
	e := setup(t)
	e.emit(t, standin.AccountChangeTopic,
		`{"ChangeEventHeader":{"changeType":"CREATE","recordIds":["001xx0000000001AAA"]},"Name":"Acme"}`,
		`{"ChangeEventHeader":{"changeType":"GAP_UPDATE","recordIds":["001xx0000000001AAA"]}}`,
		`{"ChangeEventHeader":{"changeType":"GAP_OVERFLOW","recordIds":["*"]}}`)
	e.subscribe(t, "accounts", standin.AccountChangeTopic, sfsub.ReplayEarliest, nil)
	runFor(t, e.runner(t), func() bool { return len(e.sink.all()) == 3 })
	got := e.sink.all()
	require.Len(t, got, 3)
	for i, want := range []struct {
		changeType string
		gap        bool
	}{{"CREATE", false}, {"GAP_UPDATE", true}, {"GAP_OVERFLOW", true}} {
		ext := got[i].Event.Extensions
		assert.Equal(t, want.changeType, ext[sfsub.ExtChangeType], "event %d", i)
		if want.gap {
			assert.Equal(t, true, ext[sfsub.ExtGap], "event %d", i)
		} else {
			assert.NotContains(t, ext, sfsub.ExtGap, "event %d", i)
		}
	}
}

// eventsOf returns the replay ids enqueued for one subscription.
func (e *env) eventsOf(id string) []string {
	var out []event.Routed
	for _, r := range e.sink.all() {
		if r.Subscription == id {
			out = append(out, r)
		}
	}
	return replayIDs(out)
}

// The subscriptions of one channel share one Subscribe stream: each gets
// every event under its own id and checkpoint, a restart resumes them
// without a gap on one stream again, a later "latest" subscription joins
// the running stream, and a later "earliest" one catches up on its own
// stream and then merges into the shared one.
func TestSubscriptionsOfAChannelShareOneStream(t *testing.T) {
	e := setup(t)
	topic := standin.SystemStatusTopic
	a := e.subscribe(t, "a", topic, sfsub.ReplayLatest, nil)
	b := e.subscribe(t, "b", topic, sfsub.ReplayLatest, nil)
	log := &lockedBuffer{}
	t.Cleanup(func() {
		if t.Failed() {
			t.Log(log.String())
		}
	})
	run := func() (stop func()) {
		ctx, cancel := context.WithCancel(t.Context())
		done := make(chan error, 1)
		r := e.runner(t, func(o *sfsub.Options) { o.Logger = slog.New(slog.NewJSONHandler(log, nil)) })
		go func() { done <- r.Run(ctx) }()
		return func() { cancel(); require.NoError(t, <-done) }
	}
	active := func(ids ...string) func() bool {
		return func() bool {
			for _, id := range ids {
				if e.state(t, id).Status != sfsub.StatusActive {
					return false
				}
			}
			return true
		}
	}
	stop := run()
	require.Eventually(t, active(a.ID, b.ID), 10*time.Second, 20*time.Millisecond)
	want := hexIDs(e.emit(t, topic, `{"Context__c":"1"}`, `{"Context__c":"2"}`, `{"Context__c":"3"}`))
	require.Eventually(t, func() bool { return len(e.eventsOf(a.ID)) == 3 && len(e.eventsOf(b.ID)) == 3 }, 10*time.Second, 20*time.Millisecond)
	assert.Equal(t, 1, e.org.SubscribeCount(topic), "one Subscribe stream for two subscriptions")
	require.Eventually(t, func() bool {
		usage, err := config.LoadSalesforceUsage(t.Context(), e.store, tenant, "example-org")
		return err == nil && usage.Last24h(time.Now()) == 3
	}, 10*time.Second, 20*time.Millisecond, "Salesforce delivered each event once: the org's usage counts 3")
	stop()

	// Events published while herokuevents is down; then a restart.
	want = append(want, hexIDs(e.emit(t, topic, `{"Context__c":"4"}`, `{"Context__c":"5"}`))...)
	stop = run()
	defer stop()
	require.Eventually(t, func() bool { return len(e.eventsOf(a.ID)) == 5 && len(e.eventsOf(b.ID)) == 5 }, 10*time.Second, 20*time.Millisecond)
	assert.Equal(t, want, e.eventsOf(a.ID), "no gap, no duplicate")
	assert.Equal(t, want, e.eventsOf(b.ID), "no gap, no duplicate")
	assert.Equal(t, 2, e.org.SubscribeCount(topic), "one stream per run")

	// A later subscription with replay latest joins the running stream.
	c := e.subscribe(t, "c", topic, sfsub.ReplayLatest, nil)
	require.Eventually(t, active(c.ID), 10*time.Second, 20*time.Millisecond)
	sixth := hexIDs(e.emit(t, topic, `{"Context__c":"6"}`))
	require.Eventually(t, func() bool { return len(e.eventsOf(c.ID)) == 1 && len(e.eventsOf(a.ID)) == 6 }, 10*time.Second, 20*time.Millisecond)
	assert.Equal(t, sixth, e.eventsOf(c.ID))
	assert.Equal(t, 2, e.org.SubscribeCount(topic), "no stream of its own")

	// A later subscription with replay earliest reads its own stream until
	// it meets the shared one, then merges.
	d := e.subscribe(t, "d", topic, sfsub.ReplayEarliest, nil)
	require.Eventually(t, func() bool { return len(e.eventsOf(d.ID)) == 6 }, 10*time.Second, 20*time.Millisecond)
	assert.Equal(t, append(want, sixth...), e.eventsOf(d.ID))
	require.Eventually(t, func() bool { return e.org.SubscribeCount(topic) == 3 }, 10*time.Second, 20*time.Millisecond)
	seventh := hexIDs(e.emit(t, topic, `{"Context__c":"7"}`))
	require.Eventually(t, func() bool { return len(e.eventsOf(d.ID)) == 7 && len(e.eventsOf(c.ID)) == 2 }, 10*time.Second, 20*time.Millisecond)
	assert.Equal(t, seventh[0], e.eventsOf(d.ID)[6])
	time.Sleep(300 * time.Millisecond) // a few keepalive intervals: the catch-up stream is gone
	assert.Equal(t, 3, e.org.SubscribeCount(topic), "merged: no further stream")
	assert.Len(t, e.eventsOf(d.ID), 7, "no duplicate after the merge")
}
