package api_test

import (
	"net/http"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/herokuevents/herokuevents/infra/embedded/sqlitestore"
	"github.com/herokuevents/herokuevents/shared/api"
	"github.com/herokuevents/herokuevents/shared/config"
	"github.com/herokuevents/herokuevents/shared/platform"
)

// TestOnSQLite runs the main flow against the embedded mode's real store.
func TestOnSQLite(t *testing.T) {
	store, err := sqlitestore.Open(filepath.Join(t.TempDir(), "config.db"))
	require.NoError(t, err)
	t.Cleanup(func() { assert.NoError(t, store.Close()) })
	srv := newServer(t, api.Options{Store: store, BaseURL: "http://127.0.0.1:5454",
		Operator: api.Operator{ID: operatorID, PasswordHash: api.HashKey(operatorPass)}}, platform.Deps{})
	h := &harness{t: t, srv: srv, h: srv.Handler()}
	op := basic(operatorID, operatorPass)

	r := h.do(http.MethodPost, "/heroku/resources", `{"app":"sql-app"}`, op)
	require.Equal(t, http.StatusCreated, r.Status, "%s", r.Body)
	resp := r.object(t)
	c := tenantCreds{ID: resp["id"].(string), APIKey: keyOf(t, resp["config"].(map[string]any)[api.VarAPIURL].(string))}
	require.Equal(t, http.StatusConflict, h.do(http.MethodPost, "/heroku/resources", `{"app":"sql-app"}`, op).Status)

	h.mustCreate(c, "/platforms/webhook/subscriptions", `{"name":"orders"}`)
	h.mustCreate(c, "/platforms/webhook/publications", `{"name":"hook","url":"https://e.example/","source":"orders","filter":"root = this"}`)
	assert.Equal(t, http.StatusConflict, h.as(c, http.MethodPost, "/platforms/webhook/subscriptions", `{"name":"orders"}`).Status)
	assert.Equal(t, http.StatusConflict, h.as(c, http.MethodPost, "/streams", `{"source":"orders","target":"hook"}`).Status)

	r = h.as(c, http.MethodGet, "/subscriptions/orders", "")
	require.Equal(t, http.StatusOK, r.Status)
	targets := r.object(t)["targets"].([]any)
	require.Len(t, targets, 1)
	assert.Equal(t, "root = this", targets[0].(map[string]any)["filter"])

	r = h.as(c, http.MethodDelete, "/subscriptions/orders", "")
	require.Equal(t, http.StatusOK, r.Status, "%s", r.Body)
	streams, err := store.List(t.Context(), c.ID, config.KindStream)
	require.NoError(t, err)
	assert.Empty(t, streams)

	r = h.do(http.MethodDelete, "/heroku/resources/"+c.ID, "", op)
	require.Equal(t, http.StatusNoContent, r.Status)
	pubs, err := store.List(t.Context(), c.ID, config.KindPublication)
	require.NoError(t, err)
	assert.Empty(t, pubs)
	assert.Equal(t, http.StatusUnauthorized, h.as(c, http.MethodGet, "", "").Status)
}
