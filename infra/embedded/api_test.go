package embedded_test

import (
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/herokuevents/herokuevents/shared/config"
)

// asTenant sends a management API request with the API URL's key and
// returns status and body.
func asTenant(t *testing.T, apiURL, method, rel, body string) (int, string) {
	t.Helper()
	u, err := url.Parse(apiURL)
	require.NoError(t, err)
	key, _ := u.User.Password()
	u.User = nil
	req, err := http.NewRequestWithContext(t.Context(), method, u.String()+rel, strings.NewReader(body))
	require.NoError(t, err)
	req.Header.Set("Authorization", "Bearer "+key)
	res, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	require.NoError(t, err)
	return res.StatusCode, string(b)
}

// TestAPIOnSQLite runs the api's main flow against the embedded mode's
// real store (moved from shared/api, whose unit tests use memstore).
func TestAPIOnSQLite(t *testing.T) {
	srv := start(t, 0)
	store := srv.Store()

	status, body := operatorCall(t, srv, true, http.MethodPost, "/heroku/resources", `{"app":"sql-app"}`)
	require.Equal(t, http.StatusOK, status, body)
	var resp struct {
		ID     string            `json:"id"`
		Config map[string]string `json:"config"`
	}
	require.NoError(t, json.Unmarshal([]byte(body), &resp))
	apiURL := resp.Config["HEROKUEVENTS_API_URL"]
	status, _ = operatorCall(t, srv, true, http.MethodPost, "/heroku/resources", `{"app":"sql-app"}`)
	require.Equal(t, http.StatusConflict, status)

	status, body = asTenant(t, apiURL, http.MethodPost, "/platforms/webhook/subscriptions", `{"name":"orders"}`)
	require.Equal(t, http.StatusCreated, status, body)
	status, body = asTenant(t, apiURL, http.MethodPost, "/platforms/webhook/publications", `{"skip_handshake":true,"name":"hook","url":"https://e.example/","source":"orders","filter":"root = this"}`)
	require.Equal(t, http.StatusCreated, status, body)
	status, _ = asTenant(t, apiURL, http.MethodPost, "/platforms/webhook/subscriptions", `{"name":"orders"}`)
	assert.Equal(t, http.StatusConflict, status)
	status, _ = asTenant(t, apiURL, http.MethodPost, "/streams", `{"source":"orders","target":"hook"}`)
	assert.Equal(t, http.StatusConflict, status)

	status, body = asTenant(t, apiURL, http.MethodGet, "/subscriptions/orders", "")
	require.Equal(t, http.StatusOK, status)
	var sub struct {
		Targets []struct {
			Filter *string `json:"filter"`
		} `json:"targets"`
	}
	require.NoError(t, json.Unmarshal([]byte(body), &sub))
	require.Len(t, sub.Targets, 1)
	require.NotNil(t, sub.Targets[0].Filter)
	assert.Equal(t, "root = this", *sub.Targets[0].Filter)

	status, body = asTenant(t, apiURL, http.MethodDelete, "/subscriptions/orders", "")
	require.Equal(t, http.StatusOK, status, body)
	streams, err := store.List(t.Context(), resp.ID, config.KindStream)
	require.NoError(t, err)
	assert.Empty(t, streams)

	status, _ = operatorCall(t, srv, true, http.MethodDelete, "/heroku/resources/"+resp.ID, "")
	require.Equal(t, http.StatusNoContent, status)
	pubs, err := store.List(t.Context(), resp.ID, config.KindPublication)
	require.NoError(t, err)
	assert.Empty(t, pubs)
	status, _ = asTenant(t, apiURL, http.MethodGet, "", "")
	assert.Equal(t, http.StatusUnauthorized, status)
}
