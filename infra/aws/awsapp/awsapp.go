// Package awsapp builds the platform registry of an AWS function from its
// environment (the adapters come from awsenv, the platform list from the
// caller: catalog.All() in production) and the deliver role on it;
// infra/aws/awsapi builds the api role on it. The roles are the very ones
// the embedded mode builds. Functions that use no platform (ingest,
// filter, generate, partnernotify) do not import it, so they link no
// Salesforce client.
package awsapp

import (
	"context"
	"log/slog"
	"os"
	"time"

	"github.com/herokuevents/herokuevents/infra/aws/awsenv"
	"github.com/herokuevents/herokuevents/infra/aws/kmssealer"
	"github.com/herokuevents/herokuevents/infra/aws/smsecret"
	"github.com/herokuevents/herokuevents/shared/authorization"
	"github.com/herokuevents/herokuevents/shared/config"
	"github.com/herokuevents/herokuevents/shared/deliver"
	"github.com/herokuevents/herokuevents/shared/journal"
	"github.com/herokuevents/herokuevents/shared/lambdaio"
	"github.com/herokuevents/herokuevents/shared/platform"
)

// App is what one function builds from its environment.
type App struct {
	Env            *awsenv.Env
	Platforms      *platform.Registry
	Authorizations *authorization.Service
	// Getenv reads the function's settings, its secrets resolved from
	// Secrets Manager (OPERATOR_PASSWORD, SALESFORCE_CLIENT_SECRET; see
	// smsecret).
	Getenv  func(string) string
	journal journal.Writer
}

// Secrets are the settings template.yaml hands to functions as secret
// ARNs (NAME_ARN), fetched from init by New (smsecret.Prefetch).
var Secrets = []string{"OPERATOR_PASSWORD", authorization.EnvClientSecret, "HEROKU_OAUTH_CLIENT_SECRET", "HEROKU_SSO_SALT"}

// Options choose what a function builds.
type Options struct {
	// Platforms are the platforms offered (catalog.All()).
	Platforms []platform.Platform
	// PublicURL is where OAuth callbacks arrive; "" in a function that
	// serves none.
	PublicURL string
	// DataPlane reads the configuration through a short-lived cache
	// (CONFIG_CACHE_TTL), as the data-plane functions do.
	DataPlane bool
	// Compile compiles tenants' Bloblang mappings (shared/mapping); nil in
	// a function that runs none, so that it links no Bloblang.
	Compile func(src string) (platform.Program, error)
	// Engines are the heavy parts of platforms this function delivers to
	// or runs (sfsub.Engine for salesforce in the deliver function).
	Engines map[string]platform.Engine
	// Journal is the delivery log the deliver role writes to
	// (awsenv.Env.JournalWriter); nil for none.
	Journal journal.Writer
}

// New builds the platform registry of a function from its environment:
// the store (cached for the data plane), the KMS sealer, the egress guard,
// the delivery client (DELIVERY_TIMEOUT), the ingest queue when
// INGEST_QUEUE_URL is set, the function's secrets (Secrets) and the
// tenants' Salesforce authorizations.
func New(e *awsenv.Env, o Options) (*App, error) {
	// The secrets are fetched in the background: no cold start waits a
	// Secrets Manager round trip before its first request, and only the
	// reads of a secret wait for what is left of it.
	getenv := smsecret.Prefetch(context.Background(), e.AWS, os.Getenv, e.Logger, Secrets...)
	var store config.Store = e.Store()
	if o.DataPlane {
		store = e.DataStore()
	}
	sealer, egress := kmssealer.FromConfig(e.AWS, lambdaio.MustEnv("KMS_KEY_ID")), e.Egress()
	auth := authorization.FromEnv(getenv, store, sealer, egress, o.PublicURL)
	auth.Logger = e.Logger
	d := platform.Deps{
		Store:          store,
		Sealer:         sealer,
		Egress:         egress,
		Client:         egress.Client(e.Timeout("DELIVERY_TIMEOUT", 10*time.Second)),
		Authorizations: auth,
		Compile:        o.Compile,
		Engines:        o.Engines,
		Getenv:         getenv,
		Logger:         e.Logger,
		Origin:         platform.OriginOf(o.PublicURL),
	}
	if os.Getenv("INGEST_QUEUE_URL") != "" {
		d.Ingest = e.Queue("INGEST_QUEUE_URL")
	}
	reg, err := platform.NewRegistry(d, o.Platforms...)
	if err != nil {
		return nil, err
	}
	return &App{Env: e, Platforms: reg, Authorizations: auth, Getenv: getenv, journal: o.Journal}, nil
}

// Deliver is the deliver function's batch handler, re-queueing retries on
// DELIVERY_QUEUE_URL. It is Solo: Lambda runs one invocation at a time.
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
		Journal:    a.journal,
		// One invocation at a time: a batched publication's batch goes as
		// soon as the invocation's messages are in it (deliver batch.go).
		Solo: true,
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
