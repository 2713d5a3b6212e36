package embedded_test

import (
	"bytes"
	"context"
	"crypto/sha1" //nolint:gosec // Heroku's SSO token is SHA-1.
	"encoding/hex"
	"fmt"
	"html"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/go-logfmt/logfmt"
	syslog "github.com/influxdata/go-syslog/v3"
	"github.com/influxdata/go-syslog/v3/octetcounting"
	"github.com/influxdata/go-syslog/v3/rfc5424"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/herokuevents/herokuevents/infra/embedded"
	"github.com/herokuevents/herokuevents/shared/config"
	"github.com/herokuevents/herokuevents/shared/deliver"
)

const testSalt = "7CwqmJLEjv8YZTXK"

// startHeroku runs the embedded mode with the SSO salt Heroku would share.
func startHeroku(t *testing.T) *embedded.Server {
	t.Helper()
	srv, err := embedded.Start(t.Context(), embedded.Options{
		Addr: "127.0.0.1:0", DataDir: t.TempDir(), App: "my-app", AllowEgress: loopback,
		Backoff: deliver.Backoff{Base: 50 * time.Millisecond, Cap: 200 * time.Millisecond},
		Getenv: func(k string) string {
			if k == "HEROKU_SSO_SALT" {
				return testSalt
			}
			return os.Getenv(k)
		},
	})
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, srv.Close()) })
	return srv
}

func tenantID(t *testing.T, srv *embedded.Server) string {
	u, err := url.Parse(srv.Var("HEROKUEVENTS_API_URL"))
	require.NoError(t, err)
	_, id, _ := strings.Cut(u.Path, "/tenants/")
	return strings.Trim(id, "/")
}

// logplexInput is an app's Logplex input: it checks every request as
// Logplex does, parsing the frames with go-syslog (strict RFC 5424 in
// octet-counted frames), and keeps the messages.
type logplexInput struct {
	*httptest.Server
	t    *testing.T
	mu   sync.Mutex
	msgs []string
}

func newLogplexInput(t *testing.T) *logplexInput {
	in := &logplexInput{t: t}
	in.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		if _, p, _ := r.BasicAuth(); p != "t.input-token" || r.Header.Get("Content-Type") != "application/logplex-1" || r.ContentLength != int64(len(body)) {
			t.Errorf("bad log request: auth %q type %q length %d of %d", p, r.Header.Get("Content-Type"), r.ContentLength, len(body))
			w.WriteHeader(http.StatusBadRequest)
			return
		}
		var got []string
		octetcounting.NewParser(syslog.WithListener(func(res *syslog.Result) {
			if res.Error != nil {
				t.Errorf("malformed frame: %v in %q", res.Error, body)
				return
			}
			m := res.Message.(*rfc5424.SyslogMessage)
			if m.Appname == nil || *m.Appname != "app" || m.ProcID == nil || *m.ProcID != "herokuevents" || m.Hostname == nil || m.Timestamp == nil || m.Message == nil {
				t.Errorf("header fields missing: %+v", m.Base)
				return
			}
			got = append(got, *m.Message)
		})).Parse(bytes.NewReader(body))
		if n, _ := strconv.Atoi(r.Header.Get("Logplex-Msg-Count")); n != len(got) {
			t.Errorf("Logplex-Msg-Count %q for %d frames", r.Header.Get("Logplex-Msg-Count"), len(got))
		}
		in.mu.Lock()
		in.msgs = append(in.msgs, got...)
		in.mu.Unlock()
		w.WriteHeader(http.StatusNoContent)
	}))
	t.Cleanup(in.Close)
	return in
}

func (in *logplexInput) url() string {
	return strings.Replace(in.URL, "http://", "http://token:t.input-token@", 1) + "/logs"
}

// line finds a received line with every key=value of want.
func (in *logplexInput) line(want map[string]string) (string, bool) {
	in.mu.Lock()
	defer in.mu.Unlock()
	for _, m := range in.msgs {
		d := logfmt.NewDecoder(strings.NewReader(m))
		kv := map[string]string{}
		for d.ScanRecord() {
			for d.ScanKeyval() {
				kv[string(d.Key())] = string(d.Value())
			}
		}
		match := true
		for k, v := range want {
			match = match && kv[k] == v
		}
		if match {
			return m, true
		}
	}
	return "", false
}

// setLogInput gives the tenant a log_input_url, as Heroku's provisioning
// does.
func setLogInput(t *testing.T, srv *embedded.Server, u string) {
	_, err := config.Modify(t.Context(), srv.Store(), "", config.KindTenant, tenantID(t, srv), 3, func(r *config.Record[config.Tenant]) (bool, error) {
		r.Value.LogInputURL = u
		return true, nil
	})
	require.NoError(t, err)
}

// TestTenantLogLines: the decisions about a tenant's events reach its
// app's log stream as Logplex frames, and `herokuevents logs` reads the
// same lines.
func TestTenantLogLines(t *testing.T) {
	srv := startHeroku(t)
	in := newLogplexInput(t)
	setLogInput(t, srv, in.url())
	h := newHook(t, func(_ int, w http.ResponseWriter) {})
	bad := newHook(t, func(_ int, w http.ResponseWriter) { w.WriteHeader(http.StatusBadRequest) })
	wire(t, srv, h.URL, dropFilter)
	require.Equal(t, http.StatusCreated, call(t, srv, "POST", "/platforms/webhook/publications", map[string]any{"name": "strict", "url": bad.URL + "/x"}, nil))
	require.Equal(t, http.StatusCreated, call(t, srv, "POST", "/streams", map[string]any{"source": "inbound", "target": "strict"}, nil))

	id := publish(t, srv, "inbound", `{"Context__c":{"string":"keep"}}`)
	dropped := publish(t, srv, "inbound", `{"Context__c":{"string":"drop"}}`)
	for _, want := range []map[string]string{
		{"event": "accepted", "event_id": id, "via": "publish", "subscription": "inbound"},
		{"event": "delivered", "event_id": id, "publication": "systemStatus", "status": "200", "attempt": "1"},
		{"event": "filtered_out", "event_id": dropped, "stream": "inbound->systemStatus"},
		{"event": "dead_lettered", "event_id": id, "publication": "strict", "status": "400"},
	} {
		require.Eventually(t, func() bool { _, ok := in.line(want); return ok }, 10*time.Second, 20*time.Millisecond, "no line %v", want)
	}
	l, _ := in.line(map[string]string{"event": "delivered"})
	assert.Regexp(t, `latency=[0-9.]+ms`, l)
	for _, secret := range []string{"s3cret-token", "t.input-token"} {
		in.mu.Lock()
		assert.NotContains(t, strings.Join(in.msgs, "\n"), secret)
		in.mu.Unlock()
	}

	// the lines `herokuevents logs` reads, in the heroku logs format
	var got struct {
		Lines []struct {
			Seq  uint64 `json:"seq"`
			Line string `json:"line"`
		} `json:"lines"`
		Next uint64 `json:"next"`
	}
	require.Equal(t, http.StatusOK, call(t, srv, "GET", "/logs?n=50", nil, &got))
	require.NotEmpty(t, got.Lines)
	assert.Regexp(t, `^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}\+00:00 app\[herokuevents\]: event=accepted event_id=`, got.Lines[0].Line)
	var none struct{ Lines []any }
	require.Equal(t, http.StatusOK, call(t, srv, "GET", "/logs?after="+strconv.FormatUint(got.Next, 10), nil, &none))
	assert.Empty(t, none.Lines)
	var e struct{ ID, Message string }
	assert.Equal(t, http.StatusBadRequest, call(t, srv, "GET", "/logs?n=0", nil, &e))
	assert.Equal(t, "bad_request", e.ID)
	assert.Zero(t, srv.TenantLog().Dropped())
}

// ssoForm is the page Heroku has the browser post to the add-on's sso_url.
func ssoForm(srv *embedded.Server, resourceID string, at time.Time) string {
	ts := strconv.FormatInt(at.Unix(), 10)
	sum := sha1.Sum([]byte(resourceID + ":" + testSalt + ":" + ts)) //nolint:gosec // Heroku's definition.
	return fmt.Sprintf(`<!doctype html><html><body><form method="post" action="%s/sso/login">
<input type="hidden" name="resource_id" value="%s"><input type="hidden" name="timestamp" value="%s">
<input type="hidden" name="resource_token" value="%s"><input type="hidden" name="app" value="my-app">
<input type="hidden" name="email" value="dev@example.com"><button id="open" type="submit">Open herokuevents</button></form></body></html>`,
		html.EscapeString(srv.URL()), html.EscapeString(resourceID), ts, hex.EncodeToString(sum[:]))
}

// TestDashboardInBrowser: headless Chromium signs in through SSO, sees a
// publication and a delivered event, and redrives a dead letter with the
// button.
func TestDashboardInBrowser(t *testing.T) {
	srv := startHeroku(t)
	h := newHook(t, func(n int, w http.ResponseWriter) {})
	wire(t, srv, h.URL, "")
	picky := newHook(t, func(n int, w http.ResponseWriter) { // refuses each event once
		if n == 1 {
			w.WriteHeader(http.StatusUnprocessableEntity)
		}
	})
	require.Equal(t, http.StatusCreated, call(t, srv, "POST", "/platforms/webhook/publications", map[string]any{"name": "picky", "url": picky.URL + "/x"}, nil))
	require.Equal(t, http.StatusCreated, call(t, srv, "POST", "/streams", map[string]any{"source": "inbound", "target": "picky"}, nil))
	id := publish(t, srv, "inbound", `{"n":1}`)
	require.Eventually(t, func() bool {
		n, err := srv.Queue("delivery-dlq").Len(t.Context())
		require.NoError(t, err)
		return h.attemptsOf(id) == 1 && n == 1
	}, 10*time.Second, 20*time.Millisecond)
	require.NoError(t, srv.FlushJournal(t.Context()))

	heroku := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		fmt.Fprint(w, ssoForm(srv, tenantID(t, srv), time.Now()))
	}))
	t.Cleanup(heroku.Close)

	opts := append(chromedp.DefaultExecAllocatorOptions[:], chromedp.NoSandbox, chromedp.DisableGPU, chromedp.WindowSize(1200, 1400))
	actx, cancel := chromedp.NewExecAllocator(t.Context(), opts...)
	defer cancel()
	ctx, cancel := chromedp.NewContext(actx)
	defer cancel()
	require.NoError(t, chromedp.Do(ctx, chromedp.Navigate(heroku.URL)), "start headless chromium (scripts/setup-tools installs it)")
	step, cancelStep := context.WithTimeout(ctx, 20*time.Second)
	defer cancelStep()
	require.NoError(t, chromedp.Do(step,
		chromedp.Click("#open"),
		chromedp.WaitVisible("#publications"),
	))
	pubs, err := chromedp.Run(step, chromedp.Text("#publications"))
	require.NoError(t, err)
	assert.Contains(t, pubs, "systemStatus")
	assert.Contains(t, pubs, "picky")
	deliveries, err := chromedp.Run(step, chromedp.Text("#deliveries"))
	require.NoError(t, err)
	assert.Contains(t, deliveries, id)
	assert.Contains(t, deliveries, "delivered")
	dead, err := chromedp.Run(step, chromedp.Text("#dead-letters"))
	require.NoError(t, err)
	assert.Contains(t, dead, id)

	require.NoError(t, chromedp.Do(step,
		chromedp.Click("button.redrive"),
		chromedp.WaitVisible("#notice"),
	))
	notice, err := chromedp.Run(step, chromedp.Text("#notice"))
	require.NoError(t, err)
	assert.Contains(t, notice, "redriven")
	require.Eventually(t, func() bool { return picky.attemptsOf(id) == 2 }, 10*time.Second, 20*time.Millisecond, "the redriven event is delivered")
	n, err := srv.Queue("delivery-dlq").Len(t.Context())
	require.NoError(t, err)
	assert.Zero(t, n)

	png, err := chromedp.Run(step, chromedp.FullScreenshot(100))
	require.NoError(t, err)
	shot := filepath.Join(t.TempDir(), "dashboard.png")
	require.NoError(t, os.WriteFile(shot, png, 0o600))
	t.Logf("screenshot: %s (%d bytes)", shot, len(png))
	assert.Greater(t, len(png), 10000)
}
