package embedded

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/herokuevents/herokuevents/shared/addon"
	"github.com/herokuevents/herokuevents/shared/config"
	"github.com/herokuevents/herokuevents/shared/heroku"
	"github.com/herokuevents/herokuevents/shared/journal"
	"github.com/herokuevents/herokuevents/shared/queue"
	"github.com/herokuevents/herokuevents/shared/secret"
)

// HerokuOptions configure the add-on side of the embedded mode.
type HerokuOptions struct {
	// Addon is the add-on manifest (serve --addon-manifest): Heroku's
	// Partner API calls must carry its id and api.password, and the config
	// vars take its prefix. Without it the operator provisions.
	Addon *addon.Manifest
	// Heroku are the Platform API for Partners settings (HEROKU_API_URL,
	// HEROKU_ID_URL, HEROKU_OAUTH_CLIENT_SECRET); without a client secret
	// grants are not exchanged and apps are named by --app or options.app.
	Heroku heroku.Settings
}

// herokuPartner is the Platform API for Partners when the operator
// configured it, nil otherwise.
func (s *Server) herokuPartner(sealer secret.Sealer) *heroku.Partner {
	settings := s.o.Heroku
	if !settings.Configured() {
		return nil
	}
	// The endpoints are the operator's configuration, not tenant input:
	// no egress guard (the stand-in listens on loopback).
	return &heroku.Partner{
		Client: heroku.NewClient(settings, &http.Client{Timeout: 10 * time.Second}),
		Store:  s.cached, Sealer: sealer, Logger: s.o.Logger.With("role", "api"),
	}
}

// herokuLink returns the api's Link (grant exchange, app learned), nil
// without the Platform API.
func (s *Server) herokuLink(sealer secret.Sealer) func(ctx context.Context, tenant, code string) error {
	p := s.herokuPartner(sealer)
	if p == nil {
		return nil
	}
	return func(ctx context.Context, tenant, code string) error {
		_, err := p.Link(ctx, tenant, code)
		return err
	}
}

// herokuPush returns the api's PushConfig (PATCH /addons/{uuid}/config
// after a credential rotation), nil without the Platform API.
func (s *Server) herokuPush(sealer secret.Sealer) func(ctx context.Context, tenant string, vars map[string]string) error {
	if p := s.herokuPartner(sealer); p != nil {
		return p.PushConfig
	}
	return nil
}

// forgetTenant removes what a deprovisioned tenant left outside the config
// store: its messages in every queue and dead-letter queue, its delivery
// log, its kept events and its pull buffers. Messages a role holds at
// that moment finish their attempt (their publication is gone).
func (s *Server) forgetTenant(ctx context.Context, tenant string) error {
	var errs []error
	for _, name := range []string{IngestQueue, IngestQueue + "-dlq", DeliveryQueue, DeliveryQueue + "-dlq", OrderedQueue, PartnerQueue, PartnerDLQ} {
		q := s.queues.Queue(name)
		msgs, err := q.List(ctx, 1<<30)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		var ids []string
		for _, m := range msgs {
			if m.Attributes[queue.AttrTenant] == tenant {
				ids = append(ids, m.ID)
			}
		}
		if len(ids) > 0 {
			if err := q.Delete(ctx, ids...); err != nil {
				errs = append(errs, err)
			}
		}
	}
	if s.journal != nil {
		if s.jw != nil {
			_ = s.jw.Flush(ctx) // what the roles appended lands before it is forgotten
		}
		errs = append(errs, s.journal.Forget(ctx, tenant))
	}
	if s.recent != nil {
		errs = append(errs, s.recent.Forget(ctx, tenant))
	}
	if s.archive != nil { // its subscriptions' archived events
		if s.archiver != nil {
			_ = s.archiver.Flush(ctx)
		}
		errs = append(errs, s.archive.Forget(ctx, tenant))
	}
	if s.pull != nil { // the pull buffers of its subscriptions
		subs, err := config.LoadAll[config.Subscription](ctx, s.cached, tenant, config.KindSubscription)
		errs = append(errs, err)
		for _, sub := range subs {
			errs = append(errs, s.pull.Drop(ctx, tenant, sub.Value.ID))
		}
	}
	if s.views.logs != nil {
		s.views.logs.Forget(tenant) // its kept and queued log lines (tenantview.go)
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("forget tenant %s: %w", tenant, err)
	}
	s.o.Logger.InfoContext(ctx, "tenant data forgotten", "tenant", tenant)
	return nil
}

// Journal returns the delivery log's reader, nil without one (tests
// inspect it).
func (s *Server) Journal() journal.Reader { return s.journalReader() }
