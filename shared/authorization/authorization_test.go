package authorization_test

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/herokuevents/herokuevents/infra/embedded/filesealer"
	"github.com/herokuevents/herokuevents/shared/authorization"
	"github.com/herokuevents/herokuevents/shared/config"
	"github.com/herokuevents/herokuevents/shared/config/memstore"
	"github.com/herokuevents/herokuevents/shared/logtest"
	"github.com/herokuevents/herokuevents/shared/salesforce"
	"github.com/herokuevents/herokuevents/shared/salesforce/pubsub"
	"github.com/herokuevents/herokuevents/shared/salesforce/standin"
	"github.com/herokuevents/herokuevents/shared/secret"
)

const (
	tenant   = "tenant-1"
	callback = "https://events.example.com/oauth/salesforce/callback"
)

type fixture struct {
	org    *standin.Org
	svc    *authorization.Service
	store  config.Store
	sealer secret.Sealer
	logs   *logtest.Buffer
	key    *rsa.PrivateKey
	keyPEM string
}

func setup(t *testing.T) *fixture {
	t.Helper()
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	require.NoError(t, err)
	org, err := standin.Start(standin.Options{
		JWTKeys: []*rsa.PublicKey{&key.PublicKey}, Logger: slog.New(slog.DiscardHandler),
	})
	require.NoError(t, err)
	t.Cleanup(func() { _ = org.Close() })
	store := memstore.New()
	t.Cleanup(func() { _ = store.Close() })
	sealKey := make([]byte, filesealer.KeySize)
	_, _ = rand.Read(sealKey)
	sealer, err := filesealer.New(sealKey)
	require.NoError(t, err)
	logger, logs := logtest.JSON(nil)
	svc := &authorization.Service{
		Store: store, Sealer: sealer, Logger: logger,
		ClientID: org.ClientID(), ClientSecret: org.ClientSecret(), CallbackURL: callback,
	}
	keyPEM := string(pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(key)}))
	return &fixture{org: org, svc: svc, store: store, sealer: sealer, logs: logs, key: key, keyPEM: keyPEM}
}

// authorize follows the authorize URL like a browser up to the redirect to
// our callback and returns its query.
func authorize(t *testing.T, authURL string) url.Values {
	t.Helper()
	client := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := client.Get(authURL)
	require.NoError(t, err)
	defer resp.Body.Close()
	require.Equal(t, http.StatusFound, resp.StatusCode)
	loc, err := resp.Location()
	require.NoError(t, err)
	require.Equal(t, "events.example.com", loc.Host)
	return loc.Query()
}

// connectWeb runs the whole web flow for alias.
func (f *fixture) connectWeb(t *testing.T, alias string) config.Authorization {
	t.Helper()
	c, err := f.svc.Create(t.Context(), tenant, authorization.Request{Alias: alias, LoginURL: f.org.LoginURL()})
	require.NoError(t, err)
	q := authorize(t, c.AuthorizeURL)
	a, err := f.svc.Callback(t.Context(), q.Get("state"), q.Get("code"), "", "")
	require.NoError(t, err)
	return a
}

// token opens the stored token of an authorization.
func (f *fixture) token(t *testing.T, alias string) salesforce.Token {
	t.Helper()
	rec, err := config.Load[config.Authorization](t.Context(), f.store, tenant, config.KindAuthorization, alias)
	require.NoError(t, err)
	raw, err := f.sealer.Open(t.Context(), rec.Value.TokenSealed)
	require.NoError(t, err)
	var tok salesforce.Token
	require.NoError(t, json.Unmarshal(raw, &tok))
	return tok
}

func TestWebFlow(t *testing.T) {
	f := setup(t)
	c, err := f.svc.Create(t.Context(), tenant, authorization.Request{Alias: "my-org", LoginURL: f.org.LoginURL() + "/"})
	require.NoError(t, err)
	a := c.Authorization
	assert.Equal(t, config.AuthPending, a.Status)
	assert.Equal(t, config.FlowWeb, a.Flow)
	assert.Equal(t, f.org.LoginURL(), a.LoginURL, "trailing slash dropped")
	assert.Empty(t, a.InstanceURL)

	u, err := url.Parse(c.AuthorizeURL)
	require.NoError(t, err)
	q := u.Query()
	assert.Equal(t, f.org.LoginURL()+"/services/oauth2/authorize", u.Scheme+"://"+u.Host+u.Path)
	assert.Equal(t, "S256", q.Get("code_challenge_method"))
	assert.NotEmpty(t, q.Get("code_challenge"))
	assert.Equal(t, callback, q.Get("redirect_uri"))
	assert.Equal(t, f.org.ClientID(), q.Get("client_id"))
	assert.Equal(t, "api refresh_token", q.Get("scope"))
	assert.Greater(t, len(q.Get("state")), 60, "state carries 256 random bits")

	back := authorize(t, c.AuthorizeURL)
	state := back.Get("state")
	got, err := f.svc.Callback(t.Context(), state, back.Get("code"), "", "")
	require.NoError(t, err)
	assert.Equal(t, config.AuthConnected, got.Status)
	assert.Equal(t, f.org.InstanceURL(), got.InstanceURL)
	assert.Equal(t, f.org.OrgID(), got.OrgID)
	assert.Equal(t, f.org.UserID(), got.UserID)
	assert.Equal(t, f.org.Username(), got.Username)
	assert.Empty(t, got.StateHash)
	assert.Empty(t, got.VerifierSealed)

	tok := f.token(t, "my-org")
	assert.NotEmpty(t, tok.RefreshToken)
	stored, err := f.store.Get(t.Context(), tenant, config.KindAuthorization, "my-org")
	require.NoError(t, err)
	assert.NotContains(t, string(stored.Body), tok.AccessToken, "tokens are sealed at rest")
	assert.NotContains(t, string(stored.Body), tok.RefreshToken)

	t.Run("state is single use", func(t *testing.T) {
		_, err := f.svc.Callback(t.Context(), state, back.Get("code"), "", "")
		require.ErrorIs(t, err, authorization.ErrState)
	})
	t.Run("sessions work on the Pub/Sub API", func(t *testing.T) {
		src, err := f.svc.Sessions(t.Context(), tenant, "my-org")
		require.NoError(t, err)
		sess, err := src.Session(t.Context())
		require.NoError(t, err)
		assert.Equal(t, f.org.OrgID(), sess.OrgID)
		assert.Equal(t, f.org.InstanceURL(), sess.InstanceURL)
		c, err := pubsub.Dial(t.Context(), f.org.PubSubEndpoint(), pubsub.WithRootCAs(f.org.CertPool()),
			pubsub.WithSession(src), pubsub.WithLogger(slog.New(slog.DiscardHandler)))
		require.NoError(t, err)
		defer c.Close()
		_, err = c.GetTopic(t.Context(), standin.SystemStatusTopic)
		require.NoError(t, err)

		f.org.ExpireAccessTokens()
		_, err = c.GetTopic(t.Context(), standin.SystemStatusTopic)
		require.ErrorIs(t, err, pubsub.ErrUnauthenticated, "the client invalidates the rejected token")
		_, err = c.GetTopic(t.Context(), standin.SystemStatusTopic)
		require.NoError(t, err, "the retry runs with a refreshed token")
		after, err := src.Session(t.Context())
		require.NoError(t, err)
		assert.NotEqual(t, sess.AccessToken, after.AccessToken)
	})
	t.Run("logs carry no token", func(t *testing.T) {
		logs := f.logs.String()
		assert.Contains(t, logs, "authorization connected")
		assert.NotContains(t, logs, tok.AccessToken)
		assert.NotContains(t, logs, tok.RefreshToken)
		assert.NotContains(t, logs, state)
	})
}

func TestCallbackRefusals(t *testing.T) {
	f := setup(t)
	newPending := func(t *testing.T, alias string) url.Values {
		c, err := f.svc.Create(t.Context(), tenant, authorization.Request{Alias: alias, LoginURL: f.org.LoginURL()})
		require.NoError(t, err)
		return authorize(t, c.AuthorizeURL)
	}
	t.Run("forged state", func(t *testing.T) {
		q := newPending(t, "forged")
		state := q.Get("state")
		forged := state[:len(state)-4] + "AAAA"
		_, err := f.svc.Callback(t.Context(), forged, q.Get("code"), "", "")
		require.ErrorIs(t, err, authorization.ErrState)
		a, err := f.svc.Get(t.Context(), tenant, "forged")
		require.NoError(t, err)
		assert.Equal(t, config.AuthPending, a.Status, "a forged state changes nothing")
	})
	t.Run("garbage state", func(t *testing.T) {
		for _, s := range []string{"", "x", "a.b.c", "dGVuYW50.bm90LWEtdXVpZA.AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"} {
			_, err := f.svc.Callback(t.Context(), s, "code", "", "")
			require.ErrorIs(t, err, authorization.ErrState, s)
		}
	})
	t.Run("expired state", func(t *testing.T) {
		q := newPending(t, "late")
		f.svc.Now = func() time.Time { return time.Now().Add(2 * time.Hour) }
		defer func() { f.svc.Now = nil }()
		_, err := f.svc.Callback(t.Context(), q.Get("state"), q.Get("code"), "", "")
		require.ErrorIs(t, err, authorization.ErrState)
	})
	t.Run("user denied", func(t *testing.T) {
		q := newPending(t, "denied")
		a, err := f.svc.Callback(t.Context(), q.Get("state"), "", "access_denied", "end-user denied authorization")
		require.ErrorIs(t, err, authorization.ErrNotConnected)
		assert.Equal(t, config.AuthFailing, a.Status)
		assert.Contains(t, a.LastError, "access_denied")
		assert.Contains(t, a.LastError, "authorizations:salesforce:create denied")
	})
	t.Run("code refused", func(t *testing.T) {
		q := newPending(t, "badcode")
		a, err := f.svc.Callback(t.Context(), q.Get("state"), "not-a-code", "", "")
		require.ErrorIs(t, err, authorization.ErrNotConnected)
		assert.Equal(t, config.AuthFailing, a.Status)
		assert.Contains(t, a.LastError, "invalid_grant")
	})
	t.Run("pending has no session", func(t *testing.T) {
		_, err := f.svc.Sessions(t.Context(), tenant, "forged")
		require.ErrorIs(t, err, authorization.ErrNotConnected)
		assert.Contains(t, authorization.Message(err), "waiting for the Salesforce login")
	})
}

func TestHeadlessFlows(t *testing.T) {
	f := setup(t)
	tests := []struct {
		name string
		req  authorization.Request
		flow string
	}{
		{name: "jwt bearer", flow: config.FlowJWT, req: authorization.Request{
			Alias: "jwt-org", ClientID: f.org.ClientID(), Username: f.org.Username(), JWTKey: f.keyPEM}},
		{name: "client credentials", flow: config.FlowClientCredentials, req: authorization.Request{
			Alias: "cc-org", ClientID: f.org.ClientID(), ClientSecret: f.org.ClientSecret()}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.req.LoginURL = f.org.LoginURL()
			c, err := f.svc.Create(t.Context(), tenant, tt.req)
			require.NoError(t, err)
			assert.Empty(t, c.AuthorizeURL)
			a := c.Authorization
			assert.Equal(t, config.AuthConnected, a.Status)
			assert.Equal(t, tt.flow, a.Flow)
			assert.Equal(t, f.org.InstanceURL(), a.InstanceURL)
			assert.Equal(t, f.org.OrgID(), a.OrgID)
			stored, err := f.store.Get(t.Context(), tenant, config.KindAuthorization, tt.req.Alias)
			require.NoError(t, err)
			assert.NotContains(t, string(stored.Body), "PRIVATE KEY")
			assert.NotContains(t, string(stored.Body), f.org.ClientSecret())

			src, err := f.svc.Sessions(t.Context(), tenant, tt.req.Alias)
			require.NoError(t, err)
			first, err := src.Session(t.Context())
			require.NoError(t, err)

			f.org.ExpireAccessTokens()
			src.Invalidate(first.AccessToken)
			second, err := src.Session(t.Context())
			require.NoError(t, err, "a new token is minted with the %s grant", tt.flow)
			assert.NotEqual(t, first.AccessToken, second.AccessToken)
			assert.Equal(t, second.AccessToken, f.token(t, tt.req.Alias).AccessToken, "the new token is stored")
		})
	}
	t.Run("refused credentials", func(t *testing.T) {
		_, err := f.svc.Create(t.Context(), tenant, authorization.Request{Alias: "bad-cc", LoginURL: f.org.LoginURL(),
			ClientID: f.org.ClientID(), ClientSecret: "wrong"})
		require.ErrorIs(t, err, authorization.ErrInvalid)
		assert.Contains(t, err.Error(), "invalid_client")
		_, err = f.svc.Get(t.Context(), tenant, "bad-cc")
		require.ErrorIs(t, err, authorization.ErrNotFound, "nothing stored")
	})
	t.Run("unreachable", func(t *testing.T) {
		_, err := f.svc.Create(t.Context(), tenant, authorization.Request{Alias: "down", LoginURL: "http://127.0.0.1:1",
			ClientID: "x", ClientSecret: "y"})
		require.ErrorIs(t, err, authorization.ErrUnreachable)
		assert.Contains(t, err.Error(), "Cannot get a token from Salesforce at http://127.0.0.1:1")
	})
}

func TestSessionRefresh(t *testing.T) {
	f := setup(t)
	f.connectWeb(t, "my-org")
	src, err := f.svc.Sessions(t.Context(), tenant, "my-org")
	require.NoError(t, err)
	again, err := f.svc.Sessions(t.Context(), tenant, "my-org")
	require.NoError(t, err)
	assert.Same(t, src, again, "one source per authorization")

	first, err := src.Session(t.Context())
	require.NoError(t, err)
	cached, err := src.Session(t.Context())
	require.NoError(t, err)
	assert.Equal(t, first, cached, "cached until invalidated")

	f.org.ExpireAccessTokens()
	src.Invalidate("some-older-token")
	still, err := src.Session(t.Context())
	require.NoError(t, err)
	assert.Equal(t, first.AccessToken, still.AccessToken, "invalidating another token changes nothing")

	src.Invalidate(first.AccessToken)
	fresh, err := src.Session(t.Context())
	require.NoError(t, err)
	assert.NotEqual(t, first.AccessToken, fresh.AccessToken)
	ui, err := f.org.OAuth("").UserInfo(t.Context(), &salesforce.Token{AccessToken: fresh.AccessToken, InstanceURL: fresh.InstanceURL})
	require.NoError(t, err, "the refreshed token works")
	assert.Equal(t, f.org.OrgID(), ui.OrganizationID)
	stored := f.token(t, "my-org")
	assert.Equal(t, fresh.AccessToken, stored.AccessToken, "refreshed token persisted")
	assert.NotEmpty(t, stored.RefreshToken, "refresh token kept")

	t.Run("another process reuses the stored token", func(t *testing.T) {
		other := &authorization.Service{Store: f.store, Sealer: f.sealer, ClientID: f.org.ClientID(),
			ClientSecret: f.org.ClientSecret(), CallbackURL: callback, Logger: slog.New(slog.DiscardHandler)}
		osrc, err := other.Sessions(t.Context(), tenant, "my-org")
		require.NoError(t, err)
		s, err := osrc.Session(t.Context())
		require.NoError(t, err)
		assert.Equal(t, fresh.AccessToken, s.AccessToken)
	})
	t.Run("concurrent invalidations refresh once", func(t *testing.T) {
		cur, err := src.Session(t.Context())
		require.NoError(t, err)
		f.org.ExpireAccessTokens()
		var wg sync.WaitGroup
		got := make([]string, 8)
		for i := range got {
			wg.Go(func() {
				src.Invalidate(cur.AccessToken)
				s, err := src.Session(context.Background())
				if assert.NoError(t, err) {
					got[i] = s.AccessToken
				}
			})
		}
		wg.Wait()
		for _, g := range got {
			assert.NotEqual(t, cur.AccessToken, g)
		}
		assert.Equal(t, 1, strings.Count(f.logs.String(), "authorization session refreshed")-1, "one more refresh")
	})
}

func TestRevokedRefreshTokenFails(t *testing.T) {
	f := setup(t)
	f.connectWeb(t, "my-org")
	src, err := f.svc.Sessions(t.Context(), tenant, "my-org")
	require.NoError(t, err)
	sess, err := src.Session(t.Context())
	require.NoError(t, err)

	require.True(t, f.org.RevokeRefreshToken(f.token(t, "my-org").RefreshToken))
	src.Invalidate(sess.AccessToken)
	_, err = src.Session(t.Context())
	require.ErrorIs(t, err, authorization.ErrNotConnected)
	require.ErrorIs(t, err, salesforce.ErrInvalidGrant)
	want := "refresh token revoked or expired: reconnect with authorizations:salesforce:create my-org"
	assert.Contains(t, err.Error(), want)

	a, err := f.svc.Get(t.Context(), tenant, "my-org")
	require.NoError(t, err)
	assert.Equal(t, config.AuthFailing, a.Status)
	assert.Equal(t, want, a.LastError)

	_, err = src.Session(t.Context())
	require.ErrorIs(t, err, authorization.ErrNotConnected, "no retry storm: the failing state answers at once")
	_, err = f.svc.Sessions(t.Context(), tenant, "my-org")
	require.ErrorIs(t, err, authorization.ErrNotConnected)
	assert.Contains(t, err.Error(), want)

	t.Run("create reconnects a failing alias in place", func(t *testing.T) {
		again := f.connectWeb(t, "my-org")
		assert.Equal(t, a.ID, again.ID)
		assert.Equal(t, config.AuthConnected, again.Status)
		assert.Empty(t, again.LastError)
		src, err := f.svc.Sessions(t.Context(), tenant, "my-org")
		require.NoError(t, err)
		_, err = src.Session(t.Context())
		require.NoError(t, err)
	})
}

func TestDestroyRevokes(t *testing.T) {
	f := setup(t)
	f.connectWeb(t, "my-org")
	tok := f.token(t, "my-org")
	src, err := f.svc.Sessions(t.Context(), tenant, "my-org")
	require.NoError(t, err)

	a, err := f.svc.Destroy(t.Context(), tenant, "my-org")
	require.NoError(t, err)
	assert.Equal(t, "my-org", a.Alias)
	_, err = f.org.OAuth("").Refresh(t.Context(), tok.RefreshToken)
	require.ErrorIs(t, err, salesforce.ErrInvalidGrant, "the refresh token was revoked")
	_, err = f.svc.Get(t.Context(), tenant, "my-org")
	require.ErrorIs(t, err, authorization.ErrNotFound)
	_, err = src.Session(t.Context())
	require.ErrorIs(t, err, authorization.ErrNotConnected, "a held source stops working")
	_, err = f.svc.Destroy(t.Context(), tenant, "my-org")
	require.ErrorIs(t, err, authorization.ErrNotFound)
}

func TestCreateValidation(t *testing.T) {
	f := setup(t)
	_, err := f.svc.Create(t.Context(), tenant, authorization.Request{Alias: "taken", LoginURL: f.org.LoginURL()})
	require.NoError(t, err)
	tests := []struct {
		name string
		req  authorization.Request
		kind error
		msg  string
	}{
		{name: "no alias", req: authorization.Request{}, kind: authorization.ErrInvalid, msg: "alias is required"},
		{name: "bad alias", req: authorization.Request{Alias: "my org"}, kind: authorization.ErrInvalid, msg: "is invalid"},
		{name: "uuid alias", req: authorization.Request{Alias: "c0ffee00-0000-4000-8000-000000000000"}, kind: authorization.ErrInvalid, msg: "look like an id"},
		{name: "duplicate", req: authorization.Request{Alias: "taken", LoginURL: f.org.LoginURL()}, kind: authorization.ErrExists, msg: "already exists"},
		{name: "login url not a url", req: authorization.Request{Alias: "a", LoginURL: "login.salesforce.com"}, kind: authorization.ErrInvalid, msg: "login_url"},
		{name: "login url http", req: authorization.Request{Alias: "a", LoginURL: "http://login.salesforce.com"}, kind: authorization.ErrInvalid, msg: "use https"},
		{name: "login url path", req: authorization.Request{Alias: "a", LoginURL: "https://login.salesforce.com/services"}, kind: authorization.ErrInvalid, msg: "bare origin"},
		{name: "login url creds", req: authorization.Request{Alias: "a", LoginURL: "https://u:p@login.salesforce.com"}, kind: authorization.ErrInvalid, msg: "credentials"},
		{name: "jwt without username", req: authorization.Request{Alias: "a", ClientID: "c", JWTKey: "k"}, kind: authorization.ErrInvalid, msg: "needs client_id, username and jwt_key"},
		{name: "jwt bad key", req: authorization.Request{Alias: "a", ClientID: "c", Username: "u", JWTKey: "not pem"}, kind: authorization.ErrInvalid, msg: "not a PEM"},
		{name: "secret without client id", req: authorization.Request{Alias: "a", ClientSecret: "s"}, kind: authorization.ErrInvalid, msg: "needs client_id"},
		{name: "username alone", req: authorization.Request{Alias: "a", Username: "u"}, kind: authorization.ErrInvalid, msg: "only used with jwt_key"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := f.svc.Create(t.Context(), tenant, tt.req)
			require.ErrorIs(t, err, tt.kind)
			assert.Contains(t, err.Error(), tt.msg)
		})
	}
	t.Run("no default connected app", func(t *testing.T) {
		svc := &authorization.Service{Store: f.store, Sealer: f.sealer, CallbackURL: callback}
		_, err := svc.Create(t.Context(), tenant, authorization.Request{Alias: "nodefault"})
		require.ErrorIs(t, err, authorization.ErrInvalid)
		assert.Contains(t, err.Error(), "SALESFORCE_CLIENT_ID")
	})
	t.Run("default login url", func(t *testing.T) {
		c, err := f.svc.Create(t.Context(), tenant, authorization.Request{Alias: "prod"})
		require.NoError(t, err)
		assert.Equal(t, salesforce.DefaultLoginURL, c.Authorization.LoginURL)
		assert.True(t, strings.HasPrefix(c.AuthorizeURL, "https://login.salesforce.com/services/oauth2/authorize?"))
	})
	t.Run("other tenants do not see it", func(t *testing.T) {
		list, err := f.svc.List(t.Context(), "tenant-2")
		require.NoError(t, err)
		assert.Empty(t, list)
		_, err = f.svc.Get(t.Context(), "tenant-2", "taken")
		require.ErrorIs(t, err, authorization.ErrNotFound)
	})
}

// The operator's scopes (SALESFORCE_SCOPES) replace the default ones, e.g.
// to add cdp_ingest_api for Data Cloud publications.
func TestWebFlowScopes(t *testing.T) {
	f := setup(t)
	f.svc.Scopes = []string{"api", "refresh_token", "cdp_ingest_api"}
	c, err := f.svc.Create(t.Context(), tenant, authorization.Request{Alias: "dc-org", LoginURL: f.org.LoginURL()})
	require.NoError(t, err)
	u, err := url.Parse(c.AuthorizeURL)
	require.NoError(t, err)
	assert.Equal(t, "api refresh_token cdp_ingest_api", u.Query().Get("scope"))
}

// FromEnv reads the operator's client secret when the web flow needs it,
// not when it is built: the AWS functions resolve it from Secrets Manager
// in the background (smsecret.Prefetch), and a rotated secret is the one
// used.
func TestFromEnvReadsTheClientSecretAtUse(t *testing.T) {
	f := setup(t)
	var mu sync.Mutex
	reads := 0
	env := map[string]string{authorization.EnvClientID: f.org.ClientID()}
	getenv := func(k string) string {
		mu.Lock()
		defer mu.Unlock()
		if k == authorization.EnvClientSecret {
			reads++
		}
		return env[k]
	}
	svc := authorization.FromEnv(getenv, f.store, f.sealer, nil, "https://events.example.com")
	assert.Equal(t, 0, reads, "read at construction")
	mu.Lock()
	env[authorization.EnvClientSecret] = f.org.ClientSecret()
	mu.Unlock()
	c, err := svc.Create(t.Context(), tenant, authorization.Request{Alias: "from-env", LoginURL: f.org.LoginURL()})
	require.NoError(t, err)
	q := authorize(t, c.AuthorizeURL)
	a, err := svc.Callback(t.Context(), q.Get("state"), q.Get("code"), "", "")
	require.NoError(t, err, "the code is exchanged with the secret read at use")
	assert.Equal(t, config.AuthConnected, a.Status)
	assert.Positive(t, reads)
}
