package partner_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/herokuevents/herokuevents/infra/embedded/filesealer"
	"github.com/herokuevents/herokuevents/shared/backoff"
	"github.com/herokuevents/herokuevents/shared/config/memstore"
	"github.com/herokuevents/herokuevents/shared/operator"
	"github.com/herokuevents/herokuevents/shared/partner"
	"github.com/herokuevents/herokuevents/shared/queue"
	"github.com/herokuevents/herokuevents/shared/sink"
)

const (
	opID   = "herokuevents"
	opPass = "operator-password-0123456789abcdef"
	// seedID is the uuid of every id in the seed's examples.
	seedID = "01234567-89ab-cdef-0123-456789abcdef"
)

// The seed's payloads, compact, byte for byte.
const (
	seedDeploy = `{"heroku_id":"app123@heroku.com","event":"deploy","detail":{"app":"deploying-furiously-42","user":"jane@somedomain.com","url":"http://deploying-furiously-42.herokuapp.com","head":"441e20","head_long":"441e204ea9f2ddeb4fcdd7f641e6c7240ffb8b91","prev_head":"953fd37b50c1382a9b7364364791e9be7e6efc71","git_log":"441e204 Merge pull request #1253 from janedoe/make-it-rain\nb980268 Awesome new feature\n953fd37 Merge pull request #1248 from janedoe/quick-bug-fix\neb9d86d Missing something simple\n4c15970 Merge pull request #1249 from janedoe/better-commit-messages-required"}}`
	seedAttach = `{"heroku_id":"app123@heroku.com","event":"attach","detail":{"id":"01234567-89ab-cdef-0123-456789abcdef","name":"MYADDON_CYAN","log_token":"d.01234567-89ab-cdef-0123-456789abcdef","resource":{"id":"01234567-89ab-cdef-0123-456789abcdef","name":"writing-nobly-1234"},"app":{"id":"01234567-89ab-cdef-0123-456789abcdef","name":"example"}}}`
	seedDetach = `{"heroku_id":"app123@heroku.com","event":"detach","detail":{"id":"01234567-89ab-cdef-0123-456789abcdef","name":"MYADDON_CYAN","log_token":"d.01234567-89ab-cdef-0123-456789abcdef","resource":{"id":"01234567-89ab-cdef-0123-456789abcdef","name":"writing-nobly-1234"},"app":{"id":"01234567-89ab-cdef-0123-456789abcdef","name":"example"}}}`
)

// memQueue is an in-memory queue.Sender.
type memQueue struct {
	mu   sync.Mutex
	n    int
	msgs []queue.Message
}

func (q *memQueue) Send(_ context.Context, msgs ...queue.Message) error {
	q.mu.Lock()
	defer q.mu.Unlock()
	for _, m := range msgs {
		q.n++
		m.ID = "m" + strconv.Itoa(q.n)
		m.Receives = 1
		q.msgs = append(q.msgs, m)
	}
	return nil
}

func (q *memQueue) take() []queue.Message {
	q.mu.Lock()
	defer q.mu.Unlock()
	out := q.msgs
	q.msgs = nil
	return out
}

func (q *memQueue) len() int {
	q.mu.Lock()
	defer q.mu.Unlock()
	return len(q.msgs)
}

// received is one request the partner server got.
type received struct {
	Path, User, Pass, ContentType, Body string
	HasAuth                             bool
}

// partnerServer is a partner's provisioning API: it records notifications
// and answers the status of status(n) for the n-th one (1-based).
type partnerServer struct {
	srv    *httptest.Server
	mu     sync.Mutex
	got    []received
	status func(n int) int
}

func newPartnerServer(t *testing.T, tls bool, status func(n int) int) *partnerServer {
	t.Helper()
	p := &partnerServer{status: status}
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		user, pass, ok := r.BasicAuth()
		p.mu.Lock()
		p.got = append(p.got, received{Path: r.URL.EscapedPath(), User: user, Pass: pass, HasAuth: ok,
			ContentType: r.Header.Get("Content-Type"), Body: string(body)})
		n := len(p.got)
		p.mu.Unlock()
		code := http.StatusOK
		if p.status != nil {
			code = p.status(n)
		}
		w.WriteHeader(code)
		if code != http.StatusOK {
			_, _ = io.WriteString(w, `{"error":"partner says no `+strconv.Itoa(code)+`"}`)
		}
	})
	if tls {
		p.srv = httptest.NewTLSServer(h)
	} else {
		p.srv = httptest.NewServer(h)
	}
	t.Cleanup(p.srv.Close)
	return p
}

func (p *partnerServer) requests() []received {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]received(nil), p.got...)
}

func (p *partnerServer) base() string { return p.srv.URL + "/heroku/resources" }

// harness is a partner API server, its queue, DLQ and the notifier.
type harness struct {
	api      *httptest.Server
	srv      *partner.Server
	queue    *memQueue
	dlq      *memQueue
	notifier *partner.Notifier
	settings queue.Settings
}

type harnessOptions struct {
	urlCheck func(ctx context.Context, raw string) error
	client   *http.Client
	seedIDs  bool
	// jitter replaces the notifier's random jitter (exact delays).
	jitter func(time.Duration) time.Duration
}

func newHarness(t *testing.T, o harnessOptions) *harness {
	t.Helper()
	store := memstore.New()
	t.Cleanup(func() { store.Close() })
	sealer, err := filesealer.Open(filepath.Join(t.TempDir(), "seal.key"))
	require.NoError(t, err)
	h := &harness{queue: &memQueue{}, dlq: &memQueue{},
		settings: queue.Settings{BatchSize: 10, VisibilityTimeout: time.Minute, MaxReceives: 5, Concurrency: 2}}
	opts := partner.Options{
		Store: store, Sealer: sealer, Queue: h.queue, URLCheck: o.urlCheck,
		Operator: operator.New(opID, opPass),
	}
	if o.seedIDs {
		opts.NewID = func() string { return seedID }
		opts.NewResourceName = func() (string, error) { return "writing-nobly-1234", nil }
	}
	h.srv, err = partner.New(opts)
	require.NoError(t, err)
	mux := http.NewServeMux()
	h.srv.Mount(mux)
	h.api = httptest.NewServer(mux)
	t.Cleanup(h.api.Close)
	client := o.client
	if client == nil {
		client = sink.NewEgress([]netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")}).Client(5 * time.Second)
	}
	h.notifier, err = partner.NewNotifier(partner.NotifierOptions{
		Store: store, Sealer: sealer, Client: client, Requeue: h.queue,
		Backoff: backoff.Policy{Base: 10 * time.Millisecond, Cap: 40 * time.Millisecond, Jitter: o.jitter},
	})
	require.NoError(t, err)
	return h
}

// call sends an operator request (auth "" = none) and returns status and body.
func (h *harness) call(t *testing.T, method, path, auth, body string) (int, string) {
	t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequestWithContext(t.Context(), method, h.api.URL+path, rd)
	require.NoError(t, err)
	if auth != "" {
		user, pass, _ := strings.Cut(auth, ":")
		req.SetBasicAuth(user, pass)
	}
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	return resp.StatusCode, string(b)
}

// op is call with the operator's credentials, requiring status want.
func (h *harness) op(t *testing.T, method, path, body string, want int) string {
	t.Helper()
	status, out := h.call(t, method, path, opID+":"+opPass, body)
	require.Equal(t, want, status, "%s %s: %s", method, path, out)
	return out
}

// manifest returns a manifest JSON.
func manifest(id, password, prod, test string, requires ...string) string {
	m := map[string]any{"id": id, "api": map[string]any{
		"config_vars": []string{strings.ToUpper(id) + "_URL"},
		"password":    password,
		"sso_salt":    "salty",
		"production":  map[string]string{"base_url": prod, "sso_url": prod + "/sso"},
		"test":        map[string]string{"base_url": test},
		"requires":    requires,
		"version":     "3",
	}}
	b, _ := json.Marshal(m)
	return string(b)
}

// createPartner registers a partner through the API.
func (h *harness) createPartner(t *testing.T, manifestJSON string, extra string) partner.PartnerView {
	t.Helper()
	body := `{"manifest":` + manifestJSON
	if extra != "" {
		body += "," + extra
	}
	body += "}"
	var v partner.PartnerView
	require.NoError(t, json.Unmarshal([]byte(h.op(t, http.MethodPost, "/v1/partners", body, http.StatusCreated)), &v))
	return v
}

// attach attaches through the API and returns the attachment.
func (h *harness) attach(t *testing.T, app, body string) partner.AttachmentView {
	t.Helper()
	var v partner.AttachmentView
	require.NoError(t, json.Unmarshal([]byte(h.op(t, http.MethodPost, "/v1/apps/"+app+"/addon-attachments", body, http.StatusCreated)), &v))
	return v
}

// platform posts a platform event and returns how many were queued.
func (h *harness) platform(t *testing.T, body string) int {
	t.Helper()
	var v struct {
		Queued int `json:"queued"`
	}
	require.NoError(t, json.Unmarshal([]byte(h.op(t, http.MethodPost, "/v1/platform/events", body, http.StatusAccepted)), &v))
	return v.Queued
}

// drain runs the notifier until the queue is empty, settling failures the
// way the queue drivers do, and returns the delays of the retries.
func (h *harness) drain(t *testing.T) []time.Duration {
	t.Helper()
	var delays []time.Duration
	for range 100 {
		msgs := h.queue.take()
		if len(msgs) == 0 {
			return delays
		}
		for _, m := range msgs {
			if m.Delay > 0 {
				delays = append(delays, m.Delay)
			}
		}
		res := h.notifier.HandleBatch(t.Context(), msgs)
		retry, err := queue.Settle(t.Context(), msgs, res, h.settings, h.dlq)
		require.NoError(t, err)
		require.Empty(t, retry, "no redelivery expected: %v", retry)
	}
	t.Fatal("queue never drained")
	return nil
}
