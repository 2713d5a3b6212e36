// Package salesforce is the "salesforce" platform: subscriptions to
// platform events and change data capture channels of an authorized org
// over the Pub/Sub API, and publications as platform events. Its publisher
// and runner are its engine, sfsub.Engine (gRPC and Avro), which the
// processes that deliver or subscribe wire in (platform.Deps.Engines): the
// api links none of it. On AWS functions/sfsubscribe ticks each minute
// instead of the runner.
package salesforce

import (
	"context"

	"github.com/herokuevents/herokuevents/shared/authorization"
	"github.com/herokuevents/herokuevents/shared/config"
	"github.com/herokuevents/herokuevents/shared/httpjson"
	"github.com/herokuevents/herokuevents/shared/platform"
	"github.com/herokuevents/herokuevents/shared/salesforce"
)

// topicShape is the shape of a Salesforce channel; the API checks the kind.
const topicShape = `^/(event|data)/[A-Za-z][A-Za-z0-9_]*$`

// Platform returns the salesforce platform. The Pub/Sub API endpoint is
// SALESFORCE_PUBSUB_ENDPOINT (default api.pubsub.salesforce.com:7443) with
// the extra CA certificate SALESFORCE_CA_CERT, so exporting what
// `herokuevents dev:salesforce` prints points the process at the stand-in.
func Platform() platform.Platform {
	return platform.Platform{
		Name: config.PlatformSalesforce,
		Subscription: &platform.Source{
			Validate: validateSubscription,
			Polled:   true,
			Command: platform.Command{
				Short: "Subscribe to a Salesforce platform event or change data capture channel of an authorized org",
				Long: `Subscribe to a Salesforce platform event (/event/Name__e) or change data capture channel
(/data/AccountChangeEvent, /data/ChangeEvents) of the org authorized as ALIAS, over the Pub/Sub API.

Events start with the next one published (--replay latest, the default) or with the oldest one Salesforce
retains, up to 72 hours (--replay earliest). After that the subscription resumes where it stopped. When
Salesforce no longer accepts the stored position (older than 72 hours, or the org moved), --on-replay-gap
decides: earliest (the default) resumes from the oldest retained event, latest from the next one (events in
between are skipped), halt keeps the subscription failing at its position; subscriptions:info says which,
with the replay ids before and after. A subscription that gets neither events nor keepalives for twice the
keepalive interval (2 minutes) is stalled, and one that keeps reconnecting or is refused is failing: both
show their reason in subscriptions:info and are retried with backoff.`,
				Example: `  herokuevents subscriptions:salesforce:create accountChange -t /data/AccountChangeEvent -A my-org -a my-app
  herokuevents subscriptions:salesforce:create orderCreated -t /event/Order_Created__e -A my-org --replay earliest \
    --target ordersHook --filter 'root = if this.Amount__c.double > 100 { this } else { deleted() }' -a my-app`,
				Flags: []platform.Flag{
					{Name: "topic", Shorthand: "t", Field: "event", Usage: "Salesforce channel, e.g. /event/Name__e or /data/AccountChangeEvent (required)", Required: true,
						Check: platform.Pattern(topicShape, "--topic %q: use a Salesforce channel such as /event/Name__e or /data/AccountChangeEvent")},
					{Name: "org-alias", Shorthand: "A", Field: "org_name", Usage: "alias of the authorization of the org (required)", Required: true},
					{Name: "replay", Usage: "where to start: latest (default) or earliest (the retained 72 h)", Check: platform.OneOf("replay", config.ReplayLatest, config.ReplayEarliest)},
					{Name: "on-replay-gap", Field: "on_replay_gap", Usage: "when Salesforce refuses the stored replay id: resume from earliest (default), latest (skipping), or halt (failing, nothing skipped)",
						Check: platform.OneOf("on-replay-gap", gapEarliest, gapLatest, gapHalt)},
				},
				Link: platform.LinkFlags{Filter: "f"},
			},
		},
		Publication: &platform.Target{
			Validate:  validatePublication,
			Publisher: platform.EnginePublisher(config.PlatformSalesforce),
			Update:    validateUpdate,
			Command: platform.Command{
				Short: "Publish events as a Salesforce platform event of an authorized org",
				Long: `Publish events as the Salesforce platform event TOPIC (/event/Name__e) of the org authorized as ALIAS,
over the Pub/Sub API. Event data is the platform event's fields, plain JSON or Avro JSON with wrapped
unions ({"Status__c": {"string": "up"}}); CreatedDate defaults to the event time, CreatedById to the
authorized user.`,
				Example: `  herokuevents publications:salesforce:create systemStatus -t /event/System_Status__e -A my-org -a my-app
  curl -X POST "$HEROKUEVENTS_PUBLISH_URL/systemStatus" -H 'Content-Type: application/json' \
    -d '{"Context__c": {"string": "up"}}'`,
				Flags: []platform.Flag{
					{Name: "topic", Shorthand: "t", Field: "event", Usage: "platform event topic, e.g. /event/Name__e (required)", Required: true,
						Check: platform.Pattern(topicShape, "--topic %q: use a platform event topic such as /event/Name__e")},
					{Name: "org-alias", Shorthand: "A", Field: "org_name", Usage: "alias of the authorization of the org (required)", Required: true},
				},
				Link: platform.LinkFlags{End: "s", Filter: "f"},
			},
		},
		Run: platform.EngineRun(config.PlatformSalesforce),
	}
}

// Gap policies (shared/sfsub's, not linked here: the api Lambda is near
// its size budget).
const (
	gapEarliest = "earliest"
	gapLatest   = "latest"
	gapHalt     = "halt"
)

// validateSubscription: {name, event, org_name, replay?, target?, filter?}.
// The new subscription is due at once for the subscriber (State.NextRun =
// now).
func validateSubscription(ctx context.Context, d platform.Deps, tenant string, body []byte) (config.Subscription, error) {
	var req struct {
		platform.SubscriptionFields
		Event   string `json:"event"`
		OrgName string `json:"org_name"`
		Replay  string `json:"replay"`
		Gap     string `json:"on_replay_gap"`
	}
	if err := httpjson.Decode(body, &req); err != nil {
		return config.Subscription{}, err
	}
	if req.Event == "" {
		return config.Subscription{}, config.Invalid("event is required: a topic such as /event/Order_Created__e or /data/AccountChangeEvent.")
	}
	if !salesforce.ValidSubscribeTopic(req.Event) {
		return config.Subscription{}, config.Invalid("event %q is not a Salesforce topic: use /event/Name__e, /data/ObjectChangeEvent or /data/ChangeEvents.", req.Event)
	}
	if req.OrgName == "" {
		return config.Subscription{}, config.Invalid("org_name is required: the alias of an authorization.")
	}
	switch req.Replay {
	case "":
		req.Replay = config.ReplayLatest
	case config.ReplayLatest, config.ReplayEarliest:
	default:
		return config.Subscription{}, config.Invalid("replay must be %q or %q.", config.ReplayLatest, config.ReplayEarliest)
	}
	switch req.Gap {
	case "", gapEarliest, gapLatest, gapHalt:
	default:
		return config.Subscription{}, config.Invalid("on_replay_gap must be %q, %q or %q.", gapEarliest, gapLatest, gapHalt)
	}
	if err := authorization.CheckOrg(ctx, d.Store, tenant, req.OrgName); err != nil {
		return config.Subscription{}, err
	}
	return config.Subscription{
		Params: config.Params{Event: req.Event, OrgName: req.OrgName, OnReplayGap: req.Gap},
		Replay: req.Replay,
		State:  &config.SourceState{Status: config.StatusPending, NextRun: d.Clock()().UTC()},
	}, nil
}

// validatePublication: {name, event, org_name, source?, filter?}; event
// must be a platform event.
func validatePublication(ctx context.Context, d platform.Deps, tenant string, body []byte) (config.Publication, map[string]any, error) {
	var req struct {
		platform.PublicationFields
		Event   string `json:"event"`
		OrgName string `json:"org_name"`
	}
	if err := httpjson.Decode(body, &req); err != nil {
		return config.Publication{}, nil, err
	}
	if req.Event == "" {
		return config.Publication{}, nil, config.Invalid("event is required: a platform event topic such as /event/Order_Created__e.")
	}
	if !salesforce.ValidPublishTopic(req.Event) {
		return config.Publication{}, nil, config.Invalid("event %q is not a platform event topic: use /event/Name__e (change events cannot be published).", req.Event)
	}
	if err := authorization.CheckOrg(ctx, d.Store, tenant, req.OrgName); err != nil {
		return config.Publication{}, nil, err
	}
	return config.Publication{Params: config.Params{Event: req.Event, OrgName: req.OrgName}}, nil, nil
}
