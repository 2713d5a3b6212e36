package ingest

import (
	"context"
	"errors"
	"mime"
	"net/http"
	"strings"

	"github.com/herokuevents/herokuevents/shared/dedup"
	"github.com/herokuevents/herokuevents/shared/event"
	"github.com/herokuevents/herokuevents/shared/httpjson"
	"github.com/herokuevents/herokuevents/shared/queue"
)

// HeaderReplayed marks the 202 of a duplicate publish (its event was
// accepted before, nothing was enqueued).
const HeaderReplayed = "Idempotent-Replayed"

// idempotencyKey returns the request's Idempotency-Key header ("" when it
// has none), or a 400 problem when it is empty, longer than
// dedup.MaxKeyLength or holds control characters, or is given twice.
func idempotencyKey(r *http.Request) (string, error) {
	vs, ok := r.Header[http.CanonicalHeaderKey(dedup.HeaderIdempotencyKey)]
	if !ok {
		return "", nil
	}
	if len(vs) != 1 {
		return "", &httpjson.Error{Status: http.StatusBadRequest, ID: "invalid_idempotency_key", Message: "Send one Idempotency-Key header, not several."}
	}
	if err := dedup.CheckKey(vs[0]); err != nil {
		return "", &httpjson.Error{Status: http.StatusBadRequest, ID: "invalid_idempotency_key",
			Message: "Invalid Idempotency-Key: " + strings.TrimPrefix(err.Error(), dedup.ErrInvalidKey.Error()+": ") +
				"; use up to 255 printable characters, such as a UUID."}
	}
	return vs[0], nil
}

// cloudEvent reports whether the request is a CloudEvent, and whether in
// structured mode (else binary, ce-* headers).
func cloudEvent(r *http.Request) (ce, structured bool) {
	mt, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
	structured = mt == "application/cloudevents+json"
	return structured || r.Header.Get("Ce-Specversion") != "", structured
}

// claim is a key a publish claimed (dedup's claim, enqueue, confirm); the
// zero claim is a publish without a key.
type claim struct {
	tenant, key, eventID string
}

// dedupe claims the publish's key, if it has one: the Idempotency-Key
// header, else a CloudEvent's source and id; scoped to the tenant and the
// publication or subscription id (a name deleted and made again is
// another target). A duplicate is answered 202 with the first event's id
// and one log line (decision=duplicate), and nothing is enqueued or
// journaled; a key in flight is answered 409. A claim taken over from a
// crashed request carries the first event's id, which *ev and *msg then
// get. ok is false when the request was answered.
func (h *Handler) dedupe(ctx context.Context, w http.ResponseWriter, r *http.Request, rt route, header string, ev *event.Event, msg *queue.Message) (c claim, ok bool) {
	if h.o.Dedup == nil {
		return claim{}, true
	}
	var key string
	switch ce, _ := cloudEvent(r); {
	case header != "":
		key = dedup.Key(rt.id, dedup.KindHeader, header)
	case ce:
		key = dedup.Key(rt.id, dedup.KindCloudEvent, dedup.CloudEventKey(ev.Source, ev.ID))
	default:
		return claim{}, true
	}
	res, err := h.o.Dedup.Claim(ctx, rt.tenant, key, ev.ID, h.o.DedupWindow)
	if err != nil {
		h.o.Logger.ErrorContext(ctx, "claim publish key", "tenant", rt.tenant, rt.kind, rt.name, "event_id", ev.ID, "err", err)
		unavailable(w)
		return claim{}, false
	}
	switch res.Outcome {
	case dedup.Duplicate:
		h.o.Logger.InfoContext(ctx, "publish duplicate", "decision", "duplicate", "tenant", rt.tenant, rt.kind, rt.name, "event_id", res.EventID)
		w.Header().Set(HeaderReplayed, "true")
		httpjson.WriteJSON(w, http.StatusAccepted, Accepted{ID: res.EventID})
		return claim{}, false
	case dedup.InFlight:
		h.o.Logger.InfoContext(ctx, "publish refused", "decision", "in_flight", "tenant", rt.tenant, rt.kind, rt.name, "event_id", res.EventID, "status", http.StatusConflict)
		w.Header().Set("Retry-After", "1")
		writeError(w, http.StatusConflict, "publish_in_progress",
			"A publish with the same idempotency key is in progress; try again to get its event id.")
		return claim{}, false
	case dedup.Claimed:
	default:
		h.o.Logger.ErrorContext(ctx, "claim publish key", "tenant", rt.tenant, rt.kind, rt.name, "event_id", ev.ID, "err", errors.New(res.Outcome.String()))
		unavailable(w)
		return claim{}, false
	}
	if res.EventID != ev.ID { // taken over from a request that crashed: its id
		ev.ID = res.EventID
		m, err := rt.message(*ev, h.o.Now())
		if err != nil {
			h.release(ctx, claim{rt.tenant, key, res.EventID})
			h.o.Logger.ErrorContext(ctx, "encode event", "tenant", rt.tenant, rt.kind, rt.name, "event_id", ev.ID, "err", err)
			writeError(w, http.StatusInternalServerError, "internal_error", "Cannot encode the event.")
			return claim{}, false
		}
		*msg = m
	}
	return claim{rt.tenant, key, res.EventID}, true
}

// confirm records that the claimed key's event was enqueued. A failure
// leaves the claim pending: a retry after its lease enqueues the event
// again under the same id (dedup's ordering), so the publish is still
// answered 202.
func (h *Handler) confirm(ctx context.Context, c claim) {
	if c.key == "" {
		return
	}
	if err := h.o.Dedup.Confirm(context.WithoutCancel(ctx), c.tenant, c.key, c.eventID); err != nil {
		h.o.Logger.WarnContext(ctx, "confirm publish key", "tenant", c.tenant, "event_id", c.eventID, "err", err)
	}
}

// release forgets the claimed key of an event that was not enqueued, so
// that the client's retry is not taken for a duplicate. A failure leaves
// the claim pending until its lease passes (the retry gets 409 until then).
func (h *Handler) release(ctx context.Context, c claim) {
	if c.key == "" {
		return
	}
	if err := h.o.Dedup.Release(context.WithoutCancel(ctx), c.tenant, c.key, c.eventID); err != nil {
		h.o.Logger.WarnContext(ctx, "release publish key", "tenant", c.tenant, "event_id", c.eventID, "err", err)
	}
}
