package datacloud_test

import (
	"context"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/herokuevents/herokuevents/shared/api"
	"github.com/herokuevents/herokuevents/shared/datacloud"
	"github.com/herokuevents/herokuevents/shared/sfsub"
)

func TestPlatform(t *testing.T) {
	p := datacloud.Platform{Authorized: func(_ context.Context, tenant, alias string) error {
		if tenant == "t1" && alias == "example-org" {
			return nil
		}
		return sfsub.ErrNoAuthorization
	}}
	ctx := api.WithTenant(t.Context(), "t1")
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
	t.Run("without the tenant the check is skipped", func(t *testing.T) {
		_, _, err := p.Publication(t.Context(), []byte(`{"name":"a","connector":"c","object":"o","org_name":"other-org"}`))
		require.NoError(t, err)
	})
}
