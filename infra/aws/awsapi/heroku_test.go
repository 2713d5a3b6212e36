package awsapi_test

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/herokuevents/herokuevents/infra/aws/awsapi"
	"github.com/herokuevents/herokuevents/infra/aws/awsapp"
	"github.com/herokuevents/herokuevents/infra/aws/awsenv"
	"github.com/herokuevents/herokuevents/infra/aws/awslocal"
	"github.com/herokuevents/herokuevents/infra/aws/awslocal/awslocaltest"
	"github.com/herokuevents/herokuevents/shared/addon"
	"github.com/herokuevents/herokuevents/shared/config"
	"github.com/herokuevents/herokuevents/shared/heroku"
	"github.com/herokuevents/herokuevents/shared/heroku/standin"
	"github.com/herokuevents/herokuevents/shared/journal"
	"github.com/herokuevents/herokuevents/shared/platform/catalog"
)

func TestMain(m *testing.M) { awslocaltest.Main(m) }

// TestHerokuOnAWS: the Heroku stand-in provisions the api function's
// handler (DynamoDB, SQS, KMS in moto) as Heroku does: the manifest's id and
// password are the operator's, the grant is exchanged and the app learned
// through the stand-in's Platform API, a repeat answers the same config,
// the plan changes, and DELETE answers 204 then 410 with the tenant gone.
func TestHerokuOnAWS(t *testing.T) {
	st, err := awslocal.Deploy(t.Context(), awslocal.Options{
		Endpoint: awslocaltest.Moto(t).URL, Binaries: map[string]string{}, Functions: []string{}, NoPollers: true,
	})
	require.NoError(t, err)
	t.Cleanup(func() { _ = st.Close() })
	for k, v := range st.Env("ApiFunction") {
		t.Setenv(k, v)
	}
	user, pass := st.Operator()
	m, err := addon.Load("../../../addon-manifest.json", func(k string) string {
		return map[string]string{addon.EnvPassword: pass, addon.EnvSSOSalt: "salt"}[k]
	})
	require.NoError(t, err)
	require.Equal(t, user, m.ID, "the operator is the manifest's id")

	var handler http.Handler
	front := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { handler.ServeHTTP(w, r) }))
	t.Cleanup(front.Close)
	m.API.Test = addon.Endpoints{BaseURL: front.URL + "/heroku/resources", SSOURL: front.URL + "/sso/login"}
	sh, err := standin.Start(standin.Options{Manifest: m})
	require.NoError(t, err)
	t.Cleanup(func() { _ = sh.Close() })
	t.Setenv(heroku.EnvAPIURL, sh.URL())
	t.Setenv(heroku.EnvIDURL, sh.URL())
	t.Setenv(heroku.EnvClientSecret, sh.ClientSecret())

	env := awsenv.MustLoad(t.Context(), "api")
	app, err := awsapp.New(env, awsapp.Options{Platforms: catalog.All(), PublicURL: st.Env("ApiFunction")["PUBLIC_URL"]})
	require.NoError(t, err)
	handler, err = awsapi.Handler(app)
	require.NoError(t, err)

	var created struct {
		ID string `json:"id"`
	}
	call(t, http.MethodPost, sh.URL()+"/apps/shop-app/addons", "", `{"plan":{"name":"herokuevents:basic"}}`, http.StatusCreated, &created)
	store := app.Platforms.Deps().Store
	rec, err := config.Load[config.Tenant](t.Context(), store, "", config.KindTenant, "shop-app")
	require.NoError(t, err, "the app was learned through the Platform API")
	assert.Equal(t, created.ID, rec.Item.ID)
	assert.NotEmpty(t, rec.Value.HerokuTokenSealed)
	assert.NotEmpty(t, rec.Value.ConfigSealed)

	partnerAPI := front.URL + "/heroku/resources"
	var vars map[string]string
	call(t, http.MethodGet, sh.URL()+"/apps/shop-app/config-vars", "", "", http.StatusOK, &vars)
	var again struct {
		ID     string            `json:"id"`
		Config map[string]string `json:"config"`
	}
	call(t, http.MethodPost, partnerAPI, basic(user, pass), `{"uuid":"`+created.ID+`","plan":"basic","oauth_grant":null}`, http.StatusOK, &again)
	assert.Equal(t, created.ID, again.ID)
	assert.Equal(t, vars, again.Config, "a repeat answers the config Heroku holds")

	call(t, http.MethodPut, partnerAPI+"/"+created.ID, basic(user, pass), `{"plan":"premium"}`, http.StatusOK, nil)
	rec, err = config.Load[config.Tenant](t.Context(), store, "", config.KindTenant, created.ID)
	require.NoError(t, err)
	assert.Equal(t, "premium", rec.Value.Plan)

	call(t, http.MethodPost, partnerAPI, basic(user, "wrong"), `{"uuid":"`+created.ID+`"}`, http.StatusUnauthorized, nil)

	// A publication with delivery log entries, forgotten at deprovision.
	apiURL, err := url.Parse(again.Config["HEROKUEVENTS_API_URL"])
	require.NoError(t, err)
	key, _ := apiURL.User.Password()
	var pub struct {
		ID string `json:"id"`
	}
	call(t, http.MethodPost, front.URL+apiURL.Path+"/platforms/webhook/publications", "Bearer "+key,
		`{"name":"hook","url":"https://example.com/hook","skip_handshake":true}`, http.StatusCreated, &pub)
	at := time.Now().UTC()
	require.NoError(t, env.Journal().Append(t.Context(),
		journal.Entry{Tenant: created.ID, EventID: "ev-1", Time: at, Stage: journal.Accepted},
		journal.Entry{Tenant: created.ID, EventID: "ev-1", Time: at, Stage: journal.Attempt, Publication: pub.ID, Attempt: 1, Outcome: journal.Delivered}))
	entries, err := env.Journal().Event(t.Context(), created.ID, "ev-1")
	require.NoError(t, err)
	require.Len(t, entries, 2)

	call(t, http.MethodDelete, sh.URL()+"/apps/shop-app/addons/herokuevents", "", "", http.StatusOK, nil)
	_, err = store.Get(t.Context(), "", config.KindTenant, created.ID)
	require.ErrorIs(t, err, config.ErrNotFound)
	call(t, http.MethodDelete, partnerAPI+"/"+created.ID, basic(user, pass), "", http.StatusGone, nil)
	entries, err = env.Journal().Event(t.Context(), created.ID, "ev-1")
	require.NoError(t, err)
	assert.Empty(t, entries, "the delivery log is forgotten")
}

func basic(user, pass string) string {
	r, _ := http.NewRequest(http.MethodGet, "/", nil)
	r.SetBasicAuth(user, pass)
	return r.Header.Get("Authorization")
}

func call(t *testing.T, method, u, auth, body string, status int, out any) {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), method, u, strings.NewReader(body))
	require.NoError(t, err)
	if auth != "" {
		req.Header.Set("Authorization", auth)
	}
	req.Header.Set("Accept", "application/vnd.heroku-addons+json; version=3")
	res, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	require.Equal(t, status, res.StatusCode, "%s %s: %s", method, u, b)
	if out != nil {
		require.NoError(t, json.Unmarshal(b, out))
	}
}
