package authorization

import (
	"net/http"
	"strings"
	"time"

	"github.com/herokuevents/herokuevents/shared/config"
	"github.com/herokuevents/herokuevents/shared/secret"
	"github.com/herokuevents/herokuevents/shared/sink"
)

// Settings of the operator's Salesforce connected app, the default of the
// browser (web) flow of authorizations:salesforce:create. `herokuevents
// dev:salesforce` prints the stand-in's.
const (
	EnvClientID     = "SALESFORCE_CLIENT_ID"
	EnvClientSecret = "SALESFORCE_CLIENT_SECRET"
	// EnvScopes lists the web flow's OAuth scopes, space-separated ("api
	// refresh_token" by default; add cdp_ingest_api for Data Cloud).
	EnvScopes = "SALESFORCE_SCOPES"
)

// Timeout bounds one OAuth request to Salesforce.
const Timeout = 30 * time.Second

// FromEnv returns the Service of both modes: it reaches Salesforce through
// egress (login URLs are user input; a loopback stand-in needs an
// allow-list), reads the operator's connected app and scopes with getenv,
// and serves the web flow's callback under baseURL ("" for a process that
// serves no callback).
func FromEnv(getenv func(string) string, store config.Store, sealer secret.Sealer, egress *sink.Egress, baseURL string) *Service {
	var client *http.Client
	if egress != nil {
		client = egress.Client(Timeout)
	}
	s := &Service{
		Store:      store,
		Sealer:     sealer,
		HTTPClient: client,
		ClientID:   getenv(EnvClientID),
		// read at each use: getenv may resolve it from a secret store
		Secret: func() string { return getenv(EnvClientSecret) },
		Scopes: strings.Fields(getenv(EnvScopes)),
	}
	if baseURL != "" {
		s.CallbackURL = strings.TrimSuffix(baseURL, "/") + CallbackPath
	}
	return s
}

// CallbackPath is the path of the OAuth callback of the Salesforce web
// flow; the redirect URI is the public base URL + CallbackPath.
const CallbackPath = "/oauth/salesforce/callback"
