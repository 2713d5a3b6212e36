// Command api is the api role as a Lambda function behind the HTTP API:
// the management REST API, Salesforce OAuth callbacks, the Heroku add-on
// provisioning API and the operator's partner-notification API (/v1/partners, /v1/apps,
// /v1/platform/events).
package main

import (
	"context"

	"github.com/herokuevents/herokuevents/infra/aws/awsapi"
	"github.com/herokuevents/herokuevents/infra/aws/awsapp"
	"github.com/herokuevents/herokuevents/infra/aws/awsenv"
	"github.com/herokuevents/herokuevents/shared/lambdaio"
	"github.com/herokuevents/herokuevents/shared/mapping"
	"github.com/herokuevents/herokuevents/shared/platform"
	"github.com/herokuevents/herokuevents/shared/platform/catalog"
)

func main() {
	env := awsenv.MustLoad(context.Background(), "api")
	mappings := &mapping.Cache{} // generators' mappings are checked at create
	app := awsapp.Must(awsapp.New(env, awsapp.Options{
		Platforms: catalog.All(),
		PublicURL: lambdaio.MustEnv("PUBLIC_URL"),
		Compile:   func(src string) (platform.Program, error) { return mappings.Get(src) },
	}))
	lambdaio.StartHTTP(awsapp.Must(awsapi.Handler(app)))
}
