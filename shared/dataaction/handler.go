package dataaction

import (
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"time"

	"github.com/herokuevents/herokuevents/shared/config"
	"github.com/herokuevents/herokuevents/shared/event"
	"github.com/herokuevents/herokuevents/shared/httpjson"
	"github.com/herokuevents/herokuevents/shared/metric"
	"github.com/herokuevents/herokuevents/shared/queue"
	"github.com/herokuevents/herokuevents/shared/secret"
)

// Options configure the data action handler.
type Options struct {
	// Store holds the subscriptions. Required.
	Store config.Store
	// Sealer opens the targets' signing keys. Required.
	Sealer secret.Sealer
	// Ingest receives one event.Routed per event. Required.
	Ingest queue.Sender
	// Logger gets one line per request; slog.Default when nil.
	Logger *slog.Logger
	// Metrics records Ingested; metric.Discard when nil.
	Metrics metric.Recorder
	// Now is the clock; time.Now when nil.
	Now func() time.Time
}

// Handler serves POST {Path}/{tenant}/{subscription}. Safe for concurrent use.
type Handler struct {
	o   Options
	mux *http.ServeMux
}

// New returns the handler, or an error when a required option is missing.
func New(o Options) (*Handler, error) {
	if o.Store == nil || o.Sealer == nil || o.Ingest == nil {
		return nil, errors.New("new data action handler: Options.Store, Sealer and Ingest are required")
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	if o.Metrics == nil {
		o.Metrics = metric.Discard
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	h := &Handler{o: o, mux: http.NewServeMux()}
	h.mux.HandleFunc("POST "+Path+"/{tenant}/{subscription}", h.receive)
	h.mux.HandleFunc(Path+"/{tenant}/{subscription}", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Allow", http.MethodPost)
		httpjson.WriteError(w, httpjson.Errorf(http.StatusMethodNotAllowed, "method_not_allowed", "Data Cloud POSTs data actions here."))
	})
	h.mux.HandleFunc(Path+"/", func(w http.ResponseWriter, _ *http.Request) { httpjson.WriteError(w, httpjson.NotFoundRoute) })
	return h, nil
}

func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) { h.mux.ServeHTTP(w, r) }

// Accepted is the 202 answer.
type Accepted struct {
	IDs []string `json:"ids"`
}

var errForged = httpjson.Errorf(http.StatusUnauthorized, "unauthorized",
	"The x-signature header is missing or does not match the body: sign with the target's signing key.")

func (h *Handler) receive(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	tenant, subRef := r.PathValue("tenant"), r.PathValue("subscription")
	log := h.o.Logger.With("tenant", tenant, "subscription", subRef)
	body, err := httpjson.ReadBody(w, r)
	if err != nil {
		log.InfoContext(ctx, "data action refused", "reason", err.Error())
		httpjson.WriteError(w, err)
		return
	}
	rec, err := config.Load[config.Subscription](ctx, h.o.Store, tenant, config.KindSubscription, subRef)
	if err != nil && !errors.Is(err, config.ErrNotFound) {
		log.ErrorContext(ctx, "load subscription", "err", err)
		httpjson.WriteError(w, httpjson.Errorf(http.StatusServiceUnavailable, "unavailable", "The data action was not accepted; try again."))
		return
	}
	sub := rec.Value
	if err != nil || sub.ID != subRef || sub.Platform != config.PlatformDataCloud || len(sub.SecretSealed) == 0 {
		log.InfoContext(ctx, "data action refused", "reason", "no such target")
		httpjson.WriteError(w, config.NotFound("No data action target here."))
		return
	}
	key, err := h.o.Sealer.Open(ctx, sub.SecretSealed)
	if err != nil {
		log.ErrorContext(ctx, "open signing key", "err", err)
		httpjson.WriteError(w, httpjson.Errorf(http.StatusServiceUnavailable, "unavailable", "The data action was not accepted; try again."))
		return
	}
	if !Verify(string(key), body, r.Header.Get(HeaderSignature)) {
		log.InfoContext(ctx, "data action refused", "reason", "bad signature", "bytes", len(body))
		httpjson.WriteError(w, errForged)
		return
	}
	req, err := Decode(body)
	if err != nil {
		log.InfoContext(ctx, "data action refused", "reason", err.Error())
		httpjson.WriteError(w, err)
		return
	}
	if err := CheckTime(req.Created, h.o.Now()); err != nil {
		log.InfoContext(ctx, "data action refused", "reason", err.Error())
		httpjson.WriteError(w, httpjson.Errorf(http.StatusUnauthorized, "stale_request",
			"creationDateTime is more than %s from now: a replayed or delayed request.", MaxSkew))
		return
	}
	evs := req.Events(sub.ID, event.Source(tenant, "subscriptions", sub.Name))
	msgs := make([]queue.Message, 0, len(evs))
	ids := make([]string, 0, len(evs))
	for _, ev := range evs {
		b, err := json.Marshal(event.Routed{Tenant: tenant, Subscription: sub.ID, Event: ev})
		if err != nil {
			log.ErrorContext(ctx, "encode event", "event_id", ev.ID, "err", err)
			httpjson.WriteError(w, httpjson.Errorf(http.StatusInternalServerError, "internal_error", "Cannot encode event %s.", ev.ID))
			return
		}
		if len(b) > queue.MaxBody {
			httpjson.WriteError(w, httpjson.Errorf(http.StatusRequestEntityTooLarge, "payload_too_large",
				"Event %s is larger than %d bytes.", httpjson.Short(ev.ID), queue.MaxBody))
			return
		}
		msgs = append(msgs, queue.Message{Body: b, Attributes: map[string]string{queue.AttrTenant: tenant, queue.AttrAttempt: "0"}})
		ids = append(ids, ev.ID)
	}
	// One Send: the batch is accepted whole or answered 503, and Data
	// Cloud sends it again (the ids are stable: receivers de-duplicate).
	if err := h.o.Ingest.Send(ctx, msgs...); err != nil {
		log.ErrorContext(ctx, "enqueue data action events", "count", len(msgs), "err", err)
		httpjson.WriteError(w, httpjson.Errorf(http.StatusServiceUnavailable, "unavailable", "The data action was not accepted; try again."))
		return
	}
	h.o.Metrics.Count(ctx, metric.Ingested, len(msgs), metric.DimPlatform, config.PlatformDataCloud,
		metric.LabelTenant, tenant, metric.LabelSubscription, sub.ID)
	log.InfoContext(ctx, "data action accepted", "name", sub.Name, "count", len(msgs), "event_ids", ids,
		"age_ms", h.o.Now().Sub(req.Created).Milliseconds())
	httpjson.WriteJSON(w, http.StatusAccepted, Accepted{IDs: ids})
}
