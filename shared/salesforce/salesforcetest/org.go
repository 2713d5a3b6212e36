package salesforcetest

import (
	"log/slog"
	"testing"

	"github.com/herokuevents/herokuevents/shared/salesforce"
	"github.com/herokuevents/herokuevents/shared/salesforce/pubsub"
	"github.com/herokuevents/herokuevents/shared/salesforce/standin"
)

// StartOrg starts a quiet stand-in org that stops when tb ends.
func StartOrg(tb testing.TB, opts standin.Options) *standin.Org {
	tb.Helper()
	opts.Logger = slog.New(slog.DiscardHandler)
	org, err := standin.Start(opts)
	if err != nil {
		tb.Fatalf("start stand-in org: %v", err)
	}
	tb.Cleanup(func() { _ = org.Close() })
	return org
}

// Dial connects a Pub/Sub client to org over real TLS, trusting the
// stand-in's certificate file; it closes when tb ends.
func Dial(tb testing.TB, org *standin.Org, src salesforce.SessionSource) *pubsub.Client {
	tb.Helper()
	c, err := pubsub.Dial(tb.Context(), org.PubSubEndpoint(), pubsub.WithCAFile(org.CACertFile()), pubsub.WithSession(src))
	if err != nil {
		tb.Fatalf("dial stand-in: %v", err)
	}
	tb.Cleanup(func() { _ = c.Close() })
	return c
}
