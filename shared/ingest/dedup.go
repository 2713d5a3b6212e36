package ingest

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"sync"

	"github.com/herokuevents/herokuevents/shared/dedup"
	"github.com/herokuevents/herokuevents/shared/httpjson"
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

// claim is a key a publish claimed (dedup's claim, enqueue, confirm); the
// zero claim is a publish without a key.
type claim struct {
	tenant, key, eventID string
}

// dedupe claims the key of each event of the publish that has one (the
// Idempotency-Key header, else a CloudEvent's source and id: publishKey),
// scoped to the tenant and the publication or subscription id (a name
// deleted and made again is another target); the keys of a batch are
// claimed concurrently (at most maxClaims at a time). An event whose key
// was seen before is a duplicate: it gets the first event's id, with one
// log line (decision=duplicate), and is not enqueued or journaled; so is
// one whose key an earlier event of its batch has. A key in flight refuses
// the publish with 409, a failed claim with 503 (its other claims
// released). A claim taken over from a crashed request carries the first
// event's id, which the item's event and message then get. It returns
// false when the request was answered.
func (h *Handler) dedupe(ctx context.Context, w http.ResponseWriter, rt route, header string, p posted, items []item) bool {
	if h.o.Dedup == nil {
		return true
	}
	keys := make([]string, len(items))
	seen := map[string]int{}
	claims := 0
	for i := range items {
		key := publishKey(rt, header, p.ce, p.place(i), items[i].ev)
		if key == "" {
			continue
		}
		if j, ok := seen[key]; ok {
			items[i].sameAs = j
			h.o.Logger.InfoContext(ctx, "publish duplicate", "decision", "duplicate", "tenant", rt.tenant, rt.kind, rt.name, "event_id", items[j].ev.ID, "index", i)
			continue
		}
		seen[key], keys[i] = i, key
		claims++
	}
	type outcome struct {
		res dedup.Result
		err error
	}
	results := make([]outcome, len(items))
	take := func(i int) {
		results[i].res, results[i].err = h.o.Dedup.Claim(ctx, rt.tenant, keys[i], items[i].ev.ID, h.o.DedupWindow)
		if results[i].err == nil && results[i].res.Outcome == dedup.Claimed {
			items[i].claim = claim{rt.tenant, keys[i], results[i].res.EventID}
		}
	}
	if claims == 1 {
		for i, k := range keys {
			if k != "" {
				take(i)
			}
		}
	} else if claims > 1 {
		var wg sync.WaitGroup
		slots := make(chan struct{}, maxClaims)
		for i, k := range keys {
			if k == "" {
				continue
			}
			slots <- struct{}{}
			wg.Go(func() {
				defer func() { <-slots }()
				take(i)
			})
		}
		wg.Wait()
	}
	for i := range items {
		if keys[i] == "" {
			continue
		}
		it, res, err := &items[i], results[i].res, results[i].err
		if err != nil {
			h.release(ctx, items)
			h.o.Logger.ErrorContext(ctx, "claim publish key", "tenant", rt.tenant, rt.kind, rt.name, "event_id", it.ev.ID, "err", err)
			unavailable(w)
			return false
		}
		switch res.Outcome {
		case dedup.Duplicate:
			h.o.Logger.InfoContext(ctx, "publish duplicate", "decision", "duplicate", "tenant", rt.tenant, rt.kind, rt.name, "event_id", res.EventID)
			it.ev.ID, it.replayed = res.EventID, true
			continue
		case dedup.InFlight:
			h.release(ctx, items)
			h.o.Logger.InfoContext(ctx, "publish refused", "decision", "in_flight", "tenant", rt.tenant, rt.kind, rt.name, "event_id", res.EventID, "status", http.StatusConflict)
			w.Header().Set("Retry-After", "1")
			writeError(w, http.StatusConflict, "publish_in_progress",
				"A publish with the same idempotency key is in progress; try again to get its event id.")
			return false
		case dedup.Claimed:
		default:
			h.release(ctx, items)
			h.o.Logger.ErrorContext(ctx, "claim publish key", "tenant", rt.tenant, rt.kind, rt.name, "event_id", it.ev.ID, "err", errors.New(res.Outcome.String()))
			unavailable(w)
			return false
		}
		if res.EventID != it.ev.ID { // taken over from a request that crashed: its id
			it.ev.ID = res.EventID
			m, err := rt.message(it.ev, h.o.Now())
			if err != nil {
				h.release(ctx, items)
				h.o.Logger.ErrorContext(ctx, "encode event", "tenant", rt.tenant, rt.kind, rt.name, "event_id", it.ev.ID, "err", err)
				writeError(w, http.StatusInternalServerError, "internal_error", "Cannot encode the event.")
				return false
			}
			it.msg = m
		}
	}
	return true
}

// maxClaims is how many keys of a batch are claimed at a time.
const maxClaims = 16

// confirm records that the claimed keys' events were enqueued. A failure
// leaves a claim pending: a retry after its lease enqueues the event
// again under the same id (dedup's ordering), so the publish is still
// answered 202.
func (h *Handler) confirm(ctx context.Context, items []item) {
	if h.o.Dedup == nil {
		return
	}
	h.settle(ctx, items, "confirm publish key", h.o.Dedup.Confirm)
}

// release forgets the claimed keys of events that were not enqueued, so
// that the client's retry is not taken for a duplicate. A failure leaves
// a claim pending until its lease passes (the retry gets 409 until then).
func (h *Handler) release(ctx context.Context, items []item) {
	if h.o.Dedup == nil {
		return
	}
	h.settle(ctx, items, "release publish key", h.o.Dedup.Release)
}

// settle calls f (Confirm or Release) on the claim of each item to be
// queued that holds one, and logs what failed as what.
func (h *Handler) settle(ctx context.Context, items []item, what string, f func(ctx context.Context, tenant, key, eventID string) error) {
	for _, it := range items {
		c := it.claim
		if c.key == "" || !it.enqueue() {
			continue
		}
		if err := f(context.WithoutCancel(ctx), c.tenant, c.key, c.eventID); err != nil {
			h.o.Logger.WarnContext(ctx, what, "tenant", c.tenant, "event_id", c.eventID, "err", err)
		}
	}
}
