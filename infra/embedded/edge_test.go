package embedded_test

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/herokuevents/herokuevents/infra/embedded"
	"github.com/herokuevents/herokuevents/shared/deliver"
)

// syncBuffer is a log sink the server writes from many goroutines.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func startEdge(t *testing.T, l embedded.HTTPLimits) (*embedded.Server, *syncBuffer) {
	t.Helper()
	logs := &syncBuffer{}
	srv, err := embedded.Start(t.Context(), embedded.Options{
		Addr: "127.0.0.1:0", DataDir: t.TempDir(), App: "my-app", AllowEgress: loopback,
		Backoff: deliver.Backoff{Base: 50 * time.Millisecond, Cap: 200 * time.Millisecond},
		Logger:  slog.New(slog.NewJSONHandler(logs, nil)), HTTP: l,
	})
	require.NoError(t, err)
	t.Cleanup(func() { _ = srv.Close() })
	return srv, logs
}

// publishRequest is the raw HTTP/1.1 request head of a publish to name
// with a body of n bytes, with the app's credentials or none.
func publishRequest(t *testing.T, srv *embedded.Server, name string, n int, auth bool) (addr, head string) {
	t.Helper()
	u, err := url.Parse(srv.Var("HEROKUEVENTS_PUBLISH_URL"))
	require.NoError(t, err)
	var b strings.Builder
	fmt.Fprintf(&b, "POST %s/%s HTTP/1.1\r\nHost: %s\r\nContent-Type: application/json\r\nContent-Length: %d\r\n", u.Path, name, u.Host, n)
	if auth {
		pass, _ := u.User.Password()
		req, _ := http.NewRequest(http.MethodPost, "http://x/", nil)
		req.SetBasicAuth(u.User.Username(), pass)
		fmt.Fprintf(&b, "Authorization: %s\r\n", req.Header.Get("Authorization"))
	}
	b.WriteString("\r\n")
	return u.Host, b.String()
}

// A client that sends its body a byte at a time is cut off within the read
// deadline, authenticated or not.
func TestSlowBodyIsCut(t *testing.T) {
	const deadline = time.Second
	srv, _ := startEdge(t, embedded.HTTPLimits{ReadTimeout: deadline})
	for _, auth := range []bool{true, false} {
		t.Run(fmt.Sprintf("authenticated=%v", auth), func(t *testing.T) {
			addr, head := publishRequest(t, srv, "inbound", 1000, auth)
			conn, err := net.Dial("tcp", addr)
			require.NoError(t, err)
			defer conn.Close()
			start := time.Now()
			_, err = io.WriteString(conn, head+"{")
			require.NoError(t, err)
			closed := make(chan []byte)
			go func() {
				b, _ := io.ReadAll(conn) // until the server closes
				closed <- b
			}()
			tick := time.NewTicker(100 * time.Millisecond)
			defer tick.Stop()
			giveUp := time.After(5 * deadline)
			for {
				select {
				case answer := <-closed:
					took := time.Since(start)
					assert.Less(t, took, deadline+time.Second, "cut within the read deadline")
					if auth {
						assert.Contains(t, string(answer), "408 Request Timeout")
						assert.Contains(t, string(answer), `"id":"request_timeout"`)
					} else {
						assert.Contains(t, string(answer), "401 Unauthorized")
					}
					return
				case <-tick.C:
					_, _ = io.WriteString(conn, " ") // a slow, never-ending body
				case <-giveUp:
					t.Fatal("the slow body was never cut")
				}
			}
		})
	}
}

// Idle keep-alive connections are closed after the idle timeout: none pile
// up.
func TestIdleConnectionsAreClosed(t *testing.T) {
	srv, _ := startEdge(t, embedded.HTTPLimits{IdleTimeout: 300 * time.Millisecond})
	u, err := url.Parse(srv.URL())
	require.NoError(t, err)
	const n = 200
	conns := make([]net.Conn, n)
	for i := range conns {
		c, err := net.Dial("tcp", u.Host)
		require.NoError(t, err)
		t.Cleanup(func() { c.Close() })
		_, err = fmt.Fprintf(c, "GET /metrics HTTP/1.1\r\nHost: %s\r\n\r\n", u.Host)
		require.NoError(t, err)
		res, err := http.ReadResponse(bufio.NewReader(c), nil)
		require.NoError(t, err)
		res.Body.Close()
		assert.Equal(t, http.StatusUnauthorized, res.StatusCode)
		conns[i] = c
	}
	var wg sync.WaitGroup
	var mu sync.Mutex
	open := 0
	for _, c := range conns {
		wg.Go(func() {
			_ = c.SetReadDeadline(time.Now().Add(5 * time.Second))
			_, err := c.Read(make([]byte, 1))
			if !errors.Is(err, io.EOF) {
				mu.Lock()
				open++
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	assert.Zero(t, open, "every idle connection closed by the server")
}

// A client beyond its connection cap gets 429 and its connection closed;
// far beyond, its connections are closed unanswered. Others are served.
func TestConnectionsPerClientAreCapped(t *testing.T) {
	const max = 4
	srv, logs := startEdge(t, embedded.HTTPLimits{MaxConnsPerClient: max})
	u, err := url.Parse(srv.URL())
	require.NoError(t, err)
	get := func(c net.Conn) (*http.Response, error) {
		if _, err := fmt.Fprintf(c, "GET /metrics HTTP/1.1\r\nHost: %s\r\n\r\n", u.Host); err != nil {
			return nil, err
		}
		res, err := http.ReadResponse(bufio.NewReader(c), nil)
		if err != nil {
			return nil, err
		}
		defer res.Body.Close()
		_, _ = io.ReadAll(res.Body)
		return res, nil
	}
	var held []net.Conn
	for range max {
		c, err := net.Dial("tcp", u.Host)
		require.NoError(t, err)
		t.Cleanup(func() { c.Close() })
		res, err := get(c)
		require.NoError(t, err)
		require.Equal(t, http.StatusUnauthorized, res.StatusCode, "within the cap: served")
		held = append(held, c)
	}
	over, err := net.Dial("tcp", u.Host)
	require.NoError(t, err)
	defer over.Close()
	res, err := get(over)
	require.NoError(t, err)
	assert.Equal(t, http.StatusTooManyRequests, res.StatusCode)
	assert.Equal(t, "1", res.Header.Get("Retry-After"))
	assert.True(t, res.Close, "the connection beyond the cap is closed")
	assert.Contains(t, logs.String(), `"msg":"request refused"`)

	// Another client address is served meanwhile.
	d := net.Dialer{LocalAddr: &net.TCPAddr{IP: net.IPv4(127, 0, 0, 2)}}
	other, err := d.DialContext(t.Context(), "tcp", u.Host)
	require.NoError(t, err)
	defer other.Close()
	res, err = get(other)
	require.NoError(t, err)
	assert.Equal(t, http.StatusUnauthorized, res.StatusCode, "another client is not capped")

	// Closing connections frees the cap.
	for _, c := range held {
		c.Close()
	}
	require.Eventually(t, func() bool {
		c, err := net.Dial("tcp", u.Host)
		if err != nil {
			return false
		}
		defer c.Close()
		res, err := get(c)
		return err == nil && res.StatusCode == http.StatusUnauthorized
	}, 5*time.Second, 20*time.Millisecond)

	// Far beyond the cap: closed at once, unanswered (a fresh server, so
	// that no connection closes meanwhile).
	srv2, _ := startEdge(t, embedded.HTTPLimits{MaxConnsPerClient: max})
	u, err = url.Parse(srv2.URL())
	require.NoError(t, err)
	for range 2 * max {
		c, err := net.Dial("tcp", u.Host)
		require.NoError(t, err)
		t.Cleanup(func() { c.Close() })
	}
	beyond, err := net.Dial("tcp", u.Host)
	require.NoError(t, err)
	defer beyond.Close()
	_, err = get(beyond)
	require.Error(t, err, "closed unanswered")
}

// A publication disabled by a 410 refuses publishes with 409 and the
// reason, and publications:enable takes it back.
func TestDisabledPublicationRefusesPublishes(t *testing.T) {
	srv, _ := startEdge(t, embedded.HTTPLimits{})
	gone := true
	var mu sync.Mutex
	h := newHook(t, func(_ int, w http.ResponseWriter) {
		mu.Lock()
		defer mu.Unlock()
		if gone {
			http.Error(w, "endpoint removed", http.StatusGone)
		}
	})
	require.Equal(t, http.StatusCreated, call(t, srv, "POST", "/platforms/webhook/publications",
		map[string]any{"name": "target", "url": h.URL + "/hook"}, nil))
	first := publish(t, srv, "target", `{"n":1}`)
	require.Eventually(t, func() bool {
		var p struct{ Disabled bool }
		call(t, srv, "GET", "/publications/target", nil, &p)
		return p.Disabled
	}, 10*time.Second, 20*time.Millisecond)
	assert.Equal(t, 1, h.attemptsOf(first))

	status, e := publishRaw(t, srv, "target", `{"n":2}`)
	assert.Equal(t, http.StatusConflict, status)
	assert.Equal(t, "publication_disabled", e.ID)
	assert.Contains(t, e.Message, "410")
	assert.Contains(t, e.Message, "publications:enable")

	mu.Lock()
	gone = false
	mu.Unlock()
	require.Equal(t, http.StatusOK, call(t, srv, "POST", "/publications/target/enable", nil, nil))
	third := publish(t, srv, "target", `{"n":3}`)
	require.Eventually(t, func() bool { return h.attemptsOf(third) == 1 }, 10*time.Second, 20*time.Millisecond)
}

// Bodies wrapped in Unicode whitespace that JSON does not allow are 400,
// never a 500; every 5xx would be logged.
func TestUnicodeWhitespaceBodiesAre400(t *testing.T) {
	srv, logs := startEdge(t, embedded.HTTPLimits{})
	require.Equal(t, http.StatusCreated, call(t, srv, "POST", "/platforms/webhook/subscriptions", map[string]any{"name": "inbound"}, nil))
	for _, ws := range []string{"\v", "\f", "\u0085", "\u00a0"} {
		t.Run(fmt.Sprintf("%q", ws), func(t *testing.T) {
			for _, body := range []string{ws + "{}", "{}" + ws} {
				status, e := publishRaw(t, srv, "inbound", body)
				assert.Equal(t, http.StatusBadRequest, status, body)
				assert.Equal(t, "invalid_event", e.ID)
			}
		})
	}
	assert.NotContains(t, logs.String(), `"level":"ERROR"`)
}

// A long name is cut in the error message.
func TestLongNamesAreCutInErrors(t *testing.T) {
	srv, _ := startEdge(t, embedded.HTTPLimits{})
	long := strings.Repeat("x", 3000)
	status, e := publishRaw(t, srv, long, `{}`)
	assert.Equal(t, http.StatusNotFound, status)
	assert.Contains(t, e.Message, strings.Repeat("x", 64)+"…")
	assert.Less(t, len(e.Message), 200)
	var e2 struct{ ID, Message string }
	assert.Equal(t, http.StatusNotFound, call(t, srv, "GET", "/publications/"+long, nil, &e2))
	assert.Less(t, len(e2.Message), 200)
}

func publishRaw(t *testing.T, srv *embedded.Server, name, body string) (int, struct{ ID, Message string }) {
	t.Helper()
	res, b := publishHTTP(t, srv, name, body)
	var e struct{ ID, Message string }
	require.NoError(t, json.Unmarshal(b, &e), string(b))
	return res.StatusCode, e
}

// publishHTTP publishes body to name with the app's credentials and
// returns the answer and its body.
func publishHTTP(t *testing.T, srv *embedded.Server, name, body string) (*http.Response, []byte) {
	t.Helper()
	u, err := url.Parse(srv.Var("HEROKUEVENTS_PUBLISH_URL"))
	require.NoError(t, err)
	pass, _ := u.User.Password()
	user := u.User.Username()
	u.User = nil
	req, err := http.NewRequestWithContext(t.Context(), http.MethodPost, u.String()+"/"+name, strings.NewReader(body))
	require.NoError(t, err)
	req.SetBasicAuth(user, pass)
	req.Header.Set("Content-Type", "application/json")
	res, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	require.NoError(t, err)
	return res, b
}

// Every refusal is a JSON {id, message} with a status that says what
// went wrong.
func TestErrorsAreJSON(t *testing.T) {
	srv, logs := startEdge(t, embedded.HTTPLimits{})
	tests := []struct {
		method, path string
		body         string
		auth         bool
		status       int
	}{
		{"GET", "/nope", "", false, 404},
		{"POST", "/metrics", "{}", false, 0},
		{"GET", "/metrics", "", false, 401},
		{"GET", "/publish/x", "", false, 405},
		{"DELETE", "/publish/x", "", true, 405},
		{"POST", "/publish/x", "{}", false, 401},
		{"POST", "/publish/nothing", "{}", true, 404},
		{"POST", "/publish/nothing", "{" + strings.Repeat(" ", 1<<20) + "}", true, 413},
		{"POST", "/v1/tenants/t/publications", "{}", false, 405},
		{"POST", "/v1/tenants/t/platforms/webhook/publications", "{}", false, 401},
		{"POST", "/heroku/resources", "{}", false, 401},
		{"GET", "/v1/tenants/t/publications/" + strings.Repeat("p", 2000), "", false, 401},
	}
	for _, tt := range tests {
		t.Run(tt.method+" "+httpjsonShort(tt.path), func(t *testing.T) {
			u, err := url.Parse(srv.Var("HEROKUEVENTS_PUBLISH_URL"))
			require.NoError(t, err)
			req, err := http.NewRequestWithContext(t.Context(), tt.method, srv.URL()+tt.path, strings.NewReader(tt.body))
			require.NoError(t, err)
			if tt.auth {
				pass, _ := u.User.Password()
				req.SetBasicAuth(u.User.Username(), pass)
			}
			res, err := http.DefaultClient.Do(req)
			require.NoError(t, err)
			defer res.Body.Close()
			b, _ := io.ReadAll(res.Body)
			assert.GreaterOrEqual(t, res.StatusCode, 400)
			if tt.status != 0 {
				assert.Equal(t, tt.status, res.StatusCode, string(b))
			}
			assert.Contains(t, res.Header.Get("Content-Type"), "application/json")
			var e struct{ ID, Message string }
			require.NoError(t, json.Unmarshal(b, &e), string(b))
			assert.NotEmpty(t, e.ID)
			assert.NotEmpty(t, e.Message)
			assert.Less(t, len(e.Message), 300)
		})
	}
	assert.NotContains(t, logs.String(), `"level":"ERROR"`, "no 5xx among them")
}

func httpjsonShort(s string) string {
	if len(s) > 40 {
		return s[:40] + "…"
	}
	return s
}
