// Command api is the api role as a Lambda function behind the HTTP API:
// the management REST API, Salesforce OAuth callbacks, the Heroku add-on
// provisioning API and the operator's partner-notification API (/v1/partners, /v1/apps,
// /v1/platform/events).
package main

import (
	"context"
	"net/http"

	"github.com/herokuevents/herokuevents/infra/aws/awsenv"
	"github.com/herokuevents/herokuevents/shared/api"
	"github.com/herokuevents/herokuevents/shared/lambdaio"
	"github.com/herokuevents/herokuevents/shared/partner"
)

func main() {
	env := awsenv.MustLoad(context.Background(), "api")
	op := api.Operator{
		ID:           lambdaio.MustEnv("OPERATOR_ID"),
		PasswordHash: api.HashKey(lambdaio.MustEnv("OPERATOR_PASSWORD")),
	}
	store, sealer, egress, base := env.Store(), env.Sealer(), env.Egress(), lambdaio.MustEnv("PUBLIC_URL")
	subs, pubs := env.Platforms(store)
	srv := api.New(api.Options{
		Store: store, Sealer: sealer, URLCheck: egress.CheckURL, BaseURL: base, Operator: op, Logger: env.Logger,
		Authorizations: env.Authorizations(store, sealer, egress, base), DeadLetters: env.DeadLetters(),
		SubscriptionPlatforms: subs, PublicationPlatforms: pubs,
	})
	mux := http.NewServeMux()
	mux.Handle("/", srv.Handler())
	partner.New(partner.Options{
		Store: store, Sealer: sealer, Queue: env.Queue("PARTNER_QUEUE_URL"),
		Operator: op, URLCheck: egress.CheckURL, Logger: env.Logger,
	}).Mount(mux)
	lambdaio.StartHTTP(mux)
}
