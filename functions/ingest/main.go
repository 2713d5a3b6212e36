// Command ingest is the ingest role as a Lambda function behind the HTTP
// API: apps POST events to {publish URL}/{name}.
package main

import (
	"context"
	"os"

	"github.com/herokuevents/herokuevents/infra/aws/awsenv"
	"github.com/herokuevents/herokuevents/shared/ingest"
	"github.com/herokuevents/herokuevents/shared/journal"
	"github.com/herokuevents/herokuevents/shared/lambdaio"
)

func main() {
	env := awsenv.MustLoad(context.Background(), "ingest")
	log := env.JournalWriter() // the delivery log, written before each answer
	h, err := ingest.New(ingest.Options{
		Store:    env.DataStore(),
		Ingest:   env.Queue("INGEST_QUEUE_URL"),
		Delivery: env.Queue("DELIVERY_QUEUE_URL"),
		Logger:   env.Logger,
		Metrics:  env.Metrics,
		Journal:  log,
	})
	if err != nil {
		env.Logger.Error("init failed", "err", err)
		os.Exit(1)
	}
	lambdaio.StartHTTP(journal.FlushRequests(h, log))
}
