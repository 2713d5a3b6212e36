package filter

import (
	"context"
	"errors"
	"time"

	"github.com/herokuevents/herokuevents/shared/config"
	"github.com/herokuevents/herokuevents/shared/event"
)

// archive offers r, whose event's JSON is ev (nil when unknown), to the
// archive with its subscription's retention, read once a batch
// (retentions). A deleted subscription archives nothing.
func (h *Handler) archive(ctx context.Context, retentions map[string]time.Duration, r event.Routed, ev []byte) error {
	key := r.Tenant + "/" + r.Subscription
	ret, ok := retentions[key]
	if !ok {
		sub, err := config.Read[config.Subscription](ctx, h.o.Store, r.Tenant, config.KindSubscription, r.Subscription)
		switch {
		case errors.Is(err, config.ErrNotFound):
			ret = -1
		case err != nil:
			return err
		default:
			ret = sub.Value.Retention
		}
		retentions[key] = ret
	}
	if ret >= 0 {
		h.o.Archive.Keep(r.Tenant, r.Subscription, ret, r.Event, ev)
	}
	return nil
}

// only returns the stream of streams to publication, or an unfiltered one
// when the subscription has no stream to it: where a replay to one
// publication goes.
func only(streams []config.Stream, subscription, publication string) []config.Stream {
	for _, s := range streams {
		if s.Publication == publication {
			return []config.Stream{s}
		}
	}
	return []config.Stream{{ID: config.StreamName(subscription, publication), Subscription: subscription, Publication: publication}}
}
