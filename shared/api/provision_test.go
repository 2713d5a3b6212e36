package api_test

import (
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/herokuevents/herokuevents/shared/api"
	"github.com/herokuevents/herokuevents/shared/config"
	"github.com/herokuevents/herokuevents/shared/platform"
)

func keyOf(t *testing.T, raw string) string {
	t.Helper()
	u, err := url.Parse(raw)
	require.NoError(t, err)
	p, ok := u.User.Password()
	require.True(t, ok, "no password in %s", raw)
	return p
}

var hexKey = regexp.MustCompile(`^[0-9a-f]{64}$`)

func TestProvisionHTTP(t *testing.T) {
	h := newHarness(t)
	op := basic(operatorID, operatorPass)
	body := `{"uuid":"01234567-89ab-cdef-0123-456789abcdef","plan":"herokuevents:test","region":"amazon-web-services::us-east-1",
		"callback_url":"https://api.heroku.com/addons/01234567","options":{},"app":"shop-app",
		"oauth_grant":{"code":"c","expires_at":"2026-01-01T00:00:00Z","type":"authorization_code"},"log_input_url":"https://l.example/"}`
	r := h.do(http.MethodPost, "/heroku/resources", body, op)
	require.Equal(t, http.StatusOK, r.Status, "%s", r.Body)

	var resp map[string]any
	require.NoError(t, json.Unmarshal(r.Body, &resp))
	require.Len(t, resp, 3)
	id := resp["id"].(string)
	cfg := resp["config"].(map[string]any)
	require.Len(t, cfg, 3)
	assert.Equal(t, cfg["HEROKUEVENTS_PUBLISH_URL"], strings.Replace(cfg["HEROKUEVENTS_SUBSCRIBE_URL"].(string), "/subscribe", "/publish", 1))
	assert.NotEmpty(t, resp["message"])

	apiURL, err := url.Parse(cfg["HEROKUEVENTS_API_URL"].(string))
	require.NoError(t, err)
	assert.Equal(t, "http", apiURL.Scheme)
	assert.Equal(t, "127.0.0.1:5454", apiURL.Host)
	assert.Equal(t, "/v1/tenants/"+id, apiURL.Path)
	assert.Equal(t, "herokuevents", apiURL.User.Username())
	apiKey, _ := apiURL.User.Password()
	assert.Regexp(t, hexKey, apiKey)

	pubURL, err := url.Parse(cfg["HEROKUEVENTS_PUBLISH_URL"].(string))
	require.NoError(t, err)
	assert.Equal(t, "127.0.0.1:5454", pubURL.Host)
	assert.Equal(t, "/publish", pubURL.Path)
	assert.Equal(t, id, pubURL.User.Username())
	pubKey, _ := pubURL.User.Password()
	assert.Regexp(t, hexKey, pubKey)
	assert.NotEqual(t, apiKey, pubKey)

	// Stored as hashes only.
	rec, err := config.Load[config.Tenant](t.Context(), h.store, "", config.KindTenant, id)
	require.NoError(t, err)
	assert.Equal(t, "shop-app", rec.Item.Name)
	assert.Equal(t, config.Tenant{ID: id, App: "shop-app", Created: fixedNow.Truncate(1e9),
		APIKeyHash: api.HashKey(apiKey), PublishKeyHash: api.HashKey(pubKey), Plan: "test", HerokuID: id,
		Region: "amazon-web-services::us-east-1", LogInputURL: "https://l.example/"}, rec.Value)
	assert.Equal(t, "01234567-89ab-cdef-0123-456789abcdef", id, "the uuid is the id")
	for _, it := range h.store.snapshot() {
		assert.NotContains(t, string(it.Body), apiKey)
		assert.NotContains(t, string(it.Body), pubKey)
	}
	assert.NotContains(t, h.logs.String(), apiKey)
	assert.NotContains(t, h.logs.String(), pubKey)

	// The new key works.
	r = h.do(http.MethodGet, "/v1/tenants/"+id, "", "Bearer "+apiKey)
	require.Equal(t, http.StatusOK, r.Status)
	assert.JSONEq(t, `{"id":"`+id+`","app":"shop-app"}`, string(r.Body))
}

func TestProvisionRejects(t *testing.T) {
	h := newHarness(t)
	op := basic(operatorID, operatorPass)
	tests := []struct {
		name, body, auth string
		status           int
		id, message      string
	}{
		{"no auth", `{"app":"x-app"}`, "", 401, "unauthorized", "Invalid credentials provided."},
		{"wrong operator password", `{"app":"x-app"}`, basic(operatorID, "nope"), 401, "unauthorized", "Invalid credentials provided."},
		{"wrong operator id", `{"app":"x-app"}`, basic("someone", operatorPass), 401, "unauthorized", "Invalid credentials provided."},
		{"tenant key is not operator", `{"app":"x-app"}`, "Bearer " + h.a.APIKey, 401, "unauthorized", "Invalid credentials provided."},
		{"same app twice", `{"app":"my-app","plan":"test"}`, op, 409, "conflict", "App my-app already has herokuevents."},
		{"same app twice via options", `{"options":{"app":"other-app"}}`, op, 409, "conflict", "App other-app already has herokuevents."},
		{"missing app", `{"plan":"test","options":{}}`, op, 422, "invalid_params", "app is required: the name of the app the add-on is installed on."},
		{"uuid not a UUID", `{"uuid":"u","plan":"test"}`, op, 422, "invalid_params", `uuid "u" is not a UUID.`},
		{"bad plan", `{"app":"x-app","plan":"Gold Plan!"}`, op, 422, "invalid_params", `plan "Gold Plan!" is not a plan of herokuevents.`},
		{"options.app not a string", `{"options":{"app":3}}`, op, 422, "invalid_params", "options.app must be a string."},
		{"bad app name", `{"app":"my app; rm -rf"}`, op, 422, "invalid_params", `app "my app; rm -rf" is not a valid app name.`},
		{"invalid JSON", `{"app":`, op, 400, "bad_request", "Request body is not valid JSON."},
		{"non-object", `[{"app":"x-app"}]`, op, 400, "bad_request", "Request body must be a JSON object."},
		{"wrong type", `{"app":["x"]}`, op, 422, "invalid_params", `Field "app" must be a string.`},
		{"too big", `{"app":"x-app","options":{"x":"` + strings.Repeat("a", api.MaxBody) + `"}}`, op, 413, "payload_too_large", "Request body is larger than 1048576 bytes."},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			before := h.store.snapshot()
			r := h.do(http.MethodPost, "/heroku/resources", tc.body, tc.auth)
			require.Equal(t, tc.status, r.Status, "%s", r.Body)
			id, msg := r.errBody(t)
			assert.Equal(t, tc.id, id)
			assert.Equal(t, tc.message, msg)
			assert.Equal(t, before, h.store.snapshot())
		})
	}
}

func TestProvisionFunc(t *testing.T) {
	h := newHarness(t)
	resp, err := h.srv.Provision(t.Context(), api.ProvisionRequest{Options: map[string]any{"app": "opt-app"}})
	require.NoError(t, err)
	rec, err := config.Load[config.Tenant](t.Context(), h.store, "", config.KindTenant, resp.ID)
	require.NoError(t, err)
	assert.Equal(t, "opt-app", rec.Value.App)

	_, err = h.srv.Provision(t.Context(), api.ProvisionRequest{App: "opt-app"})
	require.ErrorIs(t, err, config.ErrConflict)
	var apiErr *api.Error
	require.ErrorAs(t, err, &apiErr)
	assert.Equal(t, http.StatusConflict, apiErr.Status)
}

func TestDeprovision(t *testing.T) {
	h := newHarness(t)
	setupGraph(h)
	op := basic(operatorID, operatorPass)
	bBefore := h.lists(h.b)

	before := h.store.snapshot()
	r := h.do(http.MethodDelete, "/heroku/resources/"+h.a.ID, "", "")
	require.Equal(t, http.StatusUnauthorized, r.Status)
	r = h.do(http.MethodDelete, "/heroku/resources/"+h.a.ID, "", "Bearer "+h.a.APIKey)
	require.Equal(t, http.StatusUnauthorized, r.Status)
	assert.Equal(t, before, h.store.snapshot())

	r = h.do(http.MethodDelete, "/heroku/resources/"+h.a.ID, "", op)
	require.Equal(t, http.StatusNoContent, r.Status, "%s", r.Body)
	assert.Empty(t, r.Body)

	for _, it := range h.store.snapshot() {
		assert.NotEqual(t, h.a.ID, it.Tenant, "item %s %s left behind", it.Kind, it.ID)
		assert.NotEqual(t, h.a.ID, it.ID, "tenant item left behind")
	}
	r = h.as(h.a, http.MethodGet, "/subscriptions", "")
	assert.Equal(t, http.StatusUnauthorized, r.Status, "the old key no longer works")
	assert.Equal(t, bBefore, h.lists(h.b), "the other tenant is untouched")

	r = h.do(http.MethodDelete, "/heroku/resources/"+h.a.ID, "", op)
	require.Equal(t, http.StatusGone, r.Status)
	id, msg := r.errBody(t)
	assert.Equal(t, "gone", id)
	assert.Equal(t, "That add-on resource is already deprovisioned.", msg)

	r = h.do(http.MethodDelete, "/heroku/resources/other-app", "", op)
	require.Equal(t, http.StatusGone, r.Status, "an app name is not a resource id")

	// The app can be provisioned again.
	again := h.do(http.MethodPost, "/heroku/resources", `{"app":"my-app"}`, op)
	require.Equal(t, http.StatusOK, again.Status, "%s", again.Body)
}

func TestOperatorVerify(t *testing.T) {
	tests := []struct {
		name   string
		op     api.Operator
		user   string
		pass   string
		status int
	}{
		{"verify func accepts", api.Operator{Verify: func(id, p string) bool { return id == "op" && p == "pw" }}, "op", "pw", 200},
		{"verify func refuses", api.Operator{Verify: func(id, p string) bool { return false }}, "op", "pw", 401},
		{"no operator configured", api.Operator{}, "", "", 401},
		{"upper-case hash", api.Operator{ID: "op", PasswordHash: strings.ToUpper(api.HashKey("pw"))}, "op", "pw", 200},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			srv := newServer(t, api.Options{Store: newMemStore(), BaseURL: "http://localhost:1", Operator: tc.op}, platform.Deps{})
			h := &harness{t: t, h: srv.Handler()}
			r := h.do(http.MethodPost, "/heroku/resources", `{"app":"a-app"}`, basic(tc.user, tc.pass))
			assert.Equal(t, tc.status, r.Status, "%s", r.Body)
		})
	}
}

func TestDefaultSigningSecret(t *testing.T) {
	srv := newServer(t, api.Options{Store: newMemStore(), BaseURL: "http://localhost:1"}, platform.Deps{})
	resp, err := srv.Provision(t.Context(), api.ProvisionRequest{App: "a-app"})
	require.NoError(t, err)
	h := &harness{t: t, h: srv.Handler()}
	c := tenantCreds{ID: resp.ID, APIKey: keyOf(t, resp.Config[api.VarAPIURL])}
	seen := map[string]bool{}
	for _, name := range []string{"hookOne", "hookTwo"} {
		got := h.mustCreate(c, "/platforms/webhook/publications", `{"skip_handshake":true,"name":"`+name+`","url":"https://e.example/"}`)
		secret := got["extra"].(map[string]any)["signing_secret"].(string)
		raw, ok := strings.CutPrefix(secret, "whsec_")
		require.True(t, ok, secret)
		key, err := base64.StdEncoding.DecodeString(raw)
		require.NoError(t, err)
		assert.Len(t, key, 32)
		assert.False(t, seen[secret], "secrets differ")
		seen[secret] = true
	}
	_, err = hex.DecodeString(api.HashKey("x"))
	require.NoError(t, err)
}

// TestPublishBaseURL: with a publish base URL (on AWS the ingest function's
// URL, which ends with a slash), the publish and subscribe URLs are on it and
// the API URL stays on the base URL.
func TestPublishBaseURL(t *testing.T) {
	for _, tc := range []struct{ name, publishBase, wantHost string }{
		{"function URL", "https://abcdefghij.lambda-url.us-east-1.on.aws/", "abcdefghij.lambda-url.us-east-1.on.aws"},
		{"unset", "", "127.0.0.1:5454"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv := newServer(t, api.Options{
				Store: newMemStore(), BaseURL: "http://127.0.0.1:5454", PublishBaseURL: tc.publishBase,
				Operator: api.Operator{ID: operatorID, PasswordHash: api.HashKey(operatorPass)},
			}, platform.Deps{})
			req := httptest.NewRequestWithContext(t.Context(), http.MethodPost, "/heroku/resources",
				strings.NewReader(`{"uuid":"01234567-89ab-cdef-0123-456789abcdef","plan":"test","app":"shop-app"}`))
			req.SetBasicAuth(operatorID, operatorPass)
			rec := httptest.NewRecorder()
			srv.Handler().ServeHTTP(rec, req)
			require.Equal(t, http.StatusOK, rec.Code, rec.Body.String())
			var resp struct{ Config map[string]string }
			require.NoError(t, json.Unmarshal(rec.Body.Bytes(), &resp))
			for name, path := range map[string]string{"HEROKUEVENTS_PUBLISH_URL": "/publish", "HEROKUEVENTS_SUBSCRIBE_URL": "/subscribe"} {
				u, err := url.Parse(resp.Config[name])
				require.NoError(t, err)
				assert.Equal(t, tc.wantHost, u.Host, name)
				assert.Equal(t, path, u.Path, name)
			}
			apiURL, err := url.Parse(resp.Config["HEROKUEVENTS_API_URL"])
			require.NoError(t, err)
			assert.Equal(t, "127.0.0.1:5454", apiURL.Host)
		})
	}
	_, err := api.New(api.Options{Store: newMemStore(), Platforms: registry(t, newMemStore(), platform.Deps{}), BaseURL: "http://x", PublishBaseURL: "lambda-url"})
	assert.ErrorContains(t, err, "PublishBaseURL")
}

// TestNewErrorsOnBadWiring: a missing store, missing platforms (which hold
// the sealer) or a relative base URL are wiring mistakes New reports.
func TestNewErrorsOnBadWiring(t *testing.T) {
	platforms := registry(t, newMemStore(), platform.Deps{})
	_, err := api.New(api.Options{Platforms: platforms, BaseURL: "http://x"})
	assert.Error(t, err)
	_, err = api.New(api.Options{Store: newMemStore(), BaseURL: "http://x"})
	assert.Error(t, err)
	_, err = api.New(api.Options{Store: newMemStore(), Platforms: platforms, BaseURL: "x:5454"})
	assert.Error(t, err)
}

func TestErrorType(t *testing.T) {
	err := api.Invalid("bad %s", "thing")
	var e *api.Error
	require.True(t, errors.As(err, &e))
	assert.Equal(t, http.StatusUnprocessableEntity, e.Status)
	assert.Equal(t, "invalid_params", e.ID)
	assert.Equal(t, "bad thing", e.Error())
}
