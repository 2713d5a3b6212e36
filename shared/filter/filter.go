// Package filter is the filter role: it routes each event of the ingest queue
// through the streams of its subscription. A stream's optional Bloblang
// filter drops the event with deleted() or may transform it; every event that
// passes becomes one message on the delivery queue, for the stream's
// publication.
package filter

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/herokuevents/herokuevents/shared/config"
	"github.com/herokuevents/herokuevents/shared/event"
	"github.com/herokuevents/herokuevents/shared/journal"
	"github.com/herokuevents/herokuevents/shared/mapping"
	"github.com/herokuevents/herokuevents/shared/metric"
	"github.com/herokuevents/herokuevents/shared/pull"
	"github.com/herokuevents/herokuevents/shared/queue"
	"github.com/herokuevents/herokuevents/shared/recent"
)

// Options configure the filter role.
type Options struct {
	Store config.Store
	// Delivery receives one event.Delivery per event and passing stream.
	Delivery queue.Sender
	Logger   *slog.Logger
	// Metrics records FilteredOut and DeadLettered; metric.Discard when nil.
	Metrics metric.Recorder
	Now     func() time.Time
	// Journal, when set, records each stream's decision (routed, or
	// filtered out and why) and the acceptance of generated and Salesforce
	// events (the delivery log); give it a journal.Async.
	Journal journal.Writer
	// Recent keeps every routed event for the filter dry-run (streams:test):
	// best effort, it never blocks. Nothing is kept when nil.
	Recent recent.Keeper
	// Pull buffers every event of a pull subscription (config.Subscription.
	// Pull) for the app to GET from its subscribe URL: one more sink of the
	// subscription, beside its streams, and durable (an event is not done
	// until it is buffered). Pull subscriptions keep nothing when nil.
	Pull pull.Putter
}

// Handler is the filter role's queue.BatchHandler. Safe for concurrent use.
type Handler struct {
	o     Options
	cache mapping.Cache
	subs  sync.Map // subscription id → subInfo, for the journal (journal.go)
}

// New returns the filter role's handler.
func New(o Options) (*Handler, error) {
	if o.Store == nil || o.Delivery == nil {
		return nil, errors.New("new filter handler: Options.Store and Options.Delivery are required")
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Metrics == nil {
		o.Metrics = metric.Discard
	}
	return &Handler{o: o}, nil
}

// Store returns the configuration store the handler reads.
func (h *Handler) Store() config.Store { return h.o.Store }

// HandleBatch routes every message. A message that cannot be decoded, or
// whose filter fails at run time, fails permanently (dead-lettered with the
// reason; the deliveries of its other streams are still sent). When the
// deliveries cannot be enqueued, every message of the batch fails and is
// redelivered: receivers de-duplicate on the stable event id.
func (h *Handler) HandleBatch(ctx context.Context, msgs []queue.Message) queue.BatchResult {
	var res queue.BatchResult
	var out []queue.Message
	streams := map[string][]config.Stream{} // tenant/subscription → streams
	pulls := h.newPulls()
	for _, m := range msgs {
		var r event.Routed
		if err := json.Unmarshal(m.Body, &r); err != nil || r.Tenant == "" || r.Subscription == "" {
			if err == nil {
				err = errors.New("tenant or subscription missing")
			}
			h.o.Logger.WarnContext(ctx, "poison message", "message_id", m.ID, "err", err)
			h.o.Metrics.Count(ctx, metric.DeadLettered, 1, metric.DimReason, metric.ReasonPermanent)
			res.Fail(m.ID, queue.Permanent(fmt.Errorf("decode routed event: %w", err)))
			continue
		}
		if h.o.Recent != nil {
			h.o.Recent.Keep(r.Tenant, r.Subscription, r.Event)
		}
		key := r.Tenant + "/" + r.Subscription
		if err := pulls.add(ctx, m.ID, r); err != nil {
			h.o.Logger.ErrorContext(ctx, "load subscription", "tenant", r.Tenant, "subscription", r.Subscription, "event_id", r.Event.ID, "err", err)
			res.Fail(m.ID, fmt.Errorf("load subscription: %w", err))
			continue
		}
		ss, ok := streams[key]
		if !ok {
			var err error
			ss, err = config.StreamsFrom(ctx, h.o.Store, r.Tenant, r.Subscription)
			if err != nil {
				h.o.Logger.ErrorContext(ctx, "load streams", "tenant", r.Tenant, "subscription", r.Subscription, "event_id", r.Event.ID, "err", err)
				res.Fail(m.ID, fmt.Errorf("load streams: %w", err))
				continue
			}
			streams[key] = ss
		}
		deliveries, err := h.route(ctx, r, ss)
		out = append(out, deliveries...)
		if err != nil {
			h.o.Metrics.Count(ctx, metric.DeadLettered, 1, metric.DimReason, metric.ReasonPermanent,
				metric.LabelTenant, r.Tenant, metric.LabelSubscription, r.Subscription)
			res.Fail(m.ID, queue.Permanent(err))
			continue
		}
	}
	pulls.put(ctx, &res)
	if len(out) > 0 {
		if err := h.o.Delivery.Send(ctx, out...); err != nil {
			h.o.Logger.ErrorContext(ctx, "enqueue deliveries", "count", len(out), "err", err)
			res = queue.BatchResult{}
			for _, m := range msgs {
				res.Fail(m.ID, fmt.Errorf("enqueue deliveries: %w", err))
			}
		}
	}
	return res
}

// Meta is what a filter sees of the event besides its data, at
// this._herokuevents (event.Meta, which the api's dry-run shows too).
//
//	root = if this._herokuevents.changedfields.contains("Industry") { this } else { deleted() }
func Meta(ev event.Event) map[string]any { return event.Meta(ev) }

// route applies each stream's filter and returns the deliveries that pass.
func (h *Handler) route(ctx context.Context, r event.Routed, streams []config.Stream) ([]queue.Message, error) {
	log := h.o.Logger.With("tenant", r.Tenant, "subscription", r.Subscription, "event_id", r.Event.ID)
	jr := h.record(ctx, r)
	var errs []error
	defer func() { jr.done(len(streams), errors.Join(errs...)) }()
	if len(streams) == 0 {
		log.InfoContext(ctx, "no streams: event dropped")
		return nil, nil
	}
	var out []queue.Message
	for _, s := range streams {
		ev := r.Event
		if s.Filter != "" {
			m, err := h.cache.Get(s.Filter)
			if err != nil {
				errs = append(errs, fmt.Errorf("stream to publication %s: %w", s.Publication, err))
				jr.filteredOut(s, filterError(err))
				continue
			}
			data, deleted, err := m.ApplyMeta(ev.Data, Meta(ev))
			if err != nil {
				log.WarnContext(ctx, "filter failed", "publication", s.Publication, "err", err)
				errs = append(errs, fmt.Errorf("stream to publication %s: filter: %w", s.Publication, err))
				jr.filteredOut(s, filterError(err))
				continue
			}
			if deleted {
				log.InfoContext(ctx, "filtered out", "publication", s.Publication)
				h.o.Metrics.Count(ctx, metric.FilteredOut, 1, metric.LabelTenant, r.Tenant, metric.LabelPublication, s.Publication)
				jr.filteredOut(s, reasonDropped)
				continue
			}
			ev.Data = data
		}
		body, err := json.Marshal(event.Delivery{Tenant: r.Tenant, Publication: s.Publication, Event: ev, FirstTry: h.o.Now().UTC()})
		if err != nil {
			errs = append(errs, fmt.Errorf("encode delivery: %w", err))
			continue
		}
		log.InfoContext(ctx, "routed", "publication", s.Publication)
		jr.routed(s)
		out = append(out, queue.Message{Body: body, Attributes: map[string]string{queue.AttrTenant: r.Tenant, queue.AttrAttempt: "0"}})
	}
	return out, errors.Join(errs...)
}
