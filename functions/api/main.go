// Command api is the api role as a Lambda function behind the HTTP API:
// the management REST API and the Heroku add-on provisioning API.
package main

import (
	"context"

	"github.com/herokuevents/herokuevents/infra/aws/awsenv"
	"github.com/herokuevents/herokuevents/shared/api"
	"github.com/herokuevents/herokuevents/shared/lambdaio"
)

func main() {
	env := awsenv.MustLoad(context.Background(), "api")
	srv := api.New(api.Options{
		Store:    env.Store(),
		Sealer:   env.Sealer(),
		URLCheck: env.Egress().CheckURL,
		BaseURL:  lambdaio.MustEnv("PUBLIC_URL"),
		Operator: api.Operator{
			ID:           lambdaio.MustEnv("OPERATOR_ID"),
			PasswordHash: api.HashKey(lambdaio.MustEnv("OPERATOR_PASSWORD")),
		},
		Logger: env.Logger,
	})
	lambdaio.StartHTTP(srv.Handler())
}
