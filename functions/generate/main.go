// Command generate is the generate role as a Lambda function ticked by an
// EventBridge Scheduler rate(1 minute) schedule: it emits the events of the
// due generators, each queued on IngestQueue with a delay up to its slot.
package main

import (
	"context"
	"time"

	"github.com/herokuevents/herokuevents/infra/aws/awsenv"
	"github.com/herokuevents/herokuevents/shared/generate"
	"github.com/herokuevents/herokuevents/shared/lambdaio"
	"github.com/herokuevents/herokuevents/shared/mapping"
)

func main() {
	env := awsenv.MustLoad(context.Background(), "generate")
	mappings := &mapping.Cache{}
	t, err := generate.New(generate.Options{
		Compile: func(src string) (generate.Program, error) { return mappings.Get(src) },
		Store:   env.Store(),
		Ingest:  env.Queue("INGEST_QUEUE_URL"),
		Window:  env.Timeout("TICK_WINDOW", time.Minute), // the schedule's rate
		Logger:  env.Logger,
		Metrics: env.Metrics,
	})
	env.Check("generate", err)
	lambdaio.StartSchedule(t.Tick)
}
