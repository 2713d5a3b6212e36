package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/herokuevents/herokuevents/infra/embedded"
	sfauth "github.com/herokuevents/herokuevents/shared/authorization"
	"github.com/herokuevents/herokuevents/shared/config"
	"github.com/herokuevents/herokuevents/shared/salesforce/standin"
)

// authEnv is the embedded mode and a stand-in org, with the stand-in's
// connected app as the operator's default.
type authEnv struct {
	org    *standin.Org
	srv    *embedded.Server
	apiURL string
	key    *rsa.PrivateKey
}

func startAuthEnv(t *testing.T) *authEnv {
	t.Helper()
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	require.NoError(t, err)
	org, err := standin.Start(standin.Options{
		JWTKeys: []*rsa.PublicKey{&key.PublicKey}, Logger: slog.New(slog.DiscardHandler),
	})
	require.NoError(t, err)
	t.Cleanup(func() { _ = org.Close() })
	t.Setenv(sfauth.EnvClientID, org.ClientID())
	t.Setenv(sfauth.EnvClientSecret, org.ClientSecret())
	srv, err := embedded.Start(t.Context(), embedded.Options{
		Addr: "127.0.0.1:0", DataDir: t.TempDir(), App: testApp,
		AllowEgress: []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")},
		Logger:      slog.New(slog.DiscardHandler),
	})
	require.NoError(t, err)
	t.Cleanup(func() { _ = srv.Close() })
	interval := authPollInterval
	authPollInterval = 20 * time.Millisecond
	t.Cleanup(func() { authPollInterval = interval })
	return &authEnv{org: org, srv: srv, apiURL: srv.Var("HEROKUEVENTS_API_URL"), key: key}
}

// stubBrowser replaces openBrowser; browse decides what the "browser" does
// with the URL it was asked to open.
func stubBrowser(t *testing.T, browse func(browser, url string) error) *[]string {
	t.Helper()
	var mu sync.Mutex
	var opened []string
	prev := openBrowser
	openBrowser = func(browser, url string) error {
		mu.Lock()
		opened = append(opened, browser)
		mu.Unlock()
		return browse(browser, url)
	}
	t.Cleanup(func() { openBrowser = prev })
	return &opened
}

// follow is a browser: it follows the authorize URL, the stand-in approves
// and redirects to the callback of the embedded server.
func follow(t *testing.T) func(string, string) error {
	return func(_, u string) error {
		go func() {
			resp, err := http.Get(u)
			if assert.NoError(t, err) {
				body, _ := io.ReadAll(resp.Body)
				resp.Body.Close()
				assert.Contains(t, string(body), "You can close this window.")
			}
		}()
		return nil
	}
}

func TestAuthorizationsBrowserFlow(t *testing.T) {
	e := startAuthEnv(t)
	opened := stubBrowser(t, follow(t))

	r := run(t, tty{strings.NewReader("\n")}, "authorizations:salesforce:create", "my-org", "--login-url", e.org.LoginURL(),
		"-a", testApp, "--api-url", e.apiURL)
	require.NoError(t, r.err, r.stderr)
	assert.Empty(t, r.stdout)
	lines := strings.Split(r.stderr, "\n")
	require.GreaterOrEqual(t, len(lines), 3, r.stderr)
	assert.True(t, strings.HasPrefix(lines[0], "Opening browser to "+e.org.LoginURL()+"/services/oauth2/authorize?"), lines[0])
	assert.Equal(t, "Press any key to open up the browser to authenticate with Salesforce, or q to exit: ", lines[1])
	assert.Equal(t, "Heroku Events: Waiting for authentication... done", lines[2])
	assert.Equal(t, []string{""}, *opened, "the system browser")

	r = run(t, nil, "authorizations", "-a", testApp, "--api-url", e.apiURL)
	require.NoError(t, r.err)
	details := "Org Name: my-org, Url: " + e.org.InstanceURL() + ", Status: connected"
	assert.Equal(t, ""+
		"=== Heroku Events authorizations for app my-app\n\n"+
		" Alias  Platform   Details\n"+
		" "+rule(6, 10, len(details))+"\n"+
		" my-org salesforce "+details+"\n", r.stdout)

	r = run(t, nil, "authorizations:info", "my-org", "-a", testApp, "--api-url", e.apiURL)
	require.NoError(t, r.err)
	for _, want := range []string{"Alias:     my-org\n", "Status:    connected\n", "Url:       " + e.org.InstanceURL() + "\n",
		"Org Id:    " + e.org.OrgID() + "\n", "Flow:      web\n", "Username:  " + e.org.Username() + "\n"} {
		assert.Contains(t, r.stdout, want)
	}

	r = run(t, nil, "authorizations", "--json", "-a", testApp, "--api-url", e.apiURL)
	require.NoError(t, r.err)
	assert.Contains(t, r.stdout, `"org_name": "my-org"`)
	assert.NotContains(t, r.stdout, "token")

	r = run(t, nil, "authorizations:destroy", "my-org", "-c", testApp, "-a", testApp, "--api-url", e.apiURL)
	require.NoError(t, r.err)
	assert.Equal(t, "Destroying authorization my-org on my-app... done\n", r.stderr)
	r = run(t, nil, "authorizations", "-a", testApp, "--api-url", e.apiURL)
	require.NoError(t, r.err)
	assert.Equal(t, "No Heroku Events authorizations for app my-app.\n", r.stdout)
}

func TestAuthorizationsBrowserFlag(t *testing.T) {
	e := startAuthEnv(t)
	t.Run("named browser, no terminal", func(t *testing.T) {
		opened := stubBrowser(t, follow(t))
		r := run(t, nil, "authorizations:salesforce:create", "sandbox", "--login-url", e.org.LoginURL(), "--browser", "firefox",
			"-a", testApp, "--api-url", e.apiURL)
		require.NoError(t, r.err, r.stderr)
		assert.NotContains(t, r.stderr, "Press any key")
		assert.Contains(t, r.stderr, "Heroku Events: Waiting for authentication... done")
		assert.Equal(t, []string{"firefox"}, *opened)
	})
	t.Run("browser fails: warn and keep waiting", func(t *testing.T) {
		urls := make(chan string, 1)
		stubBrowser(t, func(_, u string) error { urls <- u; return errors.New("no such browser") })
		done := make(chan result, 1)
		go func() {
			done <- run(t, nil, "authorizations:salesforce:create", "manual", "--login-url", e.org.LoginURL(), "--browser", "nope",
				"-a", testApp, "--api-url", e.apiURL)
		}()
		// The user copies the printed URL into a browser.
		resp, err := http.Get(<-urls)
		require.NoError(t, err)
		resp.Body.Close()
		r := <-done
		require.NoError(t, r.err, r.stderr)
		assert.Contains(t, r.stderr, " ▸    Cannot open browser.\n")
		assert.Contains(t, r.stderr, "Heroku Events: Waiting for authentication... done")
	})
	t.Run("denied login fails with the reason", func(t *testing.T) {
		stubBrowser(t, func(_, u string) error {
			// The user denies access: Salesforce redirects with an error.
			go func() {
				client := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
				resp, err := client.Get(u)
				if !assert.NoError(t, err) {
					return
				}
				resp.Body.Close()
				loc, _ := resp.Location()
				q := loc.Query()
				q.Del("code")
				q.Set("error", "access_denied")
				q.Set("error_description", "end-user denied authorization")
				loc.RawQuery = q.Encode()
				resp, err = http.Get(loc.String())
				if assert.NoError(t, err) {
					resp.Body.Close()
				}
			}()
			return nil
		})
		r := run(t, nil, "authorizations:salesforce:create", "denied", "--login-url", e.org.LoginURL(), "--browser", "x",
			"-a", testApp, "--api-url", e.apiURL)
		require.Error(t, r.err)
		assert.Contains(t, r.err.Error(), "access_denied")
		assert.Contains(t, r.stderr, "Heroku Events: Waiting for authentication... !")
	})
}

func TestAuthorizationsQuitDeletes(t *testing.T) {
	e := startAuthEnv(t)
	opened := stubBrowser(t, follow(t))
	r := run(t, tty{strings.NewReader("q\n")}, "authorizations:salesforce:create", "my-org", "--login-url", e.org.LoginURL(),
		"-a", testApp, "--api-url", e.apiURL)
	require.ErrorIs(t, r.err, errCancelled)
	assert.Empty(t, *opened)
	assert.NotContains(t, r.stderr, "Waiting for authentication")
	r = run(t, nil, "authorizations", "-a", testApp, "--api-url", e.apiURL)
	require.NoError(t, r.err)
	assert.Equal(t, "No Heroku Events authorizations for app my-app.\n", r.stdout, "the pending authorization was deleted")
}

func TestAuthorizationsHeadless(t *testing.T) {
	e := startAuthEnv(t)
	keyFile := filepath.Join(t.TempDir(), "server.key")
	require.NoError(t, os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY",
		Bytes: x509.MarshalPKCS1PrivateKey(e.key)}), 0o600))
	tests := []struct {
		name, alias string
		args        []string
		flow        string
	}{
		{name: "jwt bearer", alias: "jwt-org", flow: "jwt",
			args: []string{"--client-id", e.org.ClientID(), "--username", e.org.Username(), "--jwt-key-file", keyFile}},
		{name: "client credentials", alias: "cc-org", flow: "client_credentials",
			args: []string{"--client-id", e.org.ClientID(), "--client-secret", e.org.ClientSecret()}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			args := append([]string{"authorizations:salesforce:create", tt.alias, "--login-url", e.org.LoginURL(),
				"-a", testApp, "--api-url", e.apiURL}, tt.args...)
			r := run(t, nil, args...)
			require.NoError(t, r.err, r.stderr)
			assert.Equal(t, "Creating authorization "+tt.alias+"... done\n", r.stderr)
			r = run(t, nil, "authorizations:info", tt.alias, "-a", testApp, "--api-url", e.apiURL)
			require.NoError(t, r.err)
			assert.Contains(t, r.stdout, "Flow:      "+tt.flow+"\n")
			assert.Contains(t, r.stdout, "Status:    connected\n")
		})
	}
	t.Run("refused", func(t *testing.T) {
		r := run(t, nil, "authorizations:salesforce:create", "bad", "--login-url", e.org.LoginURL(),
			"--client-id", e.org.ClientID(), "--client-secret", "wrong", "-a", testApp, "--api-url", e.apiURL)
		require.Error(t, r.err)
		assert.Contains(t, r.err.Error(), "invalid_client")
		assert.Equal(t, "Creating authorization bad... !\n", r.stderr)
	})
	t.Run("duplicate", func(t *testing.T) {
		r := run(t, nil, "authorizations:salesforce:create", "cc-org", "--login-url", e.org.LoginURL(),
			"--client-id", e.org.ClientID(), "--client-secret", e.org.ClientSecret(), "-a", testApp, "--api-url", e.apiURL)
		require.Error(t, r.err)
		assert.Equal(t, "Authorization cc-org already exists.", r.err.Error())
	})
}

func TestAuthorizationsFlagErrors(t *testing.T) {
	api := newFakeAPI(t, nil)
	tests := []struct {
		args []string
		err  string
	}{
		{args: []string{"--jwt-key-file", "k.pem"}, err: "--jwt-key-file needs --client-id and --username"},
		{args: []string{"--username", "u"}, err: "--username is only used with --jwt-key-file"},
		{args: []string{"--client-secret", "s"}, err: "--client-secret needs --client-id"},
		{args: []string{"--client-id", "c", "--client-secret", "s", "--username", "u", "--jwt-key-file", "k"}, err: "either --client-secret or --jwt-key-file"},
		{args: []string{"--client-id", "c", "--username", "u", "--jwt-key-file", "/nonexistent/k.pem"}, err: "read --jwt-key-file"},
	}
	for _, tt := range tests {
		t.Run(tt.err, func(t *testing.T) {
			r := run(t, nil, append([]string{"authorizations:salesforce:create", "x", "-a", testApp, "--api-url", api.url()}, tt.args...)...)
			require.Error(t, r.err)
			assert.Contains(t, r.err.Error(), tt.err)
			assert.Empty(t, api.all(), "nothing sent")
		})
	}
	t.Run("unknown alias", func(t *testing.T) {
		api := newFakeAPI(t, map[string]reply{"GET /v1/tenants/t-123/authorizations/nope": {404,
			`{"id":"not_found","message":"Couldn't find that authorization: nope."}`}})
		r := run(t, nil, "authorizations:info", "nope", "-a", testApp, "--api-url", api.url())
		require.Error(t, r.err)
		assert.Equal(t, "Couldn't find that authorization: nope.", r.err.Error())
	})
}

func TestAuthorizationsInterruptDeletes(t *testing.T) {
	e := startAuthEnv(t)
	opened := make(chan struct{}, 1)
	stubBrowser(t, func(string, string) error { opened <- struct{}{}; return nil })
	ctx, cancel := context.WithCancel(t.Context())
	root := newRoot()
	var out, errb bytes.Buffer
	root.SetOut(&out)
	root.SetErr(&errb)
	root.SetIn(strings.NewReader(""))
	root.SetArgs([]string{"authorizations:salesforce:create", "my-org", "--login-url", e.org.LoginURL(), "--browser", "b",
		"-a", testApp, "--api-url", e.apiURL})
	done := make(chan error, 1)
	go func() { done <- root.ExecuteContext(ctx) }()
	<-opened
	cancel() // Ctrl-C while waiting
	require.ErrorIs(t, <-done, errCancelled)
	items, err := e.srv.Store().List(t.Context(), tenantOfURL(t, e.apiURL), config.KindAuthorization)
	require.NoError(t, err)
	assert.Empty(t, items, "the pending authorization was deleted")
}

func tenantOfURL(t *testing.T, raw string) string {
	t.Helper()
	c, err := newAPIClient(raw)
	require.NoError(t, err)
	return c.tenant
}

// After exporting what dev:salesforce prints, authorizations:salesforce:create
// logs in to SALESFORCE_LOGIN_URL without --login-url (browser and headless
// flows), and opens $BROWSER.
func TestAuthorizationsLoginURLFromEnvironment(t *testing.T) {
	e := startAuthEnv(t)
	t.Setenv("SALESFORCE_LOGIN_URL", e.org.LoginURL())
	t.Setenv("BROWSER", "my-browser")
	opened := stubBrowser(t, follow(t))

	r := run(t, nil, "authorizations:salesforce:create", "web-org", "-a", testApp, "--api-url", e.apiURL)
	require.NoError(t, r.err, r.stderr)
	assert.Contains(t, r.stderr, "Opening browser to "+e.org.LoginURL()+"/services/oauth2/authorize?")
	assert.Equal(t, []string{"my-browser"}, *opened)

	r = run(t, nil, "authorizations:salesforce:create", "cc-org", "--client-id", e.org.ClientID(), "--client-secret", e.org.ClientSecret(),
		"-a", testApp, "--api-url", e.apiURL)
	require.NoError(t, r.err, r.stderr)
	for _, alias := range []string{"web-org", "cc-org"} {
		r = run(t, nil, "authorizations:info", alias, "-a", testApp, "--api-url", e.apiURL)
		require.NoError(t, r.err)
		assert.Contains(t, r.stdout, "Login Url: "+e.org.LoginURL()+"\n")
		assert.Contains(t, r.stdout, "Status:    connected\n")
	}
}
