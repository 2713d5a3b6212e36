package datacloud

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net/url"
	"strings"

	"github.com/herokuevents/herokuevents/shared/authorization"
	"github.com/herokuevents/herokuevents/shared/config"
	"github.com/herokuevents/herokuevents/shared/dataaction"
	"github.com/herokuevents/herokuevents/shared/httpjson"
	"github.com/herokuevents/herokuevents/shared/platform"
)

// source is the subscription side: a Data Cloud data action webhook
// target (shared/dataaction serves it).
func source() *platform.Source {
	return &platform.Source{
		Validate: validateSubscription,
		Shown:    shownSubscription,
		Command: platform.Command{
			Short: "Receive Data Cloud data actions: create a data action webhook target for an authorized org",
			Long: `Create a data action webhook target: Data Cloud POSTs the events of a data action (changes of data model
objects) to its URL, signed with its signing key (header x-signature, base64 of the HMAC-SHA256 of the body).
Each event of a batch becomes one CloudEvent (type com.salesforce.datacloud.dataaction.<action>, subject the
object, data the DataObjectDataChgEvent) routed through the subscription's streams.

In Data Cloud, create a Webhook data action target with the URL and signing key printed (once), then a data
action that sends to it. Forged, replayed (creationDateTime more than 5 minutes from now) or malformed
requests are refused.`,
			Example: `  herokuevents subscriptions:datacloud:create patientChanges -A my-org -a my-app
  herokuevents streams:create patientChanges careTeamHook -a my-app`,
			Flags: []platform.Flag{
				{Name: "org-alias", Shorthand: "A", Field: "org_name", Usage: "alias of the authorization of the org whose Data Cloud sends (required)", Required: true},
				{Name: "org-name", Shorthand: "o", Field: "org_name", Usage: "same as --org-alias (v0.0.1 name)", AliasOf: "org-alias"},
			},
			Link: platform.LinkFlags{End: "t", Filter: "f"},
			Shown: []platform.Shown{
				{Field: "url", Lines: "Data action target URL: {value}\n"},
				{Field: "signing_key", Lines: "Signing key (shown once): {value}\n" +
					"Paste both into a Webhook data action target in Data Cloud (Setup > Data Action Targets); keep the key secret.\n"},
			},
		},
	}
}

// validateSubscription: {name, org_name, target?, filter?}: the org must be
// authorized; a new random signing key is sealed with the subscription.
func validateSubscription(ctx context.Context, d platform.Deps, tenant string, body []byte) (config.Subscription, error) {
	var req struct {
		platform.SubscriptionFields
		OrgName string `json:"org_name"`
	}
	if err := httpjson.Decode(body, &req); err != nil {
		return config.Subscription{}, err
	}
	if err := authorization.CheckOrg(ctx, d.Store, tenant, req.OrgName); err != nil {
		return config.Subscription{}, err
	}
	raw := make([]byte, 32)
	if _, err := rand.Read(raw); err != nil {
		return config.Subscription{}, fmt.Errorf("make signing key: %w", err)
	}
	sealed, err := d.Sealer.Seal(ctx, []byte(hex.EncodeToString(raw)))
	if err != nil {
		return config.Subscription{}, fmt.Errorf("seal signing key: %w", err)
	}
	return config.Subscription{Params: config.Params{OrgName: req.OrgName}, SecretSealed: sealed}, nil
}

// TargetURL is the data action target URL of a subscription.
func TargetURL(baseURL, tenant, subscription string) string {
	return strings.TrimRight(baseURL, "/") + dataaction.Path + "/" + url.PathEscape(tenant) + "/" + url.PathEscape(subscription)
}

// shownSubscription shows the target's URL and signing key once.
func shownSubscription(ctx context.Context, d platform.Deps, tenant, baseURL string, sub config.Subscription) (map[string]any, error) {
	key, err := d.Sealer.Open(ctx, sub.SecretSealed)
	if err != nil {
		return nil, fmt.Errorf("open signing key: %w", err)
	}
	return map[string]any{"url": TargetURL(baseURL, tenant, sub.ID), "signing_key": string(key)}, nil
}
