// Command partnernotify is the partnernotify role as a Lambda function fed
// by PartnerQueue: it POSTs legacy add-on partner event notifications to
// {base_url}/{resource_id}/events, retrying with backoff.
package main

import (
	"context"
	"os"
	"time"

	"github.com/herokuevents/herokuevents/infra/aws/awsenv"
	"github.com/herokuevents/herokuevents/infra/aws/kmssealer"
	"github.com/herokuevents/herokuevents/shared/lambdaio"
	"github.com/herokuevents/herokuevents/shared/partner"
)

func main() {
	env := awsenv.MustLoad(context.Background(), "partnernotify")
	h, err := partner.NewNotifier(partner.NotifierOptions{
		Store:   env.Store(),
		Sealer:  kmssealer.FromConfig(env.AWS, lambdaio.MustEnv("KMS_KEY_ID")),
		Client:  env.Egress().Client(env.Timeout("NOTIFY_TIMEOUT", 10*time.Second)),
		Requeue: env.Queue("PARTNER_QUEUE_URL"),
		Metrics: env.Metrics,
		Logger:  env.Logger,
	})
	if err != nil {
		env.Logger.Error("init failed", "err", err)
		os.Exit(1)
	}
	settings := env.QueueSettings("PartnernotifyFunction", "PartnerQueue") // the batch numbers SAM deploys
	lambdaio.StartSQS(h, settings, env.Queue("PARTNER_DLQ_URL"), lambdaio.WithMetrics(env.Metrics))
}
