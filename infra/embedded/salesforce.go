package embedded

import (
	"context"
	"os"
	"time"

	"github.com/herokuevents/herokuevents/shared/config"
	"github.com/herokuevents/herokuevents/shared/sfsub"
)

// SalesforceScan is how often the embedded sfsubscribe role looks for
// Salesforce subscriptions without a consumer (new, released, or due after
// a backoff).
const SalesforceScan = time.Second

func init() { Register(wireSalesforce) }

// wireSalesforce adds the "salesforce" subscription and publication
// platforms, the Salesforce publisher of the deliver role, and runs the
// sfsubscribe role as a long-running loop (the Lambda function ticks each
// minute instead). The Pub/Sub API endpoint is SALESFORCE_PUBSUB_ENDPOINT
// (default api.pubsub.salesforce.com:7443) with the extra CA certificate
// SALESFORCE_CA_CERT, so exporting what `herokuevents dev:salesforce` prints
// points the process at the stand-in.
func wireSalesforce(ctx context.Context, e *Env) error {
	log := e.Logger.With("role", "sfsubscribe")
	client, err := sfsub.DialEnv(ctx, os.Getenv, log)
	if err != nil {
		return err
	}
	sessions := sfsub.AuthorizationSessions(e.Authorizations)
	platforms := sfsub.Platforms{Authorized: sfsub.StoreAuthorizationCheck(e.Store)}
	e.SubscriptionPlatforms[config.PlatformSalesforce] = platforms.Subscription
	e.PublicationPlatforms[config.PlatformSalesforce] = platforms.Publication
	e.Publishers[config.PlatformSalesforce] = &sfsub.Publisher{Client: client, Sessions: sessions, Logger: e.Logger.With("role", "deliver")}
	r := sfsub.New(sfsub.Options{
		Store:        e.Store,
		Ingest:       e.Queues.Queue(IngestQueue),
		Client:       client,
		Sessions:     sessions,
		ScanInterval: SalesforceScan,
		Logger:       log,
	})
	e.Go(func(ctx context.Context) error {
		defer client.Close()
		return r.Run(ctx)
	})
	return nil
}
