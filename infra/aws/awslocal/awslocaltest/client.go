package awslocaltest

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/herokuevents/herokuevents/infra/aws/awslocal"
	"github.com/herokuevents/herokuevents/shared/platform/webhook/webhooktest"
)

// Stack is a stack deployed for a test, with the clients a test needs.
type Stack struct {
	*awslocal.Stack
}

// httpClient sends the helpers' requests.
var httpClient = &http.Client{Timeout: 60 * time.Second}

// Tenant is an add-on provisioned through the stack's HTTP API, with the
// config vars Heroku would give the app.
type Tenant struct {
	ID string
	// Config holds the config vars (HEROKUEVENTS_API_URL, ...).
	Config map[string]string
	stack  *Stack
}

// Do sends an HTTP request to the stack's HTTP API (path is absolute, body
// is JSON-encoded unless it is a string or []byte) and decodes a JSON
// answer into out when out is not nil. It returns the status and the raw
// body. Authentication is set by auth (nil for none).
func (s *Stack) Do(t testing.TB, method, path string, auth func(*http.Request), body, out any) (int, []byte) {
	t.Helper()
	var rd io.Reader
	switch b := body.(type) {
	case nil:
	case string:
		rd = strings.NewReader(b)
	case []byte:
		rd = bytes.NewReader(b)
	default:
		enc, err := json.Marshal(b)
		if err != nil {
			t.Fatalf("encode request: %v", err)
		}
		rd = bytes.NewReader(enc)
	}
	u := path
	if !strings.HasPrefix(path, "http") {
		u = s.URL + path
	}
	req, err := http.NewRequestWithContext(t.Context(), method, u, rd)
	if err != nil {
		t.Fatalf("request %s %s: %v", method, path, err)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if auth != nil {
		auth(req)
	}
	resp, err := httpClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("%s %s: read answer: %v", method, path, err)
	}
	if out != nil && len(raw) > 0 && resp.StatusCode < 300 {
		if err := json.Unmarshal(raw, out); err != nil {
			t.Fatalf("%s %s: decode answer %s: %v", method, path, raw, err)
		}
	}
	return resp.StatusCode, raw
}

// Provision installs the add-on for app as Heroku does (POST
// /heroku/resources with the operator's Basic auth, through the api
// function) and returns the tenant. It fails t unless the answer is 200.
func (s *Stack) Provision(t testing.TB, app string) *Tenant {
	t.Helper()
	user, pass := s.Operator()
	var resp struct {
		ID     string            `json:"id"`
		Config map[string]string `json:"config"`
	}
	status, raw := s.Do(t, http.MethodPost, "/heroku/resources", func(r *http.Request) { r.SetBasicAuth(user, pass) },
		map[string]any{"uuid": uuid.NewString(), "plan": "test", "region": "amazon-web-services::us-east-1", "app": app}, &resp)
	if status != http.StatusOK {
		t.Fatalf("provision %s: HTTP %d: %s", app, status, raw)
	}
	return &Tenant{ID: resp.ID, Config: resp.Config, stack: s}
}

// urlVar splits a config var URL into the URL without userinfo and its
// credentials.
func (tn *Tenant) urlVar(t testing.TB, name string) (string, string, string) {
	t.Helper()
	u, err := url.Parse(tn.Config[name])
	if err != nil || u.User == nil {
		t.Fatalf("config var %s = %q: not a URL with credentials", name, tn.Config[name])
	}
	user := u.User.Username()
	pass, _ := u.User.Password()
	u.User = nil
	return u.String(), user, pass
}

// Call sends a management API request (path relative to
// HEROKUEVENTS_API_URL, e.g. "/streams") with the tenant's key as the CLI
// does (Bearer) and returns the status; a 2xx JSON answer is decoded into
// out.
func (tn *Tenant) Call(t testing.TB, method, path string, body, out any) int {
	t.Helper()
	base, _, key := tn.urlVar(t, "HEROKUEVENTS_API_URL")
	status, raw := tn.stack.Do(t, method, base+path, func(r *http.Request) { r.Header.Set("Authorization", "Bearer "+key) }, body, out)
	if status >= 300 {
		t.Logf("%s %s: HTTP %d: %s", method, path, status, raw)
	}
	return status
}

// MustCall is Call that fails t unless the answer has status want.
func (tn *Tenant) MustCall(t testing.TB, want int, method, path string, body, out any) {
	t.Helper()
	if got := tn.Call(t, method, path, body, out); got != want {
		t.Fatalf("%s %s: HTTP %d, want %d", method, path, got, want)
	}
}

// Publish POSTs body to the publish URL's name as an app does (Basic auth
// from HEROKUEVENTS_PUBLISH_URL), through the ingest function, and returns
// the event id of the 202 answer. It fails t on any other answer.
func (tn *Tenant) Publish(t testing.TB, name, body string) string {
	t.Helper()
	base, user, pass := tn.urlVar(t, "HEROKUEVENTS_PUBLISH_URL")
	var acc struct {
		ID string `json:"id"`
	}
	status, raw := tn.stack.Do(t, http.MethodPost, base+"/"+name, func(r *http.Request) { r.SetBasicAuth(user, pass) }, body, &acc)
	if status != http.StatusAccepted || acc.ID == "" {
		t.Fatalf("publish to %s: HTTP %d: %s", name, status, raw)
	}
	return acc.ID
}

// Hook is a real HTTP receiver (httptest, loopback) recording what it is
// sent, keyed by the CloudEvent id of the body ("" when none). Respond, when
// set before the first request, chooses each answer from the attempt
// number of that id; nil answers 200.
type Hook struct {
	*httptest.Server
	Respond func(attempt int, w http.ResponseWriter)

	mu       sync.Mutex
	requests map[string][]Request
	order    []string
}

// Request is one request a Hook received.
type Request struct {
	Method string
	Path   string
	Header http.Header
	Body   []byte
}

// NewHook starts a Hook, closed when t ends.
func NewHook(t testing.TB) *Hook {
	h := &Hook{requests: map[string][]Request{}}
	h.Server = httptest.NewServer(webhooktest.Consent(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		var ce struct {
			ID string `json:"id"`
		}
		_ = json.Unmarshal(b, &ce)
		if ce.ID == "" {
			ce.ID = r.Header.Get("Ce-Id")
		}
		h.mu.Lock()
		h.requests[ce.ID] = append(h.requests[ce.ID], Request{Method: r.Method, Path: r.URL.Path, Header: r.Header.Clone(), Body: b})
		h.order = append(h.order, ce.ID)
		n := len(h.requests[ce.ID])
		respond := h.Respond
		h.mu.Unlock()
		if respond != nil {
			respond(n, w)
		}
	})))
	t.Cleanup(h.Close)
	return h
}

// Requests returns the requests received for the event id.
func (h *Hook) Requests(id string) []Request {
	h.mu.Lock()
	defer h.mu.Unlock()
	return append([]Request(nil), h.requests[id]...)
}

// All returns every request received, in order of arrival.
func (h *Hook) All() []Request {
	h.mu.Lock()
	defer h.mu.Unlock()
	seen := map[string]int{}
	out := make([]Request, 0, len(h.order))
	for _, id := range h.order {
		out = append(out, h.requests[id][seen[id]])
		seen[id]++
	}
	return out
}

// Wait waits up to limit for n requests of event id and returns them; it
// fails t when they do not come.
func (h *Hook) Wait(t testing.TB, id string, n int, limit time.Duration) []Request {
	t.Helper()
	deadline := time.Now().Add(limit)
	for {
		if got := h.Requests(id); len(got) >= n {
			return got
		}
		if time.Now().After(deadline) {
			t.Fatalf("hook: %d requests for event %q after %s, want %d", len(h.Requests(id)), id, limit, n)
		}
		select {
		case <-t.Context().Done():
			t.Fatalf("hook: %v", t.Context().Err())
		case <-time.After(10 * time.Millisecond):
		}
	}
}

// WaitAny waits up to limit until the hook has received n requests in
// all and returns them.
func (h *Hook) WaitAny(t testing.TB, n int, limit time.Duration) []Request {
	t.Helper()
	deadline := time.Now().Add(limit)
	for {
		if got := h.All(); len(got) >= n {
			return got
		}
		if time.Now().After(deadline) {
			t.Fatalf("hook: %d requests after %s, want %d", len(h.All()), limit, n)
		}
		time.Sleep(10 * time.Millisecond)
	}
}
