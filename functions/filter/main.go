// Command filter is the filter role as a Lambda function fed by IngestQueue:
// it routes events through their subscription's streams to DeliveryQueue.
package main

import (
	"context"
	"time"

	"github.com/herokuevents/herokuevents"
	"github.com/herokuevents/herokuevents/infra/aws/awsenv"
	"github.com/herokuevents/herokuevents/infra/samtemplate"
	"github.com/herokuevents/herokuevents/shared/filter"
	"github.com/herokuevents/herokuevents/shared/journal"
	"github.com/herokuevents/herokuevents/shared/lambdaio"
	"github.com/herokuevents/herokuevents/shared/recent"
)

func main() {
	env := awsenv.MustLoad(context.Background(), "filter")
	kept := recent.NewWriter(env.Recent(), recent.WriterOptions{Logger: env.Logger}) // for streams:test
	log := env.JournalWriter()                                                       // the delivery log
	h, err := filter.New(filter.Options{
		Store:    env.DataStore(),
		Delivery: env.DeliveryQueue(),
		Logger:   env.Logger,
		Metrics:  env.Metrics,
		Recent:   kept,
		Journal:  log,
		Pull:     env.Pull(), // pull subscriptions keep every event
	})
	env.Check("filter", err)
	settings, err := samtemplate.Settings(herokuevents.Template, "FilterFunction") // the batch numbers SAM deploys
	env.Check("template.yaml", err)
	lambdaio.StartSQS(journal.FlushBatches(recent.FlushAfter(h, kept, 2*time.Second), log), settings, env.Queue("INGEST_DLQ_URL"), lambdaio.WithMetrics(env.Metrics))
}
