package api

import (
	"context"
	"errors"
	"fmt"
	"net/http"

	"github.com/herokuevents/herokuevents/shared/config"
	"github.com/herokuevents/herokuevents/shared/httpjson"
)

// SubscriptionUpdate is the body of PATCH /v1/tenants/{T}/subscriptions/{ref}
// (subscriptions:update): absent fields are unchanged.
type SubscriptionUpdate struct {
	// Pull keeps the subscription's events for the app to GET from
	// HEROKUEVENTS_SUBSCRIBE_URL/{name} (true), or stops and drops what
	// was kept (false).
	Pull *bool `json:"pull"`
	// Retention is how long the events are archived for replay, a Go
	// duration ("72h"); "" leaves it.
	Retention string `json:"retention"`
}

// updateSubscription changes what a subscription does beside its streams.
func (s *Server) updateSubscription(ctx context.Context, t config.Tenant, r *http.Request, body []byte) (int, any, error) {
	var req SubscriptionUpdate
	if err := decode(body, &req, true); err != nil {
		return 0, nil, err
	}
	if req.Pull == nil && req.Retention == "" {
		return 0, nil, Invalid("Nothing to update: give pull (true or false) or retention.")
	}
	retention, err := parseRetention(req.Retention)
	if err != nil {
		return 0, nil, err
	}
	ref := r.PathValue("ref")
	var was bool
	rec, err := config.Modify(ctx, s.store, t.ID, config.KindSubscription, ref, modifyTries, func(rec *config.Record[config.Subscription]) (bool, error) {
		was = rec.Value.Pull
		changed := false
		if req.Pull != nil {
			rec.Value.Pull = *req.Pull
			changed = was != *req.Pull
		}
		if req.Retention != "" && rec.Value.Retention != retention {
			rec.Value.Retention, changed = retention, true
		}
		return changed, nil
	})
	switch {
	case errors.Is(err, config.ErrNotFound):
		return 0, nil, notFound(fmt.Sprintf("Couldn't find that subscription: %s.", httpjson.Short(ref)))
	case errors.Is(err, config.ErrConflict):
		return 0, nil, conflict(fmt.Sprintf("Subscription %s kept changing meanwhile; try again.", httpjson.Short(ref)), err)
	case err != nil:
		return 0, nil, err
	}
	sub := rec.Value
	if was && !sub.Pull {
		s.dropPulled(ctx, t.ID, sub)
	}
	s.log.InfoContext(ctx, "subscription updated", "tenant", t.ID, "kind", config.KindSubscription, "name", sub.Name, "id", sub.ID,
		"pull", sub.Pull, "retention", retentionOf(sub))
	g, err := s.loadGraph(ctx, t.ID)
	if err != nil {
		return 0, nil, err
	}
	v := g.subscription(sub)
	s.addBacklog(ctx, t.ID, sub, &v)
	return http.StatusOK, v, nil
}

// addBacklog sets the backlog of a pull subscription's view. It is shown
// only: a failure to read it is logged, not answered.
func (s *Server) addBacklog(ctx context.Context, tenant string, sub config.Subscription, v *subscriptionView) {
	if s.pull == nil || !sub.Pull {
		return
	}
	b, err := s.pull.Backlog(ctx, tenant, sub.ID)
	if err != nil {
		s.log.WarnContext(ctx, "read pull backlog", "tenant", tenant, "subscription", sub.Name, "err", err)
		return
	}
	v.PullBacklog = &b
}

// dropPulled drops what a subscription kept for pulling (deleted, or pull
// turned off); best effort: the buffer's retention ends it anyway.
func (s *Server) dropPulled(ctx context.Context, tenant string, sub config.Subscription) {
	if s.pull == nil {
		return
	}
	if err := s.pull.Drop(ctx, tenant, sub.ID); err != nil {
		s.log.WarnContext(ctx, "drop pulled events: the retention ends them", "tenant", tenant, "subscription", sub.Name, "err", err)
		return
	}
	s.log.InfoContext(ctx, "pulled events dropped", "tenant", tenant, "subscription", sub.Name)
}
