package datacloud_test

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/herokuevents/herokuevents/shared/config"
)

// TestUpdate: the fields given change, checked as at create; the others
// and the delivery settings (the api's) stay.
func TestUpdate(t *testing.T) {
	r := newRegistry(t)
	current := config.Publication{ID: "p1", Name: "orders", Platform: config.PlatformDataCloud,
		Params: config.Params{Connector: "salesConnector", Object: "Order", OrgName: "example-org"}, Rate: 3}
	tests := []struct {
		body string
		want config.Params
		err  string
	}{
		{body: `{"object":"HighPriorityOrder"}`, want: config.Params{Connector: "salesConnector", Object: "HighPriorityOrder", OrgName: "example-org"}},
		{body: `{"connector":"other","rate":2,"timeout":"5s"}`, want: config.Params{Connector: "other", Object: "Order", OrgName: "example-org"}},
		{body: `{}`, want: current.Params},
		{body: `{"connector":"sales connector"}`, err: "is not an Ingestion API source name"},
		{body: `{"object":""}`, err: "object is required"},
		{body: `{"org_name":"other-org"}`, err: "no such authorization"},
		{body: `{"url":"https://example.com"}`, err: "url"},
		{body: `{"name":"renamed"}`, err: "name"},
	}
	for _, tt := range tests {
		t.Run(tt.body, func(t *testing.T) {
			pub, extra, err := r.UpdatePublication(t.Context(), "t1", current, []byte(tt.body))
			if tt.err != "" {
				require.ErrorIs(t, err, config.ErrInvalid)
				assert.Contains(t, err.Error(), tt.err)
				return
			}
			require.NoError(t, err)
			assert.Nil(t, extra)
			assert.Equal(t, tt.want, pub.Params)
			assert.Equal(t, "p1", pub.ID)
			assert.Equal(t, 3.0, pub.Rate, "delivery settings are the api's")
		})
	}
}
