// Package sfsub is the sfsubscribe role: it consumes the Salesforce Pub/Sub
// API subscriptions of every tenant (platform events and change data
// capture) and enqueues their events, as event.Routed, on the ingest queue,
// from where the filter role routes them through the subscription's streams.
//
// # Leases
//
// One consumer per subscription: a consumer first takes a lease, a
// conditional write (config.Store.Update at the read version) of the
// subscription item setting an owner and an expiry, and renews it while it
// runs. The item's Index is the time the subscription next needs a
// consumer: the lease expiry while leased (so a crashed consumer's
// subscriptions come due when its lease runs out), now on release, or the
// end of the backoff after a failure. Consumers find work with
// config.Store.IndexedBefore.
//
// # Checkpoints
//
// A consumer subscribes after the stored checkpoint (ReplayCustom) or, with
// none, from the subscription's replay preset ("latest" by default,
// "earliest"). For every batch it enqueues the events and only then stores
// the batch's latest replay id (keepalives included) as the checkpoint, so a
// crash redelivers at most the last batch, with the same CloudEvent ids
// (EventID).
//
// # Failures
//
//   - UNAUTHENTICATED: the token is refreshed (the client invalidates it on
//     the session source) and the consumer resumes from the checkpoint.
//   - A corrupted or expired replay id (over 72 h old): the documented
//     fallback resumes from the subscription's replay preset — LATEST by
//     default, with a warning log, the ReplayFallback metric and a note in
//     State.LastError (events between the checkpoint and now are skipped);
//     "earliest" opts in to replaying the retained 72 h instead.
//   - Anything else (a revoked authorization, an unknown topic, the
//     service unavailable): State "failing" with LastError, and the consumer
//     backs off exponentially (MinBackoff doubling to MaxBackoff) — in
//     process in the embedded mode, across ticks on Lambda — so nothing
//     crash-loops.
//
// # Modes
//
// Runner.Tick consumes every due subscription until a deadline and releases
// the leases (the Lambda function, on a one-minute schedule). Runner.Run
// scans for due subscriptions every ScanInterval and consumes each until
// its context ends (the embedded mode).
package sfsub

import (
	"context"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"sync"
	"time"

	"github.com/google/uuid"

	"github.com/herokuevents/herokuevents/shared/authorization"
	"github.com/herokuevents/herokuevents/shared/backoff"
	"github.com/herokuevents/herokuevents/shared/config"
	"github.com/herokuevents/herokuevents/shared/envelope"
	"github.com/herokuevents/herokuevents/shared/event"
	"github.com/herokuevents/herokuevents/shared/metric"
	"github.com/herokuevents/herokuevents/shared/queue"
	"github.com/herokuevents/herokuevents/shared/salesforce"
	"github.com/herokuevents/herokuevents/shared/salesforce/pubsub"
)

// Metrics of subscription health (besides metric.Ingested), each with
// the Platform dimension.
const (
	// ReplayFallback counts resumptions from the gap policy's preset after
	// Salesforce refused a stored replay id.
	ReplayFallback = "ReplayFallback"
	// ReplayHalted counts refused replay ids of subscriptions whose gap
	// policy is halt.
	ReplayHalted = "ReplayHalted"
	// SubscriptionStalled counts streams given up after neither events nor
	// keepalives came for twice the keepalive interval.
	SubscriptionStalled = "SubscriptionStalled"
	// SubscriptionFailing counts failed attempts (state failing).
	SubscriptionFailing = "SubscriptionFailing"
)

// reconnectLoop is how many streams in a row may end without a batch
// before the subscription is failing (reconnects in a loop).
const reconnectLoop = 3

// errStalled ends a stream that went silent.
var errStalled = errors.New("salesforce stream stalled")

// Sessions returns the Pub/Sub session source of a tenant's authorization
// (alias = the subscription's org_name). The source should refresh its
// token when the client invalidates it (salesforce.Invalidator).
type Sessions func(ctx context.Context, tenant, alias string) (salesforce.SessionSource, error)

// Options configure a Runner.
type Options struct {
	// Store holds the subscriptions (and their leases and checkpoints). Required.
	Store config.Store
	// Ingest receives one event.Routed per event. Required.
	Ingest queue.Sender
	// Client is the Pub/Sub client, made by Dial or DialEnv (it takes each
	// subscription's session from the context). Required.
	Client *pubsub.Client
	// Sessions resolves authorizations. Required.
	Sessions Sessions
	// Owner names this consumer in leases; a random id when empty.
	Owner string
	// Lease is how long a lease lasts unless renewed (renewed every third of
	// it); 2 minutes when zero.
	Lease time.Duration
	// ScanInterval is how often Run looks for due subscriptions; 5 s when zero.
	ScanInterval time.Duration
	// BatchSize is the number of events kept requested (1..100, default 100).
	BatchSize int32
	// MinBackoff and MaxBackoff bound the delay after a failure (1 s and
	// 5 minutes when zero); it doubles with each consecutive failure
	// (shared/backoff, equal jitter).
	MinBackoff, MaxBackoff time.Duration
	// Keepalive is the keepalive interval Salesforce keeps (about 60 s, at
	// most 270 s); 60 s when zero. A stream that brings neither events nor
	// keepalives for twice it is stalled: given up, reconnected.
	Keepalive time.Duration
	// Metrics records Ingested and ReplayFallback; metric.Discard when nil.
	Metrics metric.Recorder
	// Logger gets one line per decision; slog.Default() when nil.
	Logger *slog.Logger
	// Now is the clock; time.Now when nil.
	Now func() time.Time
}

// Runner consumes Salesforce subscriptions. It is safe for concurrent use;
// one Runner per process is enough.
type Runner struct {
	o       Options
	mu      sync.Mutex
	running map[string]bool   // tenant/subscription id being consumed here
	groups  map[string]*group // shared streams by tenant, org, channel (group.go)
}

// New returns a Runner, or an error when a required option is missing.
func New(o Options) (*Runner, error) {
	if o.Store == nil || o.Ingest == nil || o.Client == nil || o.Sessions == nil {
		return nil, errors.New("new sfsub runner: Options.Store, Ingest, Client and Sessions are required")
	}
	if o.Owner == "" {
		o.Owner = "sfsub-" + uuid.NewString()
	}
	if o.Lease <= 0 {
		o.Lease = 2 * time.Minute
	}
	if o.ScanInterval <= 0 {
		o.ScanInterval = 5 * time.Second
	}
	if o.MinBackoff <= 0 {
		o.MinBackoff = time.Second
	}
	if o.MaxBackoff <= 0 {
		o.MaxBackoff = 5 * time.Minute
	}
	if o.Keepalive <= 0 {
		o.Keepalive = 60 * time.Second
	}
	if o.Metrics == nil {
		o.Metrics = metric.Discard
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	return &Runner{o: o, running: map[string]bool{}, groups: map[string]*group{}}, nil
}

// Lease is a consumer's claim on a subscription, stored in the subscription
// item beside the config.Subscription fields.
type Lease struct {
	Owner string    `json:"owner,omitempty"`
	Until time.Time `json:"until,omitzero"`
	// Failures counts consecutive failed attempts (drives the backoff).
	Failures int `json:"failures,omitempty"`
}

// record is a subscription item as this role reads and writes it.
type record struct {
	config.Subscription
	Lease *Lease `json:"lease,omitempty"`
}

// Tick consumes every subscription due now until deadline (or ctx's end),
// then releases the leases. It returns an error only when the due
// subscriptions cannot be listed; failures of single subscriptions are
// recorded in their state.
func (r *Runner) Tick(ctx context.Context, deadline time.Time) error {
	ctx, cancel := context.WithDeadline(ctx, deadline)
	defer cancel()
	claims, err := r.claimDue(ctx)
	if err != nil {
		return err
	}
	r.o.Logger.InfoContext(ctx, "sfsubscribe tick", "claimed", len(claims), "deadline", deadline.UTC())
	var wg sync.WaitGroup
	r.start(ctx, &wg, claims)
	wg.Wait()
	return nil
}

// Run consumes due subscriptions until ctx ends, looking for new ones every
// ScanInterval. It returns nil when ctx ends.
func (r *Runner) Run(ctx context.Context) error {
	var wg sync.WaitGroup
	defer wg.Wait()
	t := time.NewTicker(r.o.ScanInterval)
	defer t.Stop()
	for {
		claims, err := r.claimDue(ctx)
		if err != nil && ctx.Err() == nil {
			r.o.Logger.ErrorContext(ctx, "list due salesforce subscriptions", "err", err)
		}
		r.start(ctx, &wg, claims)
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
	}
}

// claim is a subscription leased by this runner.
type claim struct {
	tenant, id string
	mu         sync.Mutex
	rec        config.Record[record]
	retryAt    time.Time // when a failed subscription may be tried again
}

func (c *claim) key() string { return c.tenant + "/" + c.id }

// sub returns a copy of the subscription as last written.
func (c *claim) sub() record {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.rec.Value
}

func (r *Runner) claimDue(ctx context.Context) ([]*claim, error) {
	now := r.o.Now()
	items, err := r.o.Store.IndexedBefore(ctx, config.KindSubscription, config.IndexTime(now), 0)
	if err != nil {
		return nil, fmt.Errorf("list due subscriptions: %w", err)
	}
	var out []*claim
	for _, it := range items {
		if ctx.Err() != nil {
			break
		}
		c, err := r.claim(ctx, it, now)
		if err != nil {
			r.o.Logger.WarnContext(ctx, "claim salesforce subscription", "tenant", it.Tenant, "subscription", it.ID, "err", err)
			continue
		}
		if c != nil {
			out = append(out, c)
		}
	}
	return out, nil
}

// claim takes the lease of a due item, or returns nil when it is not a
// Salesforce subscription, is leased by someone else, or was taken meanwhile.
func (r *Runner) claim(ctx context.Context, it config.Item, now time.Time) (*claim, error) {
	var rec record
	if err := json.Unmarshal(it.Body, &rec); err != nil {
		return nil, fmt.Errorf("decode subscription: %w", err)
	}
	if rec.Platform != config.PlatformSalesforce {
		return nil, nil
	}
	key := it.Tenant + "/" + it.ID
	r.mu.Lock()
	busy := r.running[key]
	if !busy {
		r.running[key] = true
	}
	r.mu.Unlock()
	if busy {
		return nil, nil
	}
	keep := false
	defer func() {
		if !keep {
			r.mu.Lock()
			delete(r.running, key)
			r.mu.Unlock()
		}
	}()
	if l := rec.Lease; l != nil && l.Owner != "" && l.Owner != r.o.Owner && l.Until.After(now) {
		return nil, nil // leased elsewhere; the index lagged
	}
	if rec.Lease == nil {
		rec.Lease = &Lease{}
	}
	rec.Lease.Owner, rec.Lease.Until = r.o.Owner, now.Add(r.o.Lease)
	it.Index = config.IndexTime(rec.Lease.Until)
	saved, err := config.Save(ctx, r.o.Store, config.Record[record]{Value: rec, Item: it, Version: it.Version})
	if errors.Is(err, config.ErrConflict) || errors.Is(err, config.ErrNotFound) {
		return nil, nil // another consumer was faster, or it was deleted
	}
	if err != nil {
		return nil, fmt.Errorf("take lease: %w", err)
	}
	keep = true
	r.o.Logger.InfoContext(ctx, "salesforce subscription leased", "tenant", it.Tenant, "subscription", rec.Name,
		"subscription_id", it.ID, "owner", r.o.Owner, "until", rec.Lease.Until)
	return &claim{tenant: it.Tenant, id: it.ID, rec: saved}, nil
}

// errLeaseLost ends a consumer whose lease was taken or whose subscription
// was deleted.
var errLeaseLost = errors.New("lease lost")

// update re-reads the subscription, checks the lease is still ours, applies
// f and writes it back conditionally (retrying on version conflicts).
func (r *Runner) update(ctx context.Context, c *claim, f func(rec *record, it *config.Item)) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	saved, err := config.Modify(ctx, r.o.Store, c.tenant, config.KindSubscription, c.id, 5, func(cur *config.Record[record]) (bool, error) {
		if cur.Value.Lease == nil || cur.Value.Lease.Owner != r.o.Owner || cur.Value.Platform != config.PlatformSalesforce {
			return false, fmt.Errorf("subscription leased by another consumer: %w", errLeaseLost)
		}
		f(&cur.Value, &cur.Item)
		return true, nil
	})
	switch {
	case errors.Is(err, errLeaseLost):
		return err
	case errors.Is(err, config.ErrNotFound):
		return fmt.Errorf("subscription deleted: %w", errLeaseLost)
	case err != nil:
		return fmt.Errorf("update subscription: %w", err)
	}
	c.rec = saved
	return nil
}

// storeCtx bounds a store write that must happen even when ctx is ending
// (a checkpoint after a successful enqueue, a lease release).
func storeCtx(ctx context.Context) (context.Context, context.CancelFunc) {
	return context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
}

// consume runs one claimed subscription until ctx ends or the lease is
// lost, then releases the lease.
func (r *Runner) consume(ctx context.Context, c *claim, g *group, leader bool) {
	sub := c.sub()
	log := r.o.Logger.With("tenant", c.tenant, "subscription", sub.Name, "subscription_id", c.id, "topic", sub.Params.Event)
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	defer func() {
		r.release(ctx, log, c)
		r.mu.Lock()
		delete(r.running, c.key())
		r.mu.Unlock()
	}()

	// Renew the lease while consuming.
	renewed := make(chan struct{})
	go func() {
		defer close(renewed)
		t := time.NewTicker(r.o.Lease / 3)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
			}
			err := r.update(ctx, c, func(rec *record, it *config.Item) {
				rec.Lease.Until = r.o.Now().Add(r.o.Lease)
				it.Index = config.IndexTime(rec.Lease.Until)
			})
			if errors.Is(err, errLeaseLost) {
				log.WarnContext(ctx, "salesforce subscription lease lost", "err", err)
				cancel(err)
				return
			}
			if err != nil && ctx.Err() == nil {
				log.WarnContext(ctx, "renew salesforce subscription lease", "err", err)
			}
		}
	}()
	defer func() { <-renewed }()
	defer cancel(nil)

	// However this ends, a group led here closes (its followers rejoin) and
	// a group followed here forgets this subscription.
	defer func() {
		if leader {
			r.close(g)
		} else {
			g.remove(c)
		}
	}()
	for first := true; ctx.Err() == nil; first = false {
		if !first {
			g, leader = r.join(c)
		}
		for !leader {
			if !follow(ctx, log, g, c) {
				return
			}
			g, leader = r.join(c)
		}
		next := r.lead(ctx, c, g, log)
		r.close(g)
		if next == nil {
			return
		}
		g, leader = next, false
		if !follow(ctx, log, g, c) {
			return
		}
	}
}

// lead runs the stream of g, led by c, until ctx ends or the lease is
// lost (nil), or until c merged into the registered group (returned).
func (r *Runner) lead(ctx context.Context, c *claim, g *group, log *slog.Logger) *group {
	s := &stream{r: r, c: c, log: log, g: g}
	for ctx.Err() == nil {
		err := s.run(ctx)
		if errors.Is(err, errMerged) {
			return s.merged
		}
		if ending(ctx) || errors.Is(err, errLeaseLost) {
			if errors.Is(err, errLeaseLost) {
				log.WarnContext(ctx, "salesforce subscription stopped", "err", err)
			}
			return nil
		}
		wait := s.handle(ctx, err)
		s.mirror(ctx)
		if wait > 0 {
			c.retryAt = r.o.Now().Add(wait)
			t := time.NewTimer(wait)
			select {
			case <-ctx.Done():
				t.Stop()
				return nil
			case <-t.C:
			}
		}
	}
	return nil
}

// ending reports whether ctx is over or about to be: gRPC enforces a
// stream's deadline with a timer of its own, so at a tick's end the stream
// may fail with DeadlineExceeded a moment before ctx.Err() says so. That is
// the tick ending, not a failure of the subscription.
func ending(ctx context.Context) bool {
	if ctx.Err() != nil {
		return true
	}
	dl, ok := ctx.Deadline()
	return ok && time.Until(dl) < 250*time.Millisecond
}

// release gives the lease up: the subscription is due again at once, or
// when its backoff ends.
func (r *Runner) release(ctx context.Context, log *slog.Logger, c *claim) {
	wctx, cancel := storeCtx(ctx)
	defer cancel()
	next := r.o.Now()
	if c.retryAt.After(next) {
		next = c.retryAt
	}
	err := r.update(wctx, c, func(rec *record, it *config.Item) {
		rec.Lease.Owner, rec.Lease.Until = "", time.Time{}
		it.Index = config.IndexTime(next)
	})
	switch {
	case errors.Is(err, errLeaseLost):
	case err != nil:
		log.WarnContext(ctx, "release salesforce subscription lease", "err", err)
	default:
		log.InfoContext(ctx, "salesforce subscription released", "next_run", next.UTC())
	}
}

// stream is the subscribe loop of one claim.
type stream struct {
	r   *Runner
	c   *claim
	log *slog.Logger
	// fallback is set when the checkpoint was rejected as corrupted: the
	// next subscribe starts from the preset.
	fallback bool
	// unauthRetried is set after one immediate retry on UNAUTHENTICATED; it
	// is cleared by the next successful batch.
	unauthRetried bool
	// eofs counts consecutive server closes without a batch.
	eofs int
	// empties counts consecutive streams that ended without a batch (any
	// cause): reconnectLoop of them is a reconnect loop.
	empties int
	// stalls counts consecutive stalls (drives their backoff).
	stalls int
	// gapFrom is the refused replay id (hex) of a fallback until the first
	// batch after it records where the subscription resumed.
	gapFrom, gapPreset string
	// g is the group whose stream this is; merged the group c joined.
	g, merged *group
}

// mirror copies the leader's state (after a failure) to the followers.
func (s *stream) mirror(ctx context.Context) {
	st := s.c.sub().State
	if st == nil {
		return
	}
	s.g.mu.Lock()
	followers := s.g.members()
	s.g.mu.Unlock()
	wctx, cancel := storeCtx(ctx)
	defer cancel()
	for _, f := range followers {
		err := s.r.update(wctx, f, func(rec *record, _ *config.Item) {
			if rec.State == nil {
				rec.State = &config.SourceState{}
			}
			rec.State.Status, rec.State.LastError = st.Status, st.LastError
		})
		if err != nil {
			s.log.WarnContext(ctx, "record shared stream state", "follower", f.sub().Name, "err", err)
		}
	}
}

// run subscribes and processes batches until an error.
func (s *stream) run(ctx context.Context) error {
	sub := s.c.sub()
	src, err := s.r.o.Sessions(ctx, s.c.tenant, sub.Params.OrgName)
	if err != nil {
		return fmt.Errorf("authorization %s: %w", sub.Params.OrgName, err)
	}
	req := pubsub.SubscribeRequest{Topic: sub.Params.Event, BatchSize: s.r.o.BatchSize}
	var cp []byte
	if sub.State != nil {
		cp = sub.State.Checkpoint
	}
	preset := "latest"
	switch {
	case len(cp) > 0 && !s.fallback:
		req.Replay, req.ReplayID, preset = pubsub.ReplayCustom, cp, "custom"
	case s.fallback && GapPolicy(sub.Subscription) == GapEarliest:
		req.Replay, preset = pubsub.ReplayEarliest, "earliest"
	case s.fallback:
		req.Replay = pubsub.ReplayLatest
	case sub.Replay == ReplayEarliest:
		req.Replay, preset = pubsub.ReplayEarliest, "earliest"
	default:
		req.Replay = pubsub.ReplayLatest
	}
	// The stream's own context: the watchdog ends it when neither events
	// nor keepalives came for twice the keepalive interval.
	sctx, scancel := context.WithCancelCause(ctx)
	defer scancel(nil)
	stallAfter := 2 * s.r.o.Keepalive
	watchdog := time.AfterFunc(stallAfter, func() { scancel(errStalled) })
	defer watchdog.Stop()
	subscription, err := s.r.o.Client.Subscribe(WithSessionSource(sctx, src), req)
	if err != nil {
		return s.streamErr(ctx, sctx, stallAfter, err)
	}
	defer subscription.Close()
	s.log.InfoContext(ctx, "salesforce subscribe", "replay", preset, "checkpoint", hex.EncodeToString(req.ReplayID))
	for {
		b, err := subscription.Recv()
		if err != nil {
			return s.streamErr(ctx, sctx, stallAfter, err)
		}
		watchdog.Reset(stallAfter)
		if err := s.batch(ctx, sub.Subscription, b); err != nil {
			return err
		}
		if rg := s.r.merge(s.g); rg != nil {
			s.log.InfoContext(ctx, "salesforce catch-up stream merged into the shared stream", "decision", "merge",
				"replay_id", hex.EncodeToString(checkpointOf(s.c.sub().Subscription)))
			s.merged = rg
			return errMerged
		}
		s.fallback, s.unauthRetried, s.eofs, s.empties, s.stalls = false, false, 0, 0, 0
	}
}

// streamErr is errStalled when the watchdog ended the stream, else err.
func (s *stream) streamErr(ctx, sctx context.Context, stallAfter time.Duration, err error) error {
	if ctx.Err() == nil && errors.Is(context.Cause(sctx), errStalled) {
		return fmt.Errorf("%w: no events or keepalives for %s (twice the keepalive interval)", errStalled, stallAfter)
	}
	return err
}

// batch enqueues a batch's events and then advances the checkpoint.
func (s *stream) batch(ctx context.Context, sub config.Subscription, b *pubsub.Batch) error {
	now := s.r.o.Now()
	// The followers take the batch with the leader: every member's events
	// are enqueued before any checkpoint moves.
	s.g.mu.Lock()
	defer s.g.mu.Unlock()
	followers := s.g.members()
	if err := s.enqueue(ctx, s.c.tenant, sub, b, now); err != nil {
		return err
	}
	for _, f := range followers {
		if err := s.enqueue(ctx, f.tenant, f.sub().Subscription, b, now); err != nil {
			return err
		}
	}
	cp := b.LatestReplayID
	if len(cp) == 0 && len(b.Events) > 0 {
		cp = b.Events[len(b.Events)-1].ReplayID
	}
	if err := s.checkpoint(ctx, sub, cp, now); err != nil {
		return err
	}
	if len(cp) > 0 {
		s.g.cp = cp
	}
	wctx, cancel := storeCtx(ctx)
	defer cancel()
	if n := len(b.Events); n > 0 {
		// Salesforce delivered n events on this stream, once for all its
		// members: the org's usage (shown only: a failure is logged).
		if err := config.AddSalesforceUsage(wctx, s.r.o.Store, s.c.tenant, sub.Params.OrgName, now, int64(n)); err != nil {
			s.log.WarnContext(ctx, "count salesforce usage", "org", sub.Params.OrgName, "err", err)
		}
	}
	for _, f := range followers {
		err := s.r.update(wctx, f, func(rec *record, _ *config.Item) {
			st := rec.State
			if st == nil {
				st = &config.SourceState{}
				rec.State = st
			}
			if len(cp) > 0 {
				st.Checkpoint = cp
			}
			st.CheckedAt = now.UTC()
			if st.Status != StatusActive {
				st.Status, st.LastError = StatusActive, ""
			}
			rec.Lease.Failures = 0
		})
		if errors.Is(err, errLeaseLost) {
			delete(s.g.followers, f.key())
			continue
		}
		if err != nil {
			return err
		}
	}
	return nil
}

// enqueue sends a batch's events as one subscription's.
func (s *stream) enqueue(ctx context.Context, tenant string, sub config.Subscription, b *pubsub.Batch, now time.Time) error {
	if len(b.Events) > 0 {
		msgs := make([]queue.Message, 0, len(b.Events))
		for _, ev := range b.Events {
			r := event.Routed{Tenant: tenant, Subscription: sub.ID, Event: ToEvent(tenant, sub, ev, now)}
			body, err := json.Marshal(r)
			if err != nil {
				return fmt.Errorf("encode routed event: %w", err)
			}
			if err := envelope.CheckRouted(r, body); err != nil {
				body, err = s.unqueueable(ctx, r, fmt.Errorf("the Salesforce event of %d bytes of data cannot be delivered: %w", len(r.Event.Data), err))
				if err != nil {
					return err
				}
			}
			msgs = append(msgs, queue.Message{Body: body, Attributes: map[string]string{queue.AttrTenant: tenant, queue.AttrAttempt: "0"}})
		}
		if err := s.send(ctx, msgs); err != nil {
			return err
		}
		s.r.o.Metrics.Count(ctx, metric.Ingested, len(msgs), "Platform", config.PlatformSalesforce)
		first, last := b.Events[0], b.Events[len(b.Events)-1]
		s.log.InfoContext(ctx, "salesforce events enqueued", "count", len(msgs), "for_subscription", sub.Name,
			"first_event_id", EventID(sub.ID, sub.Params.Event, first.ReplayID),
			"last_event_id", EventID(sub.ID, sub.Params.Event, last.ReplayID),
			"replay_id", hex.EncodeToString(last.ReplayID))
	}
	return nil
}

// checkpoint advances the leader's checkpoint after a batch.
func (s *stream) checkpoint(ctx context.Context, sub config.Subscription, cp []byte, now time.Time) error {
	wctx, cancel := storeCtx(ctx)
	defer cancel()
	var was string
	err := s.r.update(wctx, s.c, func(rec *record, _ *config.Item) {
		st := rec.State
		if st == nil {
			st = &config.SourceState{}
			rec.State = st
		}
		if len(cp) > 0 {
			st.Checkpoint = cp
		}
		st.CheckedAt = now.UTC()
		was = st.Status
		if st.Status != StatusActive {
			if st.Status == StatusFailing || st.Status == StatusStalled {
				st.LastError = ""
			}
			st.Status = StatusActive
		}
		if s.gapFrom != "" && len(cp) > 0 {
			st.LastError = fmt.Sprintf("Salesforce refused replay id %s; resumed from %s (--on-replay-gap %s) at replay id %s",
				s.gapFrom, s.gapPreset, GapPolicy(sub), hex.EncodeToString(cp))
			if s.gapPreset == "LATEST" {
				st.LastError += ": events published since the refused replay id were skipped"
			}
		}
		rec.Lease.Failures = 0
		s.c.retryAt = time.Time{}
	})
	if err != nil {
		return err
	}
	if s.gapFrom != "" && len(cp) > 0 {
		s.log.WarnContext(ctx, "salesforce replay gap resumed", "decision", "resume", "policy", GapPolicy(sub),
			"replay_id_before", s.gapFrom, "replay_id_after", hex.EncodeToString(cp), "preset", s.gapPreset)
		s.gapFrom, s.gapPreset = "", ""
	}
	if was == StatusStalled || was == StatusFailing {
		s.log.InfoContext(ctx, "salesforce subscription recovered", "decision", "active", "was", was)
	}
	return nil
}

// unqueueable is the body that stands for an event the queues cannot
// carry: the event without its data, with why as event.Routed.Error, which
// the filter dead-letters (its replay id, an extension, lets it be read
// again from Salesforce). One event never holds up the subscription.
func (s *stream) unqueueable(ctx context.Context, r event.Routed, why error) ([]byte, error) {
	s.log.ErrorContext(ctx, "salesforce event cannot be queued", "event_id", r.Event.ID, "replay_id", r.Event.Extensions[ExtReplayID],
		"decision", "dead_letter", "reason", why.Error())
	r.Event.Data, r.Error = nil, why.Error()
	body, err := json.Marshal(r)
	if err != nil {
		return nil, fmt.Errorf("encode routed event: %w", err)
	}
	return body, nil
}

// send enqueues a batch's events in one call. When the queue refuses it
// for a message it cannot carry (queue.ErrTooLarge, ErrInvalid), the
// events are sent one by one and each refused one is replaced by its dead
// letter (unqueueable); any other failure fails the batch, which is read
// again from the checkpoint.
func (s *stream) send(ctx context.Context, msgs []queue.Message) error {
	err := s.r.o.Ingest.Send(ctx, msgs...)
	if err == nil || !(errors.Is(err, queue.ErrTooLarge) || errors.Is(err, queue.ErrInvalid)) {
		if err != nil {
			return fmt.Errorf("enqueue %d events: %w", len(msgs), err)
		}
		return nil
	}
	for _, m := range msgs {
		err := s.r.o.Ingest.Send(ctx, m)
		if err == nil {
			continue
		}
		if !errors.Is(err, queue.ErrTooLarge) && !errors.Is(err, queue.ErrInvalid) {
			return fmt.Errorf("enqueue event: %w", err)
		}
		var r event.Routed
		if derr := json.Unmarshal(m.Body, &r); derr != nil {
			return fmt.Errorf("decode routed event: %w", derr)
		}
		body, uerr := s.unqueueable(ctx, r, fmt.Errorf("the queue refused the Salesforce event: %w", err))
		if uerr != nil {
			return uerr
		}
		m.Body = body
		if err := s.r.o.Ingest.Send(ctx, m); err != nil {
			return fmt.Errorf("enqueue dead letter of event %s: %w", r.Event.ID, err)
		}
	}
	return nil
}

// handle decides what to do after the stream ended with err and returns how
// long to wait before subscribing again.
func (s *stream) handle(ctx context.Context, err error) time.Duration {
	sub := s.c.sub()
	s.empties++
	switch {
	case errors.Is(err, errStalled):
		s.stalls++
		wait := s.r.backoff(s.stalls)
		msg := fmt.Sprintf("stalled: %v; reconnecting (attempt %d, next in %s)", err, s.stalls, wait.Round(time.Millisecond))
		s.log.WarnContext(ctx, "salesforce subscription stalled", "decision", "reconnect", "stalls", s.stalls,
			"retry_in_ms", wait.Milliseconds(), "keepalive_s", s.r.o.Keepalive.Seconds())
		s.r.o.Metrics.Count(ctx, SubscriptionStalled, 1, "Platform", config.PlatformSalesforce)
		s.record(ctx, StatusStalled, msg, false)
		return wait
	case errors.Is(err, io.EOF) && s.empties < reconnectLoop:
		s.eofs++
		s.log.InfoContext(ctx, "salesforce stream closed by the server; resubscribing", "closes", s.eofs)
		if s.eofs > 1 {
			return min(s.r.o.MinBackoff*time.Duration(s.eofs), s.r.o.MaxBackoff)
		}
		return 0
	case errors.Is(err, io.EOF):
		err = fmt.Errorf("salesforce ended the stream %d times in a row without a batch (a reconnect loop): %w", s.empties, err)
	case errors.Is(err, pubsub.ErrUnauthenticated) && !s.unauthRetried:
		s.unauthRetried = true
		s.log.InfoContext(ctx, "salesforce session expired; refreshing and resuming from the checkpoint")
		return 0
	case errors.Is(err, pubsub.ErrReplayCorrupted) && GapPolicy(sub.Subscription) == GapHalt && sub.State != nil && len(sub.State.Checkpoint) > 0:
		err = fmt.Errorf("salesforce refused replay id %s and the gap policy is halt (--on-replay-gap halt): "+
			"the subscription stays at its checkpoint, nothing is skipped; to go on, update it to --on-replay-gap earliest or latest: %w",
			hex.EncodeToString(sub.State.Checkpoint), err)
		s.r.o.Metrics.Count(ctx, ReplayHalted, 1, "Platform", config.PlatformSalesforce)
	case errors.Is(err, pubsub.ErrReplayCorrupted) && !s.fallback && sub.State != nil && len(sub.State.Checkpoint) > 0:
		s.fallback = true
		preset := "LATEST"
		if GapPolicy(sub.Subscription) == GapEarliest {
			preset = "EARLIEST"
		}
		s.gapFrom, s.gapPreset = hex.EncodeToString(sub.State.Checkpoint), preset
		note := fmt.Sprintf("Salesforce refused replay id %s (%v); resuming from %s (--on-replay-gap %s)",
			hex.EncodeToString(sub.State.Checkpoint), err, preset, GapPolicy(sub.Subscription))
		if preset == "LATEST" {
			note += ": events published since the checkpoint are skipped"
		}
		s.log.WarnContext(ctx, "salesforce replay fallback", "decision", "fallback", "policy", GapPolicy(sub.Subscription), "preset", preset,
			"replay_id_before", hex.EncodeToString(sub.State.Checkpoint), "err", err)
		s.r.o.Metrics.Count(ctx, ReplayFallback, 1, "Platform", config.PlatformSalesforce)
		wctx, cancel := storeCtx(ctx)
		defer cancel()
		uerr := s.r.update(wctx, s.c, func(rec *record, _ *config.Item) {
			if rec.State == nil {
				rec.State = &config.SourceState{}
			}
			rec.State.Checkpoint = nil
			rec.State.LastError = note
		})
		if uerr != nil {
			s.log.WarnContext(ctx, "record replay fallback", "err", uerr)
		}
		return 0
	}
	// A failure: record it and back off.
	var failures int
	msg := err.Error()
	switch {
	case errors.Is(err, authorization.ErrNotConnected), errors.Is(err, authorization.ErrNotFound):
		msg = authorization.Message(err)
		if msg == "" {
			msg = err.Error()
		}
	case errors.Is(err, salesforce.ErrInvalidGrant) || errors.Is(err, pubsub.ErrUnauthenticated):
		msg = fmt.Sprintf("authorization %s was refused by Salesforce; reconnect it (authorizations:salesforce:create %s): %v",
			sub.Params.OrgName, sub.Params.OrgName, err)
	}
	wctx, cancel := storeCtx(ctx)
	defer cancel()
	uerr := s.r.update(wctx, s.c, func(rec *record, _ *config.Item) {
		if rec.State == nil {
			rec.State = &config.SourceState{}
		}
		rec.State.Status = StatusFailing
		rec.State.LastError = msg
		rec.Lease.Failures++
		failures = rec.Lease.Failures
	})
	if uerr != nil {
		s.log.WarnContext(ctx, "record salesforce subscription failure", "err", uerr)
		failures = 1
	}
	wait := s.r.backoff(failures)
	s.r.o.Metrics.Count(ctx, SubscriptionFailing, 1, "Platform", config.PlatformSalesforce)
	s.log.WarnContext(ctx, "salesforce subscription failing", "decision", "retry", "err", err, "failures", failures, "retry_in_ms", wait.Milliseconds())
	s.unauthRetried = false
	return wait
}

// record writes a state and reason (and counts a failure when failed).
func (s *stream) record(ctx context.Context, status, reason string, failed bool) {
	wctx, cancel := storeCtx(ctx)
	defer cancel()
	err := s.r.update(wctx, s.c, func(rec *record, _ *config.Item) {
		if rec.State == nil {
			rec.State = &config.SourceState{}
		}
		rec.State.Status, rec.State.LastError = status, reason
		if failed {
			rec.Lease.Failures++
		}
	})
	if err != nil {
		s.log.WarnContext(ctx, "record salesforce subscription state", "status", status, "err", err)
	}
}

// backoff is the delay after consecutive failures: MinBackoff doubled per
// failure up to MaxBackoff, with equal jitter (shared/backoff).
func (r *Runner) backoff(failures int) time.Duration {
	return backoff.Policy{Base: r.o.MinBackoff, Cap: r.o.MaxBackoff, Jitter: backoff.EqualJitter}.Delay(failures)
}

// TickFunc adapts Tick to a scheduled Lambda invocation: each tick consumes
// for runFor, or until margin before the invocation's deadline when that
// comes first (leases are released, and checkpoints written, in the margin).
func (r *Runner) TickFunc(runFor, margin time.Duration) func(ctx context.Context, at time.Time) error {
	return func(ctx context.Context, _ time.Time) error {
		deadline := r.o.Now().Add(runFor)
		if d, ok := ctx.Deadline(); ok && d.Add(-margin).Before(deadline) {
			deadline = d.Add(-margin)
		}
		return r.Tick(ctx, deadline)
	}
}

// AuthorizationSessions resolves subscriptions' and publications'
// authorizations with svc.
func AuthorizationSessions(svc *authorization.Service) Sessions {
	return func(ctx context.Context, tenant, alias string) (salesforce.SessionSource, error) {
		src, err := svc.Sessions(ctx, tenant, alias)
		if err != nil {
			return nil, err
		}
		return src, nil
	}
}
