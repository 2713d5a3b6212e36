package main

import (
	"bytes"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

const (
	testApp    = "my-app"
	testTenant = "t-123"
	testKey    = "0123456789abcdef-secret-key"
)

// request is what the fake API received.
type request struct {
	Method, Path, Body, Auth, Accept, UserAgent, ContentType string
}

// reply is a canned answer of the fake API.
type reply struct {
	status int
	body   string
}

// fakeAPI fakes the management API of one tenant owned by app.
type fakeAPI struct {
	app    string
	srv    *httptest.Server
	mu     sync.Mutex
	routes map[string]reply // "METHOD /path" → reply
	reqs   []request
}

func newFakeAPI(t *testing.T, routes map[string]reply) *fakeAPI {
	t.Helper()
	f := &fakeAPI{app: testApp, routes: routes}
	f.srv = httptest.NewServer(http.HandlerFunc(f.serve))
	t.Cleanup(f.srv.Close)
	return f
}

func (f *fakeAPI) serve(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	f.mu.Lock()
	f.reqs = append(f.reqs, request{
		Method: r.Method, Path: r.URL.EscapedPath(), Body: string(body),
		Auth: r.Header.Get("Authorization"), Accept: r.Header.Get("Accept"),
		UserAgent: r.Header.Get("User-Agent"), ContentType: r.Header.Get("Content-Type"),
	})
	rep, ok := f.routes[r.Method+" "+r.URL.EscapedPath()]
	f.mu.Unlock()
	w.Header().Set("Content-Type", "application/json")
	switch {
	case r.Header.Get("Authorization") != "Bearer "+testKey:
		w.WriteHeader(http.StatusUnauthorized)
		_, _ = io.WriteString(w, `{"id":"unauthorized","message":"Invalid credentials provided."}`)
	case r.Method == http.MethodGet && r.URL.Path == "/v1/tenants/"+testTenant:
		_, _ = io.WriteString(w, `{"id":"`+testTenant+`","app":"`+f.app+`"}`)
	case ok:
		w.WriteHeader(rep.status)
		_, _ = io.WriteString(w, rep.body)
	default:
		w.WriteHeader(http.StatusNotFound)
		_, _ = io.WriteString(w, `{"id":"not_found","message":"no route `+r.Method+" "+r.URL.Path+`"}`)
	}
}

// url is the API URL of the tenant, credentials included.
func (f *fakeAPI) url() string {
	return strings.Replace(f.srv.URL, "http://", "http://herokuevents:"+testKey+"@", 1) + "/v1/tenants/" + testTenant
}

// requests returns the requests after the tenant check.
func (f *fakeAPI) requests() []request {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []request
	for _, r := range f.reqs {
		if r.Path != "/v1/tenants/"+testTenant {
			out = append(out, r)
		}
	}
	return out
}

// all returns every request received.
func (f *fakeAPI) all() []request {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]request(nil), f.reqs...)
}

// result is the outcome of one CLI run.
type result struct {
	stdout, stderr string
	err            error
}

// run executes the CLI in-process with args and stdin.
func run(t *testing.T, stdin io.Reader, args ...string) result {
	t.Helper()
	root := newRoot()
	var out, errb bytes.Buffer
	root.SetOut(&out)
	root.SetErr(&errb)
	if stdin == nil {
		stdin = strings.NewReader("")
	}
	root.SetIn(stdin)
	root.SetArgs(args)
	err := root.ExecuteContext(t.Context())
	return result{stdout: out.String(), stderr: errb.String(), err: err}
}

func TestNewAPIClient(t *testing.T) {
	tests := []struct {
		name, raw, base, tenant, key, err string
	}{
		{name: "local", raw: "http://herokuevents:s3cr3t@127.0.0.1:5454/v1/tenants/T1",
			base: "http://127.0.0.1:5454", tenant: "T1", key: "s3cr3t"},
		{name: "stage prefix kept", raw: "https://herokuevents:s3cr3t@api.example.com/prod/v1/tenants/abc/",
			base: "https://api.example.com/prod", tenant: "abc", key: "s3cr3t"},
		{name: "no credentials", raw: "https://api.example.com/v1/tenants/abc", err: "no credentials"},
		{name: "no tenant", raw: "https://herokuevents:s3cr3t@api.example.com/v1", err: "no tenants/TENANT"},
		{name: "bad scheme", raw: "ftp://herokuevents:s3cr3t@api.example.com/v1/tenants/abc", err: "scheme"},
		{name: "unparsable", raw: "http://herokuevents:s3cr3t@%zz/v1/tenants/abc", err: "invalid API URL"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := newAPIClient(tt.raw)
			if tt.err != "" {
				require.Error(t, err)
				assert.Contains(t, err.Error(), tt.err)
				assert.NotContains(t, err.Error(), "s3cr3t", "errors never show the key")
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tt.base, c.base)
			assert.Equal(t, tt.tenant, c.tenant)
			assert.Equal(t, tt.key, c.key)
			assert.Equal(t, "/v1/tenants/"+tt.tenant+"/streams/a%2Fb/c", c.path("streams", "a/b", "c"))
		})
	}
}

func TestConnection(t *testing.T) {
	t.Run("missing env names the variable and serve", func(t *testing.T) {
		t.Setenv(apiURLEnv, "")
		r := run(t, nil, "subscriptions", "-a", testApp)
		require.Error(t, r.err)
		assert.Contains(t, r.err.Error(), "HEROKUEVENTS_API_URL")
		assert.Contains(t, r.err.Error(), "herokuevents serve")
		assert.Empty(t, r.stdout)
	})

	t.Run("env is used and credentials go as bearer", func(t *testing.T) {
		api := newFakeAPI(t, map[string]reply{"GET /v1/tenants/" + testTenant + "/subscriptions": {200, `[]`}})
		t.Setenv(apiURLEnv, api.url())
		r := run(t, nil, "events:subscriptions", "-a", testApp, "-r", "heroku")
		require.NoError(t, r.err)
		assert.Equal(t, "No Heroku Events subscriptions for app my-app.\n", r.stdout)
		reqs := api.all()
		require.Len(t, reqs, 2)
		assert.Equal(t, "/v1/tenants/"+testTenant, reqs[0].Path, "the tenant is checked first")
		for _, req := range reqs {
			assert.Equal(t, "Bearer "+testKey, req.Auth)
			assert.Equal(t, "application/json", req.Accept)
			assert.True(t, strings.HasPrefix(req.UserAgent, "herokuevents-cli/"), req.UserAgent)
		}
	})

	t.Run("flag wins over env", func(t *testing.T) {
		api := newFakeAPI(t, map[string]reply{"GET /v1/tenants/" + testTenant + "/streams": {200, `[]`}})
		t.Setenv(apiURLEnv, "http://herokuevents:other@127.0.0.1:1/v1/tenants/nope")
		r := run(t, nil, "streams", "-a", testApp, "--api-url", api.url())
		require.NoError(t, r.err)
		assert.Equal(t, "No Heroku Events streams for app my-app.\n", r.stdout)
	})

	t.Run("app mismatch writes nothing", func(t *testing.T) {
		api := newFakeAPI(t, nil)
		api.app = "other-app"
		t.Setenv(apiURLEnv, api.url())
		r := run(t, nil, "streams:create", "a", "b", "-a", testApp)
		require.Error(t, r.err)
		assert.Equal(t, "HEROKUEVENTS_API_URL is the API of app other-app, not my-app", r.err.Error())
		assert.Empty(t, api.requests(), "no call after the tenant check")
		assert.Empty(t, r.stdout)
	})

	t.Run("unauthorized shows the API message, never the key", func(t *testing.T) {
		api := newFakeAPI(t, nil)
		bad := strings.Replace(api.url(), testKey, "wrong-key", 1)
		r := run(t, nil, "publications", "-a", testApp, "--api-url", bad)
		require.Error(t, r.err)
		assert.Equal(t, "Invalid credentials provided.", r.err.Error())
		assert.NotContains(t, r.err.Error()+r.stderr+r.stdout, "wrong-key")
	})

	t.Run("connection error never shows the key", func(t *testing.T) {
		api := newFakeAPI(t, nil)
		u := api.url()
		api.srv.Close()
		r := run(t, nil, "publications", "-a", testApp, "--api-url", u)
		require.Error(t, r.err)
		assert.Contains(t, r.err.Error(), "call herokuevents API")
		assert.NotContains(t, r.err.Error(), testKey)
	})

	t.Run("non-JSON error answer", func(t *testing.T) {
		api := newFakeAPI(t, map[string]reply{"GET /v1/tenants/" + testTenant + "/publications": {502, `<html>bad gateway</html>`}})
		r := run(t, nil, "publications", "-a", testApp, "--api-url", api.url())
		require.Error(t, r.err)
		assert.Equal(t, "herokuevents API answered 502 Bad Gateway", r.err.Error())
	})

	t.Run("app is required", func(t *testing.T) {
		r := run(t, nil, "streams")
		require.Error(t, r.err)
		assert.Contains(t, r.err.Error(), `"app"`)
	})
}
