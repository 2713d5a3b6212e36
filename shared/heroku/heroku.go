// Package heroku is herokuevents' side of the Platform API for Partners
// (reference heroku-addon.md §2): right after Heroku provisions the add-on,
// the OAuth grant's code is exchanged at the identity endpoint for a token
// pair scoped to the add-on resource; the token is kept sealed on the
// tenant and refreshed before it expires; GET /addons/{uuid} tells which
// app the add-on was added to; PATCH /addons/{uuid}/config pushes new
// config vars when credentials rotate.
//
// The endpoints are configuration (HEROKU_API_URL, HEROKU_ID_URL), so that
// shared/heroku/standin can play Heroku. A Partner is safe for concurrent
// use; it never retries on its own: the caller decides (the provisioning
// answer does not wait for it, a failure is logged).
package heroku

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"

	"golang.org/x/oauth2"

	"github.com/herokuevents/herokuevents/shared/config"
	"github.com/herokuevents/herokuevents/shared/secret"
)

// The operator's settings, by environment variable name.
const (
	EnvAPIURL       = "HEROKU_API_URL"
	EnvIDURL        = "HEROKU_ID_URL"
	EnvClientSecret = "HEROKU_OAUTH_CLIENT_SECRET"
)

// Heroku's own endpoints, the defaults.
const (
	DefaultAPIURL = "https://api.heroku.com"
	DefaultIDURL  = "https://id.heroku.com"
)

// Accept is the Platform API version header every call carries.
const Accept = "application/vnd.heroku+json; version=3"

// RefreshEarly is how long before its expiry an access token is refreshed.
const RefreshEarly = 2 * time.Minute

// maxBody bounds what is read of a Platform API answer.
const maxBody = 1 << 20

var (
	// ErrNotConfigured: no client secret, so no grant can be exchanged.
	ErrNotConfigured = errors.New("the Platform API for Partners is not configured (" + EnvClientSecret + ")")
	// ErrNoToken: the tenant has no Platform API token (standalone, or the
	// exchange failed).
	ErrNoToken = errors.New("no Platform API token for this add-on")
)

// Settings are the operator's Platform API settings.
type Settings struct {
	// APIURL is the Platform API (DefaultAPIURL when empty).
	APIURL string
	// IDURL is the identity service whose /oauth/token exchanges and
	// refreshes tokens (DefaultIDURL when empty).
	IDURL string
	// ClientSecret is the add-on's OAuth client secret (Partner Portal).
	ClientSecret string
}

// SettingsFromEnv reads HEROKU_API_URL, HEROKU_ID_URL and
// HEROKU_OAUTH_CLIENT_SECRET with getenv.
func SettingsFromEnv(getenv func(string) string) Settings {
	return Settings{APIURL: getenv(EnvAPIURL), IDURL: getenv(EnvIDURL), ClientSecret: getenv(EnvClientSecret)}
}

// Configured reports whether grants can be exchanged.
func (s Settings) Configured() bool { return s.ClientSecret != "" }

// APIError is a non-2xx answer of the Platform API or the identity
// service: {"id", "message"} as Heroku sends them.
type APIError struct {
	Status  int    `json:"-"`
	ID      string `json:"id"`
	Message string `json:"message"`
}

func (e *APIError) Error() string {
	return fmt.Sprintf("heroku answered %d %s: %s", e.Status, e.ID, e.Message)
}

// Addon is the add-on resource of GET /addons/{id} (the fields used).
type Addon struct {
	ID    string `json:"id"`
	Name  string `json:"name"`
	State string `json:"state"`
	App   struct {
		ID   string `json:"id"`
		Name string `json:"name"`
	} `json:"app"`
	Plan struct {
		Name string `json:"name"`
	} `json:"plan"`
	ConfigVars []string `json:"config_vars"`
	WebURL     string   `json:"web_url"`
}

// ConfigVar is one entry of PATCH /addons/{id}/config.
type ConfigVar struct {
	Name  string `json:"name"`
	Value string `json:"value"`
}

// Client calls the identity service and the Platform API.
type Client struct {
	api   string
	oauth oauth2.Config
	http  *http.Client
}

// NewClient returns a client of s over hc (http.DefaultClient when nil).
func NewClient(s Settings, hc *http.Client) *Client {
	if s.APIURL == "" {
		s.APIURL = DefaultAPIURL
	}
	if s.IDURL == "" {
		s.IDURL = DefaultIDURL
	}
	if hc == nil {
		hc = http.DefaultClient
	}
	token, _ := url.JoinPath(s.IDURL, "oauth", "token")
	return &Client{
		api:  strings.TrimSuffix(s.APIURL, "/"),
		http: hc,
		oauth: oauth2.Config{
			ClientSecret: s.ClientSecret,
			// Heroku takes client_secret among the form parameters.
			Endpoint: oauth2.Endpoint{TokenURL: token, AuthStyle: oauth2.AuthStyleInParams},
		},
	}
}

func (c *Client) ctx(ctx context.Context) context.Context {
	return context.WithValue(ctx, oauth2.HTTPClient, c.http)
}

// Exchange trades a provision request's oauth_grant.code for a token pair
// (POST {IDURL}/oauth/token grant_type=authorization_code).
func (c *Client) Exchange(ctx context.Context, code string) (*oauth2.Token, error) {
	if c.oauth.ClientSecret == "" {
		return nil, ErrNotConfigured
	}
	tok, err := c.oauth.Exchange(c.ctx(ctx), code)
	if err != nil {
		return nil, fmt.Errorf("exchange grant: %w", tokenError(err))
	}
	return tok, nil
}

// TokenSource returns a source that hands out tok while it is valid for
// more than RefreshEarly and refreshes it (grant_type=refresh_token)
// otherwise.
func (c *Client) TokenSource(ctx context.Context, tok *oauth2.Token) oauth2.TokenSource {
	return oauth2.ReuseTokenSourceWithExpiry(tok, c.oauth.TokenSource(c.ctx(ctx), tok), RefreshEarly)
}

// tokenError turns the identity service's error answer into an *APIError.
func tokenError(err error) error {
	var re *oauth2.RetrieveError
	if errors.As(err, &re) && re.Response != nil {
		e := &APIError{Status: re.Response.StatusCode}
		if json.Unmarshal(re.Body, e) != nil || e.Message == "" {
			e.Message = strings.TrimSpace(string(re.Body))
		}
		return e
	}
	return err
}

// Addon reads the add-on resource (GET /addons/{id}).
func (c *Client) Addon(ctx context.Context, ts oauth2.TokenSource, id string) (Addon, error) {
	var a Addon
	err := c.call(ctx, ts, http.MethodGet, []string{"addons", id}, nil, &a)
	return a, err
}

// UpdateConfig sets config vars of the add-on (PATCH /addons/{id}/config),
// in a stable order.
func (c *Client) UpdateConfig(ctx context.Context, ts oauth2.TokenSource, id string, vars map[string]string) error {
	body := struct {
		Config []ConfigVar `json:"config"`
	}{}
	for k, v := range vars {
		body.Config = append(body.Config, ConfigVar{Name: k, Value: v})
	}
	slices.SortFunc(body.Config, func(a, b ConfigVar) int { return strings.Compare(a.Name, b.Name) })
	var out []ConfigVar
	return c.call(ctx, ts, http.MethodPatch, []string{"addons", id, "config"}, body, &out)
}

func (c *Client) call(ctx context.Context, ts oauth2.TokenSource, method string, path []string, in, out any) error {
	tok, err := ts.Token()
	if err != nil {
		return fmt.Errorf("refresh token: %w", tokenError(err))
	}
	u, err := url.JoinPath(c.api, path...)
	if err != nil {
		return fmt.Errorf("build url: %w", err)
	}
	var body io.Reader
	if in != nil {
		b, err := json.Marshal(in)
		if err != nil {
			return fmt.Errorf("encode request: %w", err)
		}
		body = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, u, body)
	if err != nil {
		return fmt.Errorf("build request: %w", err)
	}
	req.Header.Set("Accept", Accept)
	req.Header.Set("Authorization", "Bearer "+tok.AccessToken)
	req.Header.Set("User-Agent", "herokuevents")
	if in != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return fmt.Errorf("call platform api: %w", err)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(io.LimitReader(resp.Body, maxBody))
	if err != nil {
		return fmt.Errorf("read platform api answer: %w", err)
	}
	if resp.StatusCode/100 != 2 {
		e := &APIError{Status: resp.StatusCode}
		_ = json.Unmarshal(raw, e)
		return e
	}
	if out != nil {
		if err := json.Unmarshal(raw, out); err != nil {
			return fmt.Errorf("decode platform api answer: %w", err)
		}
	}
	return nil
}

// Partner links tenants to their Heroku add-on resources: it keeps each
// tenant's token sealed (config.Tenant.HerokuTokenSealed) and the app it
// learned on the tenant.
type Partner struct {
	Client *Client
	Store  config.Store
	Sealer secret.Sealer
	Logger *slog.Logger
}

func (p *Partner) log() *slog.Logger {
	if p.Logger == nil {
		return slog.Default()
	}
	return p.Logger
}

// Link exchanges the grant code of tenant's provisioning, stores the
// token sealed and learns the app (GET /addons/{uuid}): the tenant's App
// (and its item's name, so -a APP finds it) and HerokuAppID. It returns the
// add-on as Heroku describes it.
func (p *Partner) Link(ctx context.Context, tenant, code string) (Addon, error) {
	start := time.Now()
	tok, err := p.Client.Exchange(ctx, code)
	if err != nil {
		return Addon{}, err
	}
	if err := p.saveToken(ctx, tenant, tok); err != nil {
		return Addon{}, err
	}
	a, err := p.Learn(ctx, tenant)
	if err != nil {
		return Addon{}, err
	}
	p.log().InfoContext(ctx, "heroku add-on linked", "tenant", tenant, "app", a.App.Name, "addon", a.Name,
		"duration_ms", time.Since(start).Milliseconds())
	return a, nil
}

// Learn reads the tenant's add-on (GET /addons/{uuid}) and records its app
// on the tenant.
func (p *Partner) Learn(ctx context.Context, tenant string) (Addon, error) {
	ts, t, err := p.tokenSource(ctx, tenant)
	if err != nil {
		return Addon{}, err
	}
	a, err := p.Client.Addon(ctx, ts, t.HerokuID)
	if err != nil {
		return Addon{}, fmt.Errorf("get add-on: %w", err)
	}
	if a.App.Name == "" {
		return a, fmt.Errorf("get add-on: %w", errors.New("no app in the answer"))
	}
	change := func(r *config.Record[config.Tenant], named bool) (bool, error) {
		if r.Value.App == a.App.Name && r.Value.HerokuAppID == a.App.ID && r.Value.AddonName == a.Name && (!named || r.Item.Name == a.App.Name) {
			return false, nil
		}
		r.Value.App, r.Value.HerokuAppID = a.App.Name, a.App.ID
		if a.Name != "" {
			r.Value.AddonName = a.Name
		}
		if named {
			r.Item.Name = a.App.Name
		}
		return true, nil
	}
	_, err = config.Modify(ctx, p.Store, "", config.KindTenant, tenant, 5, func(r *config.Record[config.Tenant]) (bool, error) { return change(r, true) })
	if errors.Is(err, config.ErrConflict) {
		// Another tenant holds the app's name (a standalone one): the
		// tenant still answers to the app by its App field.
		p.log().WarnContext(ctx, "heroku app name taken by another tenant", "tenant", tenant, "app", a.App.Name)
		_, err = config.Modify(ctx, p.Store, "", config.KindTenant, tenant, 5, func(r *config.Record[config.Tenant]) (bool, error) { return change(r, false) })
	}
	if err != nil {
		return a, fmt.Errorf("record app: %w", err)
	}
	return a, nil
}

// PushConfig sends vars to the tenant's add-on (PATCH /addons/{uuid}/config),
// as after a credential rotation. ErrNoToken for a tenant without a token.
func (p *Partner) PushConfig(ctx context.Context, tenant string, vars map[string]string) error {
	ts, t, err := p.tokenSource(ctx, tenant)
	if err != nil {
		return err
	}
	if err := p.Client.UpdateConfig(ctx, ts, t.HerokuID, vars); err != nil {
		return fmt.Errorf("update add-on config: %w", err)
	}
	p.log().InfoContext(ctx, "heroku config vars updated", "tenant", tenant, "count", len(vars))
	return nil
}

// tokenSource opens the tenant's sealed token; a refreshed token is
// sealed and stored again before it is used.
func (p *Partner) tokenSource(ctx context.Context, tenant string) (oauth2.TokenSource, config.Tenant, error) {
	rec, err := config.Load[config.Tenant](ctx, p.Store, "", config.KindTenant, tenant)
	if err != nil {
		return nil, config.Tenant{}, fmt.Errorf("load tenant: %w", err)
	}
	t := rec.Value
	if len(t.HerokuTokenSealed) == 0 || t.HerokuID == "" {
		return nil, t, ErrNoToken
	}
	raw, err := p.Sealer.Open(ctx, t.HerokuTokenSealed)
	if err != nil {
		return nil, t, fmt.Errorf("open token: %w", err)
	}
	var tok oauth2.Token
	if err := json.Unmarshal(raw, &tok); err != nil {
		return nil, t, fmt.Errorf("decode token: %w", err)
	}
	return &savingSource{p: p, ctx: ctx, tenant: tenant, last: tok.AccessToken, src: p.Client.TokenSource(ctx, &tok)}, t, nil
}

func (p *Partner) saveToken(ctx context.Context, tenant string, tok *oauth2.Token) error {
	raw, err := json.Marshal(tok)
	if err != nil {
		return fmt.Errorf("encode token: %w", err)
	}
	sealed, err := p.Sealer.Seal(ctx, raw)
	if err != nil {
		return fmt.Errorf("seal token: %w", err)
	}
	_, err = config.Modify(ctx, p.Store, "", config.KindTenant, tenant, 5, func(r *config.Record[config.Tenant]) (bool, error) {
		r.Value.HerokuTokenSealed = sealed
		return true, nil
	})
	if err != nil {
		return fmt.Errorf("store token: %w", err)
	}
	return nil
}

// savingSource stores every token it did not start with (a refresh).
type savingSource struct {
	p      *Partner
	ctx    context.Context //nolint:containedctx // one call's source
	tenant string
	last   string
	src    oauth2.TokenSource
}

func (s *savingSource) Token() (*oauth2.Token, error) {
	tok, err := s.src.Token()
	if err != nil {
		return nil, err
	}
	if tok.AccessToken != s.last {
		s.last = tok.AccessToken
		if err := s.p.saveToken(s.ctx, s.tenant, tok); err != nil {
			return nil, err
		}
		s.p.log().InfoContext(s.ctx, "heroku token refreshed", "tenant", s.tenant, "expires_in_s", int(time.Until(tok.Expiry).Seconds()))
	}
	return tok, nil
}
