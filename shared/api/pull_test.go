package api_test

import (
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/herokuevents/herokuevents/shared/api"
	"github.com/herokuevents/herokuevents/shared/config"
	"github.com/herokuevents/herokuevents/shared/platform"
	"github.com/herokuevents/herokuevents/shared/platform/datacloud"
	"github.com/herokuevents/herokuevents/shared/pull/mempull"
	"github.com/herokuevents/herokuevents/shared/pull/pulltest"
)

// pullHarness is a harness whose server keeps pull buffers in buf and
// offers the datacloud platform.
func pullHarness(t *testing.T) (*harness, *mempull.Buffer) {
	t.Helper()
	h := newHarness(t)
	buf := mempull.New(0, nil)
	h.srv = newServer(t, api.Options{
		Store: h.store, BaseURL: "http://127.0.0.1:5454", Operator: api.Operator{ID: operatorID, PasswordHash: api.HashKey(operatorPass)},
		Now: func() time.Time { return fixedNow }, Pull: buf,
	}, platform.Deps{}, datacloud.Platform())
	h.h = h.srv.Handler()
	return h, buf
}

func TestPullSubscriptions(t *testing.T) {
	h, buf := pullHarness(t)
	created := h.mustCreate(h.a, "/platforms/webhook/subscriptions", `{"name":"orders","pull":true}`)
	assert.Equal(t, true, created["pull"])
	h.mustCreate(h.a, "/platforms/webhook/subscriptions", `{"name":"quiet"}`)
	id := created["id"].(string)
	require.NoError(t, buf.Put(t.Context(), h.a.ID, id, pulltest.Event(1), pulltest.Event(2)))
	_, err := buf.Lease(t.Context(), h.a.ID, id, 1, time.Minute)
	require.NoError(t, err)

	info := h.as(h.a, http.MethodGet, "/subscriptions/orders", "").object(t)
	backlog, ok := info["pull_backlog"].(map[string]any)
	require.True(t, ok, "info shows the backlog: %v", info)
	assert.Equal(t, float64(2), backlog["pending"])
	assert.Equal(t, float64(1), backlog["leased"])

	r := h.as(h.a, http.MethodPatch, "/subscriptions/quiet", `{"pull":true}`)
	require.Equal(t, http.StatusOK, r.Status, string(r.Body))
	assert.Equal(t, true, r.object(t)["pull"])
	sub, err := config.Load[config.Subscription](t.Context(), h.store, h.a.ID, config.KindSubscription, "quiet")
	require.NoError(t, err)
	assert.True(t, sub.Value.Pull)

	r = h.as(h.a, http.MethodPatch, "/subscriptions/orders", `{"pull":false}`)
	require.Equal(t, http.StatusOK, r.Status, string(r.Body))
	_, off := r.object(t)["pull"]
	assert.False(t, off)
	bl, err := buf.Backlog(t.Context(), h.a.ID, id)
	require.NoError(t, err)
	assert.Equal(t, 0, bl.Pending, "turning pull off drops what was kept")

	for _, tc := range []struct {
		name, ref, body string
		status          int
	}{
		{"nothing to update", "quiet", `{}`, 422},
		{"not a bool", "quiet", `{"pull":"yes"}`, 422},
		{"unknown field", "quiet", `{"pull":true,"color":"red"}`, 422},
		{"unknown subscription", "nope", `{"pull":true}`, 404},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := h.as(h.a, http.MethodPatch, "/subscriptions/"+tc.ref, tc.body)
			assert.Equal(t, tc.status, r.Status, string(r.Body))
			id, msg := r.errBody(t)
			assert.NotEmpty(t, id)
			assert.NotEmpty(t, msg)
		})
	}
	r = h.as(h.b, http.MethodPatch, "/subscriptions/quiet", `{"pull":false}`)
	assert.Equal(t, http.StatusNotFound, r.Status, "another tenant's subscription")
}

func TestDataCloudSubscriptionShowsItsTargetOnce(t *testing.T) {
	h, _ := pullHarness(t)
	_, err := config.Insert(t.Context(), h.store, config.Item{Tenant: h.a.ID, Kind: config.KindAuthorization, ID: "auth-1", Name: "my-org"},
		config.Authorization{})
	require.NoError(t, err)
	created := h.mustCreate(h.a, "/platforms/datacloud/subscriptions", `{"name":"patientChanges","org_name":"my-org"}`)
	extra, ok := created["extra"].(map[string]any)
	require.True(t, ok, "%v", created)
	assert.Equal(t, "http://127.0.0.1:5454/dataactions/"+h.a.ID+"/"+created["id"].(string), extra["url"])
	assert.Len(t, extra["signing_key"], 64)
	info := h.as(h.a, http.MethodGet, "/subscriptions/patientChanges", "")
	assert.NotContains(t, string(info.Body), extra["signing_key"].(string), "the key is shown once")
	assert.NotContains(t, string(info.Body), "secret_sealed")
	r := h.as(h.a, http.MethodPost, "/platforms/datacloud/subscriptions", `{"name":"noOrg","org_name":"nope"}`)
	assert.Equal(t, 422, r.Status, string(r.Body))
}
