package webhook_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/oauth2"

	"github.com/herokuevents/herokuevents/shared/config"
	"github.com/herokuevents/herokuevents/shared/platform/webhook"
	"github.com/herokuevents/herokuevents/shared/platform/webhook/webhooktest"
)

func js(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}

// TestCreateAuth: OAuth2 client credentials and a client certificate are
// checked at create (token endpoint: https unless allow-listed, egress
// policy; certificate and key: parse, match, valid, https url; never with
// a static token), stored with their secrets sealed, and the handshake
// carries the OAuth2 access token.
func TestCreateAuth(t *testing.T) {
	te := webhooktest.NewTokenEndpoint("cid", "s3cret", time.Hour)
	tokenSrv := httptest.NewServer(te)
	t.Cleanup(tokenSrv.Close)
	tg := newTarget(t, answer(http.StatusOK, "WebHook-Allowed-Origin", "*"))
	ca := webhooktest.NewCA(t)
	certPEM, keyPEM := ca.Issue(t, "client-a", false, time.Now().Add(time.Hour))
	_, otherKey := ca.Issue(t, "client-b", false, time.Now().Add(time.Hour))
	expired, expiredKey := ca.Issue(t, "old", false, time.Now().Add(-time.Minute))
	oauth2 := map[string]any{"name": "hook", "url": tg.URL, "oauth2_token_url": tokenSrv.URL, "oauth2_client_id": "cid", "oauth2_client_secret": "s3cret"}
	with := func(base map[string]any, kv ...any) string {
		m := map[string]any{}
		for k, v := range base {
			m[k] = v
		}
		for i := 0; i+1 < len(kv); i += 2 {
			m[kv[i].(string)] = kv[i+1]
		}
		return js(m)
	}
	mtls := map[string]any{"name": "hook", "url": "https://127.0.0.1:9/hook", "skip_handshake": true, "client_cert": string(certPEM), "client_key": string(keyPEM)}
	tests := []struct {
		name, body, err string
	}{
		{name: "oauth2", body: with(oauth2, "oauth2_scopes", "events.write, events.read", "oauth2_audience", "https://api.example.com")},
		{name: "oauth2 and token", body: with(oauth2, "token", "static"), err: "token and oauth2 exclude each other"},
		{name: "http token url off the allow list", body: with(oauth2, "oauth2_token_url", "http://example.com/token"), err: "must use https"},
		{name: "token url the egress policy refuses", body: with(oauth2, "oauth2_token_url", "https://10.1.2.3/token"), err: "is not allowed"},
		{name: "token url with credentials", body: with(oauth2, "oauth2_token_url", "https://u:p@example.com/token"), err: "must not contain credentials"},
		{name: "no client id", body: with(oauth2, "oauth2_client_id", ""), err: "needs oauth2_token_url and oauth2_client_id"},
		{name: "no client secret", body: with(oauth2, "oauth2_client_secret", ""), err: "needs oauth2_client_secret"},
		{name: "bad scope", body: with(oauth2, "oauth2_scopes", `a,"b"`), err: "is not a scope"},
		{name: "wrong secret: the handshake gets no token", body: with(oauth2, "oauth2_client_secret", "nope"), err: "gave no access token"},
		{name: "mtls", body: with(mtls)},
		{name: "certificate without key", body: with(mtls, "client_key", ""), err: "go together"},
		{name: "key of another certificate", body: with(mtls, "client_key", string(otherKey)), err: "private key does not match public key"},
		{name: "expired certificate", body: with(mtls, "client_cert", string(expired), "client_key", string(expiredKey)), err: "expired"},
		{name: "not PEM", body: with(mtls, "client_cert", "hello"), err: "client_cert and client_key"},
		{name: "mtls over http", body: with(mtls, "url", "http://127.0.0.1:9/hook"), err: "needs an https url"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			pub, extra, err := registry(t).Publication(t.Context(), "t1", config.PlatformWebhook, []byte(tt.body))
			if tt.err != "" {
				require.ErrorIs(t, err, config.ErrInvalid)
				assert.Contains(t, err.Error(), tt.err)
				assert.NotContains(t, err.Error(), "s3cret")
				assert.NotContains(t, err.Error(), "PRIVATE KEY")
				return
			}
			require.NoError(t, err)
			assert.NotContains(t, fmt.Sprint(extra), "s3cret")
			assert.NotContains(t, fmt.Sprint(extra), "PRIVATE KEY")
			if pub.OAuth2 != nil {
				assert.Equal(t, &config.OAuth2Client{TokenURL: tokenSrv.URL, ClientID: "cid", Scopes: []string{"events.write", "events.read"},
					Audience: "https://api.example.com", SecretSealed: []byte("s3cret")}, pub.OAuth2) // nopSealer: sealed as it is
				opts := tg.got()
				require.NotEmpty(t, opts)
				assert.Equal(t, "Bearer "+te.IssuedTokens()[len(te.IssuedTokens())-1], opts[len(opts)-1].Header.Get("Authorization"),
					"the handshake carries the access token")
				assert.Empty(t, pub.TokenSealed)
			}
			if pub.ClientCert != nil {
				assert.Equal(t, "CN=client-a,O=herokuevents tests", pub.ClientCert.Subject)
				assert.Equal(t, keyPEM, pub.ClientCert.KeySealed)
				assert.Len(t, pub.ClientCert.Fingerprint, 64)
				assert.WithinDuration(t, time.Now().Add(time.Hour), pub.ClientCert.NotAfter, time.Minute)
			}
		})
	}
}

// TestUpdateAuth: an update changes, keeps or removes the OAuth2 grant
// and the client certificate; a new token endpoint needs the secret again;
// a static token and OAuth2 still exclude each other.
func TestUpdateAuth(t *testing.T) {
	te := webhooktest.NewTokenEndpoint("cid", "s3cret", time.Hour)
	tokenSrv := httptest.NewServer(te)
	t.Cleanup(tokenSrv.Close)
	other := httptest.NewServer(te)
	t.Cleanup(other.Close)
	ca := webhooktest.NewCA(t)
	certPEM, keyPEM := ca.Issue(t, "client-a", false, time.Now().Add(time.Hour))
	current := config.Publication{ID: "p1", Name: "hook", Platform: config.PlatformWebhook, Params: config.Params{URL: "https://127.0.0.1:9/hook"},
		OAuth2: &config.OAuth2Client{TokenURL: tokenSrv.URL, ClientID: "cid", Scopes: []string{"a"}, SecretSealed: []byte("s3cret")}}
	withToken := current
	withToken.OAuth2, withToken.TokenSealed = nil, []byte("static")
	tests := []struct {
		name    string
		current config.Publication
		body    string
		err     string
		check   func(t *testing.T, p config.Publication)
	}{
		{name: "scopes", current: current, body: `{"oauth2_scopes":"b c"}`, check: func(t *testing.T, p config.Publication) {
			assert.Equal(t, []string{"b", "c"}, p.OAuth2.Scopes)
			assert.Equal(t, []byte("s3cret"), p.OAuth2.SecretSealed, "the secret is kept")
		}},
		{name: "new token url without the secret", current: current, body: js(map[string]string{"oauth2_token_url": other.URL}), err: "oauth2_client_secret is required"},
		{name: "new token url with the secret", current: current, body: js(map[string]string{"oauth2_token_url": other.URL, "oauth2_client_secret": "s3cret"}),
			check: func(t *testing.T, p config.Publication) { assert.Equal(t, other.URL, p.OAuth2.TokenURL) }},
		{name: "remove oauth2", current: current, body: `{"oauth2_token_url":""}`, check: func(t *testing.T, p config.Publication) { assert.Nil(t, p.OAuth2) }},
		{name: "oauth2 beside a token", current: withToken, body: js(map[string]string{"oauth2_token_url": tokenSrv.URL, "oauth2_client_id": "cid", "oauth2_client_secret": "s3cret"}),
			err: "exclude each other"},
		{name: "oauth2 instead of a token", current: withToken,
			body:  js(map[string]string{"token": "", "oauth2_token_url": tokenSrv.URL, "oauth2_client_id": "cid", "oauth2_client_secret": "s3cret"}),
			check: func(t *testing.T, p config.Publication) { assert.Empty(t, p.TokenSealed); assert.NotNil(t, p.OAuth2) }},
		{name: "add a certificate", current: current, body: js(map[string]string{"client_cert": string(certPEM), "client_key": string(keyPEM)}),
			check: func(t *testing.T, p config.Publication) {
				assert.Equal(t, "CN=client-a,O=herokuevents tests", p.ClientCert.Subject)
			}},
		{name: "remove the certificate", current: func() config.Publication {
			c := current
			c.ClientCert = &config.ClientCert{Subject: "x"}
			return c
		}(), body: `{"client_cert":"","client_key":""}`, check: func(t *testing.T, p config.Publication) { assert.Nil(t, p.ClientCert) }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, _, err := registry(t).UpdatePublication(t.Context(), "t1", tt.current, []byte(tt.body))
			if tt.err != "" {
				require.ErrorIs(t, err, config.ErrInvalid)
				assert.Contains(t, err.Error(), tt.err)
				return
			}
			require.NoError(t, err)
			tt.check(t, p)
		})
	}
}

// TestTokenFresh: a token is kept until min(10 s, half its lifetime)
// before its expiry; one without expiry until the receiver refuses it.
func TestTokenFresh(t *testing.T) {
	at := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	tests := []struct {
		name     string
		lifetime time.Duration // 0: no expiry
		after    time.Duration
		want     bool
	}{
		{"hour-long, fresh", time.Hour, 59 * time.Minute, true},
		{"hour-long, 10 s left", time.Hour, time.Hour - 10*time.Second, false},
		{"2 s, after 0.9 s", 2 * time.Second, 900 * time.Millisecond, true},
		{"2 s, after 1 s", 2 * time.Second, time.Second, false},
		{"no expiry", 0, 1000 * time.Hour, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tok := &oauth2.Token{AccessToken: "x"}
			if tt.lifetime > 0 {
				tok.Expiry = at.Add(tt.lifetime)
			}
			assert.Equal(t, tt.want, webhook.TokenFresh(tok, at, at.Add(tt.after)))
		})
	}
	assert.False(t, webhook.TokenFresh(nil, at, at))
}
