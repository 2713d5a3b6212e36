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
	env := awsenv.MustLoad(context.Background(), "deliver")
	h := &deliver.Handler{
		Store:   env.DataStore(),
		Sealer:  env.Sealer(),
		Client:  env.Egress().Client(env.Timeout("DELIVERY_TIMEOUT", 10*time.Second)),
		Requeue: env.Queue("DELIVERY_QUEUE_URL"),
		Logger:  env.Logger,
		Metrics: env.Metrics,
	}
	lambdaio.StartSQS(h, env.Settings("DeliverFunction"), env.Queue("DELIVERY_DLQ_URL"))
}
