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

	"github.com/herokuevents/herokuevents/shared/archive"
	"github.com/herokuevents/herokuevents/shared/config"
	"github.com/herokuevents/herokuevents/shared/envelope"
	"github.com/herokuevents/herokuevents/shared/event"
	"github.com/herokuevents/herokuevents/shared/journal"
	"github.com/herokuevents/herokuevents/shared/logjson"
	"github.com/herokuevents/herokuevents/shared/mapping"
	"github.com/herokuevents/herokuevents/shared/metric"
	"github.com/herokuevents/herokuevents/shared/order/keyer"
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
	// Archive keeps every routed event of every subscription for replay
	// (shared/archive): it never blocks. Nothing is archived when nil.
	// Replayed events (event.Routed.Replay) are neither archived, nor
	// kept by Recent, nor buffered by Pull.
	Archive archive.Keeper
}

// Handler is the filter role's queue.BatchHandler. Safe for concurrent use.
type Handler struct {
	o     Options
	cache mapping.Cache
	keyer keyer.Keyer // the lane keys of ordered publications
	subs  sync.Map    // subscription id → subInfo, for the journal (journal.go)
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

// HandleBatch routes every message. A message that cannot be decoded,
// whose filter fails at run time or exceeds a mapping limit (time, memory,
// output: mapping.ErrLimit), or whose delivery could not travel the queue
// (envelope.CheckDelivery), fails permanently (dead-lettered with the
// reason; the deliveries of its other streams are still sent). A message
// whose deliveries cannot be enqueued fails alone: the others of the batch
// are not affected (send). Receivers de-duplicate on the stable event id.
func (h *Handler) HandleBatch(ctx context.Context, msgs []queue.Message) queue.BatchResult {
	return h.handle(ctx, msgs, nil)
}

// HandleRouted is HandleBatch for messages whose events the caller has at
// hand already decoded: routed[i] must be exactly what msgs[i].Body
// decodes to (ingest.RoutedSender), and is routed without decoding the
// body again. The publish request routes in process so (infra/embedded).
func (h *Handler) HandleRouted(ctx context.Context, msgs []queue.Message, routed []event.Routed) queue.BatchResult {
	if len(routed) != len(msgs) {
		return h.handle(ctx, msgs, nil)
	}
	return h.handle(ctx, msgs, routed)
}

// handle is HandleBatch, with the events of msgs decoded already when
// decoded is not nil.
func (h *Handler) handle(ctx context.Context, msgs []queue.Message, decoded []event.Routed) queue.BatchResult {
	var res queue.BatchResult
	var out []outgoing
	var routes []routing
	var jobs []mapping.Job                  // the filters of every message and stream, run together
	streams := map[string][]config.Stream{} // tenant/subscription → streams
	orders := map[string]*config.Order{}    // tenant/publication → its order, nil when unordered
	pulls := h.newPulls()
	retentions := map[string]time.Duration{} // tenant/subscription → its archive retention
	for i, m := range msgs {
		var r event.Routed
		var err error
		if decoded != nil {
			r = decoded[i]
		} else {
			err = json.Unmarshal(m.Body, &r)
		}
		if err != nil || r.Tenant == "" || r.Subscription == "" {
			if err == nil {
				err = errors.New("tenant or subscription missing")
			}
			h.o.Logger.WarnContext(ctx, "poison message", "message_id", m.ID, "err", err)
			h.o.Metrics.Count(ctx, metric.DeadLettered, 1, metric.DimReason, metric.ReasonPermanent)
			res.Fail(m.ID, queue.Permanent(fmt.Errorf("decode routed event: %w", err)))
			continue
		}
		if r.Error != "" {
			h.o.Logger.WarnContext(ctx, "event not made", "tenant", r.Tenant, "subscription", r.Subscription, "event_id", r.Event.ID,
				"decision", "dead_letter", "reason", r.Error)
			h.o.Metrics.Count(ctx, metric.DeadLettered, 1, metric.DimReason, metric.ReasonPermanent,
				metric.LabelTenant, r.Tenant, metric.LabelSubscription, r.Subscription)
			res.Fail(m.ID, queue.Permanent(errors.New(r.Error)))
			continue
		}
		if h.o.Recent != nil && r.Replay == nil {
			h.o.Recent.Keep(r.Tenant, r.Subscription, r.Event)
		}
		evJSON, _ := eventJSON(m.Body, r) // nil when the message is not as encoding/json writes it
		if h.o.Archive != nil && r.Replay == nil {
			if err := h.archive(ctx, retentions, r, evJSON); err != nil {
				h.o.Logger.ErrorContext(ctx, "load subscription", "tenant", r.Tenant, "subscription", r.Subscription, "event_id", r.Event.ID, "err", err)
				res.Fail(m.ID, fmt.Errorf("load subscription: %w", err))
				continue
			}
		}
		key := r.Tenant + "/" + r.Subscription
		if r.Replay != nil {
			// nothing is buffered again
		} else if err := pulls.add(ctx, m.ID, r); err != nil {
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
		if r.Replay != nil && r.Replay.Publication != "" {
			ss = only(ss, r.Subscription, r.Replay.Publication)
		}
		ords, err := h.orders(ctx, r.Tenant, ss, orders)
		if err != nil {
			h.o.Logger.ErrorContext(ctx, "load publications", "tenant", r.Tenant, "subscription", r.Subscription, "event_id", r.Event.ID, "err", err)
			res.Fail(m.ID, fmt.Errorf("load publications: %w", err))
			continue
		}
		first := len(jobs)
		routes = append(routes, routing{id: m.ID, r: r, ev: evJSON, streams: ss, filters: h.filters(ss, r.Event, &jobs), keys: h.keys(ords, r.Event, &jobs)})
		for i := first; i < len(jobs); i++ {
			jobs[i].Tenant = r.Tenant // the mapping workers are shared fairly between tenants
		}
	}
	results := mapping.ApplyAll(jobs) // one round trip to the workers for the whole batch
	for _, rt := range routes {
		deliveries, err := h.route(ctx, rt, results)
		if len(deliveries) > 0 {
			out = append(out, outgoing{id: rt.id, msgs: deliveries})
		}
		if errors.Is(err, mapping.ErrUnavailable) {
			res.Fail(rt.id, err) // no worker to run the filter: not the event's fault
			continue
		}
		if err != nil {
			h.o.Metrics.Count(ctx, metric.DeadLettered, 1, metric.DimReason, metric.ReasonPermanent,
				metric.LabelTenant, rt.r.Tenant, metric.LabelSubscription, rt.r.Subscription)
			res.Fail(rt.id, queue.Permanent(err))
			continue
		}
	}
	pulls.put(ctx, &res)
	h.send(ctx, out, &res)
	return res
}

// outgoing are the deliveries of one message of the batch.
type outgoing struct {
	id   string
	msgs []queue.Message
}

// send enqueues the deliveries of the batch in one call. When that call
// fails, each message's deliveries are sent on their own, so that a
// failure only fails its own message: permanently when the queue cannot
// carry them (queue.ErrTooLarge, ErrInvalid), to be redelivered otherwise.
// Receivers de-duplicate what was sent twice on the stable event id.
func (h *Handler) send(ctx context.Context, out []outgoing, res *queue.BatchResult) {
	var all []queue.Message
	for _, o := range out {
		all = append(all, o.msgs...)
	}
	if len(all) == 0 {
		return
	}
	err := h.o.Delivery.Send(ctx, all...)
	if err == nil {
		return
	}
	if len(out) == 1 {
		h.failSend(ctx, out[0], err, res)
		return
	}
	h.o.Logger.WarnContext(ctx, "enqueue deliveries: sending each message's own", "count", len(all), "messages", len(out), "err", err)
	for _, o := range out {
		if err := h.o.Delivery.Send(ctx, o.msgs...); err != nil {
			h.failSend(ctx, o, err, res)
		}
	}
}

func (h *Handler) failSend(ctx context.Context, o outgoing, err error, res *queue.BatchResult) {
	err = fmt.Errorf("enqueue deliveries: %w", err)
	if errors.Is(err, queue.ErrTooLarge) || errors.Is(err, queue.ErrInvalid) {
		h.o.Logger.WarnContext(ctx, "enqueue deliveries", "message_id", o.id, "decision", "dead_letter", "err", err)
		res.Fail(o.id, queue.Permanent(err))
		return
	}
	h.o.Logger.ErrorContext(ctx, "enqueue deliveries", "message_id", o.id, "decision", "redeliver", "err", err)
	res.Fail(o.id, err)
}

// Meta is what a filter sees of the event besides its data, at
// this._herokuevents (event.Meta, which the api's dry-run shows too).
//
//	root = if this._herokuevents.changedfields.contains("Industry") { this } else { deleted() }
func Meta(ev event.Event) map[string]any { return event.Meta(ev) }

// routing is a message of the batch to route, once its filters ran.
type routing struct {
	id      string
	r       event.Routed
	ev      []byte // the JSON of r's event in its message (eventJSON), nil when unknown
	streams []config.Stream
	// filters[i] is the filter of streams[i]: no filter, a compile
	// error, or the index of its job in the batch's mapping.ApplyAll.
	filters []filterRef
	// keys[i] is the lane key of streams[i]'s delivery when its
	// publication is ordered (nil otherwise).
	keys []*keyer.Ref
}

// orders returns the order of each stream's publication (nil when
// unordered), read through the batch's memo.
func (h *Handler) orders(ctx context.Context, tenant string, streams []config.Stream, memo map[string]*config.Order) ([]*config.Order, error) {
	out := make([]*config.Order, len(streams))
	for i, s := range streams {
		k := tenant + "/" + s.Publication
		o, ok := memo[k]
		if !ok {
			rec, err := config.Read[config.Publication](ctx, h.o.Store, tenant, config.KindPublication, s.Publication)
			switch {
			case errors.Is(err, config.ErrNotFound):
				// Deleted meanwhile: the deliver role decides.
			case err != nil:
				return nil, err
			default:
				o = rec.Value.Order
			}
			memo[k] = o
		}
		out[i] = o
	}
	return out, nil
}

// keys plans the lane key of ev for each ordered publication of orders.
func (h *Handler) keys(orders []*config.Order, ev event.Event, jobs *[]mapping.Job) []*keyer.Ref {
	var out []*keyer.Ref
	for i, o := range orders {
		if o == nil {
			continue
		}
		if out == nil {
			out = make([]*keyer.Ref, len(orders))
		}
		r := h.keyer.Plan(o, ev, jobs)
		out[i] = &r
	}
	return out
}

type filterRef struct {
	job int // -1: no job (no filter, or err)
	err error
}

// filters adds to jobs the evaluation of each stream's filter on ev.
func (h *Handler) filters(streams []config.Stream, ev event.Event, jobs *[]mapping.Job) []filterRef {
	refs := make([]filterRef, len(streams))
	var (
		meta     map[string]any // the event's meta, made once for its filters:
		metaJSON []byte         // one of the two (event.MetaOrJSON)
	)
	for i, s := range streams {
		refs[i].job = -1
		if s.Filter == "" {
			continue
		}
		m, err := h.cache.Get(s.Filter)
		if err != nil {
			refs[i].err = err
			continue
		}
		if meta == nil && metaJSON == nil {
			meta, metaJSON = event.MetaOrJSON(ev)
		}
		refs[i].job = len(*jobs)
		*jobs = append(*jobs, mapping.Job{Mapping: m, Data: ev.Data, Meta: meta, MetaJSON: metaJSON})
	}
	return refs
}

// route applies each stream's filter (its result among results) and
// returns the deliveries that pass.
func (h *Handler) route(ctx context.Context, rt routing, results []mapping.Result) ([]queue.Message, error) {
	r, streams := rt.r, rt.streams
	// Each line names the event first, as Logger.With would, without
	// making a logger per event.
	about := func(kv ...any) []any {
		return append([]any{"tenant", r.Tenant, "subscription", r.Subscription, "event_id", r.Event.ID}, kv...)
	}
	jr := h.record(ctx, r)
	var errs []error
	defer func() { jr.done(len(streams), errors.Join(errs...)) }()
	if len(streams) == 0 {
		h.o.Logger.InfoContext(ctx, "no streams: event dropped", about()...)
		return nil, nil
	}
	var out []queue.Message
	for i, s := range streams {
		ev := r.Event
		if s.Filter != "" {
			f := rt.filters[i]
			if f.err != nil {
				errs = append(errs, fmt.Errorf("stream to publication %s: %w", s.Publication, f.err))
				jr.filteredOut(s, filterError(f.err))
				continue
			}
			res := results[f.job]
			if err := res.Err; err != nil {
				h.o.Logger.WarnContext(ctx, "filter failed", about("publication", s.Publication, "err", err)...)
				errs = append(errs, fmt.Errorf("stream to publication %s: filter: %w", s.Publication, err))
				jr.filteredOut(s, filterError(err))
				continue
			}
			if res.Deleted {
				h.o.Logger.InfoContext(ctx, "filtered out", about("publication", s.Publication)...)
				h.o.Metrics.Count(ctx, metric.FilteredOut, 1, metric.LabelTenant, r.Tenant, metric.LabelPublication, s.Publication)
				jr.filteredOut(s, reasonDropped)
				continue
			}
			ev.Data = res.Out
		}
		d := event.Delivery{Tenant: r.Tenant, Publication: s.Publication, Event: ev, FirstTry: h.o.Now().UTC()}
		if rt.keys != nil && rt.keys[i] != nil {
			key, err := rt.keys[i].Key(results)
			if err != nil {
				h.o.Logger.WarnContext(ctx, "ordering key failed", about("publication", s.Publication, "err", err)...)
				errs = append(errs, fmt.Errorf("stream to publication %s: %w", s.Publication, err))
				jr.filteredOut(s, "the ordering key failed: "+err.Error())
				continue
			}
			d.Ordered, d.Key = true, key
		}
		if r.Replay != nil && !d.Ordered && ev.Subject != "" {
			// A replay keeps the original order per key to any
			// publication: the subject's lane when it has none of its own.
			d.Ordered, d.Key = true, ev.Subject
		}
		body, err := deliveryJSON(rt.ev, r, d)
		if err == nil {
			err = envelope.CheckDelivery(d, body)
		}
		if err != nil {
			h.o.Logger.WarnContext(ctx, "cannot route", about("publication", s.Publication, "err", err)...)
			errs = append(errs, fmt.Errorf("stream to publication %s: encode delivery: %w", s.Publication, err))
			jr.filteredOut(s, "cannot queue the delivery: "+err.Error())
			continue
		}
		logjson.LogAttrs(ctx, h.o.Logger, slog.LevelInfo, "routed", slog.String("tenant", r.Tenant),
			slog.String("subscription", r.Subscription), slog.String("event_id", r.Event.ID), slog.String("publication", s.Publication))
		jr.routed(s)
		out = append(out, queue.Message{Body: body, Group: d.Group(), Attributes: map[string]string{queue.AttrTenant: r.Tenant, queue.AttrAttempt: "0"}})
	}
	return out, errors.Join(errs...)
}
