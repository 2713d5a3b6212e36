package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"regexp"
	"runtime/debug"
	"strings"
	"time"

	"github.com/spf13/cobra"
)

// apiURLEnv is the config var that points the CLI at the management API of
// one tenant, credentials included.
const apiURLEnv = "HEROKUEVENTS_API_URL"

// cliVersion is stamped at build time with
// -ldflags "-X main.cliVersion=…"; otherwise the module version is used.
var cliVersion = ""

// requestTimeout bounds every management API call.
const requestTimeout = 30 * time.Second

// maxResponseBytes bounds what the CLI reads from the API.
const maxResponseBytes = 8 << 20

var tenantPath = regexp.MustCompile(`tenants/([^/]+)`)

// version reports the CLI version for the User-Agent.
func version() string {
	if cliVersion != "" {
		return cliVersion
	}
	if bi, ok := debug.ReadBuildInfo(); ok && bi.Main.Version != "" && bi.Main.Version != "(devel)" {
		return bi.Main.Version
	}
	return "dev"
}

// appFlags are the flags every management command takes.
type appFlags struct {
	app    string
	remote string
	apiURL string
}

// addAppFlags declares -a/--app (required), -r/--remote (accepted for
// familiarity with the Heroku CLI, ignored) and --api-url on cmd.
func addAppFlags(cmd *cobra.Command) *appFlags {
	f := &appFlags{}
	cmd.Flags().StringVarP(&f.app, "app", "a", "", "app to run command against (required)")
	cmd.Flags().StringVarP(&f.remote, "remote", "r", "", "git remote of app to use (ignored)")
	cmd.Flags().StringVar(&f.apiURL, "api-url", "", "management API URL of the app (default $"+apiURLEnv+")")
	_ = cmd.MarkFlagRequired("app")
	return f
}

// client builds the API client of the app from --api-url or the environment,
// without any network call.
func (f *appFlags) client() (*apiClient, error) {
	raw, source := f.apiURL, "--api-url"
	if raw == "" {
		raw, source = os.Getenv(apiURLEnv), apiURLEnv
	}
	if raw == "" {
		return nil, fmt.Errorf("%s is not set: run `herokuevents serve` and export the %s it prints, or pass --api-url", apiURLEnv, apiURLEnv)
	}
	c, err := newAPIClient(raw)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", source, err)
	}
	c.source = source
	return c, nil
}

// connect builds the client and checks that the API is the one of the app
// named by -a, so nothing is ever written to another app's tenant.
func (f *appFlags) connect(ctx context.Context) (*apiClient, error) {
	c, err := f.client()
	if err != nil {
		return nil, err
	}
	if err := c.checkApp(ctx, f.app); err != nil {
		return nil, err
	}
	return c, nil
}

// apiClient talks to the management API of one tenant.
type apiClient struct {
	jsonClient
	tenant string
	key    string
	source string // where the URL came from, for messages
}

// newAPIClient parses an API URL of the form
// https://herokuevents:KEY@host/v1/tenants/T. Errors never contain the URL,
// which carries the key.
func newAPIClient(raw string) (*apiClient, error) {
	u, err := url.Parse(raw)
	if err != nil {
		return nil, errors.New("invalid API URL (expected https://herokuevents:KEY@HOST/v1/tenants/TENANT)")
	}
	if u.Scheme != "http" && u.Scheme != "https" || u.Host == "" {
		return nil, errors.New("invalid API URL: scheme must be http or https and a host is required")
	}
	m := tenantPath.FindStringSubmatch(u.Path)
	if m == nil {
		return nil, errors.New("invalid API URL: no tenants/TENANT in its path")
	}
	var key string
	if u.User != nil {
		if p, ok := u.User.Password(); ok {
			key = p
		} else {
			key = u.User.Username()
		}
	}
	if key == "" {
		return nil, errors.New("invalid API URL: no credentials in it (expected herokuevents:KEY@)")
	}
	prefix := u.Path[:strings.Index(u.Path, m[0])]
	prefix = strings.TrimSuffix(strings.TrimSuffix(prefix, "/"), "/v1")
	base := url.URL{Scheme: u.Scheme, Host: u.Host, Path: prefix}
	return &apiClient{
		jsonClient: jsonClient{
			http:  &http.Client{Timeout: requestTimeout},
			base:  strings.TrimSuffix(base.String(), "/"),
			label: "herokuevents API",
			auth:  func(r *http.Request) { r.Header.Set("Authorization", "Bearer "+key) },
		},
		tenant: m[1],
		key:    key,
	}, nil
}

// apiError is an error answered by the API: status and {"id","message"}.
// Its text is the message alone, which the root prints.
type apiError struct {
	Status  int    `json:"-"`
	ID      string `json:"id"`
	Message string `json:"message"`
}

func (e *apiError) Error() string { return e.Message }

// path builds a tenant path from escaped segments: path("streams", a, b) is
// /v1/tenants/T/streams/a/b.
func (c *apiClient) path(segments ...string) string {
	p := "/v1/tenants/" + url.PathEscape(c.tenant)
	for _, s := range segments {
		p += "/" + url.PathEscape(s)
	}
	return p
}

// jsonClient sends JSON requests to one herokuevents API. Not safe to
// modify once in use; safe for concurrent calls.
type jsonClient struct {
	http  *http.Client
	base  string // scheme://host[/prefix], no userinfo, no trailing slash
	label string // the API's name in messages, e.g. "herokuevents API"
	auth  func(*http.Request)
}

// do sends one request with body (JSON-encoded when not nil) and returns the
// raw response body of a 2xx answer; other answers become an *apiError.
func (c *jsonClient) do(ctx context.Context, method, path string, body any) ([]byte, error) {
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return nil, fmt.Errorf("encode request: %w", err)
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, c.base+path, rd)
	if err != nil {
		return nil, fmt.Errorf("build request: %w", err)
	}
	c.auth(req)
	req.Header.Set("Accept", "application/json")
	req.Header.Set("User-Agent", "herokuevents-cli/"+version())
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return nil, fmt.Errorf("call %s: %w", c.label, err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, maxResponseBytes))
	if err != nil {
		return nil, fmt.Errorf("read %s response: %w", c.label, err)
	}
	if resp.StatusCode/100 != 2 {
		e := &apiError{Status: resp.StatusCode}
		if json.Unmarshal(data, e) != nil || e.Message == "" {
			e.ID = strings.ToLower(strings.ReplaceAll(http.StatusText(resp.StatusCode), " ", "_"))
			e.Message = fmt.Sprintf("%s answered %d %s", c.label, resp.StatusCode, http.StatusText(resp.StatusCode))
		}
		return nil, e
	}
	return data, nil
}

// call is do with a JSON-decoded answer into out (when not nil).
func (c *jsonClient) call(ctx context.Context, method, path string, body, out any) error {
	data, err := c.do(ctx, method, path, body)
	if err != nil {
		return err
	}
	if out == nil {
		return nil
	}
	return c.decode(data, out)
}

// decode decodes an answer of the API into out.
func (c *jsonClient) decode(data []byte, out any) error {
	if err := json.Unmarshal(data, out); err != nil {
		return fmt.Errorf("decode %s response: %w", c.label, err)
	}
	return nil
}

// tenantInfo is the answer of GET /v1/tenants/T.
type tenantInfo struct {
	ID  string `json:"id"`
	App string `json:"app"`
}

// checkApp verifies that the tenant of the API URL belongs to app.
func (c *apiClient) checkApp(ctx context.Context, app string) error {
	var t tenantInfo
	if err := c.call(ctx, http.MethodGet, c.path(), nil, &t); err != nil {
		return err
	}
	if t.App != app {
		return fmt.Errorf("%s is the API of app %s, not %s", c.source, t.App, app)
	}
	return nil
}

// errFilterNeedsSource and errFilterNeedsTarget refuse a --filter without
// the stream it belongs to, before any call.
var (
	errFilterNeedsSource = errors.New("--filter needs --source: a filter belongs to the stream from a subscription")
	errFilterNeedsTarget = errors.New("--filter needs --target: a filter belongs to the stream to a publication")
)

// create POSTs req to …/platforms/{platform}/{kind} of the app's tenant
// behind the spinner "Creating {what}... done" on stderr, decoding the
// answer into out when not nil.
func (f *appFlags) create(cmd *cobra.Command, what, platform, kind string, req, out any) error {
	c, err := f.connect(cmd.Context())
	if err != nil {
		return err
	}
	return action(cmd.ErrOrStderr(), "Creating "+what, func() error {
		return c.call(cmd.Context(), http.MethodPost, c.path("platforms", platform, kind), req, out)
	})
}
