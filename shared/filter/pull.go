package filter

import (
	"context"
	"errors"
	"fmt"

	"github.com/herokuevents/herokuevents/shared/config"
	"github.com/herokuevents/herokuevents/shared/event"
	"github.com/herokuevents/herokuevents/shared/queue"
)

// pulls gathers the events of one batch bound for pull buffers.
type pulls struct {
	h      *Handler
	isPull map[string]bool // tenant/subscription → its Pull, read once a batch
	events map[[2]string][]event.Event
	msgs   map[[2]string][]string
}

func (h *Handler) newPulls() *pulls {
	return &pulls{h: h, isPull: map[string]bool{}, events: map[[2]string][]event.Event{}, msgs: map[[2]string][]string{}}
}

// add takes r when its subscription is a pull subscription. The
// subscription is read once a batch (not cached across batches): turning
// pull on takes effect at the next batch. A deleted subscription buffers
// nothing.
func (p *pulls) add(ctx context.Context, msgID string, r event.Routed) error {
	if p.h.o.Pull == nil {
		return nil
	}
	key := r.Tenant + "/" + r.Subscription
	on, ok := p.isPull[key]
	if !ok {
		sub, err := config.Read[config.Subscription](ctx, p.h.o.Store, r.Tenant, config.KindSubscription, r.Subscription)
		switch {
		case errors.Is(err, config.ErrNotFound):
		case err != nil:
			return err
		default:
			on = sub.Value.Pull
		}
		p.isPull[key] = on
	}
	if on {
		k := [2]string{r.Tenant, r.Subscription}
		p.events[k] = append(p.events[k], r.Event)
		p.msgs[k] = append(p.msgs[k], msgID)
	}
	return nil
}

// put buffers what was gathered, one Put per subscription. When a Put
// fails, the messages of that subscription fail and are redelivered (their
// deliveries are sent anyway: receivers de-duplicate on the event id);
// the other subscriptions' messages are not held up.
func (p *pulls) put(ctx context.Context, res *queue.BatchResult) {
	for k, evs := range p.events {
		if err := p.h.o.Pull.Put(ctx, k[0], k[1], evs...); err != nil {
			p.h.o.Logger.ErrorContext(ctx, "buffer pulled events", "tenant", k[0], "subscription", k[1], "count", len(evs), "err", err)
			failed := map[string]bool{}
			for _, f := range res.Failures {
				failed[f.ID] = true
			}
			for _, id := range p.msgs[k] {
				if !failed[id] {
					failed[id] = true
					res.Fail(id, fmt.Errorf("buffer for pulling: %w", err))
				}
			}
			continue
		}
		p.h.o.Logger.InfoContext(ctx, "buffered for pulling", "tenant", k[0], "subscription", k[1], "count", len(evs))
	}
}
