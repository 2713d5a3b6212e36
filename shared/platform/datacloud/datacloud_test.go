package datacloud_test

import (
	"context"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/herokuevents/herokuevents/shared/api"
	"github.com/herokuevents/herokuevents/shared/config"
	"github.com/herokuevents/herokuevents/shared/config/memstore"
	"github.com/herokuevents/herokuevents/shared/httpjson"
	"github.com/herokuevents/herokuevents/shared/platform"
	"github.com/herokuevents/herokuevents/shared/platform/datacloud"
	"github.com/herokuevents/herokuevents/shared/sink"
)

// newRegistry is the datacloud platform on a store where tenant t1 has the
// authorization example-org.
func newRegistry(t *testing.T) *platform.Registry {
	t.Helper()
	store := memstore.New()
	t.Cleanup(func() { _ = store.Close() })
	auth := config.Authorization{ID: "a1", Alias: "example-org", Platform: config.PlatformSalesforce, Flow: config.FlowWeb, Status: config.AuthPending}
	_, err := config.Insert(t.Context(), store, config.Item{Tenant: "t1", Kind: config.KindAuthorization, ID: auth.ID, Name: auth.Alias}, auth)
	require.NoError(t, err)
	r, err := platform.NewRegistry(platform.Deps{Store: store, Sealer: nopSealer{}, Egress: sink.NewEgress(nil)}, datacloud.Platform())
	require.NoError(t, err)
	return r
}

// nopSealer seals nothing: the datacloud validator seals no secret.
type nopSealer struct{}

func (nopSealer) Seal(_ context.Context, p []byte) ([]byte, error) { return p, nil }
func (nopSealer) Open(_ context.Context, s []byte) ([]byte, error) { return s, nil }

// validator validates a new datacloud publication of tenant through the
// registry; its error is the one the api answers with (httpjson.AsError).
type validator struct {
	r      *platform.Registry
	tenant string
}

func (v validator) Publication(ctx context.Context, body []byte) (config.Publication, map[string]any, error) {
	pub, extra, err := v.r.Publication(ctx, v.tenant, config.PlatformDataCloud, body)
	if err != nil {
		return pub, extra, httpjson.AsError(err)
	}
	return pub, extra, nil
}

func TestPlatform(t *testing.T) {
	p := validator{r: newRegistry(t), tenant: "t1"}
	ctx := t.Context()
	tests := []struct{ body, err string }{
		{body: `{"name":"a","connector":"salesConnector","object":"HighPriorityOrder","org_name":"example-org"}`},
		{body: `{"name":"a","connector":"salesConnector","object":"HighPriorityOrder","org_name":"example-org","source":"s","filter":"root = this"}`},
		{body: `{"name":"a","object":"HighPriorityOrder","org_name":"example-org"}`, err: "connector is required"},
		{body: `{"name":"a","connector":"sales connector","object":"HighPriorityOrder","org_name":"example-org"}`, err: "is not an Ingestion API source name"},
		{body: `{"name":"a","connector":"salesConnector","org_name":"example-org"}`, err: "object is required"},
		{body: `{"name":"a","connector":"salesConnector","object":"../x","org_name":"example-org"}`, err: "is not an Ingestion API object name"},
		{body: `{"name":"a","connector":"salesConnector","object":"HighPriorityOrder"}`, err: "org_name is required"},
		{body: `{"name":"a","connector":"salesConnector","object":"HighPriorityOrder","org_name":"bad alias!"}`, err: "not a valid authorization alias"},
		{body: `{"name":"a","connector":"salesConnector","object":"HighPriorityOrder","org_name":"other-org"}`, err: "no such authorization"},
		{body: `{"name":"a","connector":"salesConnector","object":"HighPriorityOrder","org_name":"example-org","event":"/event/X__e"}`, err: "event"},
	}
	for _, tt := range tests {
		t.Run(tt.body, func(t *testing.T) {
			pub, extra, err := p.Publication(ctx, []byte(tt.body))
			if tt.err != "" {
				var ae *api.Error
				require.ErrorAs(t, err, &ae)
				assert.Contains(t, ae.Message, tt.err)
				return
			}
			require.NoError(t, err)
			assert.Nil(t, extra)
			assert.Equal(t, "salesConnector", pub.Params.Connector)
			assert.Equal(t, "HighPriorityOrder", pub.Params.Object)
			assert.Equal(t, "example-org", pub.Params.OrgName)
		})
	}
	t.Run("another tenant's authorization does not count", func(t *testing.T) {
		_, _, err := validator{r: p.r, tenant: "t2"}.Publication(ctx, []byte(`{"name":"a","connector":"c","object":"o","org_name":"example-org"}`))
		var ae *api.Error
		require.ErrorAs(t, err, &ae)
		assert.Contains(t, ae.Message, "no such authorization")
	})
}
