package api_test

import (
	"encoding/json"
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/herokuevents/herokuevents/shared/config"
)

// A Salesforce subscription's read shows the events its org delivered in
// the last 24 h, once some were; other tenants' counts are not its own.
func TestSubscriptionShowsSalesforceUsage(t *testing.T) {
	h := newHarness(t)
	sub := config.Subscription{ID: "3b8e8a55-0000-4000-8000-000000000002", Name: "sfAccounts", Platform: config.PlatformSalesforce,
		Params: config.Params{Event: "/data/AccountChangeEvent", OrgName: "my-org", OnReplayGap: "halt"}, Created: fixedNow, Replay: "latest"}
	_, err := config.Insert(t.Context(), h.store, config.Item{Tenant: h.a.ID, Kind: config.KindSubscription, ID: sub.ID, Name: sub.Name}, sub)
	require.NoError(t, err)
	now := time.Now()
	require.NoError(t, config.AddSalesforceUsage(t.Context(), h.store, h.a.ID, "my-org", now, 40))
	require.NoError(t, config.AddSalesforceUsage(t.Context(), h.store, h.a.ID, "my-org", now.Add(-2*time.Hour), 2))
	require.NoError(t, config.AddSalesforceUsage(t.Context(), h.store, h.a.ID, "my-org", now.Add(-30*time.Hour), 500))
	require.NoError(t, config.AddSalesforceUsage(t.Context(), h.store, h.b.ID, "my-org", now, 7))

	r := h.as(h.a, http.MethodGet, "/subscriptions/sfAccounts", "")
	require.Equal(t, http.StatusOK, r.Status)
	var got struct {
		Params          config.Params `json:"params"`
		SalesforceUsage struct {
			Org          string `json:"org"`
			Delivered24h int64  `json:"delivered_24h"`
		} `json:"salesforce_usage"`
	}
	require.NoError(t, json.Unmarshal(r.Body, &got))
	assert.Equal(t, "my-org", got.SalesforceUsage.Org)
	assert.EqualValues(t, 42, got.SalesforceUsage.Delivered24h)
	assert.Equal(t, "halt", got.Params.OnReplayGap)
}
