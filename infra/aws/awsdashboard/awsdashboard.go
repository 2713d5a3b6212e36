// Package awsdashboard builds the dashboard function's handler: add-on SSO
// (POST /sso/login) and the tenant's dashboard (GET /dashboard, POST
// /dashboard/…) on the configuration in DynamoDB (CONFIG_TABLE), the
// delivery log (JOURNAL_TABLE) and the dead letters in SQS. Only
// functions/dashboard imports it, so the api function links neither
// shared/dashboard nor html/template (its size budget, DESIGN §4).
package awsdashboard

import (
	"context"
	"net/http"
	"os"

	"github.com/herokuevents/herokuevents/infra/aws/awsenv"
	"github.com/herokuevents/herokuevents/infra/aws/smsecret"
	"github.com/herokuevents/herokuevents/shared/addon"
	"github.com/herokuevents/herokuevents/shared/dashboard"
	"github.com/herokuevents/herokuevents/shared/journal"
)

// Handler serves add-on SSO and the tenant's dashboard when the add-on's
// SSO salt is set (HEROKU_SSO_SALT_ARN, its Secrets Manager secret, or
// HEROKU_SSO_SALT; the manifest's api.sso_salt); without it every route
// answers 404. The session key is derived from the salt, so every instance
// verifies the sessions of the others. The dead letters are those of
// INGEST_DLQ_URL and DELIVERY_DLQ_URL, redriven to their queues.
func Handler(ctx context.Context, e *awsenv.Env) (http.Handler, error) {
	getenv, err := smsecret.Load(ctx, e.AWS, os.Getenv, e.Logger, addon.EnvSSOSalt)
	if err != nil {
		return nil, err
	}
	mux := http.NewServeMux()
	salt := getenv(addon.EnvSSOSalt)
	if salt == "" {
		e.Logger.Info("dashboard not served: no SSO salt", "setting", addon.EnvSSOSalt)
		return mux, nil
	}
	var j journal.Reader
	if os.Getenv("JOURNAL_TABLE") != "" {
		j = e.Journal()
	}
	d, err := dashboard.New(dashboard.Options{
		Store: e.Store(), Tokens: &addon.Manifest{ID: "herokuevents", API: addon.API{SSOSalt: salt}},
		Key: dashboard.KeyFrom(salt), Journal: j, DeadLetters: e.DeadLetters(), Logger: e.Logger,
	})
	if err != nil {
		return nil, err
	}
	d.Mount(mux)
	return mux, nil
}
