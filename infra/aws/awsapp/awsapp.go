// Package awsapp builds the roles of herokuevents that use the platforms
// (api, deliver, sfsubscribe) from an AWS function's environment: the
// adapters come from awsenv, the platform list from the caller
// (catalog.All() in production), and the roles are the very ones the
// embedded mode builds. Functions that use no platform (ingest, filter,
// generate, partnernotify) do not import it, so they link no Salesforce
// client.
package awsapp

import (
	"context"
	"log/slog"
	"net/http"
	"os"
	"time"

	"github.com/herokuevents/herokuevents/infra/aws/awsenv"
	"github.com/herokuevents/herokuevents/shared/api"
	"github.com/herokuevents/herokuevents/shared/authorization"
	"github.com/herokuevents/herokuevents/shared/config"
	"github.com/herokuevents/herokuevents/shared/deliver"
	"github.com/herokuevents/herokuevents/shared/lambdaio"
	"github.com/herokuevents/herokuevents/shared/partner"
	"github.com/herokuevents/herokuevents/shared/platform"
)

// App is what one function builds from its environment.
type App struct {
	Env            *awsenv.Env
	Platforms      *platform.Registry
	Authorizations *authorization.Service
}

// New builds the platform registry of a function: the data-plane store
// (cached) for deliver, the plain store otherwise; the ingest queue when
// INGEST_QUEUE_URL is set; OAuth callbacks under publicURL ("" when the
// function serves none).
func New(e *awsenv.Env, list []platform.Platform, publicURL string, dataPlane bool) (*App, error) {
	var store config.Store = e.Store()
	if dataPlane {
		store = e.DataStore()
	}
	sealer, egress := e.Sealer(), e.Egress()
	auth := authorization.FromEnv(os.Getenv, store, sealer, egress, publicURL)
	auth.Logger = e.Logger
	d := platform.Deps{
		Store:          store,
		Sealer:         sealer,
		Egress:         egress,
		Client:         egress.Client(e.Timeout("DELIVERY_TIMEOUT", 10*time.Second)),
		Authorizations: auth,
		Getenv:         os.Getenv,
		Logger:         e.Logger,
	}
	if os.Getenv("INGEST_QUEUE_URL") != "" {
		d.Ingest = e.Queue("INGEST_QUEUE_URL")
	}
	reg, err := platform.NewRegistry(d, list...)
	if err != nil {
		return nil, err
	}
	return &App{Env: e, Platforms: reg, Authorizations: auth}, nil
}

// API is the api function's handler: the management and provisioning API
// (PUBLIC_URL, OPERATOR_ID, OPERATOR_PASSWORD) and the operator's partner
// API (PARTNER_QUEUE_URL).
func (a *App) API() (http.Handler, error) {
	e := a.Env
	op := api.Operator{ID: lambdaio.MustEnv("OPERATOR_ID"), PasswordHash: api.HashKey(lambdaio.MustEnv("OPERATOR_PASSWORD"))}
	d := a.Platforms.Deps()
	srv, err := api.New(api.Options{
		Store: d.Store, Platforms: a.Platforms, BaseURL: lambdaio.MustEnv("PUBLIC_URL"), Operator: op, Logger: e.Logger,
		Authorizations: a.Authorizations, DeadLetters: e.DeadLetters(),
	})
	if err != nil {
		return nil, err
	}
	mux := http.NewServeMux()
	mux.Handle("/", srv.Handler())
	partners, err := partner.New(partner.Options{
		Store: d.Store, Sealer: d.Sealer, Queue: e.Queue("PARTNER_QUEUE_URL"),
		Operator: op, URLCheck: d.Egress.CheckURL, Logger: e.Logger,
	})
	if err != nil {
		return nil, err
	}
	partners.Mount(mux)
	return mux, nil
}

// Deliver is the deliver function's batch handler, re-queueing retries on
// DELIVERY_QUEUE_URL.
func (a *App) Deliver(ctx context.Context) (*deliver.Handler, error) {
	pubs, err := a.Platforms.Publishers(ctx)
	if err != nil {
		return nil, err
	}
	return deliver.New(deliver.Options{
		Store:      a.Platforms.Deps().Store,
		Publishers: pubs,
		Requeue:    a.Env.Queue("DELIVERY_QUEUE_URL"),
		Logger:     a.Env.Logger,
		Metrics:    a.Env.Metrics,
	})
}

// Must exits the function's init with a clear message when err is set: a
// Lambda whose settings are wrong should fail its init, loudly. The
// message goes to the default logger, which awsenv.MustLoad sets.
func Must[T any](v T, err error) T {
	if err != nil {
		slog.Error("init failed", "err", err)
		os.Exit(1)
	}
	return v
}
