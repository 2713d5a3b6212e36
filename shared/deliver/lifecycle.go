package deliver

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"sync"
	"time"

	"github.com/herokuevents/herokuevents/shared/backoff"
	"github.com/herokuevents/herokuevents/shared/config"
	"github.com/herokuevents/herokuevents/shared/event"
	"github.com/herokuevents/herokuevents/shared/queue"
)

// The publication lifecycle in the deliver role: a deleted publication's
// deliveries follow the one recreated with its name, a paused one's are
// held, a rate-capped one's are spaced, and each attempt is bounded by the
// publication's timeout.

// DefaultHoldBase is the first delay of a delivery held for a paused
// publication; later ones double up to MaxDelay (DefaultHold).
const DefaultHoldBase = 10 * time.Second

// DefaultHold spaces the checks of a held delivery: 10 s doubling to the
// queue's 15-minute maximum, with equal jitter. A held delivery costs one
// re-queue per check and never an attempt; a short pause is over within
// about its own length, a long one within 15 minutes (the embedded mode
// wakes held deliveries at once on resume).
var DefaultHold = backoff.Policy{Base: DefaultHoldBase, Cap: MaxDelay, Jitter: backoff.EqualJitter}

// WokenHold spaces the checks of held deliveries when the queue wakes them
// as their publication resumes (Options.Wake): every 7.5 to 15
// minutes from the first, since a resume does not wait for the check.
// Behind a long pause a delivery then costs one re-queue, where
// DefaultHold's doubling costs four in its first two minutes: a backlog of
// held deliveries churning through the queue slowed publishing into it to
// 78–89 % of its first rate.
var WokenHold = backoff.Policy{Base: MaxDelay, Cap: MaxDelay, Jitter: backoff.EqualJitter}

// RateWait is the longest a delivery waits in the process for its slot
// under its publication's rate; one whose slot is later goes back to the
// queue until then, holding that slot.
const RateWait = time.Second

// decisionHeld and decisionThrottled are logged for deliveries re-queued
// without an attempt.
const (
	decisionHeld      = "held"
	decisionThrottled = "throttled"
)

// publication loads the delivery's publication by id or, when it was
// deleted, the publication since created with its name (then d's
// publication becomes its id). The error matches config.ErrNotFound when
// there is none. The record is read through config.Read, shared with the
// cache's other readers: nothing in this role or its publishers modifies
// it (a change goes through config.Modify).
func (h *Handler) publication(ctx context.Context, d *event.Delivery) (config.Record[config.Publication], error) {
	rec, err := config.Read[config.Publication](ctx, h.Store, d.Tenant, config.KindPublication, d.Publication)
	if !errors.Is(err, config.ErrNotFound) {
		return rec, err
	}
	former, err := config.Read[config.FormerPublication](ctx, h.Store, d.Tenant, config.KindFormerPublication, d.Publication)
	switch {
	case errors.Is(err, config.ErrNotFound):
		return rec, config.NotFound("publication %s of tenant %s not found (deleted?)", d.Publication, d.Tenant)
	case err != nil:
		return rec, fmt.Errorf("load former publication %s: %w", d.Publication, err)
	}
	name := former.Value.Name
	rec, err = config.Read[config.Publication](ctx, h.Store, d.Tenant, config.KindPublication, name)
	switch {
	case errors.Is(err, config.ErrNotFound) || (err == nil && rec.Value.Name != name):
		return config.Record[config.Publication]{}, config.NotFound("publication %s (%s) of tenant %s was deleted and not created again", name, d.Publication, d.Tenant)
	case err != nil:
		return rec, err
	}
	h.logger().InfoContext(ctx, "delivery follows a recreated publication", "tenant", d.Tenant, "event_id", d.Event.ID,
		"publication_name", name, "former_publication", d.Publication, "publication", rec.Value.ID)
	d.Publication = rec.Value.ID
	return rec, nil
}

// gate decides, before an attempt, whether the delivery waits: held while
// the publication is paused, or re-queued until its rate slot. done means
// no attempt is made now; err is then the message's outcome. A delivery
// coming back from a pause has the pause left out of its retry horizon.
// log returns the delivery's logger (built only when a line is written).
func (h *Handler) gate(ctx context.Context, log func() *slog.Logger, d *event.Delivery, pub config.Publication) (done bool, err error) {
	if pub.Paused {
		if d.Ordered {
			return true, waitInPlace(ctx, log(), *d, h.holdDelay(d.Attempt+1), decisionHeld, pub.ID)
		}
		return true, h.hold(ctx, log(), *d, pub)
	}
	if !d.HeldSince.IsZero() {
		if !d.FirstTry.IsZero() {
			d.FirstTry = d.FirstTry.Add(h.now().Sub(d.HeldSince))
		}
		d.Held, d.HeldSince = 0, time.Time{}
	}
	slot := d.RateSlot
	d.RateSlot = time.Time{}
	rate := rateOf(pub)
	if rate <= 0 {
		return false, nil
	}
	now := h.now()
	if slot.IsZero() {
		slot = h.rates.reserve(rateKey(d.Tenant, pub.ID), rate, now)
	}
	wait := slot.Sub(now)
	if wait > RateWait && d.Ordered {
		return true, waitInPlace(ctx, log(), *d, min(wait, MaxDelay), decisionThrottled, "")
	}
	if wait > RateWait {
		later := *d
		later.RateSlot = slot
		return true, h.requeue(ctx, log(), later, min(wait, MaxDelay), nil, decisionThrottled)
	}
	if wait > 0 {
		t := time.NewTimer(wait)
		defer t.Stop()
		select {
		case <-t.C:
		case <-ctx.Done():
			return true, fmt.Errorf("wait for the rate of publication %s: %w", pub.Name, ctx.Err())
		}
	}
	return false, nil
}

// hold re-queues a delivery to a paused publication without an attempt,
// marked with queue.AttrHeld so that a resume can wake it.
func (h *Handler) hold(ctx context.Context, log *slog.Logger, d event.Delivery, pub config.Publication) error {
	held := d
	held.Held++
	if held.HeldSince.IsZero() {
		held.HeldSince = h.now().UTC()
	}
	held.RateSlot = time.Time{}
	if err := h.requeue(ctx, log, held, h.heldDelay(held.Held), map[string]string{queue.AttrHeld: pub.ID}, decisionHeld); err != nil {
		return err
	}
	if h.Wake == nil {
		return nil
	}
	// A resume writes the publication, then wakes its held deliveries. Read
	// after the re-queue, the publication is still paused (a resume to come
	// will wake this one) or was resumed, maybe before the re-queue, whose
	// delivery is then woken here.
	now, err := config.Read[config.Publication](ctx, h.Store, d.Tenant, config.KindPublication, pub.ID)
	if err != nil || now.Value.Paused {
		return nil // paused, or gone: the hold's own check will tell
	}
	n, err := h.Wake(ctx, d.Tenant, pub.ID)
	if err != nil {
		log.ErrorContext(ctx, "wake held deliveries after a resume", "error", err.Error())
		return nil // re-queued all the same; it comes back when its hold ends
	}
	log.InfoContext(ctx, "delivery", "decision", "woken", "reason", "resumed while held", "woken", n)
	return nil
}

// heldDelay is the wait of a delivery re-queued behind a pause for the
// n-th time: WokenHold's where a resume wakes it (Options.Wake), else
// holdDelay.
func (h *Handler) heldDelay(n int) time.Duration {
	if h.Wake != nil {
		return WokenHold.Delay(n) // its cap is MaxDelay
	}
	return h.holdDelay(n)
}

// holdDelay is the wait of a delivery held n times (an ordered one waits
// in place for this long, unless a resume wakes it: a resume that raced
// its hold, before the queue marked it held, is not seen again).
func (h *Handler) holdDelay(n int) time.Duration {
	policy := h.Hold
	if policy.Base == 0 && policy.Cap == 0 && policy.Jitter == nil {
		policy = DefaultHold
	}
	return min(policy.Delay(n), MaxDelay)
}

// requeue sends d back to the delivery queue after delay, its attempts
// unchanged.
func (h *Handler) requeue(ctx context.Context, log *slog.Logger, d event.Delivery, delay time.Duration, attrs map[string]string, decision string) error {
	body, err := json.Marshal(d)
	if err != nil {
		return fmt.Errorf("encode delivery: %w", err)
	}
	m := queue.Message{Body: body, Delay: delay, Attributes: map[string]string{
		queue.AttrTenant: d.Tenant, queue.AttrAttempt: strconv.Itoa(d.Attempt)}}
	for k, v := range attrs {
		m.Attributes[k] = v
	}
	if err := h.Requeue.Send(ctx, m); err != nil {
		if errors.Is(err, queue.ErrTooLarge) || errors.Is(err, queue.ErrInvalid) {
			err = fmt.Errorf("requeue delivery of event %s (%s): %w", d.Event.ID, decision, err)
			log.WarnContext(ctx, "delivery", "decision", decisionDeadLetter, "reason", err.Error())
			return queue.Permanent(err)
		}
		log.ErrorContext(ctx, "delivery", "decision", decisionRedeliver, "error", err.Error(), "cause", decision)
		return fmt.Errorf("requeue delivery of event %s: %w", d.Event.ID, err)
	}
	log.InfoContext(ctx, "delivery", "decision", decision, "delay", delay, "held", d.Held)
	return nil
}

// publish makes one attempt, bounded by the publication's timeout when it
// has one (the webhook publisher also gives its request that timeout).
func (h *Handler) publish(ctx context.Context, p Publisher, d event.Delivery, pub config.Publication) error {
	if pub.Timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, pub.Timeout)
		defer cancel()
	}
	return p.Publish(ctx, d.Tenant, pub, d.Event)
}

func rateKey(tenant, pub string) string { return tenant + "/" + pub }

// rateOf is the cap of a publication's deliveries in events per second,
// 0 for none: its own rate, or the rate its webhook allowed at the
// CloudEvents handshake (WebHook-Allowed-Rate, per minute), whichever is
// lower.
func rateOf(pub config.Publication) float64 {
	rate := pub.Rate
	if allowed := float64(pub.Params.AllowedRate) / 60; allowed > 0 && (rate <= 0 || allowed < rate) {
		rate = allowed
	}
	return rate
}

// rates spaces the deliveries of each rate-capped publication in this
// process (GCRA with a burst of one: a slot every 1/rate seconds). On AWS
// each concurrent deliver function instance keeps its own, so the cap
// applies per instance: up to the event source's MaximumConcurrency times
// the rate in all.
type rates struct {
	mu    sync.Mutex
	slots map[string]rateSlot
}

type rateSlot struct {
	rate float64
	next time.Time
}

// reserve takes the next slot of key at rate, at now or later.
func (r *rates) reserve(key string, rate float64, now time.Time) time.Time {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.slots == nil {
		r.slots = map[string]rateSlot{}
	}
	s := r.slots[key]
	if s.rate != rate {
		s = rateSlot{rate: rate} // a new rate starts afresh
	}
	at := s.next
	if at.Before(now) {
		at = now
	}
	s.next = at.Add(time.Duration(float64(time.Second) / rate))
	r.slots[key] = s
	return at
}
