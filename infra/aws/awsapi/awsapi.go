// Package awsapi builds the api function's handler on an awsapp.App: the
// management and provisioning API and the operator's partner API. Only
// functions/api imports it, so the deliver function links no api code.
// Add-on SSO and the dashboard are the dashboard function's
// (infra/aws/awsdashboard).
package awsapi

import (
	"errors"
	"net/http"
	"os"

	"github.com/herokuevents/herokuevents/infra/aws/awsapp"
	"github.com/herokuevents/herokuevents/infra/aws/smsecret"
	"github.com/herokuevents/herokuevents/shared/api"
	"github.com/herokuevents/herokuevents/shared/lambdaio"
	"github.com/herokuevents/herokuevents/shared/operator"
	"github.com/herokuevents/herokuevents/shared/partner"
	"github.com/herokuevents/herokuevents/shared/replay"
)

// Handler is the api function's handler: the management and provisioning
// API (PUBLIC_URL; PUBLISH_BASE_URL, the base of the tenants' publish and
// subscribe URLs, PUBLIC_URL when unset; OPERATOR_ID, OPERATOR_PASSWORD from its secret; the delivery log of
// JOURNAL_TABLE, retries queued on DELIVERY_QUEUE_URL) and the operator's
// partner API (PARTNER_QUEUE_URL).
func Handler(a *awsapp.App) (http.Handler, error) {
	e := a.Env
	if !smsecret.Configured(a.Getenv, "OPERATOR_PASSWORD") {
		return nil, errors.New("build api: OPERATOR_PASSWORD_ARN (or OPERATOR_PASSWORD) is not set")
	}
	// The password is read at each check: its secret is fetched in the
	// background from init (awsapp.New), and only the operator's requests
	// wait for it.
	op := operator.Lazy(lambdaio.MustEnv("OPERATOR_ID"), func() string { return a.Getenv("OPERATOR_PASSWORD") })
	d := a.Platforms.Deps()
	opts := api.Options{
		Store: d.Store, Platforms: a.Platforms, BaseURL: lambdaio.MustEnv("PUBLIC_URL"), Operator: op, Logger: e.Logger,
		PublishBaseURL: os.Getenv("PUBLISH_BASE_URL"), // the ingest function's URL: publish and subscribe URLs
		Authorizations: a.Authorizations, DeadLetters: e.DeadLetters(), Recent: e.Recent(),
		Journal: e.Journal(), Delivery: e.Queue("DELIVERY_QUEUE_URL"), // deliveries, trace, retry, health
		Pull: e.Pull(), // the backlog of pull subscriptions
		// a replay's steps run in the filter function, fed by the ingest queue
		Replays: replay.QueueKicker{Queue: e.Queue("INGEST_QUEUE_URL")},
	}
	if err := herokuOptions(a, a.Getenv, &opts); err != nil { // the Platform API for Partners, tenant forgetting (heroku.go)
		return nil, err
	}
	srv, err := api.New(opts)
	if err != nil {
		return nil, err
	}
	partners, err := partner.New(partner.Options{
		Store: d.Store, Sealer: d.Sealer, Queue: e.Queue("PARTNER_QUEUE_URL"),
		Operator: op, URLCheck: d.Egress.CheckURL, Logger: e.Logger,
	})
	if err != nil {
		return nil, err
	}
	mux := http.NewServeMux()
	mux.Handle("/", srv.Handler())
	partners.Mount(mux)
	return mux, nil
}
