package webhook

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"

	"golang.org/x/oauth2"
	"golang.org/x/oauth2/clientcredentials"

	"github.com/herokuevents/herokuevents/shared/config"
	"github.com/herokuevents/herokuevents/shared/platform"
	"github.com/herokuevents/herokuevents/shared/sink"
)

// Bounds of the authentication options.
const (
	maxClientID = 256
	maxAudience = 1024
	maxScopes   = 50
	maxPEM      = 64 << 10
)

// authFields are the authentication options of a create or update body,
// besides token: the OAuth2 client credentials grant and the TLS client
// certificate. A nil field is not given.
type authFields struct {
	OAuth2TokenURL     *string `json:"oauth2_token_url"`
	OAuth2ClientID     *string `json:"oauth2_client_id"`
	OAuth2ClientSecret *string `json:"oauth2_client_secret"`
	OAuth2Scopes       *string `json:"oauth2_scopes"`
	OAuth2Audience     *string `json:"oauth2_audience"`
	ClientCert         *string `json:"client_cert"`
	ClientKey          *string `json:"client_key"`
}

func (f authFields) oauth2Given() bool {
	return f.OAuth2TokenURL != nil || f.OAuth2ClientID != nil || f.OAuth2ClientSecret != nil || f.OAuth2Scopes != nil || f.OAuth2Audience != nil
}

// authFlags are the CLI flags of authFields.
var authFlags = []platform.Flag{
	{Name: "oauth2-token-url", Usage: "OAuth2 client credentials: token endpoint (https) whose access token is sent as Authorization: Bearer, instead of --token",
		Check: platform.AbsoluteURL("oauth2-token-url")},
	{Name: "oauth2-client-id", Usage: "OAuth2 client credentials: client id"},
	{Name: "oauth2-client-secret", Usage: "OAuth2 client credentials: client secret (stored sealed, never shown)"},
	{Name: "oauth2-scopes", Usage: "OAuth2 client credentials: scopes to ask for, comma-separated"},
	{Name: "oauth2-audience", Usage: "OAuth2 client credentials: audience parameter of the token request"},
	{Name: "client-cert", File: true, Usage: "mutual TLS: file of the PEM client certificate (chain) presented to the URL"},
	{Name: "client-key", File: true, Usage: "mutual TLS: file of the PEM private key of --client-cert (stored sealed, never shown)"},
}

// applyAuth sets the OAuth2 grant and the client certificate of pub from
// f: given fields replace, a token URL of "" (or a certificate and key of
// "") removes. Secrets are sealed. The token URL must pass the egress
// policy like the webhook URL and use https unless its host is on the
// operator's allow list; a new token URL needs the client secret again, so
// that a stored secret is never sent to another endpoint.
func applyAuth(ctx context.Context, d platform.Deps, pub *config.Publication, f authFields) error {
	if f.oauth2Given() {
		if err := applyOAuth2(ctx, d, pub, f); err != nil {
			return err
		}
	}
	if f.ClientCert != nil || f.ClientKey != nil {
		if err := applyClientCert(ctx, d, pub, f); err != nil {
			return err
		}
	}
	return nil
}

// checkAuth checks the publication's authentication as a whole, once every
// change is applied.
func checkAuth(pub config.Publication) error {
	if pub.OAuth2 != nil && len(pub.TokenSealed) > 0 {
		return config.Invalid("token and oauth2 exclude each other: the OAuth2 access token is the Authorization header. " +
			"Give one of them (to switch, remove the token with --token '' / \"token\": \"\").")
	}
	if pub.ClientCert != nil && !strings.EqualFold(strings.SplitN(pub.Params.URL, ":", 2)[0], "https") {
		return config.Invalid("client_cert needs an https url: mutual TLS authenticates a TLS connection.")
	}
	return nil
}

func applyOAuth2(ctx context.Context, d platform.Deps, pub *config.Publication, f authFields) error {
	if f.OAuth2TokenURL != nil && *f.OAuth2TokenURL == "" {
		if f.OAuth2ClientID != nil || f.OAuth2ClientSecret != nil || f.OAuth2Scopes != nil || f.OAuth2Audience != nil {
			return config.Invalid("oauth2_token_url \"\" removes OAuth2: give no other oauth2 field with it.")
		}
		pub.OAuth2 = nil
		return nil
	}
	o := config.OAuth2Client{}
	if pub.OAuth2 != nil {
		o = *pub.OAuth2
		o.Scopes = slices.Clone(o.Scopes)
	}
	if f.OAuth2TokenURL != nil {
		if *f.OAuth2TokenURL != o.TokenURL && o.TokenURL != "" && f.OAuth2ClientSecret == nil {
			return config.Invalid("oauth2_client_secret is required with a new oauth2_token_url: the stored secret is sent to no other endpoint.")
		}
		o.TokenURL = *f.OAuth2TokenURL
	}
	if f.OAuth2ClientID != nil {
		o.ClientID = *f.OAuth2ClientID
	}
	if f.OAuth2Scopes != nil {
		o.Scopes = nil
		for s := range strings.FieldsFuncSeq(*f.OAuth2Scopes, func(r rune) bool { return r == ',' || r == ' ' }) {
			if !validScope(s) {
				return config.Invalid("oauth2_scopes: %q is not a scope (printable ASCII without spaces, quotes or backslashes).", printable(s))
			}
			if !slices.Contains(o.Scopes, s) {
				o.Scopes = append(o.Scopes, s)
			}
		}
		if len(o.Scopes) > maxScopes {
			return config.Invalid("oauth2_scopes: at most %d scopes.", maxScopes)
		}
	}
	if f.OAuth2Audience != nil {
		o.Audience = *f.OAuth2Audience
		if len(o.Audience) > maxAudience || strings.ContainsFunc(o.Audience, isControl) {
			return config.Invalid("oauth2_audience must be one line of at most %d bytes.", maxAudience)
		}
	}
	if o.TokenURL == "" || o.ClientID == "" {
		return config.Invalid("oauth2 needs oauth2_token_url and oauth2_client_id (and oauth2_client_secret).")
	}
	if len(o.ClientID) > maxClientID || strings.ContainsFunc(o.ClientID, isControl) {
		return config.Invalid("oauth2_client_id must be one line of at most %d bytes.", maxClientID)
	}
	if err := checkTokenURL(ctx, d, o.TokenURL); err != nil {
		return err
	}
	switch {
	case f.OAuth2ClientSecret != nil && *f.OAuth2ClientSecret != "":
		secret := *f.OAuth2ClientSecret
		if len(secret) > maxToken || strings.ContainsFunc(secret, isControl) {
			return config.Invalid("oauth2_client_secret must be one line of at most %d bytes.", maxToken)
		}
		sealed, err := d.Sealer.Seal(ctx, []byte(secret))
		if err != nil {
			return fmt.Errorf("seal oauth2 client secret: %w", err)
		}
		o.SecretSealed = sealed
	case len(o.SecretSealed) == 0:
		return config.Invalid("oauth2 needs oauth2_client_secret.")
	}
	pub.OAuth2 = &o
	return nil
}

// checkTokenURL checks a token endpoint as checkURL does a webhook URL,
// and that it uses https unless its host is on the operator's allow list
// (a token endpoint on a trusted network, tests on loopback).
func checkTokenURL(ctx context.Context, d platform.Deps, raw string) error {
	if len(raw) > maxURL {
		return config.Invalid("oauth2_token_url is longer than %d bytes.", maxURL)
	}
	u, err := url.Parse(raw)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Hostname() == "" {
		return config.Invalid("oauth2_token_url %q must be an absolute https URL.", printable(raw))
	}
	if u.User != nil {
		return config.Invalid("oauth2_token_url must not contain credentials; use oauth2_client_id and oauth2_client_secret.")
	}
	if u.Scheme != "https" && !d.Egress.AllowListed(ctx, raw) {
		return config.Invalid("oauth2_token_url %q must use https: the client secret and the token cross it.", raw)
	}
	if err := d.URLCheck()(ctx, raw); err != nil {
		return config.Invalid("oauth2_token_url %q is not allowed: %s", raw, err.Error())
	}
	return nil
}

func applyClientCert(ctx context.Context, d platform.Deps, pub *config.Publication, f authFields) error {
	certPEM, keyPEM := deref(f.ClientCert), deref(f.ClientKey)
	switch {
	case certPEM == "" && keyPEM == "":
		pub.ClientCert = nil
		return nil
	case certPEM == "" || keyPEM == "":
		return config.Invalid("client_cert and client_key go together: give both (or both \"\" to remove them).")
	case len(certPEM) > maxPEM || len(keyPEM) > maxPEM:
		return config.Invalid("client_cert and client_key are PEM of at most %d bytes each.", maxPEM)
	}
	_, info, err := sink.ParseClientCert([]byte(certPEM), []byte(keyPEM), d.Clock()())
	if err != nil {
		return config.Invalid("client_cert and client_key: %s.", strings.TrimPrefix(err.Error(), sink.ErrClientCert.Error()+": "))
	}
	sealed, err := d.Sealer.Seal(ctx, []byte(keyPEM))
	if err != nil {
		return fmt.Errorf("seal client key: %w", err)
	}
	pub.ClientCert = &config.ClientCert{CertPEM: []byte(certPEM), KeySealed: sealed,
		Subject: info.Subject, NotAfter: info.NotAfter, Fingerprint: info.Fingerprint}
	return nil
}

// validScope: scope-token of RFC 6749 §3.3.
func validScope(s string) bool {
	for i := range len(s) {
		c := s[i]
		if c < 0x21 || c > 0x7e || c == '"' || c == '\\' {
			return false
		}
	}
	return s != ""
}

func isControl(r rune) bool { return r < 0x20 || r == 0x7f }

func deref(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}

// OAuth2Config is the client credentials configuration of o with its
// client secret in clear.
func OAuth2Config(o *config.OAuth2Client, secret string) *clientcredentials.Config {
	c := &clientcredentials.Config{ClientID: o.ClientID, ClientSecret: secret, TokenURL: o.TokenURL, Scopes: o.Scopes}
	if o.Audience != "" {
		c.EndpointParams = url.Values{"audience": {o.Audience}}
	}
	return c
}

// TokenError is a failed access token request. Its message names the
// token endpoint, the status and the OAuth2 error code: never the client
// secret, a token or the endpoint's body.
type TokenError struct {
	URL    string
	Status int
	Code   string
	// Cause is the transport error, when no response came.
	Cause error
}

func (e *TokenError) Error() string {
	if e.Status == 0 {
		reason := "no access token"
		if e.Cause != nil {
			reason = e.Cause.Error()
		}
		return "get oauth2 token from " + e.URL + ": " + reason
	}
	s := fmt.Sprintf("get oauth2 token from %s: HTTP %d %s", e.URL, e.Status, http.StatusText(e.Status))
	if e.Code != "" {
		s += " (" + printable(e.Code) + ")"
	}
	return s
}

// Unwrap returns the transport error, if any.
func (e *TokenError) Unwrap() error { return e.Cause }

// Refused reports that retrying cannot help: the endpoint refused the
// credentials (any 4xx but 408 and 429, or a redirect, which is not
// followed) or the egress guard refused the endpoint.
func (e *TokenError) Refused() bool {
	if e.Status == 0 {
		return errors.Is(e.Cause, sink.ErrEgress) || errors.Is(e.Cause, sink.ErrURL)
	}
	return e.Status >= 300 && e.Status < 500 && e.Status != http.StatusRequestTimeout && e.Status != http.StatusTooManyRequests
}

// FetchToken gets an access token of c from its token endpoint through
// client, which must be guarded (sink.Egress.Client) and bounds the
// request with its timeout. Errors are *TokenError.
func FetchToken(ctx context.Context, client *http.Client, c *clientcredentials.Config) (*oauth2.Token, error) {
	tok, err := c.Token(context.WithValue(ctx, oauth2.HTTPClient, client))
	if err != nil {
		te := &TokenError{URL: c.TokenURL}
		var re *oauth2.RetrieveError
		if errors.As(err, &re) { // its message quotes the endpoint's body: keep the status and code only
			if re.Response != nil {
				te.Status = re.Response.StatusCode
			}
			te.Code = re.ErrorCode
		} else {
			te.Cause = err
		}
		return nil, te
	}
	if len(tok.AccessToken) > maxToken || strings.ContainsFunc(tok.AccessToken, isControl) {
		return nil, &TokenError{URL: c.TokenURL, Cause: errors.New("the access token is not one line of at most 4096 bytes")}
	}
	return tok, nil
}

// Credentials returns what requests to pub authenticate with beyond their
// signature: client, which presents pub's client certificate when it has
// one (a copy of base), and the bearer token of the Authorization header
// ("" for none): the static token, or an access token of its OAuth2 grant
// fetched through client.
func Credentials(ctx context.Context, d platform.Deps, base *http.Client, pub config.Publication) (client *http.Client, bearer string, err error) {
	client = base
	if cc := pub.ClientCert; cc != nil {
		key, err := d.Sealer.Open(ctx, cc.KeySealed)
		if err != nil {
			return nil, "", fmt.Errorf("open client key: %w", err)
		}
		cert, err := tls.X509KeyPair(cc.CertPEM, key)
		if err != nil {
			return nil, "", fmt.Errorf("load client certificate: %w", err)
		}
		if client, err = sink.WithClientCert(base, cert); err != nil {
			return nil, "", err
		}
	}
	switch {
	case pub.OAuth2 != nil:
		secret, err := d.Sealer.Open(ctx, pub.OAuth2.SecretSealed)
		if err != nil {
			return nil, "", fmt.Errorf("open oauth2 client secret: %w", err)
		}
		tok, err := FetchToken(ctx, client, OAuth2Config(pub.OAuth2, string(secret)))
		if err != nil {
			return nil, "", err
		}
		return client, tok.AccessToken, nil
	case len(pub.TokenSealed) > 0:
		token, err := d.Sealer.Open(ctx, pub.TokenSealed)
		if err != nil {
			return nil, "", fmt.Errorf("open token: %w", err)
		}
		return client, string(token), nil
	}
	return client, "", nil
}

// handshakeWith asks rawURL for consent (Handshake) with pub's
// credentials. A token endpoint that refuses is a config.ErrInvalid
// problem.
func handshakeWith(ctx context.Context, d platform.Deps, rawURL string, pub config.Publication) (Grant, error) {
	base := d.Client
	if base == nil {
		base = d.Egress.Client(HandshakeTimeout)
	}
	ctx, cancel := context.WithTimeout(ctx, HandshakeTimeout)
	defer cancel()
	client, bearer, err := Credentials(ctx, d, base, pub)
	var te *TokenError
	if errors.As(err, &te) {
		return Grant{}, config.Invalid("The OAuth2 token endpoint gave no access token for the CloudEvents handshake: %s.", te.Error())
	}
	if err != nil {
		return Grant{}, err
	}
	return handshake(ctx, client, d.RequestOrigin(), rawURL, bearer)
}

// tokenSkew is how long before its expiry an access token is fetched again
// at most; a short-lived token is kept for half its lifetime at least.
const tokenSkew = 10 * time.Second

// TokenFresh reports whether tok, fetched at fetched, may still be sent at
// now: it has no expiry, or now is before its expiry less
// min(tokenSkew, half its lifetime).
func TokenFresh(tok *oauth2.Token, fetched, now time.Time) bool {
	if tok == nil || tok.AccessToken == "" {
		return false
	}
	if tok.Expiry.IsZero() {
		return true
	}
	skew := min(tokenSkew, tok.Expiry.Sub(fetched)/2)
	return now.Before(tok.Expiry.Add(-skew))
}
