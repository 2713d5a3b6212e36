// Package api is the api role of herokuevents: the tenant-scoped management
// REST API (subscriptions, publications, streams) and the Heroku add-on
// provisioning API, served as one net/http handler.
//
// The JSON shapes follow the original Heroku Events product (reference §3, §4):
// resources carry a `platform` discriminator and `params`, every route that
// takes an id also takes the name, subscriptions list their `targets` and
// publications their `sources`, each with its `filter` (string or null), and
// DELETE returns the full deleted object. Errors are a status plus JSON
// {"id": "...", "message": "..."} and change nothing.
//
// A Server is safe for concurrent use. It never retries on its own except
// for re-reading after an optimistic version conflict on delete.
package api

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"time"

	"github.com/herokuevents/herokuevents/shared/addon"
	"github.com/herokuevents/herokuevents/shared/authorization"
	"github.com/herokuevents/herokuevents/shared/config"
	"github.com/herokuevents/herokuevents/shared/journal"
	"github.com/herokuevents/herokuevents/shared/operator"
	"github.com/herokuevents/herokuevents/shared/platform"
	"github.com/herokuevents/herokuevents/shared/pull"
	"github.com/herokuevents/herokuevents/shared/queue"
	"github.com/herokuevents/herokuevents/shared/recent"
	"github.com/herokuevents/herokuevents/shared/replay"
	"github.com/herokuevents/herokuevents/shared/secret"
)

// Operator holds the credentials of the platform operator, who calls the
// provisioning routes with HTTP Basic auth "ID:password" (operator.Credentials).
type Operator = operator.Credentials

// Options configure a Server.
type Options struct {
	// Store persists the configuration. Required.
	Store config.Store
	// Platforms validates new subscriptions and publications
	// (POST /v1/tenants/{T}/platforms/{platform}/...). Required.
	Platforms *platform.Registry
	// BaseURL is the public base URL of the service, e.g. http://127.0.0.1:5454.
	BaseURL string
	// PublishBaseURL is the base URL of the tenants' publish and subscribe
	// URLs when another endpoint serves them (on AWS, the ingest function's
	// URL); BaseURL when empty.
	PublishBaseURL string
	// Operator authenticates the provisioning routes.
	Operator Operator
	// Logger receives one line per mutation; slog.Default() when nil.
	Logger *slog.Logger
	// Now is the clock; time.Now when nil.
	Now func() time.Time
	// Authorizations, when set, serves the Salesforce authorization routes
	// and the OAuth callback (CallbackPath, no tenant auth).
	Authorizations *authorization.Service
	// DeadLetters, when set, serves the tenant's dead letters: list,
	// redrive and purge (/v1/tenants/{T}/dead-letters).
	DeadLetters queue.DeadLetters
	// Wake, when set, makes the deliveries held for a paused publication
	// deliverable at once when it is resumed, and returns how many (the
	// embedded mode); without it each comes back when its hold ends.
	Wake func(ctx context.Context, tenant, publication string) (int, error)
	// Recent, when set, serves the filter dry-run over the events kept for
	// it (POST /v1/tenants/{T}/streams/test).
	Recent recent.Reader
	// Journal, when set, serves the delivery log: a publication's
	// deliveries, an event's trace, and the health of publications and
	// subscriptions.
	Journal journal.Reader
	// Delivery, with Journal, serves the retry of one event's delivery
	// (POST …/events/{id}/publications/{ref}/retry): the delivery queue.
	Delivery queue.Sender
	// Pull, when set, reports the backlog of pull subscriptions
	// (subscriptions:info) and drops it when a subscription is deleted or
	// its pull turned off.
	Pull pull.Admin
	// Addon, when set, is the add-on manifest: Heroku's Partner API calls
	// (/heroku/resources) must carry its id and api.password as Basic auth
	// (the operator's credentials are refused there), and the config vars
	// are named with its prefix. Without it the operator provisions.
	Addon *addon.Manifest
	// Sealer seals the config handed out at provisioning, so that a
	// repeated provision answers the same; without it a repeat issues new
	// keys.
	Sealer secret.Sealer
	// Link, when set, is called after a Heroku provisioning with the
	// tenant and the grant code: it exchanges the grant and learns the app
	// (heroku.Partner.Link), within LinkTimeout.
	Link func(ctx context.Context, tenant, code string) error
	// Forget, when set, removes what a deprovisioned tenant left outside
	// the config store: queued messages, dead letters, the delivery log,
	// kept events. It is called before the configuration is deleted and
	// must be safe to repeat.
	Forget func(ctx context.Context, tenant string) error
	// PushConfig, when set, sends a Heroku-provisioned tenant's new config
	// vars to Heroku after a credential rotation (heroku.Partner.PushConfig).
	PushConfig func(ctx context.Context, tenant string, vars map[string]string) error
	// Replays starts the steps of a replay (shared/replay): the replay
	// routes are served only when it is set.
	Replays replay.Kicker
}

// Server serves the management and provisioning APIs.
type Server struct {
	store      config.Store
	platforms  *platform.Registry
	base       *url.URL
	publish    *url.URL // the base of publish and subscribe URLs
	operator   Operator
	log        *slog.Logger
	now        func() time.Time
	auth       *authorization.Service
	dead       queue.DeadLetters
	wake       func(ctx context.Context, tenant, publication string) (int, error)
	recent     recent.Reader
	journal    journal.Reader
	delivery   queue.Sender
	pull       pull.Admin
	manifest   *addon.Manifest
	sealer     secret.Sealer
	linkFn     func(ctx context.Context, tenant, code string) error
	forget     func(ctx context.Context, tenant string) error
	pushConfig func(ctx context.Context, tenant string, vars map[string]string) error
	replays    replay.Kicker
	mux        *http.ServeMux
}

// New returns a Server, or an error when Store or Platforms is missing or
// BaseURL is not an absolute http(s) URL.
func New(o Options) (*Server, error) {
	if o.Store == nil || o.Platforms == nil {
		return nil, errors.New("new api: Options.Store and Options.Platforms are required")
	}
	base, err := url.Parse(o.BaseURL)
	if err != nil || (base.Scheme != "http" && base.Scheme != "https") || base.Host == "" {
		return nil, fmt.Errorf("new api: Options.BaseURL %q is not an absolute http(s) URL", o.BaseURL)
	}
	publishBase := base
	if o.PublishBaseURL != "" {
		publishBase, err = url.Parse(o.PublishBaseURL)
		if err != nil || (publishBase.Scheme != "http" && publishBase.Scheme != "https") || publishBase.Host == "" {
			return nil, fmt.Errorf("new api: Options.PublishBaseURL %q is not an absolute http(s) URL", o.PublishBaseURL)
		}
	}
	s := &Server{
		store:      o.Store,
		platforms:  o.Platforms,
		base:       base,
		publish:    publishBase,
		operator:   o.Operator,
		log:        o.Logger,
		now:        o.Now,
		auth:       o.Authorizations,
		dead:       o.DeadLetters,
		wake:       o.Wake,
		recent:     o.Recent,
		journal:    o.Journal,
		delivery:   o.Delivery,
		pull:       o.Pull,
		manifest:   o.Addon,
		sealer:     o.Sealer,
		linkFn:     o.Link,
		forget:     o.Forget,
		pushConfig: o.PushConfig,
		replays:    o.Replays,
	}
	if s.log == nil {
		s.log = slog.Default()
	}
	if s.now == nil {
		s.now = time.Now
	}
	s.routes()
	return s, nil
}

func (s *Server) routes() {
	m := http.NewServeMux()
	t := "/v1/tenants/{tenant}"
	m.Handle("GET "+t, s.tenant(s.getTenant))
	m.Handle("POST "+t+"/credentials/rotate", s.tenant(s.rotateCredentials))

	m.Handle("POST "+t+"/platforms/{platform}/subscriptions", s.tenant(s.createSubscription))
	m.Handle("GET "+t+"/subscriptions", s.tenant(s.listSubscriptions))
	m.Handle("GET "+t+"/subscriptions/{ref}", s.tenant(s.getSubscription))
	m.Handle("DELETE "+t+"/subscriptions/{ref}", s.tenant(s.deleteSubscription))
	m.Handle("PATCH "+t+"/subscriptions/{ref}", s.tenant(s.updateSubscription))

	m.Handle("POST "+t+"/platforms/{platform}/publications", s.tenant(s.createPublication))
	m.Handle("GET "+t+"/publications", s.tenant(s.listPublications))
	m.Handle("GET "+t+"/publications/{ref}", s.tenant(s.getPublication))
	m.Handle("DELETE "+t+"/publications/{ref}", s.tenant(s.deletePublication))

	m.Handle("GET "+t+"/streams", s.tenant(s.listStreams))
	m.Handle("POST "+t+"/streams", s.tenant(s.createStream))
	m.Handle("GET "+t+"/streams/{source}/{target}", s.tenant(s.getStream))
	m.Handle("DELETE "+t+"/streams/{source}/{target}", s.tenant(s.deleteStream))
	// v0.0.1 `events:unlink` path.
	m.Handle("DELETE "+t+"/subscriptions/{source}/publications/{target}", s.tenant(s.deleteStream))

	m.Handle("POST /heroku/resources", s.partnerOnly(s.provision))
	m.Handle("PUT /heroku/resources/{id}", s.partnerOnly(s.changePlan))
	m.Handle("DELETE /heroku/resources/{id}", s.partnerOnly(s.deprovision))
	if s.auth != nil {
		s.authorizationRoutes(m, t)
	}
	if s.dead != nil {
		s.deadLetterRoutes(m, t)
	}
	s.lifecycleRoutes(m, t)
	if s.recent != nil {
		m.Handle("POST "+t+"/streams/test", s.tenant(s.testStream))
	}
	if s.journal != nil {
		s.journalRoutes(m, t)
	}
	if s.replays != nil {
		s.replayRoutes(m, t)
	}
	s.mux = m
}

// Handler returns the HTTP handler of every route.
func (s *Server) Handler() http.Handler { return http.HandlerFunc(s.serveHTTP) }

// serveHTTP dispatches to the mux and turns its own plain-text 404/405
// answers into JSON errors.
func (s *Server) serveHTTP(w http.ResponseWriter, r *http.Request) {
	if _, pattern := s.mux.Handler(r); pattern != "" {
		s.mux.ServeHTTP(w, r)
		return
	}
	rec := &capture{header: http.Header{}}
	s.mux.ServeHTTP(rec, r)
	switch {
	case rec.status == http.StatusMethodNotAllowed:
		w.Header().Set("Allow", rec.header.Get("Allow"))
		WriteError(w, &Error{Status: rec.status, ID: "method_not_allowed", Message: fmt.Sprintf("Method %s is not allowed here.", r.Method)})
	case rec.status >= 300 && rec.status < 400:
		w.Header().Set("Location", rec.header.Get("Location"))
		w.WriteHeader(rec.status)
	default:
		WriteError(w, &Error{Status: http.StatusNotFound, ID: "not_found", Message: "No such route."})
	}
}

// capture records the status and headers of the mux's fallback handlers.
type capture struct {
	header http.Header
	status int
}

func (c *capture) Header() http.Header { return c.header }
func (c *capture) WriteHeader(code int) {
	if c.status == 0 {
		c.status = code
	}
}
func (c *capture) Write(b []byte) (int, error) {
	if c.status == 0 {
		c.status = http.StatusOK
	}
	return len(b), nil
}

// timestamp is the creation time recorded on new resources.
func (s *Server) timestamp() time.Time { return s.now().UTC().Truncate(time.Second) }
