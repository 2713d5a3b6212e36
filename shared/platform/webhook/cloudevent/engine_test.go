package cloudevent_test

import (
	"context"
	"net/http"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/herokuevents/herokuevents/shared/config"
	"github.com/herokuevents/herokuevents/shared/config/memstore"
	"github.com/herokuevents/herokuevents/shared/platform"
	"github.com/herokuevents/herokuevents/shared/platform/webhook"
	"github.com/herokuevents/herokuevents/shared/platform/webhook/cloudevent"
	"github.com/herokuevents/herokuevents/shared/sink"
)

type nopSealer struct{}

func (nopSealer) Seal(_ context.Context, p []byte) ([]byte, error) { return p, nil }
func (nopSealer) Open(_ context.Context, s []byte) ([]byte, error) { return s, nil }

// TestEngine: the webhook platform publishes only where its engine is
// wired in (the deliver function, the embedded mode); a process without it
// (the api function) validates but builds no publisher.
func TestEngine(t *testing.T) {
	store := memstore.New()
	t.Cleanup(func() { _ = store.Close() })
	egress := sink.NewEgress(nil)
	base := platform.Deps{Store: store, Sealer: nopSealer{}, Egress: egress, Client: egress.Client(0)}
	for _, tt := range []struct {
		name    string
		engines map[string]platform.Engine
		client  *http.Client
		wantErr error
	}{
		{name: "wired", engines: map[string]platform.Engine{config.PlatformWebhook: cloudevent.Engine{}}, client: base.Client},
		{name: "not wired", wantErr: platform.ErrNoEngine},
		{name: "wired without a client", engines: map[string]platform.Engine{config.PlatformWebhook: cloudevent.Engine{}}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			d := base
			d.Engines, d.Client = tt.engines, tt.client
			r, err := platform.NewRegistry(d, webhook.Platform())
			require.NoError(t, err)
			pubs, err := r.Publishers(t.Context())
			switch {
			case tt.wantErr != nil:
				require.ErrorIs(t, err, tt.wantErr)
			case tt.client == nil:
				require.ErrorContains(t, err, "Deps.Client is required")
			default:
				require.NoError(t, err)
				assert.IsType(t, &cloudevent.Publisher{}, pubs[config.PlatformWebhook])
			}
		})
	}
	assert.NoError(t, cloudevent.Engine{}.Run(t.Context(), base), "webhooks have no runner")
}
