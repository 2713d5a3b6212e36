package api_test

import (
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/herokuevents/herokuevents/shared/api"
	"github.com/herokuevents/herokuevents/shared/authorization"
	"github.com/herokuevents/herokuevents/shared/config"
	"github.com/herokuevents/herokuevents/shared/logtest"
	"github.com/herokuevents/herokuevents/shared/platform"
	"github.com/herokuevents/herokuevents/shared/salesforce"
	"github.com/herokuevents/herokuevents/shared/salesforce/standin"
)

// authHarness is an api server on a real listener (so that the stand-in
// org can redirect a browser to its callback) with authorizations enabled.
type authHarness struct {
	*harness
	org  *standin.Org
	svc  *authorization.Service
	base string
}

func newAuthHarness(t *testing.T) *authHarness {
	t.Helper()
	org, err := standin.Start(standin.Options{Logger: slog.New(slog.DiscardHandler)})
	require.NoError(t, err)
	t.Cleanup(func() { _ = org.Close() })
	var handler http.Handler
	ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { handler.ServeHTTP(w, r) }))
	t.Cleanup(ts.Close)
	logger, logs := logtest.JSON(slog.LevelDebug)
	h := &harness{t: t, store: newMemStore(), logs: logs}
	svc := &authorization.Service{
		Store: h.store, Sealer: fakeSealer{}, Logger: logger,
		ClientID: org.ClientID(), ClientSecret: org.ClientSecret(), CallbackURL: ts.URL + api.CallbackPath,
	}
	h.srv = newServer(t, api.Options{
		Store: h.store, BaseURL: ts.URL, Logger: logger,
		Operator:       api.Operator{ID: operatorID, PasswordHash: api.HashKey(operatorPass)},
		Authorizations: svc,
	}, platform.Deps{Authorizations: svc})
	h.h = h.srv.Handler()
	handler = h.h
	h.a = h.provision("my-app")
	h.b = h.provision("other-app")
	return &authHarness{harness: h, org: org, svc: svc, base: ts.URL}
}

func TestAuthorizationWebFlowEndToEnd(t *testing.T) {
	h := newAuthHarness(t)
	created := h.mustCreate(h.a, "/platforms/salesforce/authorizations",
		`{"alias":"my-org","login_url":"`+h.org.LoginURL()+`"}`)
	assert.Equal(t, "salesforce", created["platform"])
	assert.Equal(t, "pending", created["status"])
	assert.Equal(t, map[string]any{"org_name": "my-org", "alias": "my-org", "url": nil, "login_url": h.org.LoginURL()}, created["params"])
	redirect, _ := created["extra"].(map[string]any)["redirect_uri"].(string)
	require.True(t, strings.HasPrefix(redirect, h.org.LoginURL()+"/services/oauth2/authorize?"), redirect)
	ru, err := url.Parse(redirect)
	require.NoError(t, err)
	assert.Equal(t, h.base+api.CallbackPath, ru.Query().Get("redirect_uri"))

	// A browser: follows the authorize redirect to our callback.
	resp, err := http.Get(redirect)
	require.NoError(t, err)
	page, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	require.Equal(t, http.StatusOK, resp.StatusCode, "%s", page)
	assert.Equal(t, h.base+api.CallbackPath, resp.Request.URL.Scheme+"://"+resp.Request.URL.Host+resp.Request.URL.Path)
	assert.Contains(t, resp.Header.Get("Content-Type"), "text/html")
	assert.Contains(t, string(page), "Connected")
	assert.Contains(t, string(page), "You can close this window.")

	got := h.as(h.a, http.MethodGet, "/authorizations/my-org", "")
	require.Equal(t, http.StatusOK, got.Status)
	v := got.object(t)
	assert.Equal(t, "connected", v["status"])
	assert.Equal(t, h.org.InstanceURL(), v["params"].(map[string]any)["url"])
	assert.Equal(t, h.org.OrgID(), v["org_id"])
	assert.Equal(t, created["id"], v["id"])
	assert.Nil(t, v["extra"], "the authorize URL is shown once")
	byID := h.as(h.a, http.MethodGet, "/authorizations/"+created["id"].(string), "")
	assert.Equal(t, http.StatusOK, byID.Status)

	t.Run("the callback is single use", func(t *testing.T) {
		resp, err := http.Get(resp.Request.URL.String())
		require.NoError(t, err)
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		assert.Equal(t, http.StatusBadRequest, resp.StatusCode)
		assert.Contains(t, string(body), "already used or has expired")
	})
	t.Run("no token in API output or logs", func(t *testing.T) {
		rec, err := config.Load[config.Authorization](t.Context(), h.store, h.a.ID, config.KindAuthorization, "my-org")
		require.NoError(t, err)
		raw, err := fakeSealer{}.Open(t.Context(), rec.Value.TokenSealed)
		require.NoError(t, err)
		var tok salesforce.Token
		require.NoError(t, json.Unmarshal(raw, &tok))
		require.NotEmpty(t, tok.RefreshToken)
		list := h.as(h.a, http.MethodGet, "/authorizations", "")
		require.Equal(t, http.StatusOK, list.Status)
		require.Len(t, list.list(t), 1)
		for _, out := range []string{string(list.Body), string(got.Body), h.logs.String()} {
			assert.NotContains(t, out, tok.AccessToken)
			assert.NotContains(t, out, tok.RefreshToken)
			assert.NotContains(t, out, "sealed:")
		}
	})
	t.Run("delete revokes and returns the object", func(t *testing.T) {
		rec, err := config.Load[config.Authorization](t.Context(), h.store, h.a.ID, config.KindAuthorization, "my-org")
		require.NoError(t, err)
		raw, _ := fakeSealer{}.Open(t.Context(), rec.Value.TokenSealed)
		var tok salesforce.Token
		require.NoError(t, json.Unmarshal(raw, &tok))

		del := h.as(h.a, http.MethodDelete, "/authorizations/my-org", "")
		require.Equal(t, http.StatusOK, del.Status, "%s", del.Body)
		assert.Equal(t, "my-org", del.object(t)["params"].(map[string]any)["alias"])
		_, err = h.org.OAuth("").Refresh(t.Context(), tok.RefreshToken)
		require.ErrorIs(t, err, salesforce.ErrInvalidGrant)
		assert.Equal(t, http.StatusNotFound, h.as(h.a, http.MethodGet, "/authorizations/my-org", "").Status)
	})
}

func TestAuthorizationHeadless(t *testing.T) {
	h := newAuthHarness(t)
	v := h.mustCreate(h.a, "/platforms/salesforce/authorizations",
		`{"org_name":"cc-org","login_url":"`+h.org.LoginURL()+`","client_id":"`+h.org.ClientID()+`","client_secret":"`+h.org.ClientSecret()+`"}`)
	assert.Equal(t, "connected", v["status"])
	assert.Equal(t, "client_credentials", v["flow"])
	assert.Equal(t, h.org.InstanceURL(), v["params"].(map[string]any)["url"])
	assert.Nil(t, v["extra"])
	body, _ := json.Marshal(v)
	assert.NotContains(t, string(body), h.org.ClientSecret())
}

func TestAuthorizationErrors(t *testing.T) {
	h := newAuthHarness(t)
	h.mustCreate(h.a, "/platforms/salesforce/authorizations", `{"alias":"taken","login_url":"`+h.org.LoginURL()+`"}`)
	tests := []struct {
		name, method, rel, body string
		status                  int
		id, msg                 string
	}{
		{name: "unknown alias", method: http.MethodGet, rel: "/authorizations/nope", status: 404, id: "not_found", msg: "Couldn't find that authorization: nope."},
		{name: "delete unknown", method: http.MethodDelete, rel: "/authorizations/nope", status: 404, id: "not_found"},
		{name: "duplicate alias", method: http.MethodPost, rel: "/platforms/salesforce/authorizations", body: `{"alias":"taken"}`, status: 409, id: "conflict", msg: "Authorization taken already exists."},
		{name: "bad login url", method: http.MethodPost, rel: "/platforms/salesforce/authorizations", body: `{"alias":"x","login_url":"ftp://login.salesforce.com"}`, status: 422, id: "invalid_params"},
		{name: "no alias", method: http.MethodPost, rel: "/platforms/salesforce/authorizations", body: `{}`, status: 422, id: "invalid_params", msg: "alias is required."},
		{name: "alias and org_name differ", method: http.MethodPost, rel: "/platforms/salesforce/authorizations", body: `{"alias":"a","org_name":"b"}`, status: 422, id: "invalid_params"},
		{name: "unknown field", method: http.MethodPost, rel: "/platforms/salesforce/authorizations", body: `{"alias":"a","password":"p"}`, status: 422, id: "invalid_params"},
		{name: "refused credentials", method: http.MethodPost, rel: "/platforms/salesforce/authorizations",
			body: `{"alias":"cc","login_url":"` + h.org.LoginURL() + `","client_id":"` + h.org.ClientID() + `","client_secret":"wrong"}`, status: 422, id: "invalid_params"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := h.as(h.a, tt.method, tt.rel, tt.body)
			require.Equal(t, tt.status, r.Status, "%s", r.Body)
			id, msg := r.errBody(t)
			assert.Equal(t, tt.id, id)
			if tt.msg != "" {
				assert.Equal(t, tt.msg, msg)
			}
		})
	}
	t.Run("tenant isolation", func(t *testing.T) {
		assert.Equal(t, http.StatusNotFound, h.as(h.b, http.MethodGet, "/authorizations/taken", "").Status)
		assert.Equal(t, http.StatusNotFound, h.as(h.b, http.MethodDelete, "/authorizations/taken", "").Status)
		assert.Equal(t, http.StatusOK, h.as(h.a, http.MethodGet, "/authorizations/taken", "").Status)
	})
	t.Run("tenant auth required", func(t *testing.T) {
		r := h.do(http.MethodGet, "/v1/tenants/"+h.a.ID+"/authorizations", "", "Bearer "+h.b.APIKey)
		assert.Equal(t, http.StatusUnauthorized, r.Status)
	})
	t.Run("a denied callback's page escapes the org's description", func(t *testing.T) {
		created := h.mustCreate(h.a, "/platforms/salesforce/authorizations",
			`{"alias":"denied-org","login_url":"`+h.org.LoginURL()+`"}`)
		ru, err := url.Parse(created["extra"].(map[string]any)["redirect_uri"].(string))
		require.NoError(t, err)
		q := url.Values{"state": {ru.Query().Get("state")}, "error": {"access_denied"},
			"error_description": {`<script>alert("x")</script> & more`}}
		r := h.do(http.MethodGet, api.CallbackPath+"?"+q.Encode(), "", "")
		assert.Equal(t, http.StatusBadRequest, r.Status)
		assert.Contains(t, string(r.Body), "<h1>Not connected</h1>")
		assert.NotContains(t, string(r.Body), "<script>")
		assert.Contains(t, string(r.Body), "&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt; &amp; more")
	})
	t.Run("bad callback state", func(t *testing.T) {
		r := h.do(http.MethodGet, api.CallbackPath+"?code=x&state=forged", "", "")
		assert.Equal(t, http.StatusBadRequest, r.Status)
		assert.Contains(t, string(r.Body), "not valid")
	})
	t.Run("without a service the routes do not exist", func(t *testing.T) {
		plain := newHarness(t)
		r := plain.as(plain.a, http.MethodGet, "/authorizations", "")
		assert.Equal(t, http.StatusNotFound, r.Status)
	})
}
