package main

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
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
	"github.com/herokuevents/herokuevents/shared/deliver"
)

const (
	testOpID   = "herokuevents"
	testOpPass = "operator-secret-password"
)

// fakePlatform fakes the operator routes: Basic auth, canned replies.
type fakePlatform struct {
	srv    *httptest.Server
	mu     sync.Mutex
	routes map[string]reply
	reqs   []request
}

func newFakePlatform(t *testing.T, routes map[string]reply) *fakePlatform {
	t.Helper()
	f := &fakePlatform{routes: routes}
	f.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		user, pass, _ := r.BasicAuth()
		f.mu.Lock()
		f.reqs = append(f.reqs, request{Method: r.Method, Path: r.URL.EscapedPath(), Body: string(body),
			Auth: user + ":" + pass, ContentType: r.Header.Get("Content-Type")})
		rep, ok := f.routes[r.Method+" "+r.URL.EscapedPath()]
		f.mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		switch {
		case user != testOpID || pass != testOpPass:
			w.WriteHeader(http.StatusUnauthorized)
			_, _ = io.WriteString(w, `{"id":"unauthorized","message":"Invalid credentials provided."}`)
		case ok:
			w.WriteHeader(rep.status)
			_, _ = io.WriteString(w, rep.body)
		default:
			w.WriteHeader(http.StatusNotFound)
			_, _ = io.WriteString(w, `{"id":"not_found","message":"no route `+r.Method+" "+r.URL.Path+`"}`)
		}
	}))
	t.Cleanup(f.srv.Close)
	return f
}

func (f *fakePlatform) url(user, pass string) string {
	return strings.Replace(f.srv.URL, "http://", "http://"+user+":"+pass+"@", 1)
}

func (f *fakePlatform) requests() []request {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]request(nil), f.reqs...)
}

const partnerJSON = `{"id":"myaddon","production_url":"https://myaddon.example.com/heroku/resources","test_url":"http://localhost:4567/heroku/resources",
	"test":true,"notify_url":"http://localhost:4567/heroku/resources/:id/events","requires":["attach_notify","deploy_notify"],
	"log_token":true,"max_attempts":5,"retry_horizon":"15m0s","created_at":"2026-01-02T15:04:05Z"}`

func writeManifest(t *testing.T, body string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "addon-manifest.json")
	require.NoError(t, os.WriteFile(path, []byte(body), 0o600))
	return path
}

func TestPartnersCommands(t *testing.T) {
	manifest := writeManifest(t, `{"id":"myaddon","api":{"password":"pw","production":{"base_url":"https://myaddon.example.com"}}}`)
	notJSON := writeManifest(t, `id: myaddon`)
	tests := []struct {
		name     string
		args     []string
		routes   map[string]reply
		stdout   string
		stderr   string
		err      string
		wantReq  string // "METHOD path" of the one request expected, "" = none
		wantBody string
	}{
		{name: "list empty", args: []string{"partners"}, routes: map[string]reply{"GET /v1/partners": {200, `[]`}},
			stdout: "No add-on partners registered.\n", wantReq: "GET /v1/partners"},
		{name: "list", args: []string{"events:partners"}, routes: map[string]reply{"GET /v1/partners": {200, `[` + partnerJSON + `]`}},
			stdout: "=== Add-on partners\n\n" +
				" Id      Mode Notify URL                                        Requires\n" +
				" " + rule(7, 4, 49, 28) + "\n" +
				" myaddon test http://localhost:4567/heroku/resources/:id/events attach_notify, deploy_notify\n",
			wantReq: "GET /v1/partners"},
		{name: "info", args: []string{"partners:info", "myaddon"}, routes: map[string]reply{"GET /v1/partners/myaddon": {200, partnerJSON}},
			stdout: "" +
				"Created:        2026-01-02T15:04:05Z\n" +
				"Id:             myaddon\n" +
				"Log Token:      yes\n" +
				"Mode:           test\n" +
				"Notify URL:     http://localhost:4567/heroku/resources/:id/events\n" +
				"Production URL: https://myaddon.example.com/heroku/resources\n" +
				"Requires:       attach_notify\n" +
				"                deploy_notify\n" +
				"Retries:        5 attempts over 15m0s\n" +
				"Test URL:       http://localhost:4567/heroku/resources\n",
			wantReq: "GET /v1/partners/myaddon"},
		{name: "info unknown", args: []string{"partners:info", "nope"}, err: "no route GET /v1/partners/nope", wantReq: "GET /v1/partners/nope"},
		{name: "create", args: []string{"partners:create", "--manifest", manifest, "--test", "--log-token", "--max-attempts", "3", "--retry-horizon", "1h"},
			routes: map[string]reply{"POST /v1/partners": {201, partnerJSON}},
			stdout: "Partner myaddon (test) is notified at http://localhost:4567/heroku/resources/:id/events\n",
			stderr: "Creating partner myaddon... done\n", wantReq: "POST /v1/partners",
			wantBody: `{"manifest":{"id":"myaddon","api":{"password":"pw","production":{"base_url":"https://myaddon.example.com"}}},"test":true,"log_token":true,"max_attempts":3,"retry_horizon":"1h0m0s"}`},
		{name: "create refused", args: []string{"partners:create", "-m", manifest},
			routes: map[string]reply{"POST /v1/partners": {422, `{"id":"invalid_params","message":"invalid manifest: api.production.base_url \"http://x\" must use https"}`}},
			stderr: "Creating partner myaddon... !\n", err: "must use https", wantReq: "POST /v1/partners",
			wantBody: `{"manifest":{"id":"myaddon","api":{"password":"pw","production":{"base_url":"https://myaddon.example.com"}}}}`},
		{name: "create not json", args: []string{"partners:create", "-m", notJSON}, err: "is not a JSON object"},
		{name: "create missing file", args: []string{"partners:create", "-m", filepath.Join(t.TempDir(), "nope.json")}, err: "read manifest"},
		{name: "create needs manifest", args: []string{"partners:create"}, err: `"manifest" not set`},
		{name: "destroy", args: []string{"partners:destroy", "myaddon", "--confirm", "myaddon"},
			routes: map[string]reply{"DELETE /v1/partners/myaddon": {200, partnerJSON}},
			stderr: "Destroying partner myaddon... done\n", wantReq: "DELETE /v1/partners/myaddon"},
		{name: "destroy unconfirmed", args: []string{"partners:destroy", "myaddon"}, err: "pass --confirm myaddon"},
		{name: "destroy mismatch", args: []string{"partners:destroy", "myaddon", "-c", "other"}, err: "Confirmation other did not match myaddon. Aborted."},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fp := newFakePlatform(t, tt.routes)
			r := run(t, nil, append(tt.args, "--platform-url", fp.url(testOpID, testOpPass))...)
			if tt.err != "" {
				require.Error(t, r.err)
				assert.Contains(t, r.err.Error(), tt.err)
			} else {
				require.NoError(t, r.err)
			}
			assert.Equal(t, tt.stdout, r.stdout)
			assert.Equal(t, tt.stderr, r.stderr)
			reqs := fp.requests()
			if tt.wantReq == "" {
				assert.Empty(t, reqs)
				return
			}
			require.Len(t, reqs, 1)
			assert.Equal(t, tt.wantReq, reqs[0].Method+" "+reqs[0].Path)
			assert.Equal(t, testOpID+":"+testOpPass, reqs[0].Auth)
			if tt.wantBody != "" {
				assert.JSONEq(t, tt.wantBody, reqs[0].Body)
				assert.Equal(t, "application/json", reqs[0].ContentType)
			}
		})
	}
}

func TestPlatformURL(t *testing.T) {
	fp := newFakePlatform(t, map[string]reply{"GET /v1/partners": {200, `[]`}})
	t.Run("from the environment", func(t *testing.T) {
		t.Setenv(platformURLEnv, fp.url(testOpID, testOpPass))
		r := run(t, nil, "partners")
		require.NoError(t, r.err)
		assert.Equal(t, "No add-on partners registered.\n", r.stdout)
	})
	t.Run("unset", func(t *testing.T) {
		t.Setenv(platformURLEnv, "")
		r := run(t, nil, "partners")
		require.Error(t, r.err)
		assert.Contains(t, r.err.Error(), "HEROKUEVENTS_PLATFORM_URL is not set")
	})
	t.Run("wrong password", func(t *testing.T) {
		r := run(t, nil, "partners", "--platform-url", fp.url(testOpID, "nope"))
		require.Error(t, r.err)
		assert.Equal(t, "Invalid credentials provided.", r.err.Error())
	})
	t.Run("no credentials, never echoed", func(t *testing.T) {
		for _, raw := range []string{fp.srv.URL, "ftp://a:b@host", "http://only-user@host"} {
			r := run(t, nil, "partners", "--platform-url", raw)
			require.Error(t, r.err)
			assert.Contains(t, r.err.Error(), "--platform-url: invalid platform URL")
			assert.NotContains(t, r.err.Error(), raw)
		}
	})
}

func TestAddonsCommands(t *testing.T) {
	const att = `{"id":"a1","name":"MYADDON_CYAN","partner":"myaddon","resource_id":"res-42","addon":{"id":"r1","name":"writing-nobly-1234"},
		"heroku_id":"app123@heroku.com","app":{"id":"p1","name":"example"},"queued":1}`
	tests := []struct {
		name     string
		args     []string
		routes   map[string]reply
		stdout   string
		stderr   string
		err      string
		wantReq  string
		wantBody string
	}{
		{name: "attach", args: []string{"addons:attach", "myaddon", "-a", "example", "--resource-id", "res-42", "--heroku-id", "app123@heroku.com", "--as", "MYADDON_CYAN", "--log-token", "d.tok"},
			routes: map[string]reply{"POST /v1/apps/example/addon-attachments": {201, att}},
			stdout: "Attached writing-nobly-1234 (resource res-42) as MYADDON_CYAN to example (app123@heroku.com)\nAttach notification queued for myaddon\n",
			stderr: "Attaching myaddon to example... done\n", wantReq: "POST /v1/apps/example/addon-attachments",
			wantBody: `{"partner":"myaddon","resource_id":"res-42","heroku_id":"app123@heroku.com","as":"MYADDON_CYAN","log_token":"d.tok"}`},
		{name: "attach refused", args: []string{"addons:attach", "myaddon", "-a", "example", "--resource-id", "res-43"},
			routes: map[string]reply{"POST /v1/apps/example/addon-attachments": {422, `{"id":"invalid_params","message":"App example already has myaddon (MYADDON_CYAN) and partner myaddon does not allow many per app."}`}},
			stderr: "Attaching myaddon to example... !\n", err: "does not allow many per app", wantReq: "POST /v1/apps/example/addon-attachments",
			wantBody: `{"partner":"myaddon","resource_id":"res-43"}`},
		{name: "attach needs resource id", args: []string{"addons:attach", "myaddon", "-a", "example"}, err: `"resource-id" not set`},
		{name: "attach needs app", args: []string{"addons:attach", "myaddon", "--resource-id", "r"}, err: `"app" not set`},
		{name: "detach", args: []string{"addons:detach", "MYADDON_CYAN", "-a", "example"},
			routes: map[string]reply{"DELETE /v1/apps/example/addon-attachments/MYADDON_CYAN": {200, att}},
			stdout: "Detach notification queued for myaddon\n",
			stderr: "Detaching MYADDON_CYAN from example... done\n", wantReq: "DELETE /v1/apps/example/addon-attachments/MYADDON_CYAN"},
		{name: "list", args: []string{"addons", "-a", "example"},
			routes: map[string]reply{"GET /v1/apps/example/addon-attachments": {200, `[` + att + `]`}},
			stdout: "=== Partner add-ons of app example\n\n" +
				" Name         Partner Resource           Resource Id State\n" +
				" " + rule(12, 7, 18, 11, 6) + "\n" +
				" MYADDON_CYAN myaddon writing-nobly-1234 res-42      active\n",
			wantReq: "GET /v1/apps/example/addon-attachments"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fp := newFakePlatform(t, tt.routes)
			r := run(t, nil, append(tt.args, "--platform-url", fp.url(testOpID, testOpPass))...)
			if tt.err != "" {
				require.Error(t, r.err)
				assert.Contains(t, r.err.Error(), tt.err)
			} else {
				require.NoError(t, r.err)
			}
			assert.Equal(t, tt.stdout, r.stdout)
			assert.Equal(t, tt.stderr, r.stderr)
			reqs := fp.requests()
			if tt.wantReq == "" {
				assert.Empty(t, reqs)
				return
			}
			require.Len(t, reqs, 1)
			assert.Equal(t, tt.wantReq, reqs[0].Method+" "+reqs[0].Path)
			if tt.wantBody != "" {
				assert.JSONEq(t, tt.wantBody, reqs[0].Body)
			}
		})
	}
}

// TestPartnersAgainstEmbeddedMode drives the commands against the embedded
// mode and a partner server that checks what it is sent.
func TestPartnersAgainstEmbeddedMode(t *testing.T) {
	var mu sync.Mutex
	var got []string
	partnerSrv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		user, pass, _ := r.BasicAuth()
		if user != "myaddon" || pass != "partner-password" || r.URL.Path != "/heroku/resources/res-42/events" {
			w.WriteHeader(http.StatusUnauthorized)
			return
		}
		b, _ := io.ReadAll(r.Body)
		mu.Lock()
		got = append(got, string(b))
		mu.Unlock()
	}))
	t.Cleanup(partnerSrv.Close)
	bodies := func() []string { mu.Lock(); defer mu.Unlock(); return append([]string(nil), got...) }

	srv, err := embedded.Start(t.Context(), embedded.Options{
		Addr: "127.0.0.1:0", DataDir: t.TempDir(), App: "example",
		AllowEgress: []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")},
		Backoff:     deliver.Backoff{Base: 10 * time.Millisecond, Cap: 20 * time.Millisecond},
	})
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, srv.Close()) })
	t.Setenv(platformURLEnv, srv.Var(platformURLEnv))

	manifest := writeManifest(t, `{"id":"myaddon","api":{"password":"partner-password","requires":["attach_notify","deploy_notify"],
		"production":{"base_url":"https://myaddon.example.com/heroku/resources"},"test":{"base_url":"`+partnerSrv.URL+`/heroku/resources"}}}`)
	bad := writeManifest(t, `{"id":"other","api":{"password":"pw","production":{"base_url":"http://other.example.com"}}}`)

	r := run(t, nil, "partners:create", "--manifest", bad)
	require.Error(t, r.err)
	assert.Contains(t, r.err.Error(), `api.production.base_url "http://other.example.com" must use https`)

	r = run(t, nil, "partners:create", "--manifest", manifest, "--test")
	require.NoError(t, r.err)
	r = run(t, nil, "partners:info", "myaddon")
	require.NoError(t, r.err)
	assert.Contains(t, r.stdout, "Mode:           test")
	assert.NotContains(t, r.stdout+r.stderr, "partner-password")

	r = run(t, nil, "addons:attach", "myaddon", "-a", "example", "--resource-id", "res-42", "--heroku-id", "app123@heroku.com")
	require.NoError(t, r.err)
	assert.Contains(t, r.stdout, "as MYADDON_CYAN to example (app123@heroku.com)")
	r = run(t, nil, "addons:detach", "MYADDON_CYAN", "-a", "example")
	require.NoError(t, r.err)

	require.Eventually(t, func() bool { return len(bodies()) == 2 }, 10*time.Second, 10*time.Millisecond)
	events := map[string]bool{}
	for _, b := range bodies() {
		var env struct {
			HerokuID string `json:"heroku_id"`
			Event    string `json:"event"`
			Detail   struct {
				Name     string `json:"name"`
				LogToken *string
				App      struct{ Name string }
			}
		}
		require.NoError(t, json.Unmarshal([]byte(b), &env))
		assert.Equal(t, "app123@heroku.com", env.HerokuID)
		assert.Equal(t, "MYADDON_CYAN", env.Detail.Name)
		assert.Equal(t, "example", env.Detail.App.Name)
		assert.Nil(t, env.Detail.LogToken, "no log_token for a partner without the grant")
		events[env.Event] = true
	}
	assert.Equal(t, map[string]bool{"attach": true, "detach": true}, events)

	r = run(t, nil, "partners:destroy", "myaddon", "--confirm", "myaddon")
	require.NoError(t, r.err)
	r = run(t, nil, "partners")
	require.NoError(t, r.err)
	assert.Equal(t, "No add-on partners registered.\n", r.stdout)
}
