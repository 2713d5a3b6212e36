package salesforce_test

import (
	"log/slog"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/herokuevents/herokuevents/shared/salesforce"
	"github.com/herokuevents/herokuevents/shared/salesforce/pubsub"
	"github.com/herokuevents/herokuevents/shared/salesforce/standin"
)

// startOrg starts a stand-in org for the test.
func startOrg(t *testing.T, opts standin.Options) *standin.Org {
	t.Helper()
	opts.Logger = slog.New(slog.DiscardHandler)
	org, err := standin.Start(opts)
	require.NoError(t, err)
	t.Cleanup(func() { _ = org.Close() })
	return org
}

// dial connects to the stand-in's Pub/Sub API over real TLS.
func dial(t *testing.T, org *standin.Org, src salesforce.SessionSource) *pubsub.Client {
	t.Helper()
	c, err := pubsub.Dial(t.Context(), org.PubSubEndpoint(), pubsub.WithCAFile(org.CACertFile()), pubsub.WithSession(src))
	require.NoError(t, err)
	t.Cleanup(func() { _ = c.Close() })
	return c
}
