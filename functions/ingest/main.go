// Command ingest is the ingest role as a Lambda function behind the HTTP
// API: apps POST events to {publish URL}/{name}.
package main

import (
	"context"

	"github.com/herokuevents/herokuevents/infra/aws/awsenv"
	"github.com/herokuevents/herokuevents/shared/ingest"
	"github.com/herokuevents/herokuevents/shared/lambdaio"
)

func main() {
	env := awsenv.MustLoad(context.Background(), "ingest")
	lambdaio.StartHTTP(ingest.New(ingest.Options{
		Store:    env.DataStore(),
		Ingest:   env.Queue("INGEST_QUEUE_URL"),
		Delivery: env.Queue("DELIVERY_QUEUE_URL"),
		Logger:   env.Logger,
		Metrics:  env.Metrics,
	}))
}
