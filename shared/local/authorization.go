package local

import (
	"context"
	"os"
	"sync"
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
)

// SalesforceTimeout bounds one OAuth request to Salesforce.
const SalesforceTimeout = 30 * time.Second

func init() { Register(wireAuthorizations) }

var (
	authMu       sync.Mutex
	authServices = map[*Env]*authorization.Service{}
)

// Authorizations returns the authorization service of an embedded process:
// one per Env, shared by the api routes and the roles that need Salesforce
// sessions (sfsubscribe, the salesforce publisher). It reaches Salesforce
// through the egress-guarded client (a loopback stand-in needs
// --allow-egress) and reads the default connected app from
// SALESFORCE_CLIENT_ID and SALESFORCE_CLIENT_SECRET.
func Authorizations(e *Env) *authorization.Service {
	authMu.Lock()
	defer authMu.Unlock()
	if svc, ok := authServices[e]; ok {
		return svc
	}
	svc := &authorization.Service{
		Store:        e.Store,
		Sealer:       e.Sealer,
		HTTPClient:   e.Egress.Client(SalesforceTimeout),
		Logger:       e.Logger.With("role", "authorization"),
		ClientID:     os.Getenv(EnvSalesforceClientID),
		ClientSecret: os.Getenv(EnvSalesforceClientSecret),
		CallbackURL:  e.BaseURL + api.CallbackPath,
	}
	authServices[e] = svc
	e.Go(func(ctx context.Context) error {
		<-ctx.Done()
		authMu.Lock()
		delete(authServices, e)
		authMu.Unlock()
		return nil
	})
	return svc
}

// wireAuthorizations serves the authorization routes and the OAuth
// callback. The core api server is built without the service, so these
// paths are routed to an api server of their own on the shared mux (more
// specific patterns than the core's "/"); both share store and sealer.
func wireAuthorizations(_ context.Context, e *Env) error {
	h := api.New(api.Options{
		Store:          e.Store,
		Sealer:         e.Sealer,
		BaseURL:        e.BaseURL,
		Operator:       e.Operator,
		Logger:         e.Logger,
		Authorizations: Authorizations(e),
	}).Handler()
	for _, p := range []string{
		"/v1/tenants/{tenant}/authorizations",
		"/v1/tenants/{tenant}/authorizations/{ref}",
		"/v1/tenants/{tenant}/platforms/salesforce/authorizations",
		api.CallbackPath,
	} {
		e.Mux.Handle(p, h)
	}
	return nil
}
