// Package datacloud delivers events to Salesforce Data Cloud (Data 360): it
// exchanges a core Salesforce access token for a Data Cloud token
// (POST {instance_url}/services/a360/token) and sends each event as one
// record to the Streaming Ingestion API
// (POST https://{tenant}/api/v1/ingest/sources/{connector}/{object}). It is
// the "datacloud" publication platform: the api builder and the
// platform.Publisher.
package datacloud

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"strings"
	"time"

	"github.com/herokuevents/herokuevents/shared/sink"
)

// OAuth values of the Data Cloud token exchange.
const (
	GrantType        = "urn:salesforce:grant-type:external:cdp"
	SubjectTokenType = "urn:ietf:params:oauth:token-type:access_token"
	// TokenPath is the exchange endpoint on the core instance URL.
	TokenPath = "/services/a360/token"
)

// ErrCoreTokenRejected reports that the token exchange refused the core
// access token (expired, revoked, or lacking the cdp_ingest_api scope).
var ErrCoreTokenRejected = errors.New("core access token rejected by the Data Cloud token exchange (the connected app needs the cdp_ingest_api scope and the org Data Cloud)")

// ErrInstanceURL reports an instance URL that cannot be used.
var ErrInstanceURL = errors.New("invalid instance URL")

// Token is a Data Cloud access token and the tenant endpoint it is for.
type Token struct {
	// AccessToken is the Data Cloud JWT; never log it.
	AccessToken string
	// InstanceURL is the normalized tenant base URL, e.g.
	// https://xxxx.c360a.salesforce.com.
	InstanceURL string
	// Expiry is when the token stops working; zero when unknown.
	Expiry time.Time
}

// NormalizeURL turns an instance URL as Salesforce returns it into a base
// URL: a scheme-less host ("xxxx.c360a.salesforce.com") gets https, except a
// loopback host (127.0.0.1, ::1, localhost), which gets http so that a local
// stand-in works; trailing slashes are dropped. Only http and https are
// accepted, and http only for loopback hosts.
func NormalizeURL(raw string) (string, error) {
	s := strings.TrimSpace(raw)
	if s == "" {
		return "", fmt.Errorf("%w: empty", ErrInstanceURL)
	}
	if !strings.Contains(s, "://") {
		host := s
		if i := strings.IndexAny(host, "/?#"); i >= 0 {
			host = host[:i]
		}
		scheme := "https://"
		if isLoopback(host) {
			scheme = "http://"
		}
		s = scheme + s
	}
	u, err := url.Parse(s)
	if err != nil {
		return "", fmt.Errorf("%w: %q: %w", ErrInstanceURL, raw, err)
	}
	switch {
	case u.Host == "" || u.User != nil || u.RawQuery != "" || u.Fragment != "":
		return "", fmt.Errorf("%w: %q", ErrInstanceURL, raw)
	case !validHost(u.Hostname()):
		// A host such as "0\u00a0" parses but resolves nowhere (and its
		// normal form would lose the trailing space).
		return "", fmt.Errorf("%w: %q: host is not a DNS name or IP address", ErrInstanceURL, raw)
	case u.Scheme == "https":
	case u.Scheme == "http" && isLoopback(u.Host):
	default:
		return "", fmt.Errorf("%w: %q: use https", ErrInstanceURL, raw)
	}
	return u.Scheme + "://" + u.Host + strings.TrimRight(u.EscapedPath(), "/"), nil // escaped: a decoded %00 made a URL nothing parses
}

// validHost reports whether host is an IP address without a zone or a DNS
// name of ASCII letters, digits, '-' and '.', as every instance URL's is.
func validHost(host string) bool {
	if ip, err := netip.ParseAddr(host); err == nil {
		return ip.Zone() == ""
	}
	if host == "" {
		return false
	}
	for _, c := range host {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '.') {
			return false
		}
	}
	return true
}

func isLoopback(hostport string) bool {
	host := hostport
	if h, _, err := net.SplitHostPort(hostport); err == nil {
		host = h
	}
	host = strings.Trim(host, "[]")
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// Exchanger trades core access tokens for Data Cloud tokens. It is safe for
// concurrent use and never retries.
type Exchanger struct {
	// HTTPClient sends the exchange; it should be egress-guarded. Required.
	HTTPClient *http.Client
	// Now is the clock; time.Now when nil.
	Now func() time.Time
}

func (x *Exchanger) now() time.Time {
	if x.Now != nil {
		return x.Now()
	}
	return time.Now()
}

// Exchange posts the core token to {coreInstanceURL}/services/a360/token.
// Errors: ErrCoreTokenRejected (wrapped with the answer) for a 401 or an
// invalid_grant / invalid_token answer; a *sink.Error (class Retry or
// Permanent) for other failures, so callers can classify them.
func (x *Exchanger) Exchange(ctx context.Context, coreInstanceURL, coreAccessToken string) (*Token, error) {
	base, err := NormalizeURL(coreInstanceURL)
	if err != nil {
		return nil, &sink.Error{Result: sink.Result{Class: sink.Permanent, Cause: err}}
	}
	form := url.Values{
		"grant_type":         {GrantType},
		"subject_token":      {coreAccessToken},
		"subject_token_type": {SubjectTokenType},
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, base+TokenPath, strings.NewReader(form.Encode()))
	if err != nil {
		return nil, &sink.Error{Result: sink.Result{Class: sink.Permanent, Cause: err}}
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Accept", "application/json")
	resp, err := x.HTTPClient.Do(req)
	if err != nil {
		return nil, &sink.Error{Result: sink.Result{Class: sink.Retry, Cause: fmt.Errorf("exchange Data Cloud token: %w", err)}}
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	if resp.StatusCode != http.StatusOK {
		var oe struct {
			Error       string `json:"error"`
			Description string `json:"error_description"`
		}
		_ = json.Unmarshal(body, &oe)
		if resp.StatusCode == http.StatusUnauthorized || oe.Error == "invalid_grant" || oe.Error == "invalid_token" {
			return nil, fmt.Errorf("exchange Data Cloud token: HTTP %d %s %s: %w", resp.StatusCode, oe.Error, oe.Description, ErrCoreTokenRejected)
		}
		r := sink.Classify(resp.StatusCode, resp.Header, x.now())
		if r.Class == sink.Gone || r.Class == sink.Delivered {
			r.Class = sink.Permanent
		}
		r.Excerpt = excerpt(body)
		return nil, fmt.Errorf("exchange Data Cloud token: %w", &sink.Error{Result: r})
	}
	var tr struct {
		AccessToken string          `json:"access_token"`
		InstanceURL string          `json:"instance_url"`
		ExpiresIn   json.RawMessage `json:"expires_in"`
	}
	if err := json.Unmarshal(body, &tr); err != nil || tr.AccessToken == "" || tr.InstanceURL == "" {
		return nil, fmt.Errorf("exchange Data Cloud token: %w", &sink.Error{Result: sink.Result{Status: resp.StatusCode,
			Class: sink.Retry, Excerpt: "malformed token response: " + excerpt(body)}})
	}
	inst, err := NormalizeURL(tr.InstanceURL)
	if err != nil {
		return nil, fmt.Errorf("exchange Data Cloud token: %w", &sink.Error{Result: sink.Result{Class: sink.Permanent, Cause: err}})
	}
	t := &Token{AccessToken: tr.AccessToken, InstanceURL: inst}
	if secs := parseSeconds(tr.ExpiresIn); secs > 0 {
		// capped: a huge expires_in overflowed into an expiry in the past
		t.Expiry = x.now().Add(time.Duration(min(secs, maxExpiresIn)) * time.Second)
	}
	return t, nil
}

// maxExpiresIn caps a token's expires_in (seconds): a year.
const maxExpiresIn = 365 * 24 * 3600

// parseSeconds reads expires_in, a number or a numeric string.
func parseSeconds(raw json.RawMessage) int64 {
	var n json.Number
	s := strings.Trim(string(raw), `"`)
	n = json.Number(s)
	v, err := n.Int64()
	if err != nil {
		return 0
	}
	return v
}

func excerpt(b []byte) string {
	s := strings.Join(strings.Fields(strings.ToValidUTF8(string(b), "\uFFFD")), " ")
	if len(s) > sink.ExcerptSize {
		s = strings.ToValidUTF8(s[:sink.ExcerptSize], "")
	}
	return s
}
