package sfsub

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"

	"github.com/herokuevents/herokuevents/shared/salesforce"
	"github.com/herokuevents/herokuevents/shared/salesforce/pubsub"
)

// Environment variables naming where Salesforce lives. `herokuevents
// dev:salesforce` prints both for its stand-in.
const (
	// EnvPubSubEndpoint is the Pub/Sub API host:port
	// (pubsub.DefaultEndpoint when unset).
	EnvPubSubEndpoint = "SALESFORCE_PUBSUB_ENDPOINT"
	// EnvCACert is a PEM file of extra trusted certificates (the stand-in's).
	EnvCACert = "SALESFORCE_CA_CERT"
)

// DialEnv dials the Pub/Sub API at getenv(EnvPubSubEndpoint), trusting the
// system roots plus getenv(EnvCACert) when set. getenv is os.Getenv in mains.
func DialEnv(ctx context.Context, getenv func(string) string, log *slog.Logger) (*pubsub.Client, error) {
	return Dial(ctx, getenv(EnvPubSubEndpoint), getenv(EnvCACert), log)
}

// Dial dials the Pub/Sub API at endpoint (pubsub.DefaultEndpoint when
// empty), trusting the system roots plus caFile when set. The client takes
// each call's session from its context (see WithSessionSource): one
// connection and one schema cache serve every tenant. Runner and Publisher
// need a client made this way.
func Dial(ctx context.Context, endpoint, caFile string, log *slog.Logger) (*pubsub.Client, error) {
	if endpoint == "" {
		endpoint = pubsub.DefaultEndpoint
	}
	opts := []pubsub.DialOption{pubsub.WithSession(contextSessions)}
	if log != nil {
		opts = append(opts, pubsub.WithLogger(log))
	}
	if caFile != "" {
		opts = append(opts, pubsub.WithCAFile(caFile))
	}
	c, err := pubsub.Dial(ctx, endpoint, opts...)
	if err != nil {
		return nil, fmt.Errorf("dial salesforce pub/sub: %w", err)
	}
	return c, nil
}

type sourceKey struct{}

// WithSessionSource returns ctx whose Pub/Sub calls (on a client from Dial)
// authenticate with src.
func WithSessionSource(ctx context.Context, src salesforce.SessionSource) context.Context {
	return context.WithValue(ctx, sourceKey{}, src)
}

// errNoSession is a wiring mistake: a call without WithSessionSource.
var errNoSession = errors.New("no salesforce session source in the context")

// ctxSessions is a SessionSource that delegates to the source in the call's
// context. It remembers which source issued each access token so that the
// client's Invalidate reaches the right one. (The client's schema cache
// fetches with the client's own session source, so per-tenant clients made
// with pubsub.Client.WithSessionSource cannot fetch schemas; one client
// with this source can.)
type ctxSessions struct {
	mu      sync.Mutex
	byToken map[string]salesforce.SessionSource
}

var contextSessions = &ctxSessions{byToken: map[string]salesforce.SessionSource{}}

// Session implements salesforce.SessionSource.
func (c *ctxSessions) Session(ctx context.Context) (salesforce.Session, error) {
	src, ok := ctx.Value(sourceKey{}).(salesforce.SessionSource)
	if !ok || src == nil {
		return salesforce.Session{}, errNoSession
	}
	s, err := src.Session(ctx)
	if err != nil {
		return s, err
	}
	if _, ok := src.(salesforce.Invalidator); ok {
		c.mu.Lock()
		c.byToken[s.AccessToken] = src
		c.mu.Unlock()
	}
	return s, nil
}

// Invalidate implements salesforce.Invalidator.
func (c *ctxSessions) Invalidate(accessToken string) {
	c.mu.Lock()
	src := c.byToken[accessToken]
	delete(c.byToken, accessToken)
	c.mu.Unlock()
	if inv, ok := src.(salesforce.Invalidator); ok {
		inv.Invalidate(accessToken)
	}
}
