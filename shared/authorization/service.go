package authorization

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/subtle"
	"crypto/x509"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/google/uuid"

	"github.com/herokuevents/herokuevents/shared/config"
	"github.com/herokuevents/herokuevents/shared/httpjson"
	"github.com/herokuevents/herokuevents/shared/salesforce"
	"github.com/herokuevents/herokuevents/shared/secret"
)

// DefaultStateTTL is how long an authorize URL stays usable.
const DefaultStateTTL = time.Hour

// Scopes are the default OAuth scopes asked for in the web flow: REST and
// Pub/Sub API access, and a refresh token. Data Cloud publications also need
// cdp_ingest_api (set Service.Scopes, e.g. from SALESFORCE_SCOPES).
var Scopes = []string{"api", "refresh_token"}

// Service creates, connects, refreshes and destroys authorizations. Store,
// Sealer and, for the web flow, CallbackURL are required; set the fields
// before first use and do not change them after. Methods are safe for
// concurrent use and do not retry Salesforce calls.
type Service struct {
	Store  config.Store
	Sealer secret.Sealer
	// HTTPClient reaches Salesforce (login and instance hosts); use an
	// egress-guarded client, as login URLs are user input. Default
	// http.DefaultClient.
	HTTPClient *http.Client
	Logger     *slog.Logger
	// ClientID and ClientSecret are the operator's connected app, used by
	// the web flow when the request names none (env SALESFORCE_CLIENT_ID,
	// SALESFORCE_CLIENT_SECRET).
	ClientID, ClientSecret string
	// Secret, when set, reads ClientSecret at each use instead (FromEnv:
	// a secret resolved in the background, smsecret.Prefetch).
	Secret func() string
	// Scopes asked for in the web flow; the package's Scopes when empty.
	Scopes []string
	// CallbackURL is the redirect URI of the web flow:
	// {BaseURL}/oauth/salesforce/callback.
	CallbackURL string
	// StateTTL bounds the life of an authorize URL; DefaultStateTTL when 0.
	StateTTL time.Duration
	// Now is the clock; time.Now when nil.
	Now func() time.Time

	mu       sync.Mutex
	sessions map[string]*Source
}

func (s *Service) log() *slog.Logger {
	if s.Logger == nil {
		return slog.Default()
	}
	return s.Logger
}

func (s *Service) now() time.Time {
	if s.Now == nil {
		return time.Now()
	}
	return s.Now()
}

func (s *Service) stateTTL() time.Duration {
	if s.StateTTL <= 0 {
		return DefaultStateTTL
	}
	return s.StateTTL
}

// Request is the input of Create. The flow follows from the fields:
// JWTKey (with ClientID and Username) → JWT bearer; ClientSecret (with
// ClientID) → client credentials; otherwise the web flow, with ClientID or
// the operator's connected app.
type Request struct {
	Alias        string
	LoginURL     string // default salesforce.DefaultLoginURL
	ClientID     string
	ClientSecret string
	Username     string
	JWTKey       string // PEM of an RSA private key (PKCS#1 or PKCS#8)
	// Allocation is the org's 24-hour event delivery allocation (0:
	// unknown).
	Allocation int64
}

// Created is the result of Create.
type Created struct {
	Authorization config.Authorization
	// AuthorizeURL is where the user logs in (web flow only); it carries the
	// single-use state and the PKCE challenge.
	AuthorizeURL string
}

// maxKey bounds the size of a PEM key or a secret.
const maxKey = 16 << 10

// Create makes a new authorization for tenant. The web flow stores it
// pending and returns the authorize URL; the headless flows get a token at
// once and store it connected. An alias whose authorization is failing is
// reconnected in place (same id), so that subscriptions keep working.
// Errors: ErrInvalid, ErrExists, ErrUnreachable (all *Error), or internal.
func (s *Service) Create(ctx context.Context, tenant string, req Request) (Created, error) {
	if err := ValidateAlias(req.Alias); err != nil {
		return Created{}, err
	}
	if req.Allocation < 0 {
		return Created{}, newError(ErrInvalid, nil, "allocation must be a positive number of events per 24 hours.")
	}
	login, err := NormalizeLoginURL(req.LoginURL)
	if err != nil {
		return Created{}, err
	}
	for _, v := range []string{req.ClientID, req.ClientSecret, req.Username, req.JWTKey} {
		if len(v) > maxKey {
			return Created{}, newError(ErrInvalid, nil, "a field is longer than %d bytes.", maxKey)
		}
	}
	existing, err := config.Load[config.Authorization](ctx, s.Store, tenant, config.KindAuthorization, req.Alias)
	switch {
	case errors.Is(err, config.ErrNotFound):
	case err != nil:
		return Created{}, fmt.Errorf("load authorization: %w", err)
	case existing.Value.Status != config.AuthFailing || existing.Value.Alias != req.Alias:
		return Created{}, newError(ErrExists, config.ErrConflict, "Authorization %s already exists.", req.Alias)
	}
	a := config.Authorization{
		ID: uuid.NewString(), Alias: req.Alias, Platform: config.PlatformSalesforce, LoginURL: login,
		ClientID: req.ClientID, Username: req.Username, Created: s.now().UTC().Truncate(time.Second),
		Allocation: req.Allocation,
	}
	if existing.Item.ID != "" {
		a.ID, a.Created = existing.Value.ID, existing.Value.Created
	}
	var authorizeURL string
	switch {
	case req.JWTKey != "":
		err = s.prepareJWT(ctx, &a, req)
	case req.ClientSecret != "":
		err = s.prepareClientCredentials(ctx, &a, req)
	default:
		authorizeURL, err = s.prepareWeb(ctx, &a, req, tenant)
	}
	if err != nil {
		return Created{}, err
	}
	if existing.Item.ID != "" {
		existing.Value = a
		if _, err := config.Save(ctx, s.Store, existing); err != nil {
			if errors.Is(err, config.ErrConflict) || errors.Is(err, config.ErrNotFound) {
				return Created{}, newError(ErrExists, err, "Authorization %s changed meanwhile; try again.", req.Alias)
			}
			return Created{}, fmt.Errorf("update authorization: %w", err)
		}
		s.drop(tenant, a.ID)
	} else {
		it := config.Item{Tenant: tenant, Kind: config.KindAuthorization, ID: a.ID, Name: a.Alias}
		if _, err := config.Insert(ctx, s.Store, it, a); err != nil {
			if errors.Is(err, config.ErrConflict) {
				return Created{}, newError(ErrExists, err, "Authorization %s already exists.", req.Alias)
			}
			return Created{}, fmt.Errorf("create authorization: %w", err)
		}
	}
	s.log().InfoContext(ctx, "authorization created", "tenant", tenant, "authorization", a.ID, "alias", a.Alias,
		"flow", a.Flow, "status", a.Status, "reconnect", existing.Item.ID != "")
	return Created{Authorization: a, AuthorizeURL: authorizeURL}, nil
}

func (s *Service) prepareWeb(ctx context.Context, a *config.Authorization, req Request, tenant string) (string, error) {
	if req.Username != "" {
		return "", newError(ErrInvalid, nil, "username is only used with jwt_key (JWT bearer flow).")
	}
	if s.CallbackURL == "" {
		return "", errors.New("web flow: the service has no callback URL")
	}
	a.Flow = config.FlowWeb
	if a.ClientID == "" {
		if s.ClientID == "" {
			return "", newError(ErrInvalid, nil, "No connected app is configured for the browser flow: pass client_id, or set SALESFORCE_CLIENT_ID and SALESFORCE_CLIENT_SECRET on the server.")
		}
		a.ClientID = s.ClientID
	}
	verifier := salesforce.NewVerifier()
	sealed, err := s.Sealer.Seal(ctx, []byte(verifier))
	if err != nil {
		return "", fmt.Errorf("seal pkce verifier: %w", err)
	}
	nonce := make([]byte, 32)
	if _, err := rand.Read(nonce); err != nil {
		return "", fmt.Errorf("read random: %w", err)
	}
	secretPart := base64.RawURLEncoding.EncodeToString(nonce)
	a.VerifierSealed = sealed
	a.StateHash = hashHex(secretPart)
	a.StateExpires = s.now().Add(s.stateTTL()).UTC()
	a.Status = config.AuthPending
	state := strings.Join([]string{
		base64.RawURLEncoding.EncodeToString([]byte(tenant)),
		base64.RawURLEncoding.EncodeToString([]byte(a.ID)),
		secretPart,
	}, ".")
	return s.oauth(*a, "").AuthCodeURL(state, verifier), nil
}

func (s *Service) prepareJWT(ctx context.Context, a *config.Authorization, req Request) error {
	if req.ClientID == "" || req.Username == "" {
		return newError(ErrInvalid, nil, "The JWT bearer flow needs client_id, username and jwt_key.")
	}
	if req.ClientSecret != "" {
		return newError(ErrInvalid, nil, "client_secret is not used with jwt_key: pass one or the other.")
	}
	key, err := ParseKey([]byte(req.JWTKey))
	if err != nil {
		return err
	}
	a.Flow = config.FlowJWT
	tok, err := s.oauth(*a, "").JWTBearer(ctx, req.Username, key)
	if err != nil {
		return grantError(a, "JWT bearer", err)
	}
	if a.JWTKeySealed, err = s.Sealer.Seal(ctx, []byte(req.JWTKey)); err != nil {
		return fmt.Errorf("seal jwt key: %w", err)
	}
	return s.connect(ctx, a, tok)
}

func (s *Service) prepareClientCredentials(ctx context.Context, a *config.Authorization, req Request) error {
	if req.ClientID == "" {
		return newError(ErrInvalid, nil, "The client credentials flow needs client_id and client_secret.")
	}
	if req.Username != "" {
		return newError(ErrInvalid, nil, "username is only used with jwt_key (JWT bearer flow).")
	}
	a.Flow = config.FlowClientCredentials
	tok, err := s.oauth(*a, req.ClientSecret).ClientCredentials(ctx)
	if err != nil {
		return grantError(a, "client credentials", err)
	}
	var serr error
	if a.ClientSecretSealed, serr = s.Sealer.Seal(ctx, []byte(req.ClientSecret)); serr != nil {
		return fmt.Errorf("seal client secret: %w", serr)
	}
	return s.connect(ctx, a, tok)
}

// grantError turns a failed grant at create time into an *Error.
func grantError(a *config.Authorization, flow string, err error) error {
	var oe *salesforce.OAuthError
	if errors.As(err, &oe) && oe.Status/100 == 4 {
		return newError(ErrInvalid, err, "Salesforce at %s refused the %s grant: %s: %s.", a.LoginURL, flow, oe.Code, redact(oe.Description))
	}
	return newError(ErrUnreachable, err, "Cannot get a token from Salesforce at %s: %s.", a.LoginURL, redact(salesforceCause(err)))
}

// salesforceCause describes a transport error without any URL query.
func salesforceCause(err error) string {
	var ue *url.Error
	if errors.As(err, &ue) {
		return ue.Err.Error()
	}
	var oe *salesforce.OAuthError
	if errors.As(err, &oe) {
		return fmt.Sprintf("%s (HTTP %d)", oe.Code, oe.Status)
	}
	return err.Error()
}

// connect stores tok in a and marks it connected.
func (s *Service) connect(ctx context.Context, a *config.Authorization, tok *salesforce.Token) error {
	raw, err := json.Marshal(tok)
	if err != nil {
		return fmt.Errorf("encode token: %w", err)
	}
	if a.TokenSealed, err = s.Sealer.Seal(ctx, raw); err != nil {
		return fmt.Errorf("seal token: %w", err)
	}
	a.InstanceURL = strings.TrimRight(tok.InstanceURL, "/")
	if org := tok.OrgID(); org != "" {
		a.OrgID = org
	}
	if user := tok.UserID(); user != "" {
		a.UserID = user
	}
	a.Status, a.LastError = config.AuthConnected, ""
	a.ConnectedAt = s.now().UTC()
	a.VerifierSealed, a.StateHash, a.StateExpires = nil, "", time.Time{}
	return nil
}

// clientSecret returns the connected app secret of a: its own, or the
// operator's when a uses the operator's app.
func (s *Service) clientSecret(ctx context.Context, a config.Authorization) (string, error) {
	if len(a.ClientSecretSealed) > 0 {
		b, err := s.Sealer.Open(ctx, a.ClientSecretSealed)
		if err != nil {
			return "", fmt.Errorf("open client secret: %w", err)
		}
		return string(b), nil
	}
	if a.ClientID == s.ClientID {
		if s.Secret != nil {
			return s.Secret(), nil
		}
		return s.ClientSecret, nil
	}
	return "", nil
}

// oauth returns the OAuth client of a with the given client secret.
func (s *Service) oauth(a config.Authorization, clientSecret string) *salesforce.OAuth {
	return &salesforce.OAuth{
		LoginURL: a.LoginURL, ClientID: a.ClientID, ClientSecret: clientSecret,
		RedirectURL: s.CallbackURL, Scopes: s.scopes(), HTTPClient: s.HTTPClient,
	}
}

func (s *Service) scopes() []string {
	if len(s.Scopes) > 0 {
		return s.Scopes
	}
	return Scopes
}

// List returns the authorizations of tenant, ordered by alias.
func (s *Service) List(ctx context.Context, tenant string) ([]config.Authorization, error) {
	recs, err := config.LoadAll[config.Authorization](ctx, s.Store, tenant, config.KindAuthorization)
	if err != nil {
		return nil, fmt.Errorf("list authorizations: %w", err)
	}
	out := make([]config.Authorization, 0, len(recs))
	for _, r := range recs {
		out = append(out, r.Value)
	}
	return out, nil
}

// Get returns the authorization of tenant with that alias or id.
// Errors: ErrNotFound, or internal.
func (s *Service) Get(ctx context.Context, tenant, ref string) (config.Authorization, error) {
	r, err := s.load(ctx, tenant, ref)
	return r.Value, err
}

func (s *Service) load(ctx context.Context, tenant, ref string) (config.Record[config.Authorization], error) {
	r, err := config.Load[config.Authorization](ctx, s.Store, tenant, config.KindAuthorization, ref)
	if errors.Is(err, config.ErrNotFound) {
		return r, newError(ErrNotFound, err, "Couldn't find that authorization: %s.", httpjson.Short(ref))
	}
	if err != nil {
		return r, fmt.Errorf("load authorization: %w", err)
	}
	return r, nil
}

// update applies f to the stored authorization and saves it at its version,
// re-reading and re-applying after a concurrent change (a few times).
func (s *Service) update(ctx context.Context, tenant, id string, f func(*config.Authorization) error) (config.Authorization, error) {
	var changeErr error
	r, err := config.Modify(ctx, s.Store, tenant, config.KindAuthorization, id, 5, func(r *config.Record[config.Authorization]) (bool, error) {
		changeErr = f(&r.Value)
		return true, changeErr
	})
	switch {
	case err == nil:
		return r.Value, nil
	case changeErr != nil:
		return config.Authorization{}, changeErr
	case errors.Is(err, config.ErrNotFound):
		return config.Authorization{}, newError(ErrNotFound, err, "Couldn't find that authorization: %s.", httpjson.Short(id))
	default:
		return config.Authorization{}, fmt.Errorf("update authorization: %w", err)
	}
}

// Destroy revokes the authorization's token at Salesforce (a revocation
// failure is logged, not fatal: the token is forgotten either way) and
// deletes it. Errors: ErrNotFound, or internal.
func (s *Service) Destroy(ctx context.Context, tenant, ref string) (config.Authorization, error) {
	for attempt := 1; ; attempt++ {
		r, err := s.load(ctx, tenant, ref)
		if err != nil {
			return config.Authorization{}, err
		}
		a := r.Value
		if attempt == 1 {
			s.revoke(ctx, tenant, a)
		}
		err = s.Store.Delete(ctx, tenant, config.KindAuthorization, r.Item.ID, r.Version)
		switch {
		case errors.Is(err, config.ErrConflict) && attempt < 5:
			continue
		case errors.Is(err, config.ErrNotFound):
			return config.Authorization{}, newError(ErrNotFound, err, "Couldn't find that authorization: %s.", httpjson.Short(ref))
		case err != nil:
			return config.Authorization{}, fmt.Errorf("delete authorization: %w", err)
		}
		s.drop(tenant, a.ID)
		s.log().InfoContext(ctx, "authorization destroyed", "tenant", tenant, "authorization", a.ID, "alias", a.Alias, "flow", a.Flow)
		return a, nil
	}
}

// revoke revokes the refresh token of a (or its access token when it has
// none); revoking a refresh token also revokes its access tokens.
func (s *Service) revoke(ctx context.Context, tenant string, a config.Authorization) {
	if len(a.TokenSealed) == 0 {
		return
	}
	tok, err := s.openToken(ctx, a)
	if err != nil {
		s.log().WarnContext(ctx, "authorization token not revoked", "tenant", tenant, "authorization", a.ID, "alias", a.Alias, "err", err)
		return
	}
	t := tok.RefreshToken
	if t == "" {
		t = tok.AccessToken
	}
	if t == "" {
		return
	}
	secret, err := s.clientSecret(ctx, a)
	if err == nil {
		err = s.oauth(a, secret).Revoke(ctx, t)
	}
	if err != nil {
		s.log().WarnContext(ctx, "authorization token not revoked", "tenant", tenant, "authorization", a.ID, "alias", a.Alias,
			"err", salesforceCause(err))
		return
	}
	s.log().InfoContext(ctx, "authorization token revoked", "tenant", tenant, "authorization", a.ID, "alias", a.Alias,
		"refresh_token", tok.RefreshToken != "")
}

func (s *Service) openToken(ctx context.Context, a config.Authorization) (*salesforce.Token, error) {
	raw, err := s.Sealer.Open(ctx, a.TokenSealed)
	if err != nil {
		return nil, fmt.Errorf("open token: %w", err)
	}
	var tok salesforce.Token
	if err := json.Unmarshal(raw, &tok); err != nil {
		return nil, fmt.Errorf("decode token: %w", err)
	}
	return &tok, nil
}

// Callback completes the web flow: it checks the single-use state, trades
// the code for tokens (proving the PKCE verifier) and marks the
// authorization connected. oauthErr and oauthDesc are the error and
// error_description Salesforce sends back instead of a code when the user
// denied access; the authorization then becomes failing. Errors: ErrState
// (unknown, used or expired state), ErrNotConnected (denied or the exchange
// failed; the authorization is failing with LastError), or internal.
func (s *Service) Callback(ctx context.Context, state, code, oauthErr, oauthDesc string) (config.Authorization, error) {
	tenant, id, secretPart, ok := parseState(state)
	if !ok {
		return config.Authorization{}, newError(ErrState, nil, "This login link is not valid. Start again with authorizations:salesforce:create.")
	}
	now := s.now()
	expired := newError(ErrState, nil, "This login link was already used or has expired. Start again with authorizations:salesforce:create.")
	var verifier []byte
	// Consume the state first, at the record's version: a second callback
	// with the same state finds it gone.
	a, err := s.update(ctx, tenant, id, func(a *config.Authorization) error {
		if a.Status != config.AuthPending || a.StateHash == "" ||
			subtle.ConstantTimeCompare([]byte(hashHex(secretPart)), []byte(a.StateHash)) != 1 {
			return expired
		}
		if now.After(a.StateExpires) {
			return expired
		}
		v, err := s.Sealer.Open(ctx, a.VerifierSealed)
		if err != nil {
			return fmt.Errorf("open pkce verifier: %w", err)
		}
		verifier = v
		a.StateHash, a.VerifierSealed = "", nil
		return nil
	})
	if errors.Is(err, ErrNotFound) {
		return config.Authorization{}, expired
	}
	if err != nil {
		return config.Authorization{}, err
	}
	var tok *salesforce.Token
	var failure string
	if oauthErr != "" || code == "" {
		if oauthErr == "" {
			oauthErr = "no code"
		}
		failure = fmt.Sprintf("Salesforce did not authorize the connection (%s: %s): %s", oauthErr, redact(oauthDesc), reconnectHint(a.Alias))
	} else {
		secret, err := s.clientSecret(ctx, a)
		if err != nil {
			return config.Authorization{}, err
		}
		tok, err = s.oauth(a, secret).Exchange(ctx, code, string(verifier))
		if err != nil {
			failure = fmt.Sprintf("Salesforce refused the authorization code (%s): %s", redact(salesforceCause(err)), reconnectHint(a.Alias))
		}
	}
	if failure != "" {
		a, err = s.update(ctx, tenant, id, func(a *config.Authorization) error {
			a.Status, a.LastError = config.AuthFailing, failure
			return nil
		})
		if err != nil {
			return config.Authorization{}, err
		}
		s.log().WarnContext(ctx, "authorization failed", "tenant", tenant, "authorization", id, "alias", a.Alias, "reason", failure)
		return a, newError(ErrNotConnected, nil, "%s", failure)
	}
	if a.Username == "" {
		if ui, err := s.oauth(a, "").UserInfo(ctx, tok); err == nil {
			a.Username = ui.PreferredUsername
		}
	}
	username, prev := a.Username, a
	a, err = s.update(ctx, tenant, id, func(a *config.Authorization) error {
		if a.Status != config.AuthPending {
			return expired
		}
		a.Username = username
		return s.connect(ctx, a, tok)
	})
	if err != nil {
		// Destroyed or reconnected meanwhile: do not leave a live token behind.
		s.revokeToken(ctx, prev, tok)
		return config.Authorization{}, err
	}
	s.log().InfoContext(ctx, "authorization connected", "tenant", tenant, "authorization", id, "alias", a.Alias, "flow", a.Flow, "org", a.OrgID)
	return a, nil
}

func (s *Service) revokeToken(ctx context.Context, a config.Authorization, tok *salesforce.Token) {
	t := tok.RefreshToken
	if t == "" {
		t = tok.AccessToken
	}
	_ = s.oauth(a, "").Revoke(ctx, t)
}

func hashHex(s string) string {
	sum := sha256.Sum256([]byte(s))
	return hex.EncodeToString(sum[:])
}

// parseState splits a state "b64(tenant).b64(id).secret".
func parseState(state string) (tenant, id, secretPart string, ok bool) {
	parts := strings.Split(state, ".")
	if len(parts) != 3 || len(parts[2]) < 40 {
		return "", "", "", false
	}
	t, err1 := base64.RawURLEncoding.DecodeString(parts[0])
	i, err2 := base64.RawURLEncoding.DecodeString(parts[1])
	if err1 != nil || err2 != nil || len(t) == 0 || uuid.Validate(string(i)) != nil {
		return "", "", "", false
	}
	return string(t), string(i), parts[2], true
}

// NormalizeLoginURL checks a login URL and returns it without a trailing
// slash; "" means salesforce.DefaultLoginURL. It must be https with a host
// and no path, query or credentials; plain http is accepted for loopback
// hosts only (a local stand-in org).
func NormalizeLoginURL(raw string) (string, error) {
	raw = strings.TrimSpace(raw)
	if raw == "" {
		return salesforce.DefaultLoginURL, nil
	}
	bad := func(why string) error {
		return newError(ErrInvalid, nil, "login_url %q is invalid: %s.", raw, why)
	}
	if len(raw) > 2048 {
		return "", newError(ErrInvalid, nil, "login_url is longer than 2048 bytes.")
	}
	u, err := url.Parse(raw)
	if err != nil {
		return "", bad("not a URL")
	}
	switch {
	case u.Scheme != "https" && u.Scheme != "http":
		return "", bad("use https://HOST, e.g. https://login.salesforce.com, https://test.salesforce.com or your My Domain")
	case u.Hostname() == "":
		return "", bad("no host")
	case u.User != nil:
		return "", bad("credentials are not allowed in it")
	case strings.Trim(u.Path, "/") != "" || u.RawQuery != "" || u.Fragment != "":
		return "", bad("it must be a bare origin such as https://login.salesforce.com")
	case u.Scheme == "http" && !loopback(u.Hostname()):
		return "", bad("http is allowed for a local stand-in on a loopback address only; use https")
	}
	return u.Scheme + "://" + strings.ToLower(u.Host), nil
}

func loopback(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// ParseKey parses a PEM RSA private key (PKCS#1 or PKCS#8).
func ParseKey(pemBytes []byte) (*rsa.PrivateKey, error) {
	block, _ := pem.Decode(pemBytes)
	if block == nil {
		return nil, newError(ErrInvalid, nil, "jwt_key is not a PEM private key.")
	}
	if k, err := x509.ParsePKCS1PrivateKey(block.Bytes); err == nil {
		return k, nil
	}
	k, err := x509.ParsePKCS8PrivateKey(block.Bytes)
	if err != nil {
		return nil, newError(ErrInvalid, nil, "jwt_key is not an RSA private key (PKCS#1 or PKCS#8 PEM).")
	}
	rk, ok := k.(*rsa.PrivateKey)
	if !ok {
		return nil, newError(ErrInvalid, nil, "jwt_key must be an RSA key (Salesforce signs with RS256).")
	}
	return rk, nil
}
