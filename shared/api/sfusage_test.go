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

	type usage struct {
		Org          string `json:"org"`
		Delivered24h int64  `json:"delivered_24h"`
		Allocation   int64  `json:"allocation"`
		Warning      string `json:"warning"`
	}
	read := func() (config.Params, usage) {
		r := h.as(h.a, http.MethodGet, "/subscriptions/sfAccounts", "")
		require.Equal(t, http.StatusOK, r.Status)
		var got struct {
			Params          config.Params `json:"params"`
			SalesforceUsage usage         `json:"salesforce_usage"`
		}
		require.NoError(t, json.Unmarshal(r.Body, &got))
		return got.Params, got.SalesforceUsage
	}
	params, u := read()
	assert.Equal(t, usage{Org: "my-org", Delivered24h: 42}, u, "allocation unknown: no warning")
	assert.Equal(t, "halt", params.OnReplayGap)

	tests := []struct {
		allocation int64
		warn       bool
	}{{100, false}, {53, false}, {52, true}, {42, true}}
	for _, tt := range tests {
		a := config.Authorization{ID: "auth-1", Alias: "my-org", Platform: config.PlatformSalesforce, Allocation: tt.allocation}
		rec, err := config.Load[config.Authorization](t.Context(), h.store, h.a.ID, config.KindAuthorization, "my-org")
		if err == nil {
			rec.Value = a
			_, err = config.Save(t.Context(), h.store, rec)
		} else {
			_, err = config.Insert(t.Context(), h.store, config.Item{Tenant: h.a.ID, Kind: config.KindAuthorization, ID: a.ID, Name: a.Alias}, a)
		}
		require.NoError(t, err)
		_, u := read()
		assert.Equal(t, tt.allocation, u.Allocation)
		if tt.warn {
			assert.Contains(t, u.Warning, "org my-org used", "allocation %d", tt.allocation)
		} else {
			assert.Empty(t, u.Warning, "allocation %d", tt.allocation)
		}
	}
}
