// Package awsingest builds the ingest function's HTTP handler from its
// environment: the publish URL (shared/ingest), the subscribe URL of pull
// subscriptions (shared/pull, PULL_TABLE) and the Data Cloud data action
// targets (shared/dataaction, signing keys opened with KMS). It links no
// platform, so that the ingest function links no Salesforce client.
package awsingest

import (
	"net/http"
	"time"

	"github.com/herokuevents/herokuevents/infra/aws/awsenv"
	"github.com/herokuevents/herokuevents/infra/aws/kmssealer"
	"github.com/herokuevents/herokuevents/shared/dataaction"
	"github.com/herokuevents/herokuevents/shared/ingest"
	"github.com/herokuevents/herokuevents/shared/journal"
	"github.com/herokuevents/herokuevents/shared/lambdaio"
	"github.com/herokuevents/herokuevents/shared/subscribe"
)

// PollEvery is how often a long poll of the subscribe URL reads the pull
// table again (each read is one DynamoDB query).
const PollEvery = time.Second

// Handler is the ingest function's handler: POST /publish/{name},
// GET|DELETE|POST /subscribe/{name}[/…], POST /dataactions/{tenant}/{subscription}.
// Accepted events go to INGEST_QUEUE_URL (subscriptions) or
// DELIVERY_QUEUE_URL (publications), and to the delivery log log; a
// publish repeated with its Idempotency-Key (or CloudEvent source+id)
// within PUBLISH_DEDUP_WINDOW enqueues nothing (PUBLISH_KEYS_TABLE).
func Handler(env *awsenv.Env, log journal.Writer) (http.Handler, error) {
	store, ingestQ := env.DataStore(), env.Queue("INGEST_QUEUE_URL")
	keys, window := env.Dedup()
	pub, err := ingest.New(ingest.Options{
		Store:       store,
		Ingest:      ingestQ,
		Delivery:    env.DeliveryQueue(),
		Logger:      env.Logger,
		Metrics:     env.Metrics,
		Journal:     log,
		Dedup:       keys,
		DedupWindow: window,
	})
	if err != nil {
		return nil, err
	}
	sub, err := subscribe.New(subscribe.Options{Store: store, Buffer: env.Pull(), Logger: env.Logger, PollEvery: PollEvery})
	if err != nil {
		return nil, err
	}
	da, err := dataaction.New(dataaction.Options{Store: store, Sealer: kmssealer.FromConfig(env.AWS, lambdaio.MustEnv("KMS_KEY_ID")), Ingest: ingestQ, Logger: env.Logger, Metrics: env.Metrics})
	if err != nil {
		return nil, err
	}
	mux := http.NewServeMux()
	mux.Handle(subscribe.Path+"/", sub)
	mux.Handle(dataaction.Path+"/", da)
	mux.Handle("/", pub)
	return mux, nil
}
