// Command deliver is the deliver role as a Lambda function fed by
// DeliveryQueue and OrderedDeliveryQueue (the lanes of ordered
// publications): it sends events to their publications with retries.
package main

import (
	"context"

	"github.com/herokuevents/herokuevents/infra/aws/awsapp"
	"github.com/herokuevents/herokuevents/infra/aws/awsenv"
	"github.com/herokuevents/herokuevents/shared/config"
	"github.com/herokuevents/herokuevents/shared/journal"
	"github.com/herokuevents/herokuevents/shared/lambdaio"
	"github.com/herokuevents/herokuevents/shared/platform"
	"github.com/herokuevents/herokuevents/shared/platform/catalog"
	"github.com/herokuevents/herokuevents/shared/platform/webhook/cloudevent"
	"github.com/herokuevents/herokuevents/shared/sfsub"
)

func main() {
	ctx := context.Background()
	env := awsenv.MustLoad(ctx, "deliver")
	log := env.JournalWriter() // the delivery log, written before each batch returns
	app := awsapp.Must(awsapp.New(env, awsapp.Options{
		Platforms: catalog.All(),
		DataPlane: true,
		Engines: map[string]platform.Engine{
			config.PlatformSalesforce: sfsub.Engine{},      // Pub/Sub API publisher
			config.PlatformWebhook:    cloudevent.Engine{}, // signed CloudEvents POSTs
		},
		Journal: log,
	}))
	h := awsapp.Must(app.Deliver(ctx))
	settings := env.QueueSettings("DeliverFunction", "DeliveryQueue") // the batch numbers SAM deploys
	// The second event source: the FIFO queue of ordered lanes, whose
	// failed deliveries are retried in place (their visibility changed).
	ordered := env.QueueSettings("DeliverFunction", "OrderedDeliveryQueue")
	opts := []lambdaio.Option{lambdaio.WithMetrics(env.Metrics)}
	if q := env.OrderedQueue(); q != nil {
		opts = append(opts, lambdaio.WithOrdered(ordered, q.ChangeVisibility))
	}
	lambdaio.StartSQS(journal.FlushBatches(h, log), settings, env.Queue("DELIVERY_DLQ_URL"), opts...)
}
