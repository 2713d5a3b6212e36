package api_test

import (
	"context"
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/herokuevents/herokuevents/shared/api"
	"github.com/herokuevents/herokuevents/shared/config"
	"github.com/herokuevents/herokuevents/shared/platform"
)

func TestIndexTime(t *testing.T) {
	a := time.Date(2026, 1, 2, 3, 4, 5, 0, time.FixedZone("X", 3600))
	b := a.Add(time.Nanosecond)
	c := a.Add(9 * time.Hour)
	assert.Equal(t, "2026-01-02T02:04:05.000000000Z", api.IndexTime(a), "UTC, fixed width")
	assert.Len(t, api.IndexTime(b), len(api.IndexTime(a)))
	assert.Less(t, api.IndexTime(a), api.IndexTime(b))
	assert.Less(t, api.IndexTime(b), api.IndexTime(c))
}

// TestPlatformNextRunIndexes: a platform that sets State.NextRun gets its
// subscription indexed at that time; others are not indexed.
func TestPlatformNextRunIndexes(t *testing.T) {
	next := time.Date(2026, 3, 4, 5, 6, 7, 8, time.UTC)
	store := newMemStore()
	srv := newServer(t, api.Options{Store: store, BaseURL: "https://events.example.com"}, platform.Deps{},
		platform.Platform{Name: "generate", Subscription: &platform.Source{
			Validate: func(_ context.Context, _ platform.Deps, _ string, body []byte) (config.Subscription, error) {
				var req struct{ api.SubscriptionFields }
				if err := api.DecodeJSON(body, &req); err != nil {
					return config.Subscription{}, err
				}
				return config.Subscription{State: &config.SourceState{Status: "active", NextRun: next}}, nil
			},
		}})
	resp, err := srv.Provision(t.Context(), api.ProvisionRequest{App: "idx-app"})
	require.NoError(t, err)
	h := &harness{t: t, store: store, srv: srv, h: srv.Handler()}
	c := tenantCreds{ID: resp.ID, APIKey: keyOf(t, resp.Config[api.VarAPIURL])}

	r := h.as(c, http.MethodPost, "/platforms/generate/subscriptions", `{"name":"tick"}`)
	require.Equal(t, http.StatusCreated, r.Status, "%s", r.Body)
	r = h.as(c, http.MethodPost, "/platforms/webhook/subscriptions", `{"name":"hook"}`)
	require.Equal(t, http.StatusCreated, r.Status, "%s", r.Body)

	it, err := store.Get(t.Context(), c.ID, config.KindSubscription, "tick")
	require.NoError(t, err)
	assert.Equal(t, api.IndexTime(next), it.Index)
	it, err = store.Get(t.Context(), c.ID, config.KindSubscription, "hook")
	require.NoError(t, err)
	assert.Empty(t, it.Index)
}
