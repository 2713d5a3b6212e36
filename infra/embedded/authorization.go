package embedded

import (
	"os"
	"strings"
	"time"

	"github.com/herokuevents/herokuevents/shared/api"
	"github.com/herokuevents/herokuevents/shared/authorization"
)

// Environment variables naming the operator's Salesforce connected app, the
// default of the browser (web) flow of authorizations:salesforce:create.
// `herokuevents dev:salesforce` prints the stand-in's.
const (
	EnvSalesforceClientID     = "SALESFORCE_CLIENT_ID"
	EnvSalesforceClientSecret = "SALESFORCE_CLIENT_SECRET"
	// EnvSalesforceScopes lists the web flow's OAuth scopes, space-separated
	// ("api refresh_token" by default; add cdp_ingest_api for Data Cloud).
	EnvSalesforceScopes = "SALESFORCE_SCOPES"
)

// SalesforceTimeout bounds one OAuth request to Salesforce.
const SalesforceTimeout = 30 * time.Second

// newAuthorizations builds the service: it reaches Salesforce through the
// egress-guarded client (a loopback stand-in needs --allow-egress) and reads
// the default connected app from SALESFORCE_CLIENT_ID and
// SALESFORCE_CLIENT_SECRET.
func newAuthorizations(e *Env) *authorization.Service {
	return &authorization.Service{
		Store:        e.Store,
		Sealer:       e.Sealer,
		HTTPClient:   e.Egress.Client(SalesforceTimeout),
		Logger:       e.Logger.With("role", "authorization"),
		ClientID:     os.Getenv(EnvSalesforceClientID),
		ClientSecret: os.Getenv(EnvSalesforceClientSecret),
		Scopes:       strings.Fields(os.Getenv(EnvSalesforceScopes)),
		CallbackURL:  e.BaseURL + api.CallbackPath,
	}
}
