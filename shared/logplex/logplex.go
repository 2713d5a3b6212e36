// Package logplex writes log lines into a Heroku app's log stream through
// its Logplex HTTPS input (the add-on's log_input_url): RFC 5424 messages
// with every header field, octet-counted frames, and the request Logplex
// expects (POST, application/logplex-1, an exact Content-Length, a correct
// Logplex-Msg-Count). It also renders a message as `heroku logs` shows it.
//
// See ../../shared/reference/heroku-addon.md §4. The package only encodes and
// builds requests; who sends them, retries and drops is the caller's
// (shared/tenantlog).
package logplex

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

// Limits and fixed header fields.
const (
	// MaxMessage is the largest RFC 5424 message Logplex accepts, in bytes
	// (its SYSLOG_MAX_SIZE); Append truncates the text of longer ones.
	MaxMessage = 10240
	// ContentType is the media type of a frame body.
	ContentType = "application/logplex-1"
	// Priority is local7.info with syslog version 1.
	Priority = "<190>1"
	// TimeLayout is the TIMESTAMP layout: RFC 3339 in UTC with
	// microseconds, as Heroku prints it (Z07:00 would print Z).
	TimeLayout = "2006-01-02T15:04:05.000000-07:00"
	// DefaultHost, DefaultApp and DefaultProc fill empty header fields:
	// APP-NAME "app" is the source `heroku logs` shows, PROCID the name in
	// brackets (app[herokuevents]).
	DefaultHost = "herokuevents"
	DefaultApp  = "app"
	DefaultProc = "herokuevents"
	// UserAgent identifies the add-on to Logplex.
	UserAgent = "herokuevents (https://elements.heroku.com/addons/herokuevents)"
)

// Message is one log line.
type Message struct {
	Time time.Time
	// Host, App and Proc are the HOSTNAME, APP-NAME and PROCID fields;
	// empty ones take the defaults. Characters outside printable ASCII
	// become '-'.
	Host, App, Proc string
	// Text is the MSG, one line (line breaks become spaces).
	Text string
}

// header is the RFC 5424 header of m, up to and including the space
// before MSG: MSGID and STRUCTURED-DATA are "-".
func header(m Message) string {
	return fmt.Sprintf("%s %s %s %s %s - - ", Priority, m.Time.UTC().Format(TimeLayout),
		field(m.Host, DefaultHost, 255), field(m.App, DefaultApp, 48), field(m.Proc, DefaultProc, 128))
}

// field is a header field: printable ASCII without spaces (others become
// '-'), at most n bytes, def when empty.
func field(s, def string, n int) string {
	if s == "" {
		return def
	}
	b := []byte(s)
	for i, c := range b {
		if c < 33 || c > 126 {
			b[i] = '-'
		}
	}
	return string(b[:min(len(b), n)])
}

// text is the MSG of m: one line, valid UTF-8.
func text(s string) string {
	s = strings.ToValidUTF8(s, "\uFFFD")
	return strings.Map(func(r rune) rune {
		if r == '\n' || r == '\r' {
			return ' '
		}
		return r
	}, s)
}

// Encode returns the RFC 5424 message of m, at most MaxMessage bytes (a
// longer text is cut at a rune boundary and ends with "…").
func Encode(m Message) string {
	h, t := header(m), text(m.Text)
	if len(h)+len(t) > MaxMessage {
		const more = "…"
		n := MaxMessage - len(h) - len(more)
		for n > 0 && !utf8.RuneStart(t[n]) {
			n--
		}
		t = t[:n] + more
	}
	return h + t
}

// Append appends the octet-counted frame of m to dst: the message's byte
// length, a space, the message (no trailing newline).
func Append(dst []byte, m Message) []byte {
	s := Encode(m)
	dst = strconv.AppendInt(dst, int64(len(s)), 10)
	dst = append(dst, ' ')
	return append(dst, s...)
}

// Frames returns the body of a request carrying msgs.
func Frames(msgs []Message) []byte {
	var b []byte
	for _, m := range msgs {
		b = Append(b, m)
	}
	return b
}

// Line renders m as `heroku logs` shows it:
// "2026-12-02T13:00:00.000000+00:00 app[herokuevents]: text".
func Line(m Message) string {
	return fmt.Sprintf("%s %s[%s]: %s", m.Time.UTC().Format(TimeLayout),
		field(m.App, DefaultApp, 48), field(m.Proc, DefaultProc, 128), text(m.Text))
}

// ErrURL is wrapped by the error of a log input URL that cannot be used.
var ErrURL = errors.New("invalid log input URL")

// NewRequest builds the POST of msgs to a log input URL: Basic auth from
// the URL's userinfo (which the request URL no longer carries), the
// content type, an exact Content-Length (never chunked), Logplex-Msg-Count,
// a fresh Logplex-Frame-Id and the User-Agent. The error never contains
// the URL (it embeds a credential).
func NewRequest(ctx context.Context, inputURL string, msgs []Message) (*http.Request, error) {
	u, err := url.Parse(inputURL)
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
		return nil, fmt.Errorf("%w: not an absolute http(s) URL", ErrURL)
	}
	user := u.User
	u.User = nil
	body := Frames(msgs)
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, u.String(), bytes.NewReader(body))
	if err != nil {
		return nil, fmt.Errorf("%w: cannot build a request", ErrURL)
	}
	if user != nil {
		pass, _ := user.Password()
		req.SetBasicAuth(user.Username(), pass)
	}
	req.ContentLength = int64(len(body))
	req.Header.Set("Content-Type", ContentType)
	req.Header.Set("Logplex-Msg-Count", strconv.Itoa(len(msgs)))
	req.Header.Set("Logplex-Frame-Id", frameID())
	req.Header.Set("User-Agent", UserAgent)
	return req, nil
}

// frameID is a random 128-bit id in upper-case hex, as Logplex writes
// Logplex-Frame-Id on drains.
func frameID() string {
	b := make([]byte, 16)
	_, _ = rand.Read(b)
	return strings.ToUpper(hex.EncodeToString(b))
}

// Redact returns a log input URL without its credential, for logs.
func Redact(inputURL string) string {
	u, err := url.Parse(inputURL)
	if err != nil {
		return "(invalid URL)"
	}
	u.User = nil
	u.RawQuery = ""
	return u.String()
}
