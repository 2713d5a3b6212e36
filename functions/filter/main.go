// Command filter is the filter role as a Lambda function fed by IngestQueue:
// it routes events through their subscription's streams to DeliveryQueue.
package main

import (
	"context"
	"time"

	"github.com/herokuevents/herokuevents/infra/aws/awsenv"
	"github.com/herokuevents/herokuevents/infra/aws/dynamoarchive"
	"github.com/herokuevents/herokuevents/shared/archive"
	"github.com/herokuevents/herokuevents/shared/filter"
	"github.com/herokuevents/herokuevents/shared/journal"
	"github.com/herokuevents/herokuevents/shared/lambdaio"
	"github.com/herokuevents/herokuevents/shared/recent"
	"github.com/herokuevents/herokuevents/shared/replay"
)

func main() {
	env := awsenv.MustLoad(context.Background(), "filter")
	kept := recent.NewWriter(env.Recent(), recent.WriterOptions{Logger: env.Logger}) // for streams:test
	log := env.JournalWriter()                                                       // the delivery log
	archiveStore := dynamoarchive.FromConfig(env.AWS, lambdaio.MustEnv("ARCHIVE_TABLE"))
	archived := archive.NewWriter(archiveStore, archive.WriterOptions{Logger: env.Logger}) // for replay
	h, err := filter.New(filter.Options{
		Store:    env.DataStore(),
		Delivery: env.DeliveryQueue(),
		Logger:   env.Logger,
		Metrics:  env.Metrics,
		Recent:   kept,
		Journal:  log,
		Pull:     env.Pull(), // pull subscriptions keep every event
		Archive:  archived,
	})
	env.Check("filter", err)
	// Replays run here, a step per message of the ingest queue, each
	// queueing the next (shared/replay).
	runner := &replay.Runner{Store: env.Store(), Archive: archiveStore, Route: h, Logger: env.Logger}
	steps := replay.Steps(archive.FlushAfter(h, archived, 2*time.Second), runner, replay.QueueKicker{Queue: env.Queue("INGEST_QUEUE_URL")})
	settings := env.QueueSettings("FilterFunction", "IngestQueue") // the batch numbers SAM deploys
	lambdaio.StartSQS(journal.FlushBatches(recent.FlushAfter(steps, kept, 2*time.Second), log), settings, env.Queue("INGEST_DLQ_URL"), lambdaio.WithMetrics(env.Metrics))
}
