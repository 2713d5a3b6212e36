package awsapi

import (
	"net/http"
	"os"

	"github.com/herokuevents/herokuevents/infra/aws/awsapp"
	"github.com/herokuevents/herokuevents/shared/addon"
	"github.com/herokuevents/herokuevents/shared/dashboard"
	"github.com/herokuevents/herokuevents/shared/journal"
)

// mountDashboard serves add-on SSO (POST /sso/login) and the tenant's
// dashboard (/dashboard) when the add-on's SSO salt is set
// (HEROKU_SSO_SALT, the manifest's api.sso_salt). The session key is
// derived from the salt, so every api instance verifies the sessions of the
// others; the dashboard reads the delivery log (JOURNAL_TABLE) and the
// dead letters (INGEST_DLQ_URL, DELIVERY_DLQ_URL) as the API does.
func mountDashboard(mux *http.ServeMux, a *awsapp.App) error {
	salt := os.Getenv(addon.EnvSSOSalt)
	if salt == "" {
		a.Env.Logger.Info("dashboard not served: no SSO salt", "setting", addon.EnvSSOSalt)
		return nil
	}
	var j journal.Reader
	if os.Getenv("JOURNAL_TABLE") != "" {
		j = a.Env.Journal()
	}
	d, err := dashboard.New(dashboard.Options{
		Store: a.Platforms.Deps().Store, Tokens: &addon.Manifest{ID: "herokuevents", API: addon.API{SSOSalt: salt}},
		Key: dashboard.KeyFrom(salt), Journal: j, DeadLetters: a.Env.DeadLetters(), Logger: a.Env.Logger.With("role", "dashboard"),
	})
	if err != nil {
		return err
	}
	d.Mount(mux)
	return nil
}
