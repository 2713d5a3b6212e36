package heroku_test

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/oauth2"

	"github.com/herokuevents/herokuevents/shared/heroku"
)

// identity is a minimal identity service and Platform API that records
// what it was sent.
type identity struct {
	forms    []map[string]string
	accept   atomic.Value
	bearer   atomic.Value
	refreshs atomic.Int64
}

func (id *identity) server(t *testing.T) *httptest.Server {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		switch {
		case r.Method == http.MethodPost && r.URL.Path == "/oauth/token":
			require.NoError(t, r.ParseForm())
			f := map[string]string{}
			for k := range r.PostForm {
				f[k] = r.PostForm.Get(k)
			}
			id.forms = append(id.forms, f)
			if f["client_secret"] != "s3cret" || (f["grant_type"] == "authorization_code" && f["code"] != "good") {
				w.WriteHeader(http.StatusUnauthorized)
				_, _ = w.Write([]byte(`{"id":"unauthorized","message":"Invalid grant."}`))
				return
			}
			if f["grant_type"] == "refresh_token" {
				id.refreshs.Add(1)
			}
			_ = json.NewEncoder(w).Encode(map[string]any{"access_token": "a-" + f["grant_type"], "expires_in": 60,
				"refresh_token": "r1", "token_type": "Bearer", "user_id": "u", "session_nonce": nil})
		case r.URL.Path == "/addons/01234567-89ab-cdef-0123-456789abcdef":
			id.accept.Store(r.Header.Get("Accept"))
			id.bearer.Store(r.Header.Get("Authorization"))
			_, _ = w.Write([]byte(`{"id":"01234567-89ab-cdef-0123-456789abcdef","name":"herokuevents-shaped-12345","state":"provisioned",
				"app":{"id":"439b0b54-be57-4c22-8cf6-927bad06bda4","name":"my-app"},"plan":{"name":"herokuevents:basic"},"new_field":1}`))
		default:
			w.WriteHeader(http.StatusNotFound)
			_, _ = w.Write([]byte(`{"id":"not_found","message":"Couldn't find that."}`))
		}
	}))
	t.Cleanup(srv.Close)
	return srv
}

func TestClient(t *testing.T) {
	id := &identity{}
	srv := id.server(t)
	c := heroku.NewClient(heroku.Settings{APIURL: srv.URL + "/", IDURL: srv.URL, ClientSecret: "s3cret"}, nil)

	tok, err := c.Exchange(t.Context(), "good")
	require.NoError(t, err)
	assert.Equal(t, "a-authorization_code", tok.AccessToken)
	assert.Equal(t, "r1", tok.RefreshToken)
	assert.WithinDuration(t, time.Now().Add(time.Minute), tok.Expiry, 5*time.Second)
	assert.Equal(t, map[string]string{"grant_type": "authorization_code", "code": "good", "client_secret": "s3cret"}, id.forms[0],
		"the form Heroku documents")

	_, err = c.Exchange(t.Context(), "expired")
	var apiErr *heroku.APIError
	require.ErrorAs(t, err, &apiErr)
	assert.Equal(t, http.StatusUnauthorized, apiErr.Status)
	assert.Equal(t, "Invalid grant.", apiErr.Message)

	// A token valid for a minute is within RefreshEarly: it is refreshed first.
	a, err := c.Addon(t.Context(), c.TokenSource(t.Context(), tok), "01234567-89ab-cdef-0123-456789abcdef")
	require.NoError(t, err)
	assert.Equal(t, "my-app", a.App.Name)
	assert.Equal(t, "439b0b54-be57-4c22-8cf6-927bad06bda4", a.App.ID)
	assert.Equal(t, "herokuevents-shaped-12345", a.Name)
	assert.Equal(t, heroku.Accept, id.accept.Load())
	assert.Equal(t, "Bearer a-refresh_token", id.bearer.Load())
	assert.EqualValues(t, 1, id.refreshs.Load())

	fresh := &oauth2.Token{AccessToken: "a-fresh", RefreshToken: "r1", Expiry: time.Now().Add(8 * time.Hour)}
	_, err = c.Addon(t.Context(), c.TokenSource(t.Context(), fresh), "01234567-89ab-cdef-0123-456789abcdef")
	require.NoError(t, err)
	assert.Equal(t, "Bearer a-fresh", id.bearer.Load(), "a fresh token is used as is")
	assert.EqualValues(t, 1, id.refreshs.Load())

	_, err = c.Addon(t.Context(), c.TokenSource(t.Context(), fresh), "other")
	require.ErrorAs(t, err, &apiErr)
	assert.Equal(t, http.StatusNotFound, apiErr.Status)

	_, err = heroku.NewClient(heroku.Settings{IDURL: srv.URL}, nil).Exchange(t.Context(), "good")
	require.ErrorIs(t, err, heroku.ErrNotConfigured)
}

func TestSettingsFromEnv(t *testing.T) {
	env := map[string]string{heroku.EnvAPIURL: "http://a", heroku.EnvIDURL: "http://i", heroku.EnvClientSecret: "s"}
	s := heroku.SettingsFromEnv(func(k string) string { return env[k] })
	assert.Equal(t, heroku.Settings{APIURL: "http://a", IDURL: "http://i", ClientSecret: "s"}, s)
	assert.True(t, s.Configured())
	assert.False(t, heroku.SettingsFromEnv(func(string) string { return "" }).Configured())
	assert.True(t, strings.HasPrefix(heroku.DefaultAPIURL, "https://"))
}
