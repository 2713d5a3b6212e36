package sfsub

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/herokuevents/herokuevents/shared/platform"
)

// EnvKeepalive is the keepalive interval expected of Salesforce (a Go
// duration; 60 s when unset): match it to `dev:salesforce --keepalive` to
// see stall detection within seconds.
const EnvKeepalive = "SALESFORCE_PUBSUB_KEEPALIVE"

// KeepaliveFromEnv reads EnvKeepalive with getenv: zero when unset (the
// Runner's default, 60 s), an error unless it is a positive duration.
func KeepaliveFromEnv(getenv func(string) string) (time.Duration, error) {
	v := getenv(EnvKeepalive)
	if v == "" {
		return 0, nil
	}
	k, err := time.ParseDuration(v)
	if err != nil || k <= 0 {
		return 0, fmt.Errorf("%s=%q: a positive duration such as 60s", EnvKeepalive, v)
	}
	return k, nil
}

// Engine is the salesforce platform's engine (platform.Engine): the
// Pub/Sub API publisher of the deliver role and the subscriber as a
// long-running loop. The Pub/Sub API endpoint is SALESFORCE_PUBSUB_ENDPOINT
// (default api.pubsub.salesforce.com:7443) with the extra CA certificate
// SALESFORCE_CA_CERT, read with Deps.Getenv, so exporting what
// `herokuevents dev:salesforce` prints points the process at the stand-in.
type Engine struct {
	// Scan is how often the runner looks for subscriptions without a
	// consumer (new, released, or due after a backoff); 5 s when zero.
	Scan time.Duration
	// Keepalive is the keepalive interval expected of Salesforce (60 s
	// when zero); a subscription silent for twice it is stalled.
	Keepalive time.Duration
}

var _ platform.Engine = Engine{}

// Publisher dials the Pub/Sub API (lazily, as gRPC does) for the deliver
// role.
func (e Engine) Publisher(ctx context.Context, d platform.Deps) (platform.Publisher, error) {
	if d.Authorizations == nil {
		return nil, errors.New("salesforce publisher: Deps.Authorizations is required")
	}
	log := d.Log().With("role", "deliver")
	client, err := DialEnv(ctx, d.Env, log)
	if err != nil {
		return nil, fmt.Errorf("dial the Pub/Sub API: %w", err)
	}
	return &Publisher{Client: client, Sessions: AuthorizationSessions(d.Authorizations), Logger: log}, nil
}

// Run is the sfsubscribe role as a long-running loop.
func (e Engine) Run(ctx context.Context, d platform.Deps) error {
	if d.Authorizations == nil || d.Ingest == nil {
		return errors.New("salesforce runner: Deps.Authorizations and Ingest are required")
	}
	log := d.Log().With("role", "sfsubscribe")
	keepalive := e.Keepalive
	if keepalive == 0 {
		k, err := KeepaliveFromEnv(d.Env)
		if err != nil {
			return err
		}
		keepalive = k
	}
	client, err := DialEnv(ctx, d.Env, log)
	if err != nil {
		return fmt.Errorf("dial the Pub/Sub API: %w", err)
	}
	defer client.Close()
	r, err := New(Options{
		Store:        d.Store,
		Ingest:       d.Ingest,
		Client:       client,
		Sessions:     AuthorizationSessions(d.Authorizations),
		ScanInterval: e.Scan,
		Keepalive:    keepalive,
		Logger:       log,
		Metrics:      d.Metrics,
	})
	if err != nil {
		return err
	}
	return r.Run(ctx)
}
