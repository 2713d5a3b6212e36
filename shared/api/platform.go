package api

import (
	"context"
	"fmt"
	"net/url"
	"strings"
	"time"

	"github.com/herokuevents/herokuevents/shared/config"
)

// SubscriptionFields are the fields every subscription create body may carry.
// A platform's request struct embeds it so that DecodeJSON accepts them.
type SubscriptionFields struct {
	Name string `json:"name"`
	// Target is the name or id of a publication to link at once.
	Target *string `json:"target"`
	// Filter is the Bloblang filter of that link; only with Target.
	Filter *string `json:"filter"`
}

// PublicationFields are the fields every publication create body may carry.
// A platform's request struct embeds it so that DecodeJSON accepts them.
type PublicationFields struct {
	Name string `json:"name"`
	// Source is the name or id of a subscription to link at once.
	Source *string `json:"source"`
	// Filter is the Bloblang filter of that link; only with Source.
	Filter *string `json:"filter"`
}

// SubscriptionPlatform builds the platform part of a new subscription from
// the create request body. It decodes the body with DecodeJSON into a struct
// that embeds SubscriptionFields, validates its own parameters and returns
// the subscription with Params (and Replay, State) set; the server has
// already validated name, target and filter, and sets ID, Name, Platform and
// Created itself. Bad input is reported with Invalid (or another *Error);
// any other error is an internal failure. Nothing may be stored.
//
// When the returned State has a NextRun, the stored item's Index is
// IndexTime(NextRun), so that a scheduler finds the subscription with
// config.Store.IndexedBefore once it is due.
type SubscriptionPlatform func(ctx context.Context, body []byte) (config.Subscription, error)

// PublicationPlatform builds the platform part of a new publication, like
// SubscriptionPlatform (the body struct embeds PublicationFields). extra is
// returned once in the create response under "extra" (e.g. a signing secret)
// and never stored in clear.
type PublicationPlatform func(ctx context.Context, body []byte) (p config.Publication, extra map[string]any, err error)

// webhookSubscription is an inbound webhook: apps POST events to it through
// the publish URL and its streams route them. It has no parameters.
func webhookSubscription(_ context.Context, body []byte) (config.Subscription, error) {
	var req struct {
		SubscriptionFields
	}
	if err := DecodeJSON(body, &req); err != nil {
		return config.Subscription{}, err
	}
	return config.Subscription{}, nil
}

// indexLayout is fixed-width UTC with nanoseconds: index order is time order.
const indexLayout = "2006-01-02T15:04:05.000000000Z"

// IndexTime formats t as a config.Item Index (fixed-width UTC, so that
// string order is time order). Schedulers compare against IndexTime(now).
func IndexTime(t time.Time) string { return t.UTC().Format(indexLayout) }

// maxURL bounds the length of a webhook URL.
const maxURL = 2048

// maxToken bounds the length of a webhook token.
const maxToken = 4096

// webhookPublication delivers to an http(s) URL, optionally with a token in
// Authorization, signing bodies with a new secret shown once.
func (s *Server) webhookPublication(ctx context.Context, body []byte) (config.Publication, map[string]any, error) {
	var req struct {
		PublicationFields
		URL   string  `json:"url"`
		Token *string `json:"token"`
	}
	if err := DecodeJSON(body, &req); err != nil {
		return config.Publication{}, nil, err
	}
	if err := s.checkURL(ctx, req.URL); err != nil {
		return config.Publication{}, nil, err
	}
	pub := config.Publication{Params: config.Params{URL: req.URL}}
	if req.Token != nil && *req.Token != "" {
		if len(*req.Token) > maxToken || strings.ContainsAny(*req.Token, "\r\n") {
			return config.Publication{}, nil, Invalid("token must be one line of at most %d bytes.", maxToken)
		}
		sealed, err := s.sealer.Seal(ctx, []byte(*req.Token))
		if err != nil {
			return config.Publication{}, nil, fmt.Errorf("seal token: %w", err)
		}
		pub.TokenSealed = sealed
	}
	signing, err := s.newSecret()
	if err != nil {
		return config.Publication{}, nil, fmt.Errorf("make signing secret: %w", err)
	}
	sealed, err := s.sealer.Seal(ctx, []byte(signing))
	if err != nil {
		return config.Publication{}, nil, fmt.Errorf("seal signing secret: %w", err)
	}
	pub.SecretSealed = sealed
	return pub, map[string]any{"signing_secret": signing}, nil
}

// checkURL validates a webhook URL: absolute http(s) with a host, then the
// wiring's URLCheck (egress policy).
func (s *Server) checkURL(ctx context.Context, raw string) error {
	if raw == "" {
		return Invalid("url is required.")
	}
	if len(raw) > maxURL {
		return Invalid("url is longer than %d bytes.", maxURL)
	}
	u, err := url.Parse(raw)
	if err != nil {
		return Invalid("url %q is not a valid URL.", raw)
	}
	if u.Scheme != "http" && u.Scheme != "https" {
		return Invalid("url %q must use http or https.", raw)
	}
	if u.Host == "" || u.Hostname() == "" {
		return Invalid("url %q has no host.", raw)
	}
	if u.User != nil {
		return Invalid("url must not contain credentials; use token instead.")
	}
	if s.urlCheck != nil {
		if err := s.urlCheck(ctx, raw); err != nil {
			return Invalid("url %q is not allowed: %s", raw, err.Error())
		}
	}
	return nil
}
