package webhook

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/herokuevents/herokuevents/shared/config"
	"github.com/herokuevents/herokuevents/shared/platform"
	"github.com/herokuevents/herokuevents/shared/sink"
)

// Headers of the CloudEvents webhook abuse-protection handshake ("HTTP 1.1
// Web Hooks for Event Delivery", section 4).
const (
	HeaderRequestOrigin = "WebHook-Request-Origin"
	HeaderAllowedOrigin = "WebHook-Allowed-Origin"
	HeaderAllowedRate   = "WebHook-Allowed-Rate"
)

// HandshakeTimeout bounds the validation request made at create.
const HandshakeTimeout = 10 * time.Second

// Grant is a delivery target's consent to the handshake.
type Grant struct {
	// Origin is the WebHook-Request-Origin that was granted.
	Origin string
	// Rate is the WebHook-Allowed-Rate in requests per minute; 0 when the
	// target allowed any rate ("*") or gave none.
	Rate int
}

// Handshake asks the target rawURL for permission to deliver, as the
// CloudEvents webhook spec (section 4.1) describes: an OPTIONS request with
// WebHook-Request-Origin d.RequestOrigin() (and the publication's token as
// "Authorization: Bearer" when it has one) through the deliver role's
// guarded client (Deps.Client; a guarded client from Deps.Egress when
// nil), which follows no redirect. A target that answers anything but 2xx
// with WebHook-Allowed-Origin set to that origin or "*" refuses: the error
// is a config.ErrInvalid problem (HTTP 422) saying why. The callback
// variant (WebHook-Request-Callback) is not offered.
func Handshake(ctx context.Context, d platform.Deps, rawURL, token string) (Grant, error) {
	client := d.Client
	if client == nil {
		client = d.Egress.Client(HandshakeTimeout)
	}
	ctx, cancel := context.WithTimeout(ctx, HandshakeTimeout)
	defer cancel()
	return handshake(ctx, client, d.RequestOrigin(), rawURL, token)
}

// handshake sends the validation request of origin to rawURL with client.
func handshake(ctx context.Context, client *http.Client, origin, rawURL, token string) (Grant, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodOptions, rawURL, nil)
	if err != nil {
		return Grant{}, config.Invalid("url %q is not a valid URL.", rawURL)
	}
	req.Header.Set(HeaderRequestOrigin, origin)
	req.Header.Set("User-Agent", UserAgent)
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := client.Do(req)
	if err != nil {
		reason := err.Error()
		var ue interface{ Unwrap() error }
		if errors.As(err, &ue) && ue.Unwrap() != nil { // *url.Error repeats the method and URL
			reason = ue.Unwrap().Error()
		}
		return Grant{}, refused(rawURL, "it could not be reached: "+reason)
	}
	defer resp.Body.Close()
	excerpt, _ := io.ReadAll(io.LimitReader(resp.Body, sink.ExcerptSize))
	grant, err := ParseHandshake(resp.StatusCode, resp.Header, origin)
	if err != nil {
		reason := err.Error()
		if resp.StatusCode/100 != 2 {
			if s := strings.Join(strings.Fields(strings.ToValidUTF8(string(excerpt), string(utf8.RuneError))), " "); s != "" {
				reason += ": " + s
			}
		}
		return Grant{}, refused(rawURL, reason)
	}
	return grant, nil
}

func refused(rawURL, reason string) error {
	return config.Invalid("The webhook at %s refused the CloudEvents handshake (OPTIONS with %s): %s. "+
		"For a receiver that does not implement the handshake, create the publication with --skip-handshake (body field skip_handshake).",
		rawURL, HeaderRequestOrigin, reason)
}

// ParseHandshake reads a target's answer to the validation request of
// origin (CloudEvents webhook spec, section 4.2): a 2xx status with
// WebHook-Allowed-Origin equal to origin (DNS names compare
// case-insensitively) or "*", and WebHook-Allowed-Rate, when given, "*" or
// a positive integer (requests per minute). An allowed origin that is a
// prefix of origin consents too: the CloudEvents Go SDK's handler answers
// with the prefix it was configured to accept rather than the origin. The
// error says what is missing or wrong.
func ParseHandshake(status int, h http.Header, origin string) (Grant, error) {
	if status < 200 || status > 299 {
		text := http.StatusText(status)
		if text == "" {
			text = "non-standard status"
		}
		return Grant{}, fmt.Errorf("it answered HTTP %d %s", status, text)
	}
	allowed := h.Values(HeaderAllowedOrigin)
	if len(allowed) == 0 || strings.TrimSpace(strings.Join(allowed, "")) == "" {
		return Grant{}, fmt.Errorf("it answered HTTP %d without a %s header, so it did not consent", status, HeaderAllowedOrigin)
	}
	if len(allowed) > 1 {
		return Grant{}, fmt.Errorf("it answered %d %s headers; one is expected", len(allowed), HeaderAllowedOrigin)
	}
	if got := strings.TrimSpace(allowed[0]); got != "*" && !hasPrefixFold(origin, got) {
		return Grant{}, fmt.Errorf("it allowed the origin %q, not %q", printable(got), origin)
	}
	g := Grant{Origin: origin}
	switch rate := strings.TrimSpace(h.Get(HeaderAllowedRate)); rate {
	case "", "*":
	default:
		n, err := strconv.Atoi(rate)
		if err != nil || n <= 0 {
			return Grant{}, fmt.Errorf("its %s %q is neither * nor a positive number of requests per minute", HeaderAllowedRate, printable(rate))
		}
		g.Rate = n
	}
	return g, nil
}

func hasPrefixFold(s, prefix string) bool {
	return len(prefix) <= len(s) && strings.EqualFold(s[:len(prefix)], prefix)
}

// printable bounds and cleans a header value quoted in an error.
func printable(s string) string {
	const limit = 100
	if len(s) > limit {
		s = s[:limit] + "…"
	}
	return strings.ToValidUTF8(s, string(utf8.RuneError))
}
