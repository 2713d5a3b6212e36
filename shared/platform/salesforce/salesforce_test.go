package salesforce_test

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/herokuevents/herokuevents/shared/api"
	"github.com/herokuevents/herokuevents/shared/config"
	"github.com/herokuevents/herokuevents/shared/config/memstore"
	"github.com/herokuevents/herokuevents/shared/httpjson"
	"github.com/herokuevents/herokuevents/shared/platform"
	"github.com/herokuevents/herokuevents/shared/platform/salesforce"
	"github.com/herokuevents/herokuevents/shared/sfsub"
	"github.com/herokuevents/herokuevents/shared/sink"
)

const tenant = "tenant-1"

// newRegistry is the salesforce platform on a store where tenant has the
// authorization example-org, with the clock now.
func newRegistry(t *testing.T, now func() time.Time) *platform.Registry {
	t.Helper()
	store := memstore.New()
	t.Cleanup(func() { _ = store.Close() })
	auth := config.Authorization{ID: "a1", Alias: "example-org", Platform: config.PlatformSalesforce, Flow: config.FlowWeb, Status: config.AuthPending}
	_, err := config.Insert(t.Context(), store, config.Item{Tenant: tenant, Kind: config.KindAuthorization, ID: auth.ID, Name: auth.Alias}, auth)
	require.NoError(t, err)
	r, err := platform.NewRegistry(platform.Deps{Store: store, Sealer: nopSealer{}, Egress: sink.NewEgress(nil), Now: now}, salesforce.Platform())
	require.NoError(t, err)
	return r
}

// nopSealer seals nothing: the salesforce validators seal no secret.
type nopSealer struct{}

func (nopSealer) Seal(_ context.Context, p []byte) ([]byte, error) { return p, nil }
func (nopSealer) Open(_ context.Context, s []byte) ([]byte, error) { return s, nil }

// validator validates new salesforce subscriptions and publications of
// tenant through the registry; errors are the ones the api answers with
// (httpjson.AsError).
type validator struct {
	r      *platform.Registry
	tenant string
}

func (v validator) Subscription(ctx context.Context, body []byte) (config.Subscription, error) {
	sub, err := v.r.Subscription(ctx, v.tenant, config.PlatformSalesforce, body)
	if err != nil {
		return sub, httpjson.AsError(err)
	}
	return sub, nil
}

func (v validator) Publication(ctx context.Context, body []byte) (config.Publication, map[string]any, error) {
	pub, extra, err := v.r.Publication(ctx, v.tenant, config.PlatformSalesforce, body)
	if err != nil {
		return pub, extra, httpjson.AsError(err)
	}
	return pub, extra, nil
}

func TestPlatforms(t *testing.T) {
	now := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	r := newRegistry(t, func() time.Time { return now })
	p := validator{r: r, tenant: tenant}
	ctx := t.Context()
	subs := []struct {
		body, err, replay, gap string
	}{
		{body: `{"name":"a","event":"/event/Foo__e","org_name":"example-org","on_replay_gap":"halt"}`, replay: "latest", gap: "halt"},
		{body: `{"name":"a","event":"/event/Foo__e","org_name":"example-org","on_replay_gap":"latest"}`, replay: "latest", gap: "latest"},
		{body: `{"name":"a","event":"/event/Foo__e","org_name":"example-org","on_replay_gap":"skip"}`, err: "on_replay_gap must be"},
		{body: `{"name":"a","event":"/data/AccountChangeEvent","org_name":"example-org"}`, replay: "latest"},
		{body: `{"name":"a","event":"/event/Order_Created__e","org_name":"example-org","replay":"earliest"}`, replay: "earliest"},
		{body: `{"name":"a","event":"/data/ChangeEvents","org_name":"example-org"}`, replay: "latest"},
		{body: `{"name":"a","event":"/data/Invoice__ChangeEvent","org_name":"example-org","target":"x","filter":"root = this"}`, replay: "latest"},
		{body: `{"name":"a","org_name":"example-org"}`, err: "event is required"},
		{body: `{"name":"a","event":"/topic/Foo","org_name":"example-org"}`, err: "is not a Salesforce topic"},
		{body: `{"name":"a","event":"/event/Foo","org_name":"example-org"}`, err: "is not a Salesforce topic"},
		{body: `{"name":"a","event":"/event/Foo__e"}`, err: "org_name is required"},
		{body: `{"name":"a","event":"/event/Foo__e","org_name":"other-org"}`, err: "no such authorization"},
		{body: `{"name":"a","event":"/event/Foo__e","org_name":"bad alias!"}`, err: "not a valid authorization alias"},
		{body: `{"name":"a","event":"/event/Foo__e","org_name":"example-org","replay":"-2"}`, err: "replay must be"},
		{body: `{"name":"a","event":"/event/Foo__e","org_name":"example-org","interval":"1m"}`, err: "interval"},
	}
	for _, tt := range subs {
		t.Run("subscription "+tt.body, func(t *testing.T) {
			sub, err := p.Subscription(ctx, []byte(tt.body))
			if tt.err != "" {
				require.Error(t, err)
				var ae *api.Error
				require.ErrorAs(t, err, &ae)
				assert.Contains(t, ae.Message, tt.err)
				return
			}
			require.NoError(t, err)
			assert.Equal(t, "example-org", sub.Params.OrgName)
			assert.Equal(t, tt.replay, sub.Replay)
			assert.Equal(t, tt.gap, sub.Params.OnReplayGap)
			require.NotNil(t, sub.State)
			assert.Equal(t, sfsub.StatusPending, sub.State.Status)
			assert.Equal(t, now, sub.State.NextRun, "due at once for the subscriber")
		})
	}
	pubs := []struct{ body, err string }{
		{body: `{"name":"a","event":"/event/System_Status__e","org_name":"example-org"}`},
		{body: `{"name":"a","event":"/event/System_Status__e","org_name":"example-org","source":"s","filter":"root = this"}`},
		{body: `{"name":"a","event":"/data/AccountChangeEvent","org_name":"example-org"}`, err: "change events cannot be published"},
		{body: `{"name":"a","event":"/event/X__chn","org_name":"example-org"}`, err: "not a platform event topic"},
		{body: `{"name":"a","event":"/event/System_Status__e","org_name":"nope"}`, err: "no such authorization"},
		{body: `{"name":"a","event":"/event/System_Status__e"}`, err: "org_name is required"},
	}
	for _, tt := range pubs {
		t.Run("publication "+tt.body, func(t *testing.T) {
			pub, _, err := p.Publication(ctx, []byte(tt.body))
			if tt.err != "" {
				var ae *api.Error
				require.ErrorAs(t, err, &ae)
				assert.Contains(t, ae.Message, tt.err)
				return
			}
			require.NoError(t, err)
			assert.Equal(t, "/event/System_Status__e", pub.Params.Event)
		})
	}
	t.Run("another tenant's authorization does not count", func(t *testing.T) {
		other := validator{r: r, tenant: "tenant-2"}
		_, err := other.Subscription(ctx, []byte(`{"name":"a","event":"/event/Foo__e","org_name":"example-org"}`))
		var ae *api.Error
		require.ErrorAs(t, err, &ae)
		assert.Contains(t, ae.Message, "no such authorization")
		_, _, err = other.Publication(ctx, []byte(`{"name":"a","event":"/event/System_Status__e","org_name":"example-org"}`))
		require.ErrorAs(t, err, &ae)
		assert.Contains(t, ae.Message, "no such authorization")
	})
}
