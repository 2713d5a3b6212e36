// Command sfsubscribe is the sfsubscribe role as a Lambda function ticked by
// an EventBridge Scheduler rate(1 minute) schedule: each tick leases the due
// Salesforce subscriptions, consumes them over the Pub/Sub API for RUN_FOR
// (default 55s, ending well before the function's timeout), enqueues their
// events on IngestQueue, checkpoints, and releases the leases.
package main

import (
	"context"
	"os"
	"time"

	"github.com/herokuevents/herokuevents/infra/aws/awsenv"
	"github.com/herokuevents/herokuevents/infra/aws/kmssealer"
	"github.com/herokuevents/herokuevents/infra/aws/smsecret"
	"github.com/herokuevents/herokuevents/shared/authorization"
	"github.com/herokuevents/herokuevents/shared/lambdaio"
	"github.com/herokuevents/herokuevents/shared/sfsub"
)

func main() {
	ctx := context.Background()
	env := awsenv.MustLoad(ctx, "sfsubscribe")
	store := env.Store()
	getenv, err := smsecret.Load(ctx, env.AWS, os.Getenv, env.Logger, authorization.EnvClientSecret) // SALESFORCE_CLIENT_SECRET_ARN
	env.Check("SALESFORCE_CLIENT_SECRET_ARN", err)
	auth := authorization.FromEnv(getenv, store, kmssealer.FromConfig(env.AWS, lambdaio.MustEnv("KMS_KEY_ID")), env.Egress(), "")
	auth.Logger = env.Logger
	client, err := sfsub.DialEnv(ctx, os.Getenv, env.Logger) // SALESFORCE_PUBSUB_ENDPOINT, SALESFORCE_CA_CERT
	env.Check("SALESFORCE_PUBSUB_ENDPOINT", err)
	keepalive, err := sfsub.KeepaliveFromEnv(os.Getenv) // SALESFORCE_PUBSUB_KEEPALIVE
	env.Check(sfsub.EnvKeepalive, err)
	r, err := sfsub.New(sfsub.Options{
		Store:     store,
		Ingest:    env.Queue("INGEST_QUEUE_URL"),
		Client:    client,
		Sessions:  sfsub.AuthorizationSessions(auth),
		Keepalive: keepalive,
		Metrics:   env.Metrics,
		Logger:    env.Logger,
	})
	env.Check("sfsubscribe", err)
	lambdaio.StartSchedule(r.TickFunc(env.Timeout("RUN_FOR", 55*time.Second), 15*time.Second))
}
