// Package addon is the Heroku add-on manifest of herokuevents
// (addon-manifest.json, reference heroku-addon.md §1.6): the add-on id and
// the Partner API password Heroku authenticates with, the SSO salt, the
// config vars handed to apps, regions, required features and the
// endpoints. Its secrets are placeholders such as ${HEROKU_ADDON_PASSWORD}
// filled from the operator's environment (secrets on AWS), so the file can
// be committed.
package addon

import (
	"crypto/sha1" //nolint:gosec // Heroku's SSO resource_token is defined as SHA-1.
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"os"
	"regexp"
	"slices"
	"strings"
	"sync"
)

// The operator's secrets the manifest's placeholders name by default.
const (
	EnvPassword = "HEROKU_ADDON_PASSWORD"
	EnvSSOSalt  = "HEROKU_SSO_SALT"
)

// Config var suffixes herokuevents hands to apps (prefixed with the
// manifest's config_vars_prefix and "_").
const (
	VarAPIURL       = "API_URL"
	VarPublishURL   = "PUBLISH_URL"
	VarSubscribeURL = "SUBSCRIBE_URL"
)

// Features of api.requires.
const (
	RequiresLogInput = "log_input"
)

// ErrInvalid is matched by the errors of Parse and Load for a manifest
// that is not valid.
var ErrInvalid = errors.New("invalid add-on manifest")

// Manifest is addon-manifest.json.
type Manifest struct {
	ID            string `json:"id"`
	Name          string `json:"name,omitempty"`
	CLIPluginName string `json:"cli_plugin_name,omitempty"`
	API           API    `json:"api"`
}

// API is the manifest's "api" object.
type API struct {
	Version          string    `json:"version"`
	ConfigVarsPrefix string    `json:"config_vars_prefix,omitempty"`
	ConfigVars       []string  `json:"config_vars"`
	Password         string    `json:"password"`
	SSOSalt          string    `json:"sso_salt"`
	Regions          []string  `json:"regions"`
	Requires         []string  `json:"requires,omitempty"`
	Production       Endpoints `json:"production"`
	Test             Endpoints `json:"test"`
}

// Endpoints are where Heroku calls the add-on: the Partner API's base URL
// (…/heroku/resources) and the SSO login form's target.
type Endpoints struct {
	BaseURL string `json:"base_url"`
	SSOURL  string `json:"sso_url"`
}

var (
	idPattern      = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`^[a-z][a-z0-9-]{1,49}$`) })
	varPattern     = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`^[A-Z][0-9A-Z_]+$`) })
	placeholderPat = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`\$\{([A-Za-z_][A-Za-z0-9_]*)\}`) })
)

// Load reads and parses the manifest file at path (see Parse).
func Load(path string, getenv func(string) string) (*Manifest, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read add-on manifest: %w", err)
	}
	m, err := Parse(b, getenv)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return m, nil
}

// Parse decodes a manifest (unknown fields such as "$base" are ignored),
// fills the ${NAME} placeholders of api.password, api.sso_salt and the
// endpoints with getenv (os.Getenv when nil), and checks it. Errors match
// ErrInvalid and name the field; they never contain a secret.
func Parse(b []byte, getenv func(string) string) (*Manifest, error) {
	if getenv == nil {
		getenv = os.Getenv
	}
	var m Manifest
	if err := json.Unmarshal(b, &m); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrInvalid, err)
	}
	for _, f := range []struct {
		name string
		v    *string
	}{
		{"api.password", &m.API.Password}, {"api.sso_salt", &m.API.SSOSalt},
		{"api.production.base_url", &m.API.Production.BaseURL}, {"api.production.sso_url", &m.API.Production.SSOURL},
		{"api.test.base_url", &m.API.Test.BaseURL}, {"api.test.sso_url", &m.API.Test.SSOURL},
	} {
		v, err := expand(*f.v, getenv)
		if err != nil {
			return nil, fmt.Errorf("%w: %s: %w", ErrInvalid, f.name, err)
		}
		*f.v = v
	}
	if err := m.check(); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrInvalid, err)
	}
	return &m, nil
}

// expand replaces each ${NAME} of s with getenv(NAME); an unset or empty
// one is an error naming it.
func expand(s string, getenv func(string) string) (string, error) {
	var missing []string
	out := placeholderPat().ReplaceAllStringFunc(s, func(p string) string {
		name := placeholderPat().FindStringSubmatch(p)[1]
		v := getenv(name)
		if v == "" {
			missing = append(missing, name)
		}
		return v
	})
	if len(missing) > 0 {
		return "", fmt.Errorf("%s is not set", strings.Join(missing, ", "))
	}
	return out, nil
}

func (m *Manifest) check() error {
	if !idPattern().MatchString(m.ID) {
		return fmt.Errorf("id %q: use 2 to 50 lower-case letters, digits or '-', starting with a letter", m.ID)
	}
	if m.API.Version != "3" {
		return fmt.Errorf("api.version %q: herokuevents speaks version \"3\" of the Add-on Partner API", m.API.Version)
	}
	if m.API.Password == "" {
		return errors.New("api.password is empty")
	}
	if m.API.SSOSalt == "" {
		return errors.New("api.sso_salt is empty")
	}
	prefix := m.Prefix()
	if !varPattern().MatchString(prefix) {
		return fmt.Errorf("api.config_vars_prefix %q: use upper-case letters, digits and '_'", prefix)
	}
	if len(m.API.ConfigVars) == 0 {
		return errors.New("api.config_vars is empty")
	}
	for _, v := range m.API.ConfigVars {
		if !strings.HasPrefix(v, prefix+"_") || !varPattern().MatchString(v) {
			return fmt.Errorf("api.config_vars: %q does not start with %s_ followed by upper-case letters, digits or '_'", v, prefix)
		}
	}
	if len(m.API.Regions) == 0 {
		return errors.New("api.regions is empty")
	}
	for _, e := range []struct {
		name, raw string
	}{
		{"api.production.base_url", m.API.Production.BaseURL}, {"api.production.sso_url", m.API.Production.SSOURL},
		{"api.test.base_url", m.API.Test.BaseURL}, {"api.test.sso_url", m.API.Test.SSOURL},
	} {
		u, err := url.Parse(e.raw)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return fmt.Errorf("%s %q is not an absolute http(s) URL", e.name, e.raw)
		}
	}
	return nil
}

// Prefix is config_vars_prefix, by default the id upper-cased with '-'
// turned into '_'.
func (m *Manifest) Prefix() string {
	if m.API.ConfigVarsPrefix != "" {
		return m.API.ConfigVarsPrefix
	}
	return strings.ReplaceAll(strings.ToUpper(m.ID), "-", "_")
}

// Var is the config var name of suffix (VarAPIURL …): PREFIX_SUFFIX.
func (m *Manifest) Var(suffix string) string { return m.Prefix() + "_" + suffix }

// Declares reports whether the manifest lists the config var name.
func (m *Manifest) Declares(name string) bool { return slices.Contains(m.API.ConfigVars, name) }

// Requires reports whether api.requires lists feature (RequiresLogInput).
func (m *Manifest) Requires(feature string) bool { return slices.Contains(m.API.Requires, feature) }

// Check reports whether id and password are the manifest's id and
// api.password, Heroku's Basic auth on the Partner API. Both comparisons
// always run and take constant time for equal lengths.
func (m *Manifest) Check(id, password string) bool {
	idOK := subtle.ConstantTimeCompare([]byte(id), []byte(m.ID))
	passOK := subtle.ConstantTimeCompare([]byte(password), []byte(m.API.Password))
	return idOK&passOK == 1
}

// ResourceToken is the SSO form's resource_token for a resource and a
// timestamp (Unix seconds as sent): lower-case hex
// sha1("<resource_id>:<sso_salt>:<timestamp>").
func (m *Manifest) ResourceToken(resourceID, timestamp string) string {
	sum := sha1.Sum([]byte(resourceID + ":" + m.API.SSOSalt + ":" + timestamp)) //nolint:gosec // Heroku's definition.
	return hex.EncodeToString(sum[:])
}

// UserScopedResourceToken is the SSO form's user_scoped_resource_token:
// lower-case hex sha256("<resource_id>:<sso_salt>:<timestamp>:<user_id>:<email>").
func (m *Manifest) UserScopedResourceToken(resourceID, timestamp, userID, email string) string {
	sum := sha256.Sum256([]byte(resourceID + ":" + m.API.SSOSalt + ":" + timestamp + ":" + userID + ":" + email))
	return hex.EncodeToString(sum[:])
}
