// Command deliver is the deliver role as a Lambda function fed by
// DeliveryQueue: it sends events to their publications with retries.
package main

import (
	"context"

	"github.com/herokuevents/herokuevents/infra/aws/awsapp"
	"github.com/herokuevents/herokuevents/infra/aws/awsenv"
	"github.com/herokuevents/herokuevents/shared/lambdaio"
	"github.com/herokuevents/herokuevents/shared/platform/catalog"
)

func main() {
	ctx := context.Background()
	env := awsenv.MustLoad(ctx, "deliver")
	app := awsapp.Must(awsapp.New(env, awsapp.Options{Platforms: catalog.All(), DataPlane: true}))
	h := awsapp.Must(app.Deliver(ctx))
	lambdaio.StartSQS(h, env.Settings("DeliverFunction"), env.Queue("DELIVERY_DLQ_URL"), lambdaio.WithMetrics(env.Metrics))
}
