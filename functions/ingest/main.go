// Command ingest is the ingest role as a Lambda function behind the HTTP
// API: apps POST events to {publish URL}/{name} and pull them from
// {subscribe URL}/{name}; Data Cloud POSTs data actions to their targets.
package main

import (
	"context"
	"os"

	"github.com/herokuevents/herokuevents/infra/aws/awsenv"
	"github.com/herokuevents/herokuevents/infra/aws/awsingest"
	"github.com/herokuevents/herokuevents/shared/journal"
	"github.com/herokuevents/herokuevents/shared/lambdaio"
)

func main() {
	env := awsenv.MustLoad(context.Background(), "ingest")
	log := env.JournalWriter() // the delivery log, written before each answer
	h, err := awsingest.Handler(env, log)
	if err != nil {
		env.Logger.Error("init failed", "err", err)
		os.Exit(1)
	}
	lambdaio.StartHTTP(journal.FlushRequests(h, log))
}
