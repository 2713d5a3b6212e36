package main

import (
	"bytes"
	"log/slog"
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
	"github.com/herokuevents/herokuevents/shared/platform/webhook/webhooktest"
)

type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// TestWebhookOAuth2EndToEnd is the acceptance of OAuth2 client credentials
// in the embedded mode through the CLI: the token endpoint (a real HTTP
// server) issues tokens that the receiver checks; deliveries carry one;
// once the receiver no longer accepts it (revoked) the next delivery gets
// a 401, a new token and is delivered; neither the client secret nor a
// token appears in the service's logs, the CLI's output or the delivery log.
func TestWebhookOAuth2EndToEnd(t *testing.T) {
	const secret = "oauth2-client-secret-e2e"
	te := webhooktest.NewTokenEndpoint("herokuevents-client", secret, time.Hour)
	tokenSrv := httptest.NewServer(te)
	t.Cleanup(tokenSrv.Close)
	var mu sync.Mutex
	var codes []int
	rcv := httptest.NewServer(webhooktest.Consent(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		code := http.StatusNoContent
		if !te.Valid(r.Header.Get("Authorization")) {
			code = http.StatusUnauthorized
		}
		mu.Lock()
		codes = append(codes, code)
		mu.Unlock()
		w.WriteHeader(code)
	})))
	t.Cleanup(rcv.Close)
	delivered := func() []int {
		mu.Lock()
		defer mu.Unlock()
		return append([]int(nil), codes...)
	}

	logs := &lockedBuffer{}
	srv, err := embedded.Start(t.Context(), embedded.Options{
		Addr: "127.0.0.1:0", DataDir: t.TempDir(), App: testApp,
		AllowEgress: []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")},
		Logger:      slog.New(slog.NewJSONHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug})),
	})
	require.NoError(t, err)
	t.Cleanup(func() { _ = srv.Close() })
	apiURL := srv.Var("HEROKUEVENTS_API_URL")
	var out strings.Builder
	cli := func(args ...string) result {
		t.Helper()
		r := run(t, nil, append(args, "-a", testApp, "--api-url", apiURL)...)
		out.WriteString(r.stdout + r.stderr)
		return r
	}

	r := cli("publications:webhook:create", "hook", "-u", rcv.URL+"/events", "-t", "static",
		"--oauth2-token-url", tokenSrv.URL+"/token", "--oauth2-client-id", "herokuevents-client", "--oauth2-client-secret", secret)
	require.Error(t, r.err, "a token and OAuth2 together are refused")
	assert.Contains(t, r.err.Error(), "exclude each other")

	must(t, cli("publications:webhook:create", "hook", "-u", rcv.URL+"/events",
		"--oauth2-token-url", tokenSrv.URL+"/token", "--oauth2-client-id", "herokuevents-client", "--oauth2-client-secret", secret,
		"--oauth2-scopes", "events.write,events.read"))
	publishURL := srv.Var("HEROKUEVENTS_PUBLISH_URL")
	publishTo(t, publishURL, "hook", `{"n":1}`)
	publishTo(t, publishURL, "hook", `{"n":2}`)
	require.Eventually(t, func() bool { return len(delivered()) == 2 }, 10*time.Second, 20*time.Millisecond)
	assert.Equal(t, []int{204, 204}, delivered())
	require.Len(t, te.IssuedTokens(), 2, "one token for the handshake, one cached by the deliverer")

	te.RevokeAll()
	last := publishTo(t, publishURL, "hook", `{"n":3}`)
	require.Eventually(t, func() bool { return len(delivered()) == 4 }, 10*time.Second, 20*time.Millisecond)
	assert.Equal(t, []int{401, 204}, delivered()[2:], "refused, then a new token within the same attempt")
	assert.Len(t, te.IssuedTokens(), 3)

	info := must(t, cli("publications:info", "hook")).stdout
	assert.Regexp(t, `(?m)^OAuth2: +token URL `+tokenSrv.URL+`/token, client id herokuevents-client, scopes events.write events.read$`, info)
	asJSON := must(t, cli("publications:info", "hook", "--json")).stdout
	assert.Contains(t, asJSON, `"client_id": "herokuevents-client"`)
	require.Eventually(t, func() bool {
		return strings.Contains(must(t, cli("deliveries", "hook")).stdout, last)
	}, 5*time.Second, 50*time.Millisecond)
	must(t, cli("trace", last))

	for _, tok := range append(te.IssuedTokens(), secret) {
		assert.NotContains(t, logs.String(), tok, "service logs")
		assert.NotContains(t, out.String(), tok, "CLI output")
	}
	assert.Contains(t, logs.String(), "hook", "the logs were captured")
}

// TestWebhookClientCertCLI: publications:webhook:create reads the PEM
// files of --client-cert and --client-key; publications:info shows the
// certificate's subject and expiry, never the key; publications:update
// removes them with ” and ”.
func TestWebhookClientCertCLI(t *testing.T) {
	_, cli := startEmbedded(t)
	ca := webhooktest.NewCA(t)
	notAfter := time.Now().Add(48 * time.Hour).UTC().Truncate(time.Second)
	certPEM, keyPEM := ca.Issue(t, "herokuevents-client", false, notAfter)
	dir := t.TempDir()
	certFile, keyFile := filepath.Join(dir, "client.crt"), filepath.Join(dir, "client.key")
	require.NoError(t, os.WriteFile(certFile, certPEM, 0o600))
	require.NoError(t, os.WriteFile(keyFile, keyPEM, 0o600))

	r := cli("publications:webhook:create", "mtls", "-u", "http://127.0.0.1:9/hook", "--skip-handshake", "--client-cert", certFile, "--client-key", keyFile)
	require.Error(t, r.err)
	assert.Contains(t, r.err.Error(), "needs an https url")
	r = cli("publications:webhook:create", "mtls", "-u", "https://127.0.0.1:9/hook", "--skip-handshake", "--client-cert", certFile, "--client-key", filepath.Join(dir, "missing.key"))
	require.Error(t, r.err)
	assert.Contains(t, r.err.Error(), "--client-key")

	created := must(t, cli("publications:webhook:create", "mtls", "-u", "https://127.0.0.1:9/hook", "--skip-handshake", "--client-cert", certFile, "--client-key", keyFile))
	info := must(t, cli("publications:info", "mtls")).stdout
	assert.Regexp(t, `(?m)^mTLS: +certificate CN=herokuevents-client,O=herokuevents tests, expires `+notAfter.Format(time.RFC3339)+`$`, info)
	asJSON := must(t, cli("publications:info", "mtls", "--json")).stdout
	for _, s := range []string{info, asJSON, created.stdout, created.stderr} {
		assert.NotContains(t, s, "PRIVATE KEY")
		assert.NotContains(t, s, strings.Split(string(keyPEM), "\n")[1])
	}
	must(t, cli("publications:update", "mtls", "--client-cert", "", "--client-key", ""))
	assert.NotContains(t, must(t, cli("publications:info", "mtls")).stdout, "mTLS")
}
