package addon_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/herokuevents/herokuevents/shared/addon"
)

func env(kv map[string]string) func(string) string { return func(k string) string { return kv[k] } }

var secrets = env(map[string]string{addon.EnvPassword: "pw-123", addon.EnvSSOSalt: "salt-456"})

// TestRepositoryManifest loads the addon-manifest.json at the repository
// root with the operator's secrets in the environment.
func TestRepositoryManifest(t *testing.T) {
	m, err := addon.Load(filepath.Join("..", "..", "addon-manifest.json"), secrets)
	require.NoError(t, err)
	assert.Equal(t, "herokuevents", m.ID)
	assert.Equal(t, "pw-123", m.API.Password)
	assert.Equal(t, "salt-456", m.API.SSOSalt)
	assert.Equal(t, "HEROKUEVENTS", m.Prefix())
	for _, v := range []string{addon.VarAPIURL, addon.VarPublishURL, addon.VarSubscribeURL} {
		assert.True(t, m.Declares(m.Var(v)), "%s declared", m.Var(v))
	}
	assert.True(t, m.Requires(addon.RequiresLogInput))
	assert.Equal(t, []string{"us", "eu"}, m.API.Regions)
	assert.True(t, strings.HasPrefix(m.API.Production.BaseURL, "https://"))
	assert.True(t, strings.HasSuffix(m.API.Test.BaseURL, "/heroku/resources"))

	_, err = addon.Load(filepath.Join("..", "..", "addon-manifest.json"), env(nil))
	require.ErrorIs(t, err, addon.ErrInvalid, "placeholders without secrets")
	assert.Contains(t, err.Error(), "HEROKU_ADDON_PASSWORD is not set")
}

func TestParse(t *testing.T) {
	valid := `{"id":"herokuevents","$base":"x","api":{"version":"3","config_vars":["HEROKUEVENTS_API_URL"],
	"password":"${HEROKU_ADDON_PASSWORD}","sso_salt":"s","regions":["us"],
	"production":{"base_url":"https://h.example.com/heroku/resources","sso_url":"https://h.example.com/sso/login"},
	"test":{"base_url":"http://127.0.0.1:5454/heroku/resources","sso_url":"http://127.0.0.1:5454/sso/login"}}}`
	tests := []struct {
		name, body, wantErr string
	}{
		{"valid, unknown fields ignored", valid, ""},
		{"not JSON", `{`, "invalid add-on manifest"},
		{"bad id", strings.Replace(valid, `"herokuevents"`, `"Heroku Events"`, 1), "id"},
		{"version 1", strings.Replace(valid, `"version":"3"`, `"version":"1"`, 1), "api.version"},
		{"var without prefix", strings.Replace(valid, `HEROKUEVENTS_API_URL`, `OTHER_URL`, 1), "api.config_vars"},
		{"no regions", strings.Replace(valid, `["us"]`, `[]`, 1), "api.regions"},
		{"relative base_url", strings.Replace(valid, `https://h.example.com/heroku/resources`, `/heroku`, 1), "api.production.base_url"},
		{"unset placeholder", strings.Replace(valid, `"sso_salt":"s"`, `"sso_salt":"${NOPE}"`, 1), "NOPE is not set"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m, err := addon.Parse([]byte(tt.body), secrets)
			if tt.wantErr == "" {
				require.NoError(t, err)
				assert.Equal(t, "pw-123", m.API.Password)
				return
			}
			require.ErrorIs(t, err, addon.ErrInvalid)
			assert.Contains(t, err.Error(), tt.wantErr)
			assert.NotContains(t, err.Error(), "pw-123", "no secret in errors")
		})
	}
}

func TestCheck(t *testing.T) {
	m := &addon.Manifest{ID: "herokuevents", API: addon.API{Password: "pw"}}
	tests := []struct {
		id, pass string
		want     bool
	}{
		{"herokuevents", "pw", true},
		{"herokuevents", "pw2", false},
		{"wrong", "pw", false},
		{"", "", false},
	}
	for _, tt := range tests {
		t.Run(tt.id+":"+tt.pass, func(t *testing.T) { assert.Equal(t, tt.want, m.Check(tt.id, tt.pass)) })
	}
}

// TestSSOTokens checks the reference's worked examples (§3.2).
func TestSSOTokens(t *testing.T) {
	m := &addon.Manifest{API: addon.API{SSOSalt: "2f97bfa52ca102f8874716e2eb1d3b4920ad0be4"}}
	assert.Equal(t, "bb466eb1d6bc345d11072c3cd25c311f21be130d", m.ResourceToken("123", "1267597772"))
	m.API.SSOSalt = "7CwqmJLEjv8YZTXK"
	id := "01234567-89ab-cdef-0123-456789abcdef"
	assert.Equal(t, "8c00242e15a8899a9c4172b3cc7131819e65a3d2", m.ResourceToken(id, "1796216400"))
	assert.Equal(t, "7668ea00616874f6cab0a0f12ba659990ade8436b3bc7292508f528ba38ce8ce",
		m.UserScopedResourceToken(id, "1796216400", "11111111-2222-3333-4444-555555555555", "dev@example.com"))
}

func FuzzParse(f *testing.F) {
	b, err := os.ReadFile(filepath.Join("..", "..", "addon-manifest.json"))
	require.NoError(f, err)
	f.Add(b)
	f.Add([]byte(`{"id":"x","api":{"password":"${A}${B}"}}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		m, err := addon.Parse(b, secrets)
		if err != nil {
			require.ErrorIs(t, err, addon.ErrInvalid)
			return
		}
		require.NotEmpty(t, m.API.Password)
		require.True(t, strings.HasPrefix(m.API.ConfigVars[0], m.Prefix()+"_"))
	})
}
