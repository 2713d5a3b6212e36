// Command deliver is the deliver role as a Lambda function fed by
// DeliveryQueue: it sends events to their publications with retries.
package main

import (
	"context"
	"time"

	"github.com/herokuevents/herokuevents/infra/aws/awsenv"
	"github.com/herokuevents/herokuevents/shared/deliver"
	"github.com/herokuevents/herokuevents/shared/lambdaio"
)

func main() {
	ctx := context.Background()
	env := awsenv.MustLoad(ctx, "deliver")
	store, sealer, egress := env.DataStore(), env.Sealer(), env.Egress()
	client := egress.Client(env.Timeout("DELIVERY_TIMEOUT", 10*time.Second))
	h := &deliver.Handler{
		Store:      store,
		Sealer:     sealer,
		Client:     client,
		Publishers: env.Publishers(ctx, store, sealer, egress, client),
		Requeue:    env.Queue("DELIVERY_QUEUE_URL"),
		Logger:     env.Logger,
		Metrics:    env.Metrics,
	}
	lambdaio.StartSQS(h, env.Settings("DeliverFunction"), env.Queue("DELIVERY_DLQ_URL"), lambdaio.WithMetrics(env.Metrics))
}
