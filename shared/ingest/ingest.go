// Package ingest is the ingest role: apps POST events to their publish URL
// ({base}/publish/{name}, Basic auth from the URL's userinfo) and get a 202
// once the event is durably queued.
//
// A name is a publication (the event goes straight to the delivery queue, as
// the original product did) or an inbound `webhook` subscription (the event
// goes to the ingest queue and is routed through the subscription's streams).
package ingest

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"mime"
	"net/http"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	cloudevents "github.com/cloudevents/sdk-go/v2/event"
	cehttp "github.com/cloudevents/sdk-go/v2/protocol/http"

	"github.com/herokuevents/herokuevents/shared/config"
	"github.com/herokuevents/herokuevents/shared/dedup"
	"github.com/herokuevents/herokuevents/shared/envelope"
	"github.com/herokuevents/herokuevents/shared/event"
	"github.com/herokuevents/herokuevents/shared/httpjson"
	"github.com/herokuevents/herokuevents/shared/journal"
	"github.com/herokuevents/herokuevents/shared/logjson"
	"github.com/herokuevents/herokuevents/shared/metric"
	"github.com/herokuevents/herokuevents/shared/order"
	"github.com/herokuevents/herokuevents/shared/queue"
)

// MaxBody is the largest accepted request body (httpjson.MaxBody, the
// limit of every HTTP role).
const MaxBody = httpjson.MaxBody

// MaxDepth bounds the nesting of a posted JSON document (httpjson.MaxDepth).
const MaxDepth = httpjson.MaxDepth

// Options configure the ingest role.
type Options struct {
	// Store holds tenants, publications and subscriptions. Required.
	Store config.Store
	// Ingest receives event.Routed messages (events for subscriptions).
	// Required.
	Ingest queue.Sender
	// Delivery receives event.Delivery messages (events for publications).
	// Required.
	Delivery queue.Sender
	// Keys computes the lane keys of custom --ordered-by expressions of
	// publications published to (keyer.Keyer); without it such a
	// publication's published events share its keyless lane.
	Keys Keyer
	// Logger gets one line per request; slog.Default when nil.
	Logger *slog.Logger
	// Metrics records Ingested; metric.Discard when nil.
	Metrics metric.Recorder
	// Now is the clock; time.Now when nil.
	Now func() time.Time
	// Journal, when set, records each accepted event (the delivery log);
	// give it a journal.Async so that the request only enqueues.
	Journal journal.Writer
	// Backlog, when set, counts the messages waiting per tenant: a tenant
	// at its plan's backlog gets 429, and with MaxBacklog messages waiting
	// in all (over capacity) a tenant with its fair share or more gets
	// 503, both with Retry-After. Every tenant is held to its plan's
	// publish rate (429) whether or not it is set.
	Backlog    Backlog
	MaxBacklog int64
	// Dedup, when set, de-duplicates publishes with an Idempotency-Key
	// header or a CloudEvent's source and id (dedup.go): a publish seen
	// within DedupWindow (dedup.DefaultWindow when zero) gets the first
	// event's id and enqueues nothing.
	Dedup       dedup.Store
	DedupWindow time.Duration
}

// Handler serves POST /publish/{name}.
type Handler struct {
	o      Options
	mux    *http.ServeMux
	limits limits
}

// New returns the ingest role's HTTP handler, or an error when Store,
// Ingest or Delivery is missing.
func New(o Options) (*Handler, error) {
	if o.Store == nil || o.Ingest == nil || o.Delivery == nil {
		return nil, errors.New("ingest: Options.Store, Ingest and Delivery are required")
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
	h := &Handler{o: o, mux: http.NewServeMux()}
	h.limits.o = &h.o
	h.mux.HandleFunc("POST /publish/{name}", h.publish)
	h.mux.HandleFunc("OPTIONS /publish/{name}", h.handshake)
	h.mux.HandleFunc("/publish/{name}", func(w http.ResponseWriter, r *http.Request) {
		allow(w.Header())
		writeError(w, http.StatusMethodNotAllowed, "method_not_allowed", "Only POST publishes an event.")
	})
	return h, nil
}

func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) { h.mux.ServeHTTP(w, r) }

// allow sets the Allow header of the publish URL: POST, OPTIONS (two field
// lines, which HTTP reads as one list).
func allow(h http.Header) {
	h.Set("Allow", http.MethodPost)
	h.Add("Allow", http.MethodOptions)
}

// Headers of the CloudEvents webhook abuse-protection handshake ("HTTP 1.1
// Web Hooks for Event Delivery", section 4).
const (
	HeaderRequestOrigin = "WebHook-Request-Origin"
	HeaderAllowedOrigin = "WebHook-Allowed-Origin"
	HeaderAllowedRate   = "WebHook-Allowed-Rate"
)

// handshake answers the abuse-protection validation request of a sender
// that checks its delivery target first (OPTIONS with
// WebHook-Request-Origin): the publish URL accepts events from every
// origin (Basic auth decides who may publish), at no rate limit, so the
// answer grants the requested origin with WebHook-Allowed-Rate "*". It
// needs no credentials and reveals nothing about the name, which is not
// looked up. An OPTIONS without the header gets the Allow header only.
func (h *Handler) handshake(w http.ResponseWriter, r *http.Request) {
	allow(w.Header())
	if origin := r.Header.Get(HeaderRequestOrigin); origin != "" {
		w.Header().Set(HeaderAllowedOrigin, origin)
		w.Header().Set(HeaderAllowedRate, "*")
		h.o.Logger.InfoContext(r.Context(), "webhook handshake granted", "name", r.PathValue("name"), "origin", origin)
	}
	w.WriteHeader(http.StatusOK)
}

// Accepted is the 202 response body.
type Accepted struct {
	ID string `json:"id"`
}

func (h *Handler) publish(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	name := r.PathValue("name")
	tenant, planName, ok := h.authenticate(ctx, r)
	if !ok {
		h.o.Logger.InfoContext(ctx, "publish refused", "name", name, "reason", "bad credentials")
		w.Header().Set("WWW-Authenticate", `Basic realm="herokuevents publish"`)
		writeError(w, http.StatusUnauthorized, "unauthorized", "Invalid credentials: use the user and password of HEROKUEVENTS_PUBLISH_URL.")
		return
	}
	if no := h.limits.check(tenant, planName, h.o.Now()); no != nil {
		h.o.Logger.InfoContext(ctx, "publish refused", "tenant", tenant, "name", name, "status", no.status, "reason", no.id, "retry_after", no.retryAfter)
		no.write(w)
		return
	}
	idem, err := idempotencyKey(r)
	if err != nil {
		h.o.Logger.InfoContext(ctx, "publish refused", "tenant", tenant, "name", name, "reason", "invalid idempotency key")
		httpjson.WriteError(w, err)
		return
	}
	body, err := httpjson.ReadBody(w, r)
	if err != nil {
		httpjson.WriteError(w, err)
		return
	}
	route, err := h.resolve(ctx, tenant, name)
	if err != nil {
		if httpjson.Internal(err) {
			h.o.Logger.ErrorContext(ctx, "resolve publish target", "tenant", tenant, "name", name, "err", err)
			unavailable(w)
			return
		}
		h.o.Logger.InfoContext(ctx, "publish refused", "tenant", tenant, "name", name, "reason", err.Error())
		httpjson.WriteError(w, err)
		return
	}
	p, err := h.decode(r, body, tenant, route)
	if err != nil {
		writeError(w, http.StatusBadRequest, "invalid_event", err.Error())
		return
	}
	if len(p.evs) > 1 {
		if no := h.limits.more(tenant, planName, len(p.evs)-1, h.o.Now()); no != nil {
			h.o.Logger.InfoContext(ctx, "publish refused", "tenant", tenant, "name", name, "status", no.status, "reason", no.id, "events", len(p.evs), "retry_after", no.retryAfter)
			no.write(w)
			return
		}
	}
	items, ok := h.prepare(ctx, w, route, p)
	if !ok {
		return
	}
	if !h.dedupe(ctx, w, route, idem, p, items) {
		return
	}
	var (
		sendEvs  []event.Event
		sendMsgs []queue.Message
	)
	for _, it := range items {
		if it.enqueue() {
			sendEvs, sendMsgs = append(sendEvs, it.ev), append(sendMsgs, it.msg)
		}
	}
	// The acceptance is stamped before the send: a sender may route the
	// event on at once (embedded), and the delivery log reads in time order.
	// It is said (the delivery log, the log line) once the events are
	// queued: when the queue commits them, before a consumer of this
	// process can say anything of them (queue.WithCommitted), or else
	// once the send returns.
	accepted := h.o.Now()
	var once sync.Once
	say := func() {
		once.Do(func() {
			for _, it := range items {
				if it.enqueue() {
					h.record(ctx, route, it.ev, accepted)
					logjson.LogAttrs(ctx, h.o.Logger, slog.LevelInfo, "event accepted",
						slog.String("tenant", tenant), slog.String(route.kind, name), slog.String("event_id", it.ev.ID))
				}
			}
		})
	}
	if err := h.send(queue.WithCommitted(ctx, say), route, sendEvs, sendMsgs); err != nil {
		h.release(ctx, items)
		h.o.Logger.ErrorContext(ctx, "enqueue event", "tenant", tenant, "name", name, "event_id", sendEvs[0].ID, "events", len(sendEvs), "err", err)
		unavailable(w)
		return
	}
	say()
	h.confirm(ctx, items)
	h.countAccepted(ctx, route, len(sendEvs))
	ids := make([]string, len(items))
	for i, it := range items {
		if it.sameAs >= 0 {
			ids[i] = items[it.sameAs].ev.ID
			continue
		}
		ids[i] = it.ev.ID
	}
	if len(sendEvs) == 0 { // every event a duplicate: nothing was enqueued
		w.Header().Set(HeaderReplayed, "true")
	}
	if p.batch {
		httpjson.WriteJSON(w, http.StatusAccepted, AcceptedBatch{IDs: ids})
		return
	}
	httpjson.WriteJSON(w, http.StatusAccepted, Accepted{ID: ids[0]})
}

// item is one event of a publish on its way to the queue.
type item struct {
	ev  event.Event
	msg queue.Message // ev's message (route.message)
	// claim is the de-duplication key the publish claimed for the event;
	// replayed, that the key named an event accepted before (whose id ev
	// now has; nothing is enqueued); sameAs ≥ 0, that the event is a
	// duplicate of an earlier one of its batch.
	claim    claim
	replayed bool
	sameAs   int
}

// enqueue reports whether the item is to be queued.
func (it item) enqueue() bool { return !it.replayed && it.sameAs < 0 }

// prepare encodes the messages of p's events. ok is false when the request was
// answered: an event that cannot be queued refuses the whole publish.
func (h *Handler) prepare(ctx context.Context, w http.ResponseWriter, rt route, p posted) (items []item, ok bool) {
	now := h.o.Now()
	items = make([]item, len(p.evs))
	for i, ev := range p.evs {
		index := p.place(i)
		msg, err := rt.message(ev, now)
		var bad badEvent
		if errors.As(err, &bad) {
			writeError(w, http.StatusBadRequest, "invalid_event", at(index, err).Error())
			return nil, false
		}
		var tooLarge *envelope.Error
		if errors.As(err, &tooLarge) {
			h.o.Logger.InfoContext(ctx, "publish refused", "tenant", rt.tenant, rt.kind, rt.name, "reason", "too large", "size", tooLarge.Size, "limit", tooLarge.Limit)
			writeError(w, http.StatusRequestEntityTooLarge, "payload_too_large", at(index, badEventf("The event is too large to be delivered: %s.", tooLarge)).Error())
			return nil, false
		}
		if err != nil {
			h.o.Logger.ErrorContext(ctx, "encode event", "tenant", rt.tenant, rt.kind, rt.name, "event_id", ev.ID, "err", err)
			writeError(w, http.StatusInternalServerError, "internal_error", "Cannot encode the event.")
			return nil, false
		}
		items[i] = item{ev: ev, msg: msg, sameAs: -1}
	}
	return items, true
}

// authenticate checks Basic auth: the user names the tenant, the password
// is its publish key. It returns the tenant and its plan.
func (h *Handler) authenticate(ctx context.Context, r *http.Request) (tenant, plan string, ok bool) {
	user, pass, ok := r.BasicAuth()
	if !ok || user == "" || pass == "" {
		return "", "", false
	}
	rec, err := config.Read[credentials](ctx, h.o.Store, "", config.KindTenant, user)
	cred := rec.Value
	if err != nil || cred.ID != user {
		return "", "", false
	}
	return user, cred.Plan, config.KeyMatches(pass, cred.PublishKeyHash)
}

// route is where a published name leads.
type route struct {
	tenant, kind, name, id string
	// order is an ordered publication's (its deliveries get their lane
	// key here, as the filter gives those of its streams), keys what
	// computes a custom expression's keys (Options.Keys).
	order *config.Order
	keys  Keyer
}

// Keyer computes the lane key of an event under a custom --ordered-by
// expression (keyer.Keyer, which runs Bloblang).
type Keyer interface {
	Key(o *config.Order, ev event.Event) (string, error)
}

// laneKey is ev's key in rt's ordered publication: order.DefaultKey, or
// a custom expression's through rt.keys; without a Keyer every event of
// a custom expression goes to the publication's one keyless lane (still
// in order, one at a time).
func (rt route) laneKey(ev event.Event) (string, error) {
	if !order.Custom(rt.order) {
		return order.DefaultKey(ev), nil
	}
	if rt.keys == nil {
		return "", nil
	}
	return rt.keys.Key(rt.order, ev)
}

// badEvent is a message for the client about its request body.
type badEvent string

func (b badEvent) Error() string { return string(b) }

func badEventf(format string, a ...any) error { return badEvent(fmt.Sprintf(format, a...)) }

// resolve finds where name leads: a config.ErrNotFound problem when no
// publication or subscription has that name, a config.ErrInvalid one when
// it is a subscription that takes no published events.
func (h *Handler) resolve(ctx context.Context, tenant, name string) (route, error) {
	pub, err := config.Read[target](ctx, h.o.Store, tenant, config.KindPublication, name)
	if err == nil && pub.Item.Name == name {
		if err := checkEnabled(pub); err != nil {
			return route{}, err
		}
		return route{tenant: tenant, kind: "publication", name: name, id: pub.Item.ID, order: pub.Value.Order, keys: h.o.Keys}, nil
	}
	if err != nil && !errors.Is(err, config.ErrNotFound) {
		return route{}, err
	}
	rec, err := config.Read[inbound](ctx, h.o.Store, tenant, config.KindSubscription, name)
	sub := rec.Value
	if errors.Is(err, config.ErrNotFound) || (err == nil && sub.Name != name) {
		return route{}, config.NotFound("Couldn't find a publication or webhook subscription named %s.", httpjson.Short(name))
	}
	if err != nil {
		return route{}, err
	}
	if sub.Platform != config.PlatformWebhook {
		return route{}, config.Invalid("Subscription %s is a %s subscription; only webhook subscriptions and publications accept published events.", name, sub.Platform)
	}
	return route{tenant: tenant, kind: "subscription", name: name, id: sub.ID}, nil
}

// checkEnabled refuses a publication disabled by a 410 Gone with 409
// publication_disabled and the reason: its deliveries would only be
// dead-lettered. publications:enable takes it back.
func checkEnabled(pub config.Record[target]) error {
	if !pub.Value.Disabled {
		return nil
	}
	reason := pub.Value.Reason
	if reason == "" {
		reason = "its endpoint answered 410 Gone"
	}
	return &httpjson.Error{Status: http.StatusConflict, ID: "publication_disabled",
		Message: fmt.Sprintf("Publication %s is disabled (%s); the event was not accepted. Enable it with publications:enable once its endpoint is back.", httpjson.Short(pub.Item.Name), reason)}
}

// RoutedSender is an Options.Ingest that also takes the event as its
// receiver decodes it from the message: the embedded mode routes a
// published event in the request (the filter in process), which need not
// decode what ingest has just encoded.
type RoutedSender interface {
	// SendRouted sends msgs, whose bodies decode to routed (one each).
	SendRouted(ctx context.Context, routed []event.Routed, msgs []queue.Message) error
}

// send sends msgs, the encodings of evs (route.message), to rt's queue in
// one call.
func (h *Handler) send(ctx context.Context, rt route, evs []event.Event, msgs []queue.Message) error {
	if len(msgs) == 0 {
		return nil
	}
	s := rt.sender(h.o)
	if rs, ok := s.(RoutedSender); ok && rt.kind == "subscription" {
		routed := make([]event.Routed, len(evs))
		all := true
		for i := range evs {
			if routed[i], all = rt.routed(evs[i], msgs[i].Body); !all {
				break
			}
		}
		if all {
			return rs.SendRouted(ctx, routed, msgs)
		}
	}
	return s.Send(ctx, msgs...)
}

// routed returns the event.Routed that the message of ev (route.message)
// decodes to, made without decoding it, when it can tell what that is:
// every string valid UTF-8 (encoding replaces invalid bytes), the time in
// UTC without a monotonic reading, no extension attributes (JSON changes
// the types of their values) and the data as encoding/json writes it
// (compact, HTML-escaped: it is taken from body, the message). Its data
// shares body's bytes. FuzzRoutedIsTheDecodedMessage holds it to the
// decoding.
func (rt route) routed(ev event.Event, body []byte) (event.Routed, bool) {
	if len(ev.Extensions) > 0 || ev.Time != ev.Time.Round(0).UTC() {
		return event.Routed{}, false
	}
	for _, s := range [...]string{rt.tenant, rt.id, ev.ID, ev.Source, ev.Type, ev.Subject, ev.DataContentType, ev.DataSchema} {
		if !utf8.ValidString(s) {
			return event.Routed{}, false
		}
	}
	if len(ev.Data) == 0 {
		ev.Data = nil // omitted
	} else {
		data, ok := lastData(body)
		if !ok {
			return event.Routed{}, false
		}
		ev.Data = data
	}
	ev.Extensions = nil
	return event.Routed{Tenant: rt.tenant, Subscription: rt.id, Event: ev}, true
}

// lastData returns the data of the event.Routed encoded in body whose
// event's last member is its data, and whose error and replay are
// omitted (body closes right after its event: event.LastData).
func lastData(body []byte) (json.RawMessage, bool) {
	if !bytes.HasSuffix(body, []byte("}}")) {
		return nil, false
	}
	data, _, ok := event.LastData(body[:len(body)-1])
	return data, ok
}

func (rt route) sender(o Options) queue.Sender {
	if rt.kind == "publication" {
		return o.Delivery
	}
	return o.Ingest
}

// message encodes the event for its queue. An event whose messages would
// not fit the queues at their largest (envelope.CheckRouted and
// CheckDelivery: the filter's delivery, retries, the dead letter) is an
// *envelope.Error: accepting it would accept an event that cannot be
// delivered.
func (rt route) message(ev event.Event, now time.Time) (queue.Message, error) {
	var (
		body  []byte
		err   error
		group string
	)
	if rt.kind == "publication" {
		d := event.Delivery{Tenant: rt.tenant, Publication: rt.id, Event: ev, FirstTry: now.UTC()}
		if rt.order != nil {
			key, err := rt.laneKey(ev)
			if err != nil {
				if !errors.Is(err, order.ErrKey) {
					return queue.Message{}, err
				}
				return queue.Message{}, badEventf("The ordering key of publication %s failed on the event: %v.", httpjson.Short(rt.name), err)
			}
			d.Ordered, d.Key = true, key
			group = d.Group()
		}
		if body, err = json.Marshal(d); err == nil {
			err = envelope.CheckDelivery(d, body)
		}
	} else {
		r := event.Routed{Tenant: rt.tenant, Subscription: rt.id, Event: ev}
		if body, err = json.Marshal(r); err == nil {
			err = envelope.CheckRouted(r, body)
		}
	}
	if err != nil {
		return queue.Message{}, fmt.Errorf("encode message: %w", err)
	}
	return queue.Message{Body: body, Group: group, Attributes: map[string]string{queue.AttrTenant: rt.tenant, queue.AttrAttempt: "0"}}, nil
}

// decode turns the request into its events: a CloudEvent (structured
// application/cloudevents+json, or binary ce-* headers) keeps its
// attributes; a batch (batch.go) is several; any other body must be a JSON
// object and becomes the data of a new event.
func (h *Handler) decode(r *http.Request, body []byte, tenant string, rt route) (posted, error) {
	mt, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
	structured := mt == "application/cloudevents+json"
	switch {
	case mt == ContentTypeBatch:
		evs, err := h.decodeBatch(body, tenant, rt, true)
		return posted{evs: evs, batch: true, ce: true}, err
	case structured || r.Header.Get("Ce-Specversion") != "":
		ev, err := decodeCloudEvent(r, body, structured)
		return posted{evs: []event.Event{ev}, ce: true}, err
	case isArray(body):
		evs, err := h.decodeBatch(body, tenant, rt, false)
		return posted{evs: evs, batch: true}, err
	}
	if err := checkObject(body); err != nil {
		return posted{}, err
	}
	ev := event.New(event.Source(tenant, rt.kind+"s", rt.name), event.TypePublish, json.RawMessage(body))
	ev.Time = h.o.Now().UTC()
	return posted{evs: []event.Event{ev}}, nil
}

// decodeCloudEvent decodes a structured or binary CloudEvent with the
// SDK's HTTP binding. In binary mode the ce-* header values are first
// percent-decoded as the binding requires (decodeHeaders), which the SDK
// (v2.16) does not do. Every attribute is kept: dataschema, the
// datacontenttype as given (a JSON type) and the extension attributes,
// checked by event.CheckAttributes.
func decodeCloudEvent(r *http.Request, body []byte, structured bool) (event.Event, error) {
	req := r.Clone(r.Context())
	if !structured {
		h, err := decodeHeaders(r.Header)
		if err != nil {
			return event.Event{}, badEventf("Invalid CloudEvent: %v", err)
		}
		req.Header = h
	}
	req.Body = io.NopCloser(bytes.NewReader(body))
	req.ContentLength = int64(len(body))
	ce, err := cehttp.NewEventFromHTTPRequest(req)
	if err != nil {
		return event.Event{}, badEventf("Invalid CloudEvent: %v", err)
	}
	if !structured {
		body = nil
	}
	return fromSDK(ce, body)
}

// fromSDK checks the SDK's decoding of a CloudEvent and makes it an event;
// structured is its JSON (nil in binary mode), whose numbers its numeric
// extension values are taken as written from.
func fromSDK(ce *cloudevents.Event, structured []byte) (event.Event, error) {
	if err := ce.Validate(); err != nil {
		return event.Event{}, badEventf("Invalid CloudEvent: %v", err)
	}
	data := ce.Data()
	if ct := ce.DataContentType(); ct != "" && !strings.Contains(ct, "json") {
		return event.Event{}, badEventf("Invalid CloudEvent: datacontenttype %q is not JSON", ct)
	}
	if err := checkObject(data); err != nil {
		return event.Event{}, badEventf("Invalid CloudEvent data: %v", err)
	}
	ev := event.Event{
		ID:              ce.ID(),
		Source:          ce.Source(),
		Type:            ce.Type(),
		Subject:         ce.Subject(),
		Time:            ce.Time().UTC(),
		DataContentType: ce.DataContentType(),
		DataSchema:      ce.DataSchema(),
		Data:            json.RawMessage(data),
	}
	if ev.DataContentType == "" {
		ev.DataContentType = "application/json"
	}
	if ext := ce.Extensions(); len(ext) > 0 {
		ev.Extensions = make(map[string]any, len(ext))
		for k, v := range ext {
			ev.Extensions[k] = v
		}
		if structured != nil {
			exactNumbers(structured, ev.Extensions)
		}
	}
	if ev.Time.IsZero() {
		ev.Time = time.Now().UTC()
	}
	if err := ev.CheckAttributes(); err != nil {
		return event.Event{}, badEventf("Invalid CloudEvent: %s", strings.TrimPrefix(err.Error(), event.ErrInvalid.Error()+": "))
	}
	return ev, nil
}

// exactNumbers replaces the numeric extension values of a structured
// event by the numbers as written, which CheckAttributes then checks: the
// SDK truncates 1.5 to the Integer 1, and CloudEvents has no fractional
// type.
func exactNumbers(body []byte, ext map[string]any) {
	var members map[string]json.RawMessage
	if json.Unmarshal(body, &members) != nil {
		return
	}
	for k := range ext {
		if n := members[k]; len(n) > 0 && (n[0] == '-' || ('0' <= n[0] && n[0] <= '9')) {
			ext[k] = json.Number(n)
		}
	}
}

// decodeHeaders returns a copy of h whose ce-* values are decoded as the
// CloudEvents HTTP binding requires (event.DecodeHeader: quoted strings,
// then one round of percent-decoding, UTF-8 checked). Other headers, such
// as Content-Type (the datacontenttype), are copied as they are.
func decodeHeaders(h http.Header) (http.Header, error) {
	out := make(http.Header, len(h))
	for k, vs := range h {
		if len(k) <= len("ce-") || !strings.EqualFold(k[:len("ce-")], "ce-") {
			out[k] = vs
			continue
		}
		dec := make([]string, len(vs))
		for i, v := range vs {
			d, err := event.DecodeHeader(v)
			if err != nil {
				return nil, fmt.Errorf("header %s: %s", strings.ToLower(k), strings.TrimPrefix(err.Error(), event.ErrInvalid.Error()+": "))
			}
			dec[i] = d
		}
		out[k] = dec
	}
	return out, nil
}

// checkObject accepts a JSON object nested at most MaxDepth deep (the
// limits of httpjson.CheckObject, with messages about the event).
func checkObject(b []byte) error {
	trimmed := httpjson.TrimSpace(b)
	switch {
	case len(trimmed) == 0:
		return badEvent("The body is empty: post a JSON object.")
	case !json.Valid(trimmed):
		return badEvent("The body is not valid JSON.")
	case trimmed[0] != '{':
		return badEvent("The body must be a JSON object.")
	case httpjson.Depth(trimmed) > MaxDepth:
		return badEventf("The JSON is nested deeper than %d levels.", MaxDepth)
	}
	return nil
}

// Error is the JSON error body of every failed request (httpjson.WriteError).
type Error struct {
	ID      string `json:"id"`
	Message string `json:"message"`
}

// unavailable answers a publish that could not be stored (a store or
// queue failure, a full disk): 503 with Retry-After, so that the client
// tries again later.
func unavailable(w http.ResponseWriter) {
	w.Header().Set("Retry-After", "5")
	writeError(w, http.StatusServiceUnavailable, "unavailable", "The event was not accepted; try again.")
}

func writeError(w http.ResponseWriter, status int, id, msg string) {
	httpjson.WriteError(w, &httpjson.Error{Status: status, ID: id, Message: msg})
}
