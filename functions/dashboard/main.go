// Command dashboard is the add-on's SSO login and the tenant's dashboard as
// a Lambda function behind the HTTP API (POST /sso/login, GET /dashboard,
// POST /dashboard/{proxy+}); the api function serves everything else.
package main

import (
	"context"

	"github.com/herokuevents/herokuevents/infra/aws/awsdashboard"
	"github.com/herokuevents/herokuevents/infra/aws/awsenv"
	"github.com/herokuevents/herokuevents/shared/lambdaio"
)

func main() {
	ctx := context.Background()
	env := awsenv.MustLoad(ctx, "dashboard")
	h, err := awsdashboard.Handler(ctx, env)
	env.Check("HEROKU_SSO_SALT_ARN", err)
	lambdaio.StartHTTP(h)
}
