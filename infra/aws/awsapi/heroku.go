package awsapi

import (
	"context"
	"fmt"
	"net/http"
	"sync"
	"time"

	"github.com/herokuevents/herokuevents/infra/aws/awsapp"
	"github.com/herokuevents/herokuevents/infra/aws/smsecret"
	"github.com/herokuevents/herokuevents/shared/api"
	"github.com/herokuevents/herokuevents/shared/config"
	"github.com/herokuevents/herokuevents/shared/heroku"
)

// herokuOptions completes the api's options with the add-on side of the
// AWS mode. The Partner API (/heroku/resources) authenticates with the
// operator's credentials, which are the manifest's id and api.password
// (OperatorId, OperatorPassword). Link exchanges the grant of a Heroku
// provisioning and learns the app through the Platform API for Partners
// when HEROKU_OAUTH_CLIENT_SECRET is set (HEROKU_API_URL, HEROKU_ID_URL
// default to Heroku's); getenv resolves secrets. Forget purges a
// deprovisioned tenant's dead letters and its publications' delivery log
// (dynamojournal.Forget); its messages still in SQS cannot be picked out and
// meet a tenant that is gone, and its kept recent events expire by TTL.
func herokuOptions(a *awsapp.App, getenv func(string) string, o *api.Options) error {
	d := a.Platforms.Deps()
	// HEROKU_OAUTH_CLIENT_SECRET (its _ARN in the template) is one of
	// awsapp.Secrets, fetched in the background from init: the client is
	// built at its first use, so that no cold start waits for the secret
	// before a request that needs it.
	if smsecret.Configured(getenv, heroku.EnvClientSecret) {
		partner := sync.OnceValue(func() *heroku.Partner {
			return &heroku.Partner{
				// The endpoints are the operator's configuration, not tenant
				// input: no egress guard.
				Client: heroku.NewClient(heroku.SettingsFromEnv(getenv), &http.Client{Timeout: 10 * time.Second}),
				Store:  d.Store, Sealer: d.Sealer, Logger: a.Env.Logger,
			}
		})
		o.Link = func(ctx context.Context, tenant, code string) error {
			_, err := partner().Link(ctx, tenant, code)
			return err
		}
		o.PushConfig = func(ctx context.Context, tenant string, vars map[string]string) error {
			return partner().PushConfig(ctx, tenant, vars)
		}
	}
	o.Sealer = d.Sealer
	dead, log := a.Env.DeadLetters(), a.Env.Journal()
	o.Forget = func(ctx context.Context, tenant string) error {
		n, err := dead.Purge(ctx, tenant)
		if err != nil {
			return fmt.Errorf("purge dead letters: %w", err)
		}
		pubs, err := config.LoadAll[config.Publication](ctx, d.Store, tenant, config.KindPublication)
		if err != nil {
			return fmt.Errorf("list publications: %w", err)
		}
		ids := make([]string, 0, len(pubs))
		for _, p := range pubs {
			ids = append(ids, p.Value.ID)
		}
		if err := log.Forget(ctx, tenant, ids); err != nil {
			return err
		}
		a.Env.Logger.InfoContext(ctx, "tenant data forgotten", "tenant", tenant, "dead_letters", n)
		return nil
	}
	return nil
}
