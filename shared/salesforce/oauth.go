package salesforce

import (
	"context"
	"crypto/rsa"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"golang.org/x/oauth2"
	"golang.org/x/oauth2/clientcredentials"
)

// DefaultLoginURL is the production login host.
const DefaultLoginURL = "https://login.salesforce.com"

// ErrInvalidGrant reports a refused grant: a revoked or expired refresh
// token, a used or unknown authorization code, a failed PKCE check or a bad
// JWT assertion. The authorization must be redone; retrying will not help.
var ErrInvalidGrant = errors.New("salesforce refused the grant")

// OAuthError is an error answer of the token, revoke or userinfo endpoint.
// It wraps ErrInvalidGrant when Code is invalid_grant.
type OAuthError struct {
	Status      int    // HTTP status
	Code        string // "invalid_grant", "invalid_client_id", …
	Description string
}

func (e *OAuthError) Error() string {
	return fmt.Sprintf("salesforce oauth: %s: %s (HTTP %d)", e.Code, e.Description, e.Status)
}

// Unwrap lets errors.Is match ErrInvalidGrant.
func (e *OAuthError) Unwrap() error {
	if e.Code == "invalid_grant" {
		return ErrInvalidGrant
	}
	return nil
}

// OAuth is the connected app of a Salesforce org and the login host it uses.
// The zero value is not usable; set ClientID at least. Methods are safe for
// concurrent use and do not retry.
type OAuth struct {
	LoginURL     string // default DefaultLoginURL; a sandbox uses https://test.salesforce.com, My Domain its own host
	ClientID     string // consumer key
	ClientSecret string // consumer secret; optional for PKCE and JWT bearer
	RedirectURL  string // callback of the web-server flow
	Scopes       []string
	HTTPClient   *http.Client // default http.DefaultClient
}

func (o *OAuth) loginURL() string {
	if o.LoginURL == "" {
		return DefaultLoginURL
	}
	return strings.TrimRight(o.LoginURL, "/")
}

func (o *OAuth) config() *oauth2.Config {
	return &oauth2.Config{
		ClientID:     o.ClientID,
		ClientSecret: o.ClientSecret,
		RedirectURL:  o.RedirectURL,
		Scopes:       o.Scopes,
		Endpoint: oauth2.Endpoint{
			AuthURL:   o.loginURL() + "/services/oauth2/authorize",
			TokenURL:  o.loginURL() + "/services/oauth2/token",
			AuthStyle: oauth2.AuthStyleInParams,
		},
	}
}

func (o *OAuth) ctx(ctx context.Context) context.Context {
	if o.HTTPClient != nil {
		return context.WithValue(ctx, oauth2.HTTPClient, o.HTTPClient)
	}
	return ctx
}

func (o *OAuth) client() *http.Client {
	if o.HTTPClient != nil {
		return o.HTTPClient
	}
	return http.DefaultClient
}

// NewVerifier returns a fresh PKCE code verifier; keep it with the state
// until the callback.
func NewVerifier() string { return oauth2.GenerateVerifier() }

// AuthCodeURL returns the authorize URL of the web-server flow with a PKCE
// S256 challenge derived from verifier.
func (o *OAuth) AuthCodeURL(state, verifier string) string {
	return o.config().AuthCodeURL(state, oauth2.S256ChallengeOption(verifier))
}

// Exchange trades an authorization code for tokens, proving the PKCE verifier.
func (o *OAuth) Exchange(ctx context.Context, code, verifier string) (*Token, error) {
	t, err := o.config().Exchange(o.ctx(ctx), code, oauth2.VerifierOption(verifier))
	if err != nil {
		return nil, fmt.Errorf("exchange authorization code: %w", oauthErr(err))
	}
	return tokenFrom(t), nil
}

// Refresh gets a new access token with a refresh token. Salesforce usually
// returns no new refresh token; the returned Token keeps the old one then.
func (o *OAuth) Refresh(ctx context.Context, refreshToken string) (*Token, error) {
	t, err := o.config().TokenSource(o.ctx(ctx), &oauth2.Token{RefreshToken: refreshToken}).Token()
	if err != nil {
		return nil, fmt.Errorf("refresh access token: %w", oauthErr(err))
	}
	tok := tokenFrom(t)
	if tok.RefreshToken == "" {
		tok.RefreshToken = refreshToken
	}
	return tok, nil
}

// ClientCredentials runs the client credentials flow (as the app's run-as
// user). Salesforce requires the My Domain host as LoginURL for it.
func (o *OAuth) ClientCredentials(ctx context.Context) (*Token, error) {
	cc := clientcredentials.Config{
		ClientID:     o.ClientID,
		ClientSecret: o.ClientSecret,
		TokenURL:     o.loginURL() + "/services/oauth2/token",
		Scopes:       o.Scopes,
		AuthStyle:    oauth2.AuthStyleInParams,
	}
	t, err := cc.Token(o.ctx(ctx))
	if err != nil {
		return nil, fmt.Errorf("client credentials grant: %w", oauthErr(err))
	}
	return tokenFrom(t), nil
}

// JWTBearer runs the JWT bearer flow: an RS256 assertion with iss = client
// id, sub = username, aud = the login URL and a 3-minute exp, signed by key
// (whose certificate is uploaded to the connected app).
func (o *OAuth) JWTBearer(ctx context.Context, username string, key *rsa.PrivateKey) (*Token, error) {
	now := time.Now()
	claims := jwt.RegisteredClaims{
		Issuer:    o.ClientID,
		Subject:   username,
		Audience:  jwt.ClaimStrings{o.loginURL()},
		ExpiresAt: jwt.NewNumericDate(now.Add(3 * time.Minute)),
	}
	assertion, err := jwt.NewWithClaims(jwt.SigningMethodRS256, claims).SignedString(key)
	if err != nil {
		return nil, fmt.Errorf("sign jwt assertion: %w", err)
	}
	form := url.Values{
		"grant_type": {"urn:ietf:params:oauth:grant-type:jwt-bearer"},
		"assertion":  {assertion},
	}
	var raw map[string]any
	if err := o.post(ctx, "/services/oauth2/token", form, &raw); err != nil {
		return nil, fmt.Errorf("jwt bearer grant: %w", err)
	}
	tok := tokenFromMap(raw)
	if tok.AccessToken == "" {
		return nil, fmt.Errorf("jwt bearer grant: response without access_token")
	}
	return tok, nil
}

// Revoke revokes an access or refresh token (revoking a refresh token also
// revokes its access tokens).
func (o *OAuth) Revoke(ctx context.Context, token string) error {
	if err := o.post(ctx, "/services/oauth2/revoke", url.Values{"token": {token}}, nil); err != nil {
		return fmt.Errorf("revoke token: %w", err)
	}
	return nil
}

// UserInfo is the answer of /services/oauth2/userinfo.
type UserInfo struct {
	UserID            string `json:"user_id"`
	OrganizationID    string `json:"organization_id"`
	PreferredUsername string `json:"preferred_username"`
	Name              string `json:"name"`
	Email             string `json:"email"`
}

// UserInfo returns the user of an access token. It is asked of the token's
// instance URL when set, else of the login URL.
func (o *OAuth) UserInfo(ctx context.Context, tok *Token) (*UserInfo, error) {
	base := o.loginURL()
	if tok.InstanceURL != "" {
		base = strings.TrimRight(tok.InstanceURL, "/")
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, base+"/services/oauth2/userinfo", nil)
	if err != nil {
		return nil, fmt.Errorf("get userinfo: %w", err)
	}
	req.Header.Set("Authorization", "Bearer "+tok.AccessToken)
	var ui UserInfo
	if err := o.do(req, &ui); err != nil {
		return nil, fmt.Errorf("get userinfo: %w", err)
	}
	return &ui, nil
}

func (o *OAuth) post(ctx context.Context, path string, form url.Values, out any) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, o.loginURL()+path, strings.NewReader(form.Encode()))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	return o.do(req, out)
}

func (o *OAuth) do(req *http.Request, out any) error {
	resp, err := o.client().Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return err
	}
	if resp.StatusCode/100 != 2 {
		e := &OAuthError{Status: resp.StatusCode}
		var eb struct {
			Error       string `json:"error"`
			Description string `json:"error_description"`
		}
		if json.Unmarshal(body, &eb) == nil && eb.Error != "" {
			e.Code, e.Description = eb.Error, eb.Description
		} else {
			e.Code, e.Description = "http_error", strings.TrimSpace(string(body))
			if resp.StatusCode == http.StatusUnauthorized || resp.StatusCode == http.StatusForbidden {
				e.Code = "invalid_token"
			}
		}
		return e
	}
	if out == nil || len(body) == 0 {
		return nil
	}
	return json.Unmarshal(body, out)
}

func oauthErr(err error) error {
	var re *oauth2.RetrieveError
	if errors.As(err, &re) {
		code, desc := re.ErrorCode, re.ErrorDescription
		if code == "" {
			code, desc = "http_error", strings.TrimSpace(string(re.Body))
		}
		status := 0
		if re.Response != nil {
			status = re.Response.StatusCode
		}
		return &OAuthError{Status: status, Code: code, Description: desc}
	}
	return err
}

// Token is a Salesforce token response. Core tokens carry no expiry: react
// to ErrUnauthenticated / HTTP 401 by refreshing.
type Token struct {
	AccessToken  string `json:"access_token"`
	RefreshToken string `json:"refresh_token,omitempty"`
	InstanceURL  string `json:"instance_url"`
	ID           string `json:"id"` // identity URL …/id/<org id>/<user id>
	IssuedAt     string `json:"issued_at,omitempty"`
	Scope        string `json:"scope,omitempty"`
	TokenType    string `json:"token_type,omitempty"`
}

// OrgID returns the org id from the identity URL (its second-last path segment).
func (t *Token) OrgID() string {
	org, _ := identity(t.ID)
	return org
}

// UserID returns the user id from the identity URL (its last path segment).
func (t *Token) UserID() string {
	_, user := identity(t.ID)
	return user
}

// Session returns the credentials the Pub/Sub API wants.
func (t *Token) Session() Session {
	return Session{AccessToken: t.AccessToken, InstanceURL: t.InstanceURL, OrgID: t.OrgID(), UserID: t.UserID()}
}

func identity(id string) (org, user string) {
	u, err := url.Parse(id)
	if err != nil {
		return "", ""
	}
	parts := strings.Split(strings.Trim(u.Path, "/"), "/")
	if len(parts) < 3 || parts[len(parts)-3] != "id" {
		return "", ""
	}
	return parts[len(parts)-2], parts[len(parts)-1]
}

func tokenFrom(t *oauth2.Token) *Token {
	str := func(k string) string {
		if v, ok := t.Extra(k).(string); ok {
			return v
		}
		return ""
	}
	return &Token{
		AccessToken:  t.AccessToken,
		RefreshToken: t.RefreshToken,
		InstanceURL:  str("instance_url"),
		ID:           str("id"),
		IssuedAt:     str("issued_at"),
		Scope:        str("scope"),
		TokenType:    t.TokenType,
	}
}

func tokenFromMap(m map[string]any) *Token {
	str := func(k string) string {
		if v, ok := m[k].(string); ok {
			return v
		}
		return ""
	}
	return &Token{
		AccessToken:  str("access_token"),
		RefreshToken: str("refresh_token"),
		InstanceURL:  str("instance_url"),
		ID:           str("id"),
		IssuedAt:     str("issued_at"),
		Scope:        str("scope"),
		TokenType:    str("token_type"),
	}
}

// Session is what every Pub/Sub RPC carries as metadata.
type Session struct {
	AccessToken string // metadata accesstoken
	InstanceURL string // metadata instanceurl
	OrgID       string // metadata tenantid
	// UserID is the user the session acts as ("" when the token did not
	// say): the CreatedById of the events it publishes.
	UserID string
}

// SessionSource supplies sessions to the Pub/Sub client. Implementations
// must be safe for concurrent use.
type SessionSource interface {
	Session(ctx context.Context) (Session, error)
}

// Invalidator is implemented by session sources that can drop a rejected
// access token so that the next Session call gets a new one. The client
// calls it when the API answers UNAUTHENTICATED.
type Invalidator interface {
	Invalidate(accessToken string)
}

// StaticSession is a SessionSource of one fixed session.
type StaticSession Session

// Session returns s.
func (s StaticSession) Session(context.Context) (Session, error) { return Session(s), nil }

// TokenSource keeps a current token and mints a new one when it was
// invalidated: by refresh token, or by re-running the JWT bearer or client
// credentials grant. It implements SessionSource and Invalidator and is safe
// for concurrent use; refreshes are serialized.
type TokenSource struct {
	mint     func(ctx context.Context, old *Token) (*Token, error)
	onChange func(*Token)

	mu  sync.Mutex
	tok *Token
}

// RefreshTokenSource starts from tok (which needs a RefreshToken) and
// refreshes with o when invalidated. onChange, if set, is called with every
// new token so callers can store it (sealed).
func (o *OAuth) RefreshTokenSource(tok *Token, onChange func(*Token)) *TokenSource {
	return &TokenSource{tok: tok, onChange: onChange, mint: func(ctx context.Context, old *Token) (*Token, error) {
		if old == nil || old.RefreshToken == "" {
			return nil, fmt.Errorf("refresh access token: %w: no refresh token", ErrInvalidGrant)
		}
		return o.Refresh(ctx, old.RefreshToken)
	}}
}

// JWTTokenSource mints tokens with the JWT bearer flow.
func (o *OAuth) JWTTokenSource(username string, key *rsa.PrivateKey) *TokenSource {
	return &TokenSource{mint: func(ctx context.Context, _ *Token) (*Token, error) { return o.JWTBearer(ctx, username, key) }}
}

// ClientCredentialsTokenSource mints tokens with the client credentials flow.
func (o *OAuth) ClientCredentialsTokenSource() *TokenSource {
	return &TokenSource{mint: func(ctx context.Context, _ *Token) (*Token, error) { return o.ClientCredentials(ctx) }}
}

// Token returns the current token, minting one if there is none.
func (ts *TokenSource) Token(ctx context.Context) (*Token, error) {
	ts.mu.Lock()
	defer ts.mu.Unlock()
	if ts.tok != nil && ts.tok.AccessToken != "" {
		t := *ts.tok
		return &t, nil
	}
	nt, err := ts.mint(ctx, ts.tok)
	if err != nil {
		return nil, err
	}
	ts.tok = nt
	if ts.onChange != nil {
		ts.onChange(nt)
	}
	t := *nt
	return &t, nil
}

// Session returns the session of the current token.
func (ts *TokenSource) Session(ctx context.Context) (Session, error) {
	t, err := ts.Token(ctx)
	if err != nil {
		return Session{}, err
	}
	return t.Session(), nil
}

// Invalidate drops the current access token if it is still accessToken
// (so concurrent callers refresh once).
func (ts *TokenSource) Invalidate(accessToken string) {
	ts.mu.Lock()
	defer ts.mu.Unlock()
	if ts.tok != nil && ts.tok.AccessToken == accessToken {
		t := *ts.tok
		t.AccessToken = ""
		ts.tok = &t
	}
}
