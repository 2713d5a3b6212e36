// Package deliver is the deliver role: it consumes the delivery queue
// (JSON event.Delivery bodies), sends each event to its publication through
// the publication platform's Publisher, and applies the delivery contract
// (DESIGN §5): 2xx delivered; 429, 5xx, timeouts and connection errors
// retried by re-sending the delivery with a backoff delay until the
// publication's retry policy is exhausted; 410 disables the publication;
// other failures are dead-lettered with their reason.
package deliver

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/herokuevents/herokuevents/shared/backoff"
	"github.com/herokuevents/herokuevents/shared/config"
	"github.com/herokuevents/herokuevents/shared/event"
	"github.com/herokuevents/herokuevents/shared/journal"
	"github.com/herokuevents/herokuevents/shared/logjson"
	"github.com/herokuevents/herokuevents/shared/metric"
	"github.com/herokuevents/herokuevents/shared/platform"
	"github.com/herokuevents/herokuevents/shared/queue"
	"github.com/herokuevents/herokuevents/shared/sink"
)

// Publisher sends one event to one publication of a platform, once
// (platform.Publisher).
type Publisher = platform.Publisher

// PublisherFunc adapts a function to Publisher.
type PublisherFunc = platform.PublisherFunc

// DefaultConcurrency is how many deliveries of a batch run at once.
const DefaultConcurrency = 10

// Options configure a Handler.
type Options struct {
	// Store holds the publications. Required.
	Store config.Store
	// Requeue is the delivery queue, used to schedule retries. Required.
	Requeue queue.Sender
	// Backoff spaces retries.
	Backoff Backoff
	// Hold spaces the checks of deliveries held for a paused publication
	// (DefaultHold when zero).
	Hold Backoff
	// Wake, when set, makes the held deliveries of a publication
	// (queue.AttrHeld) in the Requeue queue visible at once, as a resume
	// does (the embedded mode's WakeHeld): they are then checked only every
	// WokenHold, and a hold that raced a resume (re-queued after its wake)
	// wakes itself. An ordered publication's held deliveries wait in place
	// (queue.Hold), are woken by the queue all the same, and keep Hold.
	Wake func(ctx context.Context, tenant, publication string) (int, error)
	// Publishers maps a publication platform to its publisher
	// (platform.Registry.Publishers). Required: a publication of a platform
	// without one is dead-lettered.
	Publishers map[string]Publisher
	// Concurrency bounds the deliveries of one batch that run at once
	// (DefaultConcurrency when ≤ 0).
	Concurrency int
	// Metrics records Delivered, DeliveryLatency, Failed and DeadLettered;
	// metric.Discard when nil.
	Metrics metric.Recorder
	// Logger gets one line per decision; slog.Default when nil.
	Logger *slog.Logger
	// Now is the clock; time.Now when nil.
	Now func() time.Time
	// Journal, when set, records every attempt and its outcome, and the
	// dead letters set aside before an attempt (the delivery log); give it
	// a journal.Async so that delivery only enqueues.
	Journal journal.Writer
	// KeepWorkers keeps the goroutines that deliver from one HandleBatch
	// call to the next (an idle one exits after 10 s): a delivery then
	// runs on a stack that is grown already (workers.go). For a consumer
	// that runs for long (the embedded mode); a handler used in a
	// testing/synctest bubble leaves it off, the bubble ending with no
	// goroutine left.
	KeepWorkers bool
	// Solo says that HandleBatch calls never overlap (one Lambda
	// invocation at a time): a batch of a batched publication is then sent
	// as soon as every message in hand waits in one, without waiting out
	// its window (batch.go).
	Solo bool
}

// Handler is the deliver role's queue.BatchHandler. It is safe for use
// from any number of goroutines.
type Handler struct {
	Options
	rates   rates   // the slots of rate-capped publications
	batches batcher // the open batches of batched publications (batch.go)
	workers workers // the goroutines that deliver (workers.go)
}

// New returns a Handler, or an error when a required option is missing.
func New(o Options) (*Handler, error) {
	if o.Store == nil || o.Requeue == nil || o.Publishers == nil {
		return nil, errors.New("new deliver handler: Options.Store, Requeue and Publishers are required")
	}
	if o.Concurrency <= 0 {
		o.Concurrency = DefaultConcurrency
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
	return &Handler{Options: o}, nil
}

var _ queue.BatchHandler = (*Handler)(nil)

// Decisions logged per message.
const (
	decisionDelivered  = "delivered"
	decisionRetry      = "retry"
	decisionDeadLetter = "dead_letter"
	decisionDisabled   = "disabled"
	decisionRedeliver  = "redeliver"
)

// HandleBatch delivers every message of the batch, concurrently, and
// returns the failures: queue.Permanent ones to dead-letter, others to be
// redelivered (store or requeue failures). A message's failure never
// affects the others.
func (h *Handler) HandleBatch(ctx context.Context, msgs []queue.Message) queue.BatchResult {
	n := h.Concurrency
	var (
		res queue.BatchResult
		mu  sync.Mutex
		wg  sync.WaitGroup
		sem = make(chan struct{}, n)
	)
	plain, lanes := byLane(msgs) // an ordered publication's lanes go one at a time (ordered.go)
	h.batches.enter(len(plain) + len(lanes))
	spawn := wg.Go
	if h.KeepWorkers {
		spawn = func(f func()) {
			wg.Add(1)
			h.workers.Go(func() {
				defer wg.Done()
				f()
			})
		}
	}
	for _, l := range lanes {
		spawn(func() {
			fs := h.lane(ctx, l, sem)
			mu.Lock()
			res.Failures = append(res.Failures, fs...)
			mu.Unlock()
		})
	}
	for _, m := range plain {
		sem <- struct{}{}
		spawn(func() {
			defer func() { <-sem }()
			defer h.leave()
			if err := h.handle(ctx, m); err != nil {
				mu.Lock()
				res.Fail(m.ID, err)
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	return res
}

func (h *Handler) now() time.Time { return h.Now() }

func (h *Handler) metrics() metric.Recorder { return h.Metrics }

func (h *Handler) logger() *slog.Logger { return h.Logger }

func (h *Handler) publisher(platform string) Publisher {
	return h.Publishers[platform]
}

// handle delivers one message; panics in a publisher are contained.
func (h *Handler) handle(ctx context.Context, m queue.Message) (err error) {
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("deliver message %s: panic: %v", m.ID, p)
			h.logger().ErrorContext(ctx, "delivery panicked", "message_id", m.ID, "decision", decisionRedeliver, "error", err)
		}
	}()
	var mf failure // what the metrics of a failure name, as it is learnt
	defer func() {
		if err != nil && !errors.Is(err, errWaiting) {
			h.countFailed(ctx, err, mf)
		}
	}()
	d, err := event.DecodeDelivery(m.Body)
	if err != nil {
		err = queue.Permanent(fmt.Errorf("decode delivery: %w", err))
		h.logger().WarnContext(ctx, "delivery", "message_id", m.ID, "decision", decisionDeadLetter, "reason", err.Error())
		return err
	}
	mf.tenant, mf.publication = d.Tenant, d.Publication
	inPlace(&d, m)
	at := &attempt{d: &d}
	defer func() { h.record(ctx, at, err) }()
	lg := newLazyLog(h.logger(),
		slog.String("event_id", d.Event.ID),
		slog.String("tenant", d.Tenant),
		slog.String("publication", d.Publication),
		slog.Int("attempt", d.Attempt+1),
	)
	fail := func(err error) error {
		lg.get().WarnContext(ctx, "delivery", "decision", decisionDeadLetter, "reason", err.Error())
		return queue.Permanent(err)
	}
	switch {
	case d.Tenant == "" || d.Publication == "":
		return fail(errors.New("delivery without tenant or publication"))
	case d.Event.Validate() != nil:
		return fail(fmt.Errorf("delivery of an invalid event: %w", d.Event.Validate()))
	}

	rec, err := h.publication(ctx, &d)
	switch {
	case errors.Is(err, config.ErrNotFound):
		return fail(err)
	case err != nil:
		lg.get().ErrorContext(ctx, "delivery", "decision", decisionRedeliver, "error", err.Error())
		return fmt.Errorf("load publication %s: %w", d.Publication, err)
	}
	pub := rec.Value
	if d.Ordered {
		defer func() { h.leftLane(ctx, lg.get(), d, rec, err) }()
	}
	mf.platform = pub.Platform
	at.pub = pub
	lg.with(slog.String("publication_name", pub.Name), slog.String("platform", pub.Platform))
	if pub.Disabled {
		reason := pub.DisabledReason
		if reason == "" {
			reason = "disabled"
		}
		return fail(fmt.Errorf("publication %s is disabled: %s", pub.Name, reason))
	}
	p := h.publisher(pub.Platform)
	if p == nil {
		return fail(fmt.Errorf("no publisher for platform %q of publication %s", pub.Platform, pub.Name))
	}
	if done, err := h.gate(ctx, lg.get, &d, pub); done {
		return err
	}

	start, took, perr := h.send(ctx, at, m, p, d, pub) // alone, or in its publication's batch (batch.go)
	at.published(start, took, perr)
	if perr == nil {
		attrs := []slog.Attr{slog.String("decision", decisionDelivered), slog.Duration("duration", took)}
		h.metrics().Count(ctx, metric.Delivered, 1, metric.DimPlatform, pub.Platform, metric.LabelTenant, d.Tenant, metric.LabelPublication, d.Publication)
		if !d.Event.Time.IsZero() {
			latency := h.now().Sub(d.Event.Time)
			attrs = append(attrs, slog.Duration("latency", latency))
			h.metrics().Duration(ctx, metric.DeliveryLatency, latency, metric.DimPlatform, pub.Platform, metric.LabelTenant, d.Tenant, metric.LabelPublication, d.Publication)
		}
		lg.log(ctx, slog.LevelInfo, "delivery", attrs...)
		return nil
	}

	class, status, after := classify(perr)
	lg.with(slog.Int("status", status), slog.String("class", class.String()))
	log := lg.get()
	if ctx.Err() != nil {
		// The invocation is ending: let the queue redeliver this message.
		log.WarnContext(ctx, "delivery", "decision", decisionRedeliver, "error", perr.Error())
		return fmt.Errorf("deliver event %s: %w", d.Event.ID, perr)
	}
	switch class {
	case sink.Retry:
		if d.Ordered {
			return h.retryInPlace(ctx, log, d, rec, perr, after, at)
		}
		return h.retry(ctx, log, d, pub, perr, after, at)
	case sink.Gone:
		reason := fmt.Sprintf("endpoint answered 410 Gone at %s", h.now().UTC().Format(time.RFC3339))
		if err := h.disable(ctx, d.Tenant, rec.Item.ID, reason); err != nil {
			log.ErrorContext(ctx, "delivery", "decision", decisionRedeliver, "error", err.Error())
			return err
		}
		log.WarnContext(ctx, "delivery", "decision", decisionDisabled, "reason", perr.Error())
		return queue.Permanent(fmt.Errorf("publication %s disabled: %w", pub.Name, perr))
	default:
		return fail(fmt.Errorf("deliver to publication %s: %w", pub.Name, perr))
	}
}

// lazyLog is the logger of one delivery, its attributes (event, tenant,
// publication, attempt...) added only when a line needs more than one
// call: a delivered event logs one line, with every attribute in the
// order a derived logger would have written them, without deriving one.
type lazyLog struct {
	base  *slog.Logger
	attrs []slog.Attr
	buf   [8]slog.Attr
	l     *slog.Logger // base with attrs, once get was called
}

func newLazyLog(base *slog.Logger, attrs ...slog.Attr) *lazyLog {
	z := &lazyLog{base: base}
	z.attrs = append(z.buf[:0], attrs...)
	return z
}

// with adds attributes to every later line.
func (z *lazyLog) with(attrs ...slog.Attr) {
	if z.l != nil {
		z.l = z.l.With(attrsAny(attrs)...)
		return
	}
	z.attrs = append(z.attrs, attrs...)
}

// get returns the logger with every attribute added so far.
func (z *lazyLog) get() *slog.Logger {
	if z.l == nil {
		z.l = z.base.With(attrsAny(z.attrs)...)
	}
	return z.l
}

// log writes one line with the attributes so far, then attrs.
func (z *lazyLog) log(ctx context.Context, level slog.Level, msg string, attrs ...slog.Attr) {
	if z.l != nil {
		logjson.LogAttrs(ctx, z.l, level, msg, attrs...)
		return
	}
	if !z.base.Enabled(ctx, level) {
		return
	}
	logjson.LogAttrs(ctx, z.base, level, msg, append(z.attrs[:len(z.attrs):len(z.attrs)], attrs...)...)
}

func attrsAny(attrs []slog.Attr) []any {
	out := make([]any, len(attrs))
	for i, a := range attrs {
		out[i] = a
	}
	return out
}

// classify maps a publisher error to a result class, status and Retry-After.
func classify(err error) (sink.Class, int, time.Duration) {
	var se *sink.Error
	if errors.As(err, &se) {
		return se.Result.Class, se.Result.Status, se.Result.RetryAfter
	}
	if queue.IsPermanent(err) {
		return sink.Permanent, 0, 0
	}
	return sink.Retry, 0, 0
}

// retry schedules the next attempt or, when the retry policy is exhausted,
// dead-letters the delivery with the last failure as the reason.
func (h *Handler) retry(ctx context.Context, log *slog.Logger, d event.Delivery, pub config.Publication, perr error, after time.Duration, at *attempt) error {
	limits := backoff.Limits{MaxAttempts: pub.Retry.MaxAttempts, Horizon: pub.Retry.Horizon}
	if limits.MaxAttempts <= 0 {
		limits.MaxAttempts = DefaultMaxAttempts
	}
	if limits.Horizon <= 0 {
		limits.Horizon = DefaultHorizon
	}
	next := h.Backoff.Next(limits, backoff.Failure{Attempt: d.Attempt, FirstTry: d.FirstTry, RetryAfter: after}, h.now())
	if next.GiveUp {
		err := fmt.Errorf("%s to publication %s: %w", next.Reason, pub.Name, perr)
		log.WarnContext(ctx, "delivery", "decision", decisionDeadLetter, "reason", err.Error())
		return queue.Permanent(err)
	}
	retried := d
	retried.Attempt, retried.FirstTry = next.Attempts, next.FirstTry
	body, err := json.Marshal(retried)
	if err != nil {
		return fmt.Errorf("encode delivery: %w", err)
	}
	if err := h.Requeue.Send(ctx, next.Message(d.Tenant, body)); err != nil {
		if errors.Is(err, queue.ErrTooLarge) || errors.Is(err, queue.ErrInvalid) {
			// The queue will never carry this retry: only its own message fails.
			err = fmt.Errorf("requeue delivery of event %s after %w: %w", d.Event.ID, perr, err)
			log.WarnContext(ctx, "delivery", "decision", decisionDeadLetter, "reason", err.Error())
			return queue.Permanent(err)
		}
		log.ErrorContext(ctx, "delivery", "decision", decisionRedeliver, "error", err.Error(), "cause", perr.Error())
		return fmt.Errorf("requeue delivery of event %s: %w", d.Event.ID, err)
	}
	at.next = h.now().Add(next.Delay)
	log.InfoContext(ctx, "delivery", "decision", decisionRetry, "delay", next.Delay, "reason", perr.Error())
	h.metrics().Count(ctx, metric.Failed, 1, metric.DimPlatform, pub.Platform, metric.LabelTenant, d.Tenant, metric.LabelPublication, d.Publication)
	h.metrics().Count(ctx, metric.Retried, 1, metric.DimPlatform, pub.Platform, metric.LabelTenant, d.Tenant, metric.LabelPublication, d.Publication)
	return nil
}

// disable marks the publication disabled, re-reading it on version
// conflicts. A publication that no longer exists needs nothing.
func (h *Handler) disable(ctx context.Context, tenant, id, reason string) error {
	_, err := config.Modify(ctx, h.Store, tenant, config.KindPublication, id, 5, func(r *config.Record[config.Publication]) (bool, error) {
		if r.Value.Disabled {
			return false, nil
		}
		r.Value.Disabled, r.Value.DisabledReason = true, reason
		return true, nil
	})
	if err != nil && !errors.Is(err, config.ErrNotFound) {
		return fmt.Errorf("disable publication %s: %w", id, err)
	}
	return nil
}
