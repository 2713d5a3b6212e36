package main

import (
	"encoding/json"
	"html"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/herokuevents/herokuevents/shared/addon"
	"github.com/herokuevents/herokuevents/shared/heroku/standin"
)

// fakeAddon answers the Partner API and SSO as an add-on does and records
// the provision requests.
type fakeAddon struct {
	mu        sync.Mutex
	provision []map[string]any
	headers   []http.Header
	ssoForm   map[string]string
}

func (f *fakeAddon) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	defer f.mu.Unlock()
	w.Header().Set("Content-Type", "application/json")
	switch {
	case r.Method == http.MethodPost && r.URL.Path == "/heroku/resources":
		var body map[string]any
		_ = json.NewDecoder(r.Body).Decode(&body)
		f.provision = append(f.provision, body)
		f.headers = append(f.headers, r.Header.Clone())
		_ = json.NewEncoder(w).Encode(map[string]any{"id": body["uuid"], "message": "ready!",
			"config": map[string]string{"HEROKUEVENTS_API_URL": "http://herokuevents:k@127.0.0.1:1/v1/tenants/" + body["uuid"].(string),
				"HEROKUEVENTS_PUBLISH_URL": "http://t:p@127.0.0.1:1/publish"}})
	case r.Method == http.MethodDelete && strings.HasPrefix(r.URL.Path, "/heroku/resources/"):
		w.WriteHeader(http.StatusNoContent)
	case r.Method == http.MethodPost && r.URL.Path == "/sso/login":
		_ = r.ParseForm()
		f.ssoForm = map[string]string{}
		for k := range r.PostForm {
			f.ssoForm[k] = r.PostForm.Get(k)
		}
		http.Redirect(w, r, "/dashboard", http.StatusSeeOther)
	default:
		w.WriteHeader(http.StatusNotFound)
	}
}

func TestDevHerokuCommands(t *testing.T) {
	fa := &fakeAddon{}
	addonSrv := httptest.NewServer(fa)
	t.Cleanup(addonSrv.Close)
	m, err := addon.Load("../../addon-manifest.json", func(k string) string { return map[string]string{addon.EnvPassword: "pw", addon.EnvSSOSalt: "salt"}[k] })
	require.NoError(t, err)
	m.API.Test = addon.Endpoints{BaseURL: addonSrv.URL + "/heroku/resources", SSOURL: addonSrv.URL + "/sso/login"}
	h, err := standin.Start(standin.Options{Manifest: m})
	require.NoError(t, err)
	t.Cleanup(func() { _ = h.Close() })
	hu := "--heroku-url=" + h.URL()

	r := run(t, nil, "dev:heroku:addons:create", "herokuevents", "-a", "my-app", hu, "--", "--retention", "30", "--verbose")
	require.NoError(t, r.err, r.stderr)
	assert.Equal(t, "Creating herokuevents on ⬢ my-app... done\n", r.stderr)
	assert.Regexp(t, `^ready!\nCreated herokuevents-[a-z]+-\d{5} as HEROKUEVENTS_API_URL, HEROKUEVENTS_PUBLISH_URL\n`, r.stdout)
	require.Len(t, fa.provision, 1)
	p := fa.provision[0]
	assert.Equal(t, map[string]any{"retention": "30", "verbose": true}, p["options"], "options after -- as the Heroku CLI sends them")
	assert.Equal(t, "test", p["plan"])
	assert.NotContains(t, p, "app", "Heroku sends no app name")
	assert.Contains(t, p["log_input_url"], "token:t.")
	assert.Equal(t, "authorization_code", p["oauth_grant"].(map[string]any)["type"])
	assert.Regexp(t, `^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d[+-]\d{4}$`, p["oauth_grant"].(map[string]any)["expires_at"], "Heroku's documented offset format")
	assert.Equal(t, "application/vnd.heroku-addons+json; version=3", fa.headers[0].Get("Accept"))
	user, pass, _ := (&http.Request{Header: fa.headers[0]}).BasicAuth()
	assert.Equal(t, [2]string{"herokuevents", "pw"}, [2]string{user, pass})

	tests := []struct {
		name string
		args []string
		env  string
		want string
	}{
		{"raw value", []string{"config:get", "HEROKUEVENTS_PUBLISH_URL", "-a", "my-app"}, "", "http://t:p@127.0.0.1:1/publish\n"},
		{"HEROKU_APP", []string{"config:get", "HEROKUEVENTS_PUBLISH_URL"}, "my-app", "http://t:p@127.0.0.1:1/publish\n"},
		{"unset is an empty line", []string{"config:get", "NOPE", "-a", "my-app"}, "", "\n"},
		{"shell", []string{"config:get", "HEROKUEVENTS_PUBLISH_URL", "-s", "-a", "my-app"}, "", "HEROKUEVENTS_PUBLISH_URL=http://t:p@127.0.0.1:1/publish\n"},
		{"json", []string{"config:get", "NOPE", "-j", "-a", "my-app"}, "", "{\n  \"key\": \"NOPE\",\n  \"value\": null\n}\n"},
		{"open", []string{"dev:heroku:addons:open", "herokuevents", "-a", "my-app"}, "", "Opening " + h.URL() + "/addons-sso/my-app/herokuevents...\n"},
		{"open --show-url", []string{"dev:heroku:addons:open", "herokuevents", "--show-url", "-a", "my-app"}, "", h.URL() + "/addons-sso/my-app/herokuevents\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Setenv("HEROKU_APP", tt.env)
			r := run(t, nil, append(tt.args, hu)...)
			require.NoError(t, r.err, r.stderr)
			assert.Equal(t, tt.want, r.stdout)
		})
	}
	assert.Equal(t, m.ResourceToken(fa.ssoForm["resource_id"], fa.ssoForm["timestamp"]), fa.ssoForm["resource_token"], "the SSO form Heroku posts")
	assert.Equal(t, p["uuid"], fa.ssoForm["resource_id"])

	t.Run("the page addons:open prints posts the SSO form from the browser", func(t *testing.T) {
		fa.ssoForm = nil
		resp, err := http.Get(h.URL() + "/addons-sso/my-app/herokuevents")
		require.NoError(t, err)
		page, _ := io.ReadAll(resp.Body)
		_ = resp.Body.Close()
		require.Equal(t, http.StatusOK, resp.StatusCode)
		assert.Contains(t, resp.Header.Get("Content-Type"), "text/html")
		action := regexp.MustCompile(`<form method="post" action="([^"]+)">`).FindSubmatch(page)
		require.NotNil(t, action, "%s", page)
		form := url.Values{}
		for _, in := range regexp.MustCompile(`<input type="hidden" name="([^"]+)" value="([^"]*)">`).FindAllSubmatch(page, -1) {
			form.Set(string(in[1]), html.UnescapeString(string(in[2])))
		}
		client := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
		resp, err = client.PostForm(html.UnescapeString(string(action[1])), form)
		require.NoError(t, err)
		_ = resp.Body.Close()
		assert.Equal(t, http.StatusSeeOther, resp.StatusCode, "the add-on signs the browser in")
		assert.Equal(t, m.ResourceToken(fa.ssoForm["resource_id"], fa.ssoForm["timestamp"]), fa.ssoForm["resource_token"])
		resp, err = http.Get(h.URL() + "/addons-sso/my-app/nope")
		require.NoError(t, err)
		_ = resp.Body.Close()
		assert.Equal(t, http.StatusNotFound, resp.StatusCode)
	})

	t.Setenv("HEROKU_APP", "")
	r = run(t, nil, "config:get", "X", hu)
	require.ErrorContains(t, r.err, "HEROKU_APP")
	r = run(t, nil, "dev:heroku:addons:destroy", "herokuevents", "-a", "my-app", hu)
	require.Error(t, r.err, "destroy asks for confirmation")
	r = run(t, nil, "dev:heroku:addons:destroy", "herokuevents", "-a", "my-app", "--confirm", "my-app", hu)
	require.NoError(t, r.err, r.stderr)
	assert.Regexp(t, `^Destroying herokuevents-[a-z]+-\d{5} on ⬢ my-app\.\.\. done\n$`, r.stderr)
	r = run(t, nil, "config:get", "HEROKUEVENTS_PUBLISH_URL", "-a", "my-app", hu)
	require.NoError(t, r.err)
	assert.Equal(t, "\n", r.stdout, "the config vars went with the add-on")
}

func TestAddonOptions(t *testing.T) {
	assert.Equal(t, map[string]any{"a": "1", "b": true, "c": "x=y", "d": "2"},
		addonOptions([]string{"--a", "1", "--b", "--c=x=y", "stray", "--d", "2"}))
	assert.Empty(t, addonOptions(nil))
}
