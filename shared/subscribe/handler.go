// Package subscribe serves HEROKUEVENTS_SUBSCRIBE_URL, the HTTP edge of
// pull subscriptions (shared/pull keeps their events): GET pending events
// as the original product's client reads them (one structured CloudEvent,
// an empty body when nothing is pending) or in leased batches, and
// acknowledgements. The ingest function serves it on AWS.
package subscribe

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"mime"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/herokuevents/herokuevents/shared/config"
	"github.com/herokuevents/herokuevents/shared/httpjson"
	"github.com/herokuevents/herokuevents/shared/pull"
)

// Media types of the answers.
const (
	// ContentTypeEvent is one event (structured mode).
	ContentTypeEvent = "application/cloudevents+json"
	// ContentTypeBatch is a JSON array of events (the CloudEvents batched
	// content mode); asked for with Accept or ?max=.
	ContentTypeBatch = "application/cloudevents-batch+json"
)

// Path is the path of HEROKUEVENTS_SUBSCRIBE_URL.
const Path = "/subscribe"

// Options configure the subscribe handler.
type Options struct {
	// Store holds tenants and subscriptions. Required.
	Store config.Store
	// Buffer holds the events of pull subscriptions. Required.
	Buffer pull.Buffer
	// Logger gets one line per pull and ack; slog.Default when nil.
	Logger *slog.Logger
	// Visibility is the default lease of a pulled event; pull.DefaultVisibility
	// when ≤ 0.
	Visibility time.Duration
	// PollEvery is how often a long poll looks at the buffer again;
	// 250 ms when ≤ 0.
	PollEvery time.Duration
}

// Handler serves the subscribe URL:
//
//	GET    {url}/{name}       pending events (one, or a batch)
//	DELETE {url}/{name}/{id}  acknowledge one event
//	POST   {url}/{name}/ack   acknowledge events: {"ids": [...]}
//
// with Basic auth from the URL's userinfo (the tenant id and its publish
// key, as the publish URL). Safe for concurrent use.
type Handler struct {
	o   Options
	mux *http.ServeMux
}

// New returns the subscribe handler, or an error when Store or Buffer is missing.
func New(o Options) (*Handler, error) {
	if o.Store == nil || o.Buffer == nil {
		return nil, errors.New("new subscribe handler: Options.Store and Buffer are required")
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	if o.Visibility <= 0 {
		o.Visibility = pull.DefaultVisibility
	}
	if o.PollEvery <= 0 {
		o.PollEvery = 250 * time.Millisecond
	}
	h := &Handler{o: o, mux: http.NewServeMux()}
	h.mux.HandleFunc("GET "+Path+"/{name}", h.auth(h.get))
	h.mux.HandleFunc("DELETE "+Path+"/{name}/{id}", h.auth(h.ackOne))
	h.mux.HandleFunc("POST "+Path+"/{name}/ack", h.auth(h.ackMany))
	h.mux.HandleFunc(Path+"/{name}", methods("GET"))
	h.mux.HandleFunc(Path+"/{name}/{id}", func(w http.ResponseWriter, r *http.Request) {
		if r.PathValue("id") == "ack" {
			methods("POST, DELETE")(w, r)
			return
		}
		methods("DELETE")(w, r)
	})
	h.mux.HandleFunc(Path+"/", func(w http.ResponseWriter, _ *http.Request) { httpjson.WriteError(w, httpjson.NotFoundRoute) })
	return h, nil
}

func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) { h.mux.ServeHTTP(w, r) }

func methods(allowed string) http.HandlerFunc {
	return func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Allow", allowed)
		httpjson.WriteError(w, httpjson.Errorf(http.StatusMethodNotAllowed, "method_not_allowed", "Use %s here.", allowed))
	}
}

// pullFunc serves one authenticated request on the subscription sub.
type pullFunc func(w http.ResponseWriter, r *http.Request, tenant string, sub config.Subscription)

// auth checks Basic auth (the user names the tenant, the password is its
// publish key) and finds the pull subscription {name} (a name or an id).
func (h *Handler) auth(next pullFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		ctx := r.Context()
		name := r.PathValue("name")
		tenant, ok := h.authenticate(ctx, r)
		if !ok {
			h.o.Logger.InfoContext(ctx, "pull refused", "name", name, "reason", "bad credentials")
			w.Header().Set("WWW-Authenticate", `Basic realm="herokuevents subscribe"`)
			httpjson.WriteError(w, httpjson.Errorf(http.StatusUnauthorized, "unauthorized",
				"Invalid credentials: use the user and password of HEROKUEVENTS_SUBSCRIBE_URL."))
			return
		}
		rec, err := config.Load[config.Subscription](ctx, h.o.Store, tenant, config.KindSubscription, name)
		switch {
		case errors.Is(err, config.ErrNotFound):
			httpjson.WriteError(w, config.NotFound("Couldn't find a subscription named %s.", name))
			return
		case err != nil:
			h.o.Logger.ErrorContext(ctx, "load subscription", "tenant", tenant, "subscription", name, "err", err)
			httpjson.WriteError(w, httpjson.Errorf(http.StatusServiceUnavailable, "unavailable", "Try again."))
			return
		case !rec.Value.Pull:
			httpjson.WriteError(w, httpjson.Errorf(http.StatusConflict, "pull_disabled",
				"Subscription %s does not keep its events for pulling: turn it on with `subscriptions:update %s --pull`.", rec.Value.Name, rec.Value.Name))
			return
		}
		next(w, r, tenant, rec.Value)
	}
}

func (h *Handler) authenticate(ctx context.Context, r *http.Request) (string, bool) {
	user, pass, ok := r.BasicAuth()
	if !ok || user == "" || pass == "" {
		return "", false
	}
	rec, err := config.Load[config.Tenant](ctx, h.o.Store, "", config.KindTenant, user)
	if err != nil || rec.Value.ID != user {
		return "", false
	}
	return user, config.KeyMatches(pass, rec.Value.PublishKeyHash)
}

// query is what a GET asks for.
type query struct {
	batch      bool
	max        int
	wait       time.Duration
	visibility time.Duration
}

// parseQuery reads ?max=, ?wait= and ?visibility= and the Accept header.
// A batch (Accept: application/cloudevents-batch+json, or ?max=) leases
// its events; a plain GET, the original product's, hands out one event
// and acknowledges it once written.
func (h *Handler) parseQuery(r *http.Request) (query, error) {
	q := query{max: 1, visibility: h.o.Visibility}
	for _, a := range strings.Split(r.Header.Get("Accept"), ",") {
		if mt, _, err := mime.ParseMediaType(strings.TrimSpace(a)); err == nil && mt == ContentTypeBatch {
			q.batch, q.max = true, pull.DefaultBatch
		}
	}
	v := r.URL.Query()
	if s := v.Get("max"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 || n > pull.MaxBatch {
			return q, httpjson.BadRequest("max %q: use a number from 1 to %d.", s, pull.MaxBatch)
		}
		q.batch, q.max = true, n
	}
	var err error
	if q.wait, err = duration(v.Get("wait"), "wait", 0, pull.MaxWait); err != nil {
		return q, err
	}
	if s := v.Get("visibility"); s != "" {
		if q.visibility, err = duration(s, "visibility", time.Second, pull.MaxVisibility); err != nil {
			return q, err
		}
	}
	return q, nil
}

// duration parses "20s" or "20" (seconds) within [least, most].
func duration(s, name string, least, most time.Duration) (time.Duration, error) {
	if s == "" {
		return 0, nil
	}
	d, err := time.ParseDuration(s)
	if err != nil {
		n, nerr := strconv.Atoi(s)
		if nerr != nil {
			return 0, httpjson.BadRequest("%s %q: use a duration such as 20s.", name, s)
		}
		d = time.Duration(n) * time.Second
	}
	if d < least || d > most {
		return 0, httpjson.BadRequest("%s %q: use a duration from %s to %s.", name, s, least, most)
	}
	return d, nil
}

func (h *Handler) get(w http.ResponseWriter, r *http.Request, tenant string, sub config.Subscription) {
	ctx := r.Context()
	q, err := h.parseQuery(r)
	if err != nil {
		httpjson.WriteError(w, err)
		return
	}
	got, err := h.lease(ctx, tenant, sub.ID, q)
	if err != nil {
		if ctx.Err() == nil {
			h.o.Logger.ErrorContext(ctx, "lease pulled events", "tenant", tenant, "subscription", sub.Name, "err", err)
		}
		httpjson.WriteError(w, httpjson.Errorf(http.StatusServiceUnavailable, "unavailable", "Nothing was pulled; try again."))
		return
	}
	w.Header().Set("Cache-Control", "no-store")
	if q.batch {
		h.writeBatch(w, r, tenant, sub, got, q)
		return
	}
	if len(got) == 0 {
		w.Header().Set("Content-Length", "0")
		w.WriteHeader(http.StatusOK) // empty body: nothing pending, as the original product answered
		return
	}
	ev := got[0].Event
	body, err := Encode(ev)
	if err != nil {
		h.o.Logger.ErrorContext(ctx, "encode pulled event", "tenant", tenant, "subscription", sub.Name, "event_id", ev.ID, "err", err)
		httpjson.WriteError(w, httpjson.Errorf(http.StatusInternalServerError, "internal_error", "Cannot encode the event."))
		return
	}
	w.Header().Set("Content-Type", ContentTypeEvent)
	w.Header().Set("Content-Length", strconv.Itoa(len(body)))
	w.WriteHeader(http.StatusOK)
	if _, err := w.Write(body); err != nil {
		h.o.Logger.InfoContext(ctx, "pull not written: the event comes back after its lease", "tenant", tenant, "subscription", sub.Name,
			"event_id", ev.ID, "lease_s", q.visibility.Seconds(), "err", err)
		return
	}
	if f, ok := w.(http.Flusher); ok {
		f.Flush()
	}
	// A plain GET is the original product's read: written, the event is
	// taken (context.WithoutCancel: the client may hang up now).
	if _, err := h.o.Buffer.Ack(context.WithoutCancel(ctx), tenant, sub.ID, ev.ID); err != nil {
		h.o.Logger.WarnContext(ctx, "acknowledge pulled event: it comes back after its lease", "tenant", tenant, "subscription", sub.Name, "event_id", ev.ID, "err", err)
		return
	}
	h.o.Logger.InfoContext(ctx, "event pulled", "tenant", tenant, "subscription", sub.Name, "event_id", ev.ID, "receives", got[0].Receives)
}

// lease leases up to q.max events, waiting up to q.wait for the first.
func (h *Handler) lease(ctx context.Context, tenant, sub string, q query) ([]pull.Leased, error) {
	deadline := time.Now().Add(q.wait)
	for {
		got, err := h.o.Buffer.Lease(ctx, tenant, sub, q.max, q.visibility)
		if err != nil || len(got) > 0 {
			return got, err
		}
		left := time.Until(deadline)
		if left <= 0 {
			return nil, nil
		}
		t := time.NewTimer(min(left, h.o.PollEvery))
		select {
		case <-ctx.Done():
			t.Stop()
			return nil, ctx.Err()
		case <-t.C:
		}
	}
}

func (h *Handler) writeBatch(w http.ResponseWriter, r *http.Request, tenant string, sub config.Subscription, got []pull.Leased, q query) {
	var buf bytes.Buffer
	buf.WriteByte('[')
	ids := make([]string, 0, len(got))
	for i, l := range got {
		b, err := Encode(l.Event)
		if err != nil {
			h.o.Logger.ErrorContext(r.Context(), "encode pulled event", "tenant", tenant, "subscription", sub.Name, "event_id", l.Event.ID, "err", err)
			httpjson.WriteError(w, httpjson.Errorf(http.StatusInternalServerError, "internal_error", "Cannot encode the event %s.", l.Event.ID))
			return
		}
		if i > 0 {
			buf.WriteByte(',')
		}
		buf.Write(b)
		ids = append(ids, l.Event.ID)
	}
	buf.WriteByte(']')
	w.Header().Set("Content-Type", ContentTypeBatch)
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(buf.Bytes())
	if len(got) > 0 {
		h.o.Logger.InfoContext(r.Context(), "events leased", "tenant", tenant, "subscription", sub.Name, "count", len(got),
			"event_ids", ids, "lease_s", q.visibility.Seconds())
	}
}

// Acked is the answer of an acknowledgement: the ids removed, and those
// that were not kept (unknown, acknowledged already, or expired).
type Acked struct {
	Acknowledged []string `json:"acknowledged"`
	Unknown      []string `json:"unknown"`
}

func (h *Handler) ackOne(w http.ResponseWriter, r *http.Request, tenant string, sub config.Subscription) {
	id := r.PathValue("id")
	acked, ok := h.ack(w, r, tenant, sub, []string{id})
	if !ok {
		return
	}
	if len(acked.Acknowledged) == 0 {
		httpjson.WriteError(w, config.NotFound("Subscription %s holds no event %s (unknown, acknowledged already, or expired).", sub.Name, id))
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

func (h *Handler) ackMany(w http.ResponseWriter, r *http.Request, tenant string, sub config.Subscription) {
	body, err := httpjson.ReadBody(w, r)
	if err != nil {
		httpjson.WriteError(w, err)
		return
	}
	ids, err := DecodeAck(body)
	if err != nil {
		httpjson.WriteError(w, err)
		return
	}
	acked, ok := h.ack(w, r, tenant, sub, ids)
	if !ok {
		return
	}
	httpjson.WriteJSON(w, http.StatusOK, acked)
}

func (h *Handler) ack(w http.ResponseWriter, r *http.Request, tenant string, sub config.Subscription, ids []string) (Acked, bool) {
	ctx := r.Context()
	done, err := h.o.Buffer.Ack(ctx, tenant, sub.ID, ids...)
	if err != nil {
		h.o.Logger.ErrorContext(ctx, "acknowledge events", "tenant", tenant, "subscription", sub.Name, "count", len(ids), "err", err)
		httpjson.WriteError(w, httpjson.Errorf(http.StatusServiceUnavailable, "unavailable", "Nothing was acknowledged; try again."))
		return Acked{}, false
	}
	out := Acked{Acknowledged: done, Unknown: []string{}}
	if out.Acknowledged == nil {
		out.Acknowledged = []string{}
	}
	seen := map[string]bool{}
	for _, id := range done {
		seen[id] = true
	}
	for _, id := range ids {
		if !seen[id] {
			seen[id] = true
			out.Unknown = append(out.Unknown, id)
		}
	}
	h.o.Logger.InfoContext(ctx, "events acknowledged", "tenant", tenant, "subscription", sub.Name, "count", len(done), "unknown", len(out.Unknown))
	return out, true
}

// MaxID bounds the length of an acknowledged id.
const MaxID = 256

// DecodeAck decodes the body of POST {url}/{name}/ack: {"ids": ["…", …]}
// (a bare JSON array of ids is taken too), 1 to pull.MaxAck non-empty ids of at
// most MaxID bytes. Its errors are 400 *httpjson.Error.
func DecodeAck(body []byte) ([]string, error) {
	trimmed := httpjson.TrimSpace(body)
	var ids []string
	if len(trimmed) > 0 && trimmed[0] == '[' {
		if err := json.Unmarshal(trimmed, &ids); err != nil {
			return nil, httpjson.BadRequest("The body must be {\"ids\": [\"<event id>\", …]}.")
		}
	} else {
		var req struct {
			IDs []string `json:"ids"`
		}
		if err := httpjson.Decode(body, &req); err != nil {
			return nil, err
		}
		ids = req.IDs
	}
	if len(ids) == 0 {
		return nil, httpjson.BadRequest("ids is required: the ids of the events to acknowledge.")
	}
	if len(ids) > pull.MaxAck {
		return nil, httpjson.BadRequest("At most %d ids per acknowledgement.", pull.MaxAck)
	}
	for _, id := range ids {
		if id == "" || len(id) > MaxID {
			return nil, httpjson.BadRequest("Event ids are 1 to %d bytes.", MaxID)
		}
	}
	return ids, nil
}
