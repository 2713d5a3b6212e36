// Package webhook is the "webhook" platform: as a source, an inbound
// webhook that apps POST events to through the publish URL; as a target,
// signed CloudEvents POSTed to a URL. Its publisher is its engine,
// cloudevent.Engine (the CloudEvents SDK), which the processes that deliver
// wire in (platform.Deps.Engines): the api function only validates and
// links none of it.
package webhook

import (
	"context"
	"fmt"
	"net/url"
	"strings"

	"github.com/herokuevents/herokuevents/shared/config"
	"github.com/herokuevents/herokuevents/shared/httpjson"
	"github.com/herokuevents/herokuevents/shared/platform"
	"github.com/herokuevents/herokuevents/shared/sink"
)

// maxURL bounds the length of a webhook URL.
const maxURL = 2048

// maxToken bounds the length of a webhook token.
const maxToken = 4096

// Platform returns the webhook platform.
func Platform() platform.Platform {
	return platform.Platform{
		Name: config.PlatformWebhook,
		Subscription: &platform.Source{
			Validate: validateSubscription,
			Command: platform.Command{
				Short: "Create an inbound webhook subscription: apps POST events to the publish URL under NAME",
				Example: `  herokuevents subscriptions:webhook:create orderPlaced -a my-app
  curl -X POST "$HEROKUEVENTS_PUBLISH_URL/orderPlaced" -H 'Content-Type: application/json' -d '{"id": 42}'`,
				What: "subscription",
				Link: platform.LinkFlags{Off: true},
				Next: "Publish events to it with POST $HEROKUEVENTS_PUBLISH_URL/{name} (JSON body), then link it with streams:create {name} TARGET.\n",
			},
		},
		Publication: &platform.Target{
			Validate:     validatePublication,
			Publisher:    platform.EnginePublisher(config.PlatformWebhook),
			Update:       validateUpdate,
			RotateSecret: rotateSecret,
			Command: platform.Command{
				Short: "Create a webhook publication: events are POSTed to URL as signed CloudEvents",
				Long: "Create a webhook publication: events are POSTed to URL as signed CloudEvents, structured (the whole event as JSON, " +
					"Content-Type application/cloudevents+json, or application/json with --content-type) or binary (--mode binary: the data as the body, " +
					"the attributes in ce-* headers).\n\nFirst the URL is asked for consent with the CloudEvents webhook handshake (OPTIONS with " +
					"WebHook-Request-Origin); a receiver that does not answer it with WebHook-Allowed-Origin refuses the publication, unless --skip-handshake.",
				Example: `  herokuevents publications:webhook:create systemStatus -u https://my-app.herokuapp.com/webhooks -a my-app
  herokuevents publications:webhook:create accountCreated -u https://example.com/hook -t s3cret \
    -s accountChange -f 'root = if ChangeEventHeader.changeType == "CREATE" { this } else { deleted() }' -a my-app
  herokuevents publications:webhook:create legacyHook -u https://example.com/legacy --content-type application/json --skip-handshake -a my-app
  herokuevents publications:webhook:create bulkHook -u https://example.com/bulk --batch-size 50 --batch-window 200ms -a my-app`,
				Flags: append([]platform.Flag{
					{Name: "url", Shorthand: "u", Usage: "URL the events are POSTed to (required)", Required: true, Check: platform.AbsoluteURL("url")},
					{Name: "token", Shorthand: "t", Usage: "access token sent in the Authorization header"},
					{Name: "mode", Usage: "CloudEvents content mode: structured (default; the event as JSON) or binary (the data as the body, attributes in ce-* headers)",
						Check: platform.OneOf("mode", ModeStructured, ModeBinary)},
					{Name: "content-type", Usage: "Content-Type of structured deliveries: " + LegacyContentType + " for receivers that want it (default " + ContentType + ")",
						Check: platform.OneOf("content-type", ContentType, LegacyContentType)},
					{Name: "skip-handshake", Bool: true, Usage: "create without the CloudEvents webhook handshake, for a receiver that does not answer it"},
					{Name: "batch-size", Int: true, Usage: "deliver up to N events per request (2 to 100) as one signed " + BatchContentType + " array (default: one event per request)"},
					{Name: "batch-window", Usage: "with --batch-size: how long a batch waits to fill, up to 5s (default 100ms)"},
				}, authFlags...),
				Link: platform.LinkFlags{End: "s", Filter: "f"},
				Shown: []platform.Shown{{Field: "signing_secret", Lines: "Signing secret (shown once): {value}\n" +
					"Receivers verify the Standard Webhooks signature (headers webhook-id, webhook-timestamp, webhook-signature) with it; keep it secret.\n"}},
			},
		},
	}
}

// validateSubscription: an inbound webhook has no parameters.
func validateSubscription(_ context.Context, _ platform.Deps, _ string, body []byte) (config.Subscription, error) {
	var req struct {
		platform.SubscriptionFields
	}
	if err := httpjson.Decode(body, &req); err != nil {
		return config.Subscription{}, err
	}
	return config.Subscription{}, nil
}

// validatePublication: an http(s) URL the egress policy allows, an
// optional token sealed for the Authorization header or an OAuth2 client
// credentials grant and a TLS client certificate (applyAuth), the delivery mode
// and content type (CheckMode), the target's consent by the CloudEvents
// webhook handshake (Handshake; skipped with skip_handshake), and a new
// signing secret, sealed and shown once.
func validatePublication(ctx context.Context, d platform.Deps, _ string, body []byte) (config.Publication, map[string]any, error) {
	var req struct {
		platform.PublicationFields
		authFields
		URL           string  `json:"url"`
		Token         *string `json:"token"`
		Mode          string  `json:"mode"`
		ContentType   string  `json:"content_type"`
		SkipHandshake bool    `json:"skip_handshake"`
		BatchSize     int     `json:"batch_size"`
		BatchWindow   string  `json:"batch_window"`
	}
	if err := httpjson.Decode(body, &req); err != nil {
		return config.Publication{}, nil, err
	}
	if err := checkURL(ctx, d.URLCheck(), req.URL); err != nil {
		return config.Publication{}, nil, err
	}
	mode, contentType, err := CheckMode(req.Mode, req.ContentType)
	if err != nil {
		return config.Publication{}, nil, err
	}
	pub := config.Publication{Params: config.Params{URL: req.URL, Mode: mode, ContentType: contentType}}
	if pub.Params.BatchSize, pub.Params.BatchWindow, err = CheckBatch(mode, req.BatchSize, req.BatchWindow); err != nil {
		return config.Publication{}, nil, err
	}
	if req.Token != nil && *req.Token != "" {
		if len(*req.Token) > maxToken || strings.ContainsAny(*req.Token, "\r\n") {
			return config.Publication{}, nil, config.Invalid("token must be one line of at most %d bytes.", maxToken)
		}
		sealed, err := d.Sealer.Seal(ctx, []byte(*req.Token))
		if err != nil {
			return config.Publication{}, nil, fmt.Errorf("seal token: %w", err)
		}
		pub.TokenSealed = sealed
	}
	if err := applyAuth(ctx, d, &pub, req.authFields); err != nil {
		return config.Publication{}, nil, err
	}
	if err := checkAuth(pub); err != nil {
		return config.Publication{}, nil, err
	}
	if !req.SkipHandshake {
		grant, err := handshakeWith(ctx, d, req.URL, pub)
		if err != nil {
			return config.Publication{}, nil, err
		}
		pub.Params.Origin, pub.Params.AllowedRate = grant.Origin, grant.Rate
	}
	newSecret := d.NewSecret
	if newSecret == nil {
		newSecret = sink.NewSigningSecret
	}
	signing, err := newSecret()
	if err != nil {
		return config.Publication{}, nil, fmt.Errorf("make signing secret: %w", err)
	}
	sealed, err := d.Sealer.Seal(ctx, []byte(signing))
	if err != nil {
		return config.Publication{}, nil, fmt.Errorf("seal signing secret: %w", err)
	}
	pub.SecretSealed = sealed
	return pub, map[string]any{"signing_secret": signing}, nil
}

// checkURL validates a webhook URL: absolute http(s) with a host and no
// credentials, then the egress policy.
func checkURL(ctx context.Context, allowed func(context.Context, string) error, raw string) error {
	if raw == "" {
		return config.Invalid("url is required.")
	}
	if len(raw) > maxURL {
		return config.Invalid("url is longer than %d bytes.", maxURL)
	}
	u, err := url.Parse(raw)
	if err != nil {
		return config.Invalid("url %q is not a valid URL.", raw)
	}
	if u.Scheme != "http" && u.Scheme != "https" {
		return config.Invalid("url %q must use http or https.", raw)
	}
	if u.Host == "" || u.Hostname() == "" {
		return config.Invalid("url %q has no host.", raw)
	}
	if u.User != nil {
		return config.Invalid("url must not contain credentials; use token instead.")
	}
	if err := allowed(ctx, raw); err != nil {
		return config.Invalid("url %q is not allowed: %s", raw, err.Error())
	}
	return nil
}
