// Command filter is the filter role as a Lambda function fed by IngestQueue:
// it routes events through their subscription's streams to DeliveryQueue.
package main

import (
	"context"

	"github.com/herokuevents/herokuevents"
	"github.com/herokuevents/herokuevents/infra/aws/awsenv"
	"github.com/herokuevents/herokuevents/infra/samtemplate"
	"github.com/herokuevents/herokuevents/shared/filter"
	"github.com/herokuevents/herokuevents/shared/lambdaio"
)

func main() {
	env := awsenv.MustLoad(context.Background(), "filter")
	h, err := filter.New(filter.Options{
		Store:    env.DataStore(),
		Delivery: env.Queue("DELIVERY_QUEUE_URL"),
		Logger:   env.Logger,
		Metrics:  env.Metrics,
	})
	env.Check("filter", err)
	settings, err := samtemplate.Settings(herokuevents.Template, "FilterFunction") // the batch numbers SAM deploys
	env.Check("template.yaml", err)
	lambdaio.StartSQS(h, settings, env.Queue("INGEST_DLQ_URL"), lambdaio.WithMetrics(env.Metrics))
}
