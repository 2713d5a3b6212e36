package api_test

import (
	"context"
	"encoding/json"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/herokuevents/herokuevents/shared/addon"
	"github.com/herokuevents/herokuevents/shared/api"
	"github.com/herokuevents/herokuevents/shared/config"
	"github.com/herokuevents/herokuevents/shared/heroku"
	"github.com/herokuevents/herokuevents/shared/heroku/standin"
	"github.com/herokuevents/herokuevents/shared/logtest"
	"github.com/herokuevents/herokuevents/shared/platform"
)

const (
	addonPassword = "addon-password-123"
	addonSalt     = "addon-salt-456"
)

// v3Body is the reference's provision request (heroku-addon.md §1.3) as
// Heroku sends it: no app name, an oauth_grant whose expires_at has an
// offset without a colon, log_input_url and log_drain_token.
const v3Body = `{
  "callback_url": "https://api.heroku.com/addons/01234567-89ab-cdef-0123-456789abcdef",
  "name": "acme-inc-primary-database",
  "oauth_grant": {
    "code": "01234567-89ab-cdef-0123-456789abcdef",
    "expires_at": "2016-03-03T18:01:31-0800",
    "type": "authorization_code"
  },
  "options": { "foo": "bar", "baz": "true" },
  "plan": "basic",
  "region": "amazon-web-services::us-east-1",
  "uuid": "01234567-89ab-cdef-0123-456789abcdef",
  "log_input_url": "https://token:t.01234567-89ab-cdef-0123-456789abcdef@1.us.logplex.io/logs",
  "log_drain_token": "d.01234567-89ab-cdef-0123-456789abcdef"
}`

const v3UUID = "01234567-89ab-cdef-0123-456789abcdef"

func testManifest(t *testing.T, base string) *addon.Manifest {
	t.Helper()
	m, err := addon.Parse([]byte(`{"id":"herokuevents","api":{"version":"3","config_vars_prefix":"HEROKUEVENTS",
	"config_vars":["HEROKUEVENTS_API_URL","HEROKUEVENTS_PUBLISH_URL","HEROKUEVENTS_SUBSCRIBE_URL"],
	"password":"${HEROKU_ADDON_PASSWORD}","sso_salt":"${HEROKU_SSO_SALT}","regions":["us","eu"],"requires":["log_input"],
	"production":{"base_url":"https://h.example.com/heroku/resources","sso_url":"https://h.example.com/sso/login"},
	"test":{"base_url":"`+base+`/heroku/resources","sso_url":"`+base+`/sso/login"}}}`),
		func(k string) string {
			return map[string]string{addon.EnvPassword: addonPassword, addon.EnvSSOSalt: addonSalt}[k]
		})
	require.NoError(t, err)
	return m
}

// partnerHarness is an api.Server with the add-on manifest, a sealer and
// a Forget that records the tenants it was called for.
type partnerHarness struct {
	*harness
	mu        sync.Mutex
	forgotten []string
}

func newPartnerHarness(t *testing.T, link func(ctx context.Context, tenant, code string) error,
	push ...func(ctx context.Context, tenant string, vars map[string]string) error) *partnerHarness {
	t.Helper()
	logger, logs := logtest.JSON(slog.LevelDebug)
	p := &partnerHarness{harness: &harness{t: t, store: newMemStore(), logs: logs}}
	p.srv = newServer(t, api.Options{
		Store:    p.store,
		BaseURL:  "http://127.0.0.1:5454",
		Operator: api.Operator{ID: operatorID, PasswordHash: api.HashKey(operatorPass)},
		Logger:   logger,
		Now:      func() time.Time { return fixedNow },
		Addon:    testManifest(t, "http://127.0.0.1:5454"),
		Sealer:   fakeSealer{},
		Link:     link,
		PushConfig: func(ctx context.Context, tenant string, vars map[string]string) error {
			if len(push) == 0 {
				return nil
			}
			return push[0](ctx, tenant, vars)
		},
		Forget: func(_ context.Context, tenant string) error {
			p.mu.Lock()
			defer p.mu.Unlock()
			p.forgotten = append(p.forgotten, tenant)
			return nil
		},
	}, platform.Deps{})
	p.h = p.srv.Handler()
	return p
}

var herokuAuth = basic("herokuevents", addonPassword)

// doHeroku sends a Partner API request as Heroku does: its Basic auth and
// Accept header.
func (h *harness) doHeroku(method, path, body, accept string) response {
	h.t.Helper()
	req := httptest.NewRequestWithContext(h.t.Context(), method, path, strings.NewReader(body))
	req.Header.Set("Authorization", herokuAuth)
	req.Header.Set("Accept", accept)
	req.Header.Set("Content-Type", "application/json")
	rec := httptest.NewRecorder()
	h.h.ServeHTTP(rec, req)
	return response{Status: rec.Code, Header: rec.Header(), Body: rec.Body.Bytes()}
}

const v3Accept = "application/vnd.heroku-addons+json; version=3"

func TestHerokuProvisionV3(t *testing.T) {
	h := newPartnerHarness(t, nil)
	r := h.doHeroku(http.MethodPost, "/heroku/resources", v3Body, v3Accept)
	require.Equal(t, http.StatusOK, r.Status, "%s", r.Body)
	var first api.ProvisionResponse
	require.NoError(t, json.Unmarshal(r.Body, &first))
	assert.Equal(t, v3UUID, first.ID, "the uuid is the id")
	assert.NotEmpty(t, first.Message)
	require.Len(t, first.Config, 3)
	m := testManifest(t, "http://127.0.0.1:5454")
	for k, v := range first.Config {
		assert.True(t, m.Declares(k), "%s is declared in the manifest", k)
		u, err := url.Parse(v)
		require.NoError(t, err)
		assert.True(t, u.IsAbs() && u.Host != "", "%s is an absolute URL", k)
	}

	rec, err := config.Load[config.Tenant](t.Context(), h.store, "", config.KindTenant, v3UUID)
	require.NoError(t, err)
	assert.Equal(t, "", rec.Value.App, "Heroku sends no app name")
	assert.Equal(t, "basic", rec.Value.Plan)
	assert.Equal(t, v3UUID, rec.Value.HerokuID)
	assert.Equal(t, "acme-inc-primary-database", rec.Value.AddonName)
	assert.Equal(t, "https://token:t.01234567-89ab-cdef-0123-456789abcdef@1.us.logplex.io/logs", rec.Value.LogInputURL)
	assert.NotEmpty(t, rec.Value.ConfigSealed)
	for _, v := range first.Config {
		key, _ := mustURL(t, v).User.Password()
		assert.NotContains(t, string(rec.Item.Body), key, "keys are not stored in clear")
	}

	t.Run("the same request again answers the same", func(t *testing.T) {
		r := h.doHeroku(http.MethodPost, "/heroku/resources", v3Body, v3Accept)
		require.Equal(t, http.StatusOK, r.Status, "%s", r.Body)
		var again api.ProvisionResponse
		require.NoError(t, json.Unmarshal(r.Body, &again))
		assert.Equal(t, first.ID, again.ID)
		assert.Equal(t, first.Config, again.Config)
		assert.Len(t, h.store.snapshot(), 1, "one tenant")
	})

	t.Run("concurrent repeats make one tenant", func(t *testing.T) {
		body := strings.ReplaceAll(v3Body, v3UUID, "11111111-2222-3333-4444-555555555555")
		var wg sync.WaitGroup
		answers := make([]api.ProvisionResponse, 8)
		for i := range answers {
			wg.Go(func() {
				r := h.doHeroku(http.MethodPost, "/heroku/resources", body, v3Accept)
				assert.Equal(t, http.StatusOK, r.Status, "%s", r.Body)
				assert.NoError(t, json.Unmarshal(r.Body, &answers[i]))
			})
		}
		wg.Wait()
		for _, a := range answers[1:] {
			assert.Equal(t, answers[0], a)
		}
		assert.Len(t, h.store.snapshot(), 2)
	})

	t.Run("the keys work", func(t *testing.T) {
		key, _ := mustURL(t, first.Config["HEROKUEVENTS_API_URL"]).User.Password()
		r := h.do(http.MethodGet, "/v1/tenants/"+first.ID, "", "Bearer "+key)
		assert.Equal(t, http.StatusOK, r.Status, "%s", r.Body)
	})
}

func mustURL(t *testing.T, raw string) *url.URL {
	t.Helper()
	u, err := url.Parse(raw)
	require.NoError(t, err)
	return u
}

// TestHerokuLenientBody: fields Heroku may add or leave null never fail a
// provision.
func TestHerokuLenientBody(t *testing.T) {
	h := newPartnerHarness(t, nil)
	tests := []struct{ name, body string }{
		{"null grant", `{"uuid":"21111111-2222-3333-4444-555555555555","plan":"test","oauth_grant":null}`},
		{"unknown fields", `{"uuid":"31111111-2222-3333-4444-555555555555","plan":"test","new_field":{"x":[1]},"heroku_id":"app123@heroku.com"}`},
		{"boolean options", `{"uuid":"41111111-2222-3333-4444-555555555555","plan":"test","options":{"verbose":true,"retention":"30"}}`},
		{"RFC 3339 expiry", `{"uuid":"51111111-2222-3333-4444-555555555555","oauth_grant":{"code":"c","expires_at":"2016-03-03T18:01:31Z","type":"authorization_code"}}`},
		{"garbled expiry", `{"uuid":"61111111-2222-3333-4444-555555555555","oauth_grant":{"code":"c","expires_at":"soon","type":"authorization_code"}}`},
		{"upper-case uuid", `{"uuid":"71111111-2222-3333-4444-55555555555A"}`},
		{"standalone options.app", `{"uuid":"81111111-2222-3333-4444-555555555555","options":{"app":"opt-app"}}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := h.doHeroku(http.MethodPost, "/heroku/resources", tt.body, v3Accept)
			assert.Equal(t, http.StatusOK, r.Status, "%s", r.Body)
		})
	}
	rec, err := config.Load[config.Tenant](t.Context(), h.store, "", config.KindTenant, "opt-app")
	require.NoError(t, err)
	assert.Equal(t, "81111111-2222-3333-4444-555555555555", rec.Item.ID, "options.app names the app")
}

func TestOAuthGrantExpires(t *testing.T) {
	tests := []struct {
		raw  string
		want time.Time
		ok   bool
	}{
		{"2016-03-03T18:01:31-0800", time.Date(2016, 3, 4, 2, 1, 31, 0, time.UTC), true},
		{"2016-03-03T18:01:31-08:00", time.Date(2016, 3, 4, 2, 1, 31, 0, time.UTC), true},
		{"2016-03-04T02:01:31Z", time.Date(2016, 3, 4, 2, 1, 31, 0, time.UTC), true},
		{"2016-03-04T02:01:31.5Z", time.Date(2016, 3, 4, 2, 1, 31, 5e8, time.UTC), true},
		{"tomorrow", time.Time{}, false},
		{"", time.Time{}, false},
	}
	for _, tt := range tests {
		t.Run(tt.raw, func(t *testing.T) {
			got, ok := api.OAuthGrant{ExpiresAt: tt.raw}.Expires()
			assert.Equal(t, tt.ok, ok)
			assert.True(t, tt.want.Equal(got), "%s", got)
		})
	}
}

func TestHerokuAuth(t *testing.T) {
	h := newPartnerHarness(t, nil)
	tests := []struct{ name, auth string }{
		{"none", ""},
		{"wrong password", basic("herokuevents", "nope")},
		{"wrong id", basic("wrong", addonPassword)},
		{"kensa's wrong:secret", basic("wrong", "secret")},
		{"the operator's credentials", basic(operatorID, operatorPass)},
		{"bearer", "Bearer " + addonPassword},
	}
	for _, tt := range tests {
		for _, route := range []struct{ method, path, body string }{
			{http.MethodPost, "/heroku/resources", v3Body},
			{http.MethodPut, "/heroku/resources/" + v3UUID, `{"plan":"premium"}`},
			{http.MethodDelete, "/heroku/resources/" + v3UUID, ""},
		} {
			t.Run(tt.name+" "+route.method, func(t *testing.T) {
				r := h.do(route.method, route.path, route.body, tt.auth)
				require.Equal(t, http.StatusUnauthorized, r.Status, "%s", r.Body)
				_, msg := r.errBody(t)
				assert.NotEmpty(t, msg)
				assert.Empty(t, h.store.snapshot(), "nothing changed")
			})
		}
	}
}

// TestHerokuAcceptNever406: whatever Accept says, the Partner API answers
// JSON, never 406.
func TestHerokuAcceptNever406(t *testing.T) {
	h := newPartnerHarness(t, nil)
	for _, accept := range []string{v3Accept, "application/json", "text/html", "application/xml", "*/*", ""} {
		t.Run(accept, func(t *testing.T) {
			for _, step := range []struct {
				method, path, body string
				status             int
			}{
				{http.MethodPost, "/heroku/resources", v3Body, http.StatusOK},
				{http.MethodPut, "/heroku/resources/" + v3UUID, `{"plan":"premium"}`, http.StatusOK},
				{http.MethodDelete, "/heroku/resources/" + v3UUID, "", http.StatusNoContent},
				{http.MethodDelete, "/heroku/resources/" + v3UUID, "", http.StatusGone},
			} {
				r := h.doHeroku(step.method, step.path, step.body, accept)
				require.Equal(t, step.status, r.Status, "%s %s: %s", step.method, step.path, r.Body)
				if step.status != http.StatusNoContent {
					assert.True(t, json.Valid(r.Body), "JSON body: %s", r.Body)
					assert.True(t, strings.HasPrefix(r.Header.Get("Content-Type"), "application/json"), r.Header.Get("Content-Type"))
				}
			}
		})
	}
}

func TestHerokuPlanChange(t *testing.T) {
	h := newPartnerHarness(t, nil)
	require.Equal(t, http.StatusOK, h.doHeroku(http.MethodPost, "/heroku/resources", v3Body, v3Accept).Status)
	tests := []struct {
		name, id, body string
		status         int
		plan, message  string
	}{
		{"upgrade", v3UUID, `{"plan":"premium","uuid":"` + v3UUID + `"}`, 200, "premium", "Successfully changed from basic to premium."},
		{"same plan again", v3UUID, `{"plan":"premium"}`, 200, "premium", "herokuevents is on plan premium."},
		{"prefixed plan", v3UUID, `{"plan":"herokuevents:basic"}`, 200, "basic", "Successfully changed from premium to basic."},
		{"no plan", v3UUID, `{}`, 422, "basic", `plan "" is not a plan of herokuevents.`},
		{"unknown resource", "91111111-2222-3333-4444-555555555555", `{"plan":"premium"}`, 404, "basic", "Couldn't find that add-on resource."},
		{"not JSON", v3UUID, `{`, 400, "basic", "Request body is not valid JSON."},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := h.doHeroku(http.MethodPut, "/heroku/resources/"+tt.id, tt.body, v3Accept)
			require.Equal(t, tt.status, r.Status, "%s", r.Body)
			var body struct {
				Message string `json:"message"`
			}
			require.NoError(t, json.Unmarshal(r.Body, &body))
			assert.Equal(t, tt.message, body.Message)
			rec, err := config.Load[config.Tenant](t.Context(), h.store, "", config.KindTenant, v3UUID)
			require.NoError(t, err)
			assert.Equal(t, tt.plan, rec.Value.Plan)
		})
	}
}

func TestHerokuDeprovisionTwice(t *testing.T) {
	h := newPartnerHarness(t, nil)
	require.Equal(t, http.StatusOK, h.doHeroku(http.MethodPost, "/heroku/resources", v3Body, v3Accept).Status)
	r := h.doHeroku(http.MethodDelete, "/heroku/resources/"+v3UUID, "", v3Accept)
	require.Equal(t, http.StatusNoContent, r.Status, "%s", r.Body)
	assert.Empty(t, h.store.snapshot(), "the tenant is gone")
	assert.Equal(t, []string{v3UUID}, h.forgotten, "its data outside the store is forgotten")

	r = h.doHeroku(http.MethodDelete, "/heroku/resources/"+v3UUID, "", v3Accept)
	require.Equal(t, http.StatusGone, r.Status, "%s", r.Body)
	_, msg := r.errBody(t)
	assert.NotEmpty(t, msg)
	assert.Len(t, h.forgotten, 1)

	r = h.doHeroku(http.MethodPost, "/heroku/resources", v3Body, v3Accept)
	require.Equal(t, http.StatusOK, r.Status, "the uuid can come back")
}

// TestHerokuThroughStandin: the stand-in plays Heroku: `addons:create`
// sends the v3 provision request, the add-on exchanges the grant at the
// stand-in's identity endpoint and learns the app from GET /addons/{uuid};
// its token refreshes before expiry (sealed again each time) and pushes
// config vars; `addons:destroy` deprovisions.
func TestHerokuThroughStandin(t *testing.T) {
	var partner *heroku.Partner
	h := newPartnerHarness(t, func(ctx context.Context, tenant, code string) error {
		_, err := partner.Link(ctx, tenant, code)
		return err
	}, func(ctx context.Context, tenant string, vars map[string]string) error {
		return partner.PushConfig(ctx, tenant, vars)
	})
	addonSrv := httptest.NewServer(h.h)
	t.Cleanup(addonSrv.Close)
	sh, err := standin.Start(standin.Options{Manifest: testManifest(t, addonSrv.URL), AccessTTL: time.Minute})
	require.NoError(t, err)
	t.Cleanup(func() { _ = sh.Close() })
	partner = &heroku.Partner{
		Client: heroku.NewClient(heroku.Settings{APIURL: sh.URL(), IDURL: sh.URL(), ClientSecret: sh.ClientSecret()}, nil),
		Store:  h.store, Sealer: fakeSealer{},
	}

	var created struct {
		ID               string `json:"id"`
		Name             string `json:"name"`
		ProvisionMessage string `json:"provision_message"`
		State            string `json:"state"`
	}
	call(t, http.MethodPost, sh.URL()+"/apps/shop-app/addons", `{"plan":{"name":"herokuevents"}}`, http.StatusCreated, &created)
	assert.Equal(t, "provisioned", created.State)
	assert.Contains(t, created.ProvisionMessage, "herokuevents is ready for shop-app", "the message names the app it learned")

	rec, err := config.Load[config.Tenant](t.Context(), h.store, "", config.KindTenant, "shop-app")
	require.NoError(t, err, "the tenant answers to the app's name")
	assert.Equal(t, created.ID, rec.Item.ID)
	assert.Equal(t, "shop-app", rec.Value.App, "the app is learned through the Platform API")
	assert.NotEmpty(t, rec.Value.HerokuAppID)
	assert.Equal(t, created.Name, rec.Value.AddonName)
	assert.True(t, strings.HasPrefix(rec.Value.LogInputURL, sh.URL()[:7]), rec.Value.LogInputURL)
	require.NotEmpty(t, rec.Value.HerokuTokenSealed)
	assert.NotContains(t, h.logs.String(), rec.Value.LogInputURL, "never logged")

	var vars map[string]string
	call(t, http.MethodGet, sh.URL()+"/apps/shop-app/config-vars", "", http.StatusOK, &vars)
	assert.Len(t, vars, 3)
	assert.Contains(t, vars["HEROKUEVENTS_API_URL"], "/v1/tenants/"+created.ID)

	t.Run("refresh before expiry and push config", func(t *testing.T) {
		before := rec.Value.HerokuTokenSealed
		// Tokens last a minute, less than heroku.RefreshEarly: each use refreshes.
		require.NoError(t, partner.PushConfig(t.Context(), created.ID, map[string]string{"HEROKUEVENTS_API_URL": "https://new.example/v1/tenants/x"}))
		after, err := config.Load[config.Tenant](t.Context(), h.store, "", config.KindTenant, created.ID)
		require.NoError(t, err)
		assert.NotEqual(t, before, after.Value.HerokuTokenSealed, "the refreshed token is stored")
		call(t, http.MethodGet, sh.URL()+"/apps/shop-app/config-vars", "", http.StatusOK, &vars)
		assert.Equal(t, "https://new.example/v1/tenants/x", vars["HEROKUEVENTS_API_URL"])
		_, err = partner.Learn(t.Context(), created.ID)
		require.NoError(t, err, "the stored refresh token still works")
	})

	t.Run("rotated credentials reach the app's config vars", func(t *testing.T) {
		first := h.doHeroku(http.MethodPost, "/heroku/resources", `{"uuid":"`+created.ID+`"}`, v3Accept)
		require.Equal(t, http.StatusOK, first.Status)
		var before api.ProvisionResponse
		require.NoError(t, json.Unmarshal(first.Body, &before))
		oldKey, _ := mustURL(t, before.Config["HEROKUEVENTS_API_URL"]).User.Password()
		r := h.do(http.MethodPost, "/v1/tenants/"+created.ID+"/credentials/rotate", "", "Bearer "+oldKey)
		require.Equal(t, http.StatusOK, r.Status, "%s", r.Body)
		var rot struct {
			Config  map[string]string `json:"config"`
			Message string            `json:"message"`
		}
		require.NoError(t, json.Unmarshal(r.Body, &rot))
		assert.Contains(t, rot.Message, "updated")
		newKey, _ := mustURL(t, rot.Config["HEROKUEVENTS_API_URL"]).User.Password()
		assert.NotEqual(t, oldKey, newKey)
		vars = nil
		call(t, http.MethodGet, sh.URL()+"/apps/shop-app/config-vars", "", http.StatusOK, &vars)
		assert.Equal(t, rot.Config, vars, "PATCH /addons/{id}/config reached Heroku")
		assert.Equal(t, http.StatusUnauthorized, h.do(http.MethodGet, "/v1/tenants/"+created.ID, "", "Bearer "+oldKey).Status)
		assert.Equal(t, http.StatusOK, h.do(http.MethodGet, "/v1/tenants/"+created.ID, "", "Bearer "+newKey).Status)
		again := h.doHeroku(http.MethodPost, "/heroku/resources", `{"uuid":"`+created.ID+`"}`, v3Accept)
		require.Equal(t, http.StatusOK, again.Status)
		var prov api.ProvisionResponse
		require.NoError(t, json.Unmarshal(again.Body, &prov))
		assert.Equal(t, rot.Config, prov.Config, "a repeated provision answers the rotated config")
	})

	t.Run("a second add-on on the same app is refused by Heroku", func(t *testing.T) {
		call(t, http.MethodPost, sh.URL()+"/apps/shop-app/addons", `{"plan":{"name":"herokuevents"}}`, http.StatusUnprocessableEntity, nil)
	})

	call(t, http.MethodDelete, sh.URL()+"/apps/shop-app/addons/herokuevents", "", http.StatusOK, nil)
	assert.Empty(t, h.store.snapshot(), "deprovisioned")
	vars = nil
	call(t, http.MethodGet, sh.URL()+"/apps/shop-app/config-vars", "", http.StatusOK, &vars)
	assert.Empty(t, vars)
	r := h.doHeroku(http.MethodDelete, "/heroku/resources/"+created.ID, "", v3Accept)
	assert.Equal(t, http.StatusGone, r.Status)
	_, err = partner.Learn(t.Context(), created.ID)
	assert.Error(t, err, "no tenant, no token")
}

// TestHerokuLinkFailureStillProvisions: a grant the identity service
// refuses leaves a working tenant (logged), and a repeat tries again.
func TestHerokuLinkFailureStillProvisions(t *testing.T) {
	var calls int
	h := newPartnerHarness(t, func(context.Context, string, string) error {
		calls++
		return &heroku.APIError{Status: 401, ID: "unauthorized", Message: "Invalid grant."}
	})
	body := strings.Replace(v3Body, "2016-03-03T18:01:31-0800", fixedNow.Add(time.Minute).Format("2006-01-02T15:04:05-0700"), 1)
	require.Equal(t, http.StatusOK, h.doHeroku(http.MethodPost, "/heroku/resources", body, v3Accept).Status)
	require.Equal(t, http.StatusOK, h.doHeroku(http.MethodPost, "/heroku/resources", body, v3Accept).Status)
	assert.Equal(t, 2, calls)
	assert.Contains(t, h.logs.String(), "heroku link failed")
	// An expired grant is not even tried.
	require.Equal(t, http.StatusOK, h.doHeroku(http.MethodPost, "/heroku/resources", v3Body, v3Accept).Status)
	assert.Equal(t, 2, calls)
}

func call(t *testing.T, method, u, body string, status int, out any) {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), method, u, strings.NewReader(body))
	require.NoError(t, err)
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	var raw json.RawMessage
	_ = json.NewDecoder(resp.Body).Decode(&raw)
	require.Equal(t, status, resp.StatusCode, "%s %s: %s", method, u, raw)
	if out != nil {
		require.NoError(t, json.Unmarshal(raw, out))
	}
}

func FuzzHerokuProvision(f *testing.F) {
	f.Add(v3Body)
	f.Add(`{"uuid":"21111111-2222-3333-4444-555555555555","oauth_grant":null}`)
	f.Add(`{"options":{"app":3}}`)
	f.Fuzz(func(t *testing.T, body string) {
		h := newPartnerHarness(t, nil)
		put := h.doHeroku(http.MethodPut, "/heroku/resources/"+v3UUID, body, v3Accept)
		if put.Status >= 500 || put.Status == http.StatusOK {
			t.Fatalf("plan change of an unknown resource: status %d for %q: %s", put.Status, body, put.Body)
		}
		r := h.doHeroku(http.MethodPost, "/heroku/resources", body, v3Accept)
		if r.Status >= 500 {
			t.Fatalf("status %d for %q: %s", r.Status, body, r.Body)
		}
		if r.Status != http.StatusOK {
			_, msg := r.errBody(t)
			if msg == "" {
				t.Fatalf("no message for %q", body)
			}
			if len(h.store.snapshot()) != 0 {
				t.Fatalf("a refused provision changed the store")
			}
		}
	})
}
