package salesforce_test

import (
	"crypto/rand"
	"crypto/rsa"
	"net/http"
	"net/url"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/herokuevents/herokuevents/shared/salesforce"
	"github.com/herokuevents/herokuevents/shared/salesforce/pubsub"
	"github.com/herokuevents/herokuevents/shared/salesforce/salesforcetest"
	"github.com/herokuevents/herokuevents/shared/salesforce/standin"
)

// authorize follows the authorize URL like a browser and returns the query
// the org redirected back with (the redirect target itself is not fetched).
func authorize(t *testing.T, authURL string) url.Values {
	t.Helper()
	client := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := client.Get(authURL)
	require.NoError(t, err)
	defer resp.Body.Close()
	require.Equal(t, http.StatusFound, resp.StatusCode)
	loc, err := resp.Location()
	require.NoError(t, err)
	assert.Equal(t, "app.example.com", loc.Host)
	return loc.Query()
}

func TestWebServerFlowWithPKCE(t *testing.T) {
	org := salesforcetest.StartOrg(t, standin.Options{})
	o := org.OAuth("https://app.example.com/oauth/callback")

	verifier := salesforce.NewVerifier()
	authURL := o.AuthCodeURL("state-123", verifier)
	u, err := url.Parse(authURL)
	require.NoError(t, err)
	assert.Equal(t, "S256", u.Query().Get("code_challenge_method"))
	assert.NotEmpty(t, u.Query().Get("code_challenge"))

	q := authorize(t, authURL)
	assert.Equal(t, "state-123", q.Get("state"))

	tok, err := o.Exchange(t.Context(), q.Get("code"), verifier)
	require.NoError(t, err)
	assert.NotEmpty(t, tok.AccessToken)
	assert.NotEmpty(t, tok.RefreshToken)
	assert.Equal(t, org.InstanceURL(), tok.InstanceURL)
	assert.Equal(t, org.OrgID(), tok.OrgID())
	assert.Equal(t, org.UserID(), tok.UserID())

	ui, err := o.UserInfo(t.Context(), tok)
	require.NoError(t, err)
	assert.Equal(t, org.OrgID(), ui.OrganizationID)
	assert.Equal(t, org.Username(), ui.PreferredUsername)

	t.Run("code is single use", func(t *testing.T) {
		_, err := o.Exchange(t.Context(), q.Get("code"), verifier)
		require.ErrorIs(t, err, salesforce.ErrInvalidGrant)
	})
	t.Run("wrong verifier", func(t *testing.T) {
		q := authorize(t, o.AuthCodeURL("s", salesforce.NewVerifier()))
		_, err := o.Exchange(t.Context(), q.Get("code"), salesforce.NewVerifier())
		require.ErrorIs(t, err, salesforce.ErrInvalidGrant)
		var oe *salesforce.OAuthError
		require.ErrorAs(t, err, &oe)
		assert.Equal(t, http.StatusBadRequest, oe.Status)
	})
	t.Run("token works on the Pub/Sub API", func(t *testing.T) {
		c := salesforcetest.Dial(t, org, salesforce.StaticSession(tok.Session()))
		_, err := c.GetTopic(t.Context(), standin.SystemStatusTopic)
		require.NoError(t, err)
	})
	t.Run("refresh after expiry, then revoke", func(t *testing.T) {
		org.ExpireAccessTokens()
		_, err := o.UserInfo(t.Context(), tok)
		require.Error(t, err)
		fresh, err := o.Refresh(t.Context(), tok.RefreshToken)
		require.NoError(t, err)
		assert.NotEqual(t, tok.AccessToken, fresh.AccessToken)
		assert.Equal(t, tok.RefreshToken, fresh.RefreshToken)
		_, err = o.UserInfo(t.Context(), fresh)
		require.NoError(t, err)

		require.NoError(t, o.Revoke(t.Context(), tok.RefreshToken))
		_, err = o.UserInfo(t.Context(), fresh)
		require.Error(t, err, "revoking the refresh token revokes its access tokens")
		_, err = o.Refresh(t.Context(), tok.RefreshToken)
		require.ErrorIs(t, err, salesforce.ErrInvalidGrant)
		assert.Contains(t, err.Error(), "expired access/refresh token")

		err = o.Revoke(t.Context(), "unknown")
		var oe *salesforce.OAuthError
		require.ErrorAs(t, err, &oe)
	})
}

func TestJWTBearer(t *testing.T) {
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	require.NoError(t, err)
	other, err := rsa.GenerateKey(rand.Reader, 2048)
	require.NoError(t, err)
	org := salesforcetest.StartOrg(t, standin.Options{JWTKeys: []*rsa.PublicKey{&key.PublicKey}})
	o := org.OAuth("")

	tok, err := o.JWTBearer(t.Context(), org.Username(), key)
	require.NoError(t, err)
	assert.NotEmpty(t, tok.AccessToken)
	assert.Empty(t, tok.RefreshToken)
	assert.Equal(t, org.OrgID(), tok.OrgID())

	for name, tc := range map[string]struct {
		user string
		key  *rsa.PrivateKey
		o    *salesforce.OAuth
	}{
		"unregistered key": {user: org.Username(), key: other, o: o},
		"wrong user":       {user: "someone@else", key: key, o: o},
		"wrong client":     {user: org.Username(), key: key, o: &salesforce.OAuth{LoginURL: org.LoginURL(), ClientID: "nope"}},
	} {
		t.Run(name, func(t *testing.T) {
			_, err := tc.o.JWTBearer(t.Context(), tc.user, tc.key)
			require.ErrorIs(t, err, salesforce.ErrInvalidGrant)
		})
	}

	t.Run("token source re-mints after expiry", func(t *testing.T) {
		ts := o.JWTTokenSource(org.Username(), key)
		c := salesforcetest.Dial(t, org, ts)
		_, err := c.GetTopic(t.Context(), standin.SystemStatusTopic)
		require.NoError(t, err)
		org.ExpireAccessTokens()
		_, err = c.GetTopic(t.Context(), standin.SystemStatusTopic)
		require.ErrorIs(t, err, pubsub.ErrUnauthenticated)
		_, err = c.GetTopic(t.Context(), standin.SystemStatusTopic)
		require.NoError(t, err)
	})
}

func TestClientCredentials(t *testing.T) {
	org := salesforcetest.StartOrg(t, standin.Options{})
	tok, err := org.OAuth("").ClientCredentials(t.Context())
	require.NoError(t, err)
	assert.NotEmpty(t, tok.AccessToken)
	assert.Equal(t, org.InstanceURL(), tok.InstanceURL)

	bad := &salesforce.OAuth{LoginURL: org.LoginURL(), ClientID: org.ClientID(), ClientSecret: "wrong"}
	_, err = bad.ClientCredentials(t.Context())
	var oe *salesforce.OAuthError
	require.ErrorAs(t, err, &oe)
	assert.Equal(t, "invalid_client", oe.Code)

	ts := org.OAuth("").ClientCredentialsTokenSource()
	s, err := ts.Session(t.Context())
	require.NoError(t, err)
	assert.Equal(t, org.OrgID(), s.OrgID)
}

func TestTokenIdentity(t *testing.T) {
	tok := salesforce.Token{ID: "https://login.salesforce.com/id/00D5g000004ABCDEAA/0055g000001XYZWAA2"}
	assert.Equal(t, "00D5g000004ABCDEAA", tok.OrgID())
	assert.Equal(t, "0055g000001XYZWAA2", tok.UserID())
	assert.Empty(t, (&salesforce.Token{ID: "not a url"}).OrgID())
	assert.Equal(t, salesforce.DefaultLoginURL+"/services/oauth2/authorize", mustAuthBase(t, (&salesforce.OAuth{ClientID: "x"}).AuthCodeURL("s", "v")))
}

func mustAuthBase(t *testing.T, raw string) string {
	t.Helper()
	u, err := url.Parse(raw)
	require.NoError(t, err)
	u.RawQuery = ""
	return u.String()
}
