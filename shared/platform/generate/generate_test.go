package generate_test

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/herokuevents/herokuevents/infra/embedded/filesealer"
	"github.com/herokuevents/herokuevents/shared/api"
	"github.com/herokuevents/herokuevents/shared/config"
	"github.com/herokuevents/herokuevents/shared/config/memstore"
	"github.com/herokuevents/herokuevents/shared/mapping"
	"github.com/herokuevents/herokuevents/shared/platform"
	"github.com/herokuevents/herokuevents/shared/platform/generate"
	"github.com/herokuevents/herokuevents/shared/platform/webhook"
	"github.com/herokuevents/herokuevents/shared/sink"
)

// apiServer serves the api with the generate platform for one tenant.
type apiServer struct {
	store  config.Store
	url    string // .../v1/tenants/T
	key    string
	tenant string
}

func newAPI(t *testing.T, now time.Time) *apiServer {
	t.Helper()
	store := memstore.New()
	t.Cleanup(func() { _ = store.Close() })
	sealer, err := filesealer.Open(filepath.Join(t.TempDir(), "seal.key"))
	require.NoError(t, err)
	platforms, err := platform.NewRegistry(platform.Deps{
		Store: store, Sealer: sealer, Egress: sink.NewEgress(nil),
		CheckURL: func(context.Context, string) error { return nil },
		Now:      func() time.Time { return now },
		Compile:  func(src string) (platform.Program, error) { return mappings.Get(src) },
	}, webhook.Platform(), generate.Platform())
	require.NoError(t, err)
	srv, err := api.New(api.Options{
		Store: store, Platforms: platforms, BaseURL: "http://events.example.com", Logger: slog.New(slog.DiscardHandler),
	})
	require.NoError(t, err)
	hs := httptest.NewServer(srv.Handler())
	t.Cleanup(hs.Close)
	res, err := srv.Provision(t.Context(), api.ProvisionRequest{App: "gen-app"})
	require.NoError(t, err)
	u, err := url.Parse(res.Config[api.VarAPIURL])
	require.NoError(t, err)
	key, _ := u.User.Password()
	return &apiServer{store: store, url: hs.URL + u.Path, key: key, tenant: res.ID}
}

func (a *apiServer) do(t *testing.T, method, path, body string) (int, map[string]any) {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), method, a.url+path, strings.NewReader(body))
	require.NoError(t, err)
	req.Header.Set("Authorization", "Bearer "+a.key)
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	var out map[string]any
	require.NoError(t, json.Unmarshal(raw, &out), "%s", raw)
	return resp.StatusCode, out
}

func TestPlatformCreates(t *testing.T) {
	now := time.Date(2026, 5, 6, 7, 8, 9, 500, time.UTC)
	a := newAPI(t, now)
	status, got := a.do(t, http.MethodPost, "/platforms/generate/subscriptions",
		`{"name":"herokuEventsSystemStatus","interval":"1m","mapping":"root = {\"status\": \"up\", \"created_at\": timestamp_unix_milli()}"}`)
	require.Equal(t, http.StatusCreated, status, "%v", got)
	assert.Equal(t, "generate", got["platform"])
	assert.Equal(t, map[string]any{"interval": "1m", "mapping": `root = {"status": "up", "created_at": timestamp_unix_milli()}`}, got["params"])
	first := time.Date(2026, 5, 6, 7, 8, 9, 0, time.UTC) // at once (to the ms), as Redpanda's generate
	assert.Equal(t, map[string]any{"status": "active", "next_run": first.Format(time.RFC3339Nano)}, got["state"])

	it, err := a.store.Get(t.Context(), a.tenant, config.KindSubscription, "herokuEventsSystemStatus")
	require.NoError(t, err)
	assert.Equal(t, api.IndexTime(first), it.Index, "indexed at its first run")
	due, err := a.store.IndexedBefore(t.Context(), config.KindSubscription, api.IndexTime(first), 0)
	require.NoError(t, err)
	require.Len(t, due, 1)

	// A generator is a subscription: listed, shown, a stream source, destroyed.
	status, _ = a.do(t, http.MethodPost, "/platforms/webhook/publications", `{"skip_handshake":true,"name":"hook","url":"https://example.com/h","source":"herokuEventsSystemStatus"}`)
	require.Equal(t, http.StatusCreated, status)
	status, got = a.do(t, http.MethodGet, "/subscriptions/herokuEventsSystemStatus", "")
	require.Equal(t, http.StatusOK, status)
	require.Len(t, got["targets"], 1)
	status, _ = a.do(t, http.MethodDelete, "/subscriptions/herokuEventsSystemStatus", "")
	require.Equal(t, http.StatusOK, status)
	due, err = a.store.IndexedBefore(t.Context(), config.KindSubscription, api.IndexTime(first), 0)
	require.NoError(t, err)
	assert.Empty(t, due)
}

func TestPlatformRejects(t *testing.T) {
	a := newAPI(t, time.Now())
	tests := []struct {
		name, body string
		msg        []string // substrings of the message
	}{
		{"env", `{"name":"g","interval":"1m","mapping":"root = env(\"AWS_SECRET_ACCESS_KEY\")"}`,
			[]string{"mapping: invalid Bloblang: line 1 char 36: unrecognised function 'env'"}},
		{"file", `{"name":"g","interval":"1m","mapping":"root = file(\"/etc/passwd\")"}`,
			[]string{"mapping: invalid Bloblang: line 1 char 27: unrecognised function 'file'"}},
		{"hostname", `{"name":"g","interval":"1m","mapping":"root.h = hostname()"}`,
			[]string{"unrecognised function 'hostname'"}},
		{"syntax with position", `{"name":"g","interval":"1m","mapping":"root = {\n  \"a\": 1,,\n}"}`,
			[]string{"line 2 char 10: expected query"}},
		{"placeholder of the docs", `{"name":"g","interval":"1m","mapping":"root = {this}"}`, []string{"line 1 char 13"}},
		{"fails at run", `{"name":"g","interval":"1m","mapping":"root = throw(\"nope\")"}`,
			[]string{"mapping fails when run without input:", "nope"}},
		{"no mapping", `{"name":"g","interval":"1m"}`, []string{"mapping is required."}},
		{"empty mapping", `{"name":"g","interval":"1m","mapping":""}`, []string{"mapping is required."}},
		{"no interval", `{"name":"g","mapping":"root = {}"}`, []string{"interval is required."}},
		{"empty interval", `{"name":"g","interval":"","mapping":"root = {}"}`, []string{"interval is required."}},
		{"short interval", `{"name":"g","interval":"500ms","mapping":"root = {}"}`, []string{`interval "500ms" is shorter than 1s.`}},
		{"bad cron", `{"name":"g","interval":"* * *","mapping":"root = {}"}`, []string{`interval "* * *" is not a valid cron expression`}},
		{"bad zone", `{"name":"g","interval":"TZ=Nowhere/Land 0 * * * *","mapping":"root = {}"}`, []string{`unknown time zone "Nowhere/Land"`}},
		{"unknown field", `{"name":"g","interval":"1m","mapping":"root = {}","url":"x"}`, []string{`Unknown field "url".`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			status, got := a.do(t, http.MethodPost, "/platforms/generate/subscriptions", tt.body)
			require.Equal(t, http.StatusUnprocessableEntity, status, "%v", got)
			assert.Equal(t, "invalid_params", got["id"])
			for _, m := range tt.msg {
				assert.Contains(t, got["message"], m)
			}
			items, err := a.store.List(t.Context(), a.tenant, config.KindSubscription)
			require.NoError(t, err)
			assert.Empty(t, items, "nothing stored")
		})
	}
}

var mappings = &mapping.Cache{}
