package embedded_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/herokuevents/herokuevents/infra/embedded"
	"github.com/herokuevents/herokuevents/shared/deliver"
	"github.com/herokuevents/herokuevents/shared/event"
	"github.com/herokuevents/herokuevents/shared/platform/webhook/webhooktest"
	"github.com/herokuevents/herokuevents/shared/queue"
	"github.com/herokuevents/herokuevents/shared/sink"
)

var loopback = []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")}

// start runs the embedded mode with a short retry schedule.
func start(t *testing.T, timeout time.Duration) *embedded.Server {
	t.Helper()
	srv, err := embedded.Start(t.Context(), embedded.Options{
		Addr: "127.0.0.1:0", DataDir: t.TempDir(), App: "my-app", AllowEgress: loopback,
		Backoff:         deliver.Backoff{Base: 50 * time.Millisecond, Cap: 200 * time.Millisecond},
		DeliveryTimeout: timeout,
	})
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, srv.Close()) })
	return srv
}

// call sends a management API request with the tenant's key and decodes the JSON answer.
func call(t *testing.T, srv *embedded.Server, method, path string, body any, out any) int {
	t.Helper()
	u, err := url.Parse(srv.Var("HEROKUEVENTS_API_URL"))
	require.NoError(t, err)
	key, _ := u.User.Password()
	u.User = nil
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		require.NoError(t, err)
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(t.Context(), method, u.String()+path, rd)
	require.NoError(t, err)
	req.Header.Set("Authorization", "Bearer "+key)
	req.Header.Set("Content-Type", "application/json")
	res, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	require.NoError(t, err)
	if out != nil && len(b) > 0 {
		require.NoError(t, json.Unmarshal(b, out), string(b))
	}
	return res.StatusCode
}

func publish(t *testing.T, srv *embedded.Server, name, body string) string {
	t.Helper()
	u, err := url.Parse(srv.Var("HEROKUEVENTS_PUBLISH_URL"))
	require.NoError(t, err)
	user := u.User.Username()
	pass, _ := u.User.Password()
	u.User = nil
	req, err := http.NewRequestWithContext(t.Context(), http.MethodPost, u.String()+"/"+name, strings.NewReader(body))
	require.NoError(t, err)
	req.SetBasicAuth(user, pass)
	req.Header.Set("Content-Type", "application/json")
	res, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer res.Body.Close()
	var acc struct{ ID string }
	require.NoError(t, json.NewDecoder(res.Body).Decode(&acc))
	require.Equal(t, http.StatusAccepted, res.StatusCode)
	return acc.ID
}

// hook is a real HTTP receiver; respond decides each answer from the attempt number.
type hook struct {
	*httptest.Server
	mu       sync.Mutex
	attempts map[string]int
	bodies   map[string][]byte
	headers  map[string]http.Header
}

func newHook(t *testing.T, respond func(attempt int, w http.ResponseWriter)) *hook {
	h := &hook{attempts: map[string]int{}, bodies: map[string][]byte{}, headers: map[string]http.Header{}}
	h.Server = httptest.NewServer(webhooktest.Consent(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		var ce struct{ ID string }
		_ = json.Unmarshal(b, &ce)
		h.mu.Lock()
		h.attempts[ce.ID]++
		n := h.attempts[ce.ID]
		h.bodies[ce.ID] = b
		h.headers[ce.ID] = r.Header.Clone()
		h.mu.Unlock()
		respond(n, w)
	})))
	t.Cleanup(h.Close)
	return h
}

func (h *hook) attemptsOf(id string) int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.attempts[id]
}

func ok(int, http.ResponseWriter) {}

// wire creates inbound → stream (filter) → webhook publication and returns the signing secret.
func wire(t *testing.T, srv *embedded.Server, hookURL, filter string) string {
	t.Helper()
	require.Equal(t, http.StatusCreated, call(t, srv, "POST", "/platforms/webhook/subscriptions", map[string]any{"name": "inbound"}, nil))
	var pub struct {
		Extra struct {
			SigningSecret string `json:"signing_secret"`
		} `json:"extra"`
	}
	require.Equal(t, http.StatusCreated, call(t, srv, "POST", "/platforms/webhook/publications",
		map[string]any{"name": "systemStatus", "url": hookURL + "/hook", "token": "s3cret-token"}, &pub))
	body := map[string]any{"source": "inbound", "target": "systemStatus"}
	if filter != "" {
		body["filter"] = filter
	}
	require.Equal(t, http.StatusCreated, call(t, srv, "POST", "/streams", body, nil))
	return pub.Extra.SigningSecret
}

const dropFilter = `root = if this.Context__c.string == "drop" { deleted() } else { this }`

func TestPublishStreamFilterWebhook(t *testing.T) {
	srv := start(t, 5*time.Second)
	h := newHook(t, ok)
	secret := wire(t, srv, h.URL, dropFilter)

	const body = `{"Context__c":{"string":"subscription"},"CreatedById":"005Ws000001eUtGIAU","CreatedDate":1733842936}`
	kept := publish(t, srv, "inbound", body)
	dropped := publish(t, srv, "inbound", `{"Context__c":{"string":"drop"}}`)
	direct := publish(t, srv, "systemStatus", `{"direct":1}`)

	require.Eventually(t, func() bool { return h.attemptsOf(kept) == 1 && h.attemptsOf(direct) == 1 }, 10*time.Second, 10*time.Millisecond)
	h.mu.Lock()
	ceBody, hdr := h.bodies[kept], h.headers[kept]
	h.mu.Unlock()
	var ce map[string]json.RawMessage
	require.NoError(t, json.Unmarshal(ceBody, &ce))
	assert.Equal(t, body, string(ce["data"]), "data is exactly the posted JSON")
	assert.JSONEq(t, `"1.0"`, string(ce["specversion"]))
	for _, attr := range []string{"source", "type", "time", "datacontenttype"} {
		assert.NotEmpty(t, ce[attr], attr)
	}
	assert.Equal(t, "application/cloudevents+json", hdr.Get("Content-Type"))
	assert.Equal(t, "Bearer s3cret-token", hdr.Get("Authorization"))
	require.NoError(t, sink.Verify(secret, hdr, ceBody), "Standard Webhooks signature verifies")

	// Give the dropped event every chance to arrive.
	time.Sleep(300 * time.Millisecond)
	assert.Zero(t, h.attemptsOf(dropped), "a filtered-out event never arrives")
}

func TestRetriesAndDeadLetters(t *testing.T) {
	cases := []struct {
		name      string
		timeout   time.Duration
		respond   func(int, http.ResponseWriter)
		attempts  int
		dlqReason string
	}{
		{"500 twice then 200", 5 * time.Second, func(n int, w http.ResponseWriter) {
			if n <= 2 {
				w.WriteHeader(http.StatusInternalServerError)
			}
		}, 3, ""},
		{"400 dead-letters", 5 * time.Second, func(_ int, w http.ResponseWriter) {
			w.WriteHeader(http.StatusBadRequest)
			fmt.Fprint(w, `{"error":"bad field"}`)
		}, 1, "400"},
		{"hung webhook times out and is retried", 200 * time.Millisecond, func(n int, w http.ResponseWriter) {
			if n == 1 {
				time.Sleep(time.Second)
			}
		}, 2, ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			srv := start(t, c.timeout)
			h := newHook(t, c.respond)
			wire(t, srv, h.URL, "")
			id := publish(t, srv, "inbound", `{"n":1}`)
			require.Eventually(t, func() bool { return h.attemptsOf(id) >= c.attempts }, 10*time.Second, 10*time.Millisecond)
			dlq := srv.Queue("delivery-dlq")
			if c.dlqReason != "" {
				var dead []queue.Message
				require.Eventually(t, func() bool {
					var err error
					dead, err = dlq.List(t.Context(), 10)
					require.NoError(t, err)
					return len(dead) == 1
				}, 5*time.Second, 10*time.Millisecond)
				assert.Contains(t, dead[0].Attributes[queue.AttrReason], c.dlqReason)
				var d event.Delivery
				require.NoError(t, json.Unmarshal(dead[0].Body, &d))
				assert.Equal(t, id, d.Event.ID)
			}
			// Exactly the expected number of attempts: no extra delivery after success or dead-lettering.
			time.Sleep(500 * time.Millisecond)
			assert.Equal(t, c.attempts, h.attemptsOf(id))
			if c.dlqReason == "" {
				dead, err := dlq.List(t.Context(), 10)
				require.NoError(t, err)
				assert.Empty(t, dead)
			}
		})
	}
}

func TestSecondProcessIsRefused(t *testing.T) {
	dir := t.TempDir()
	srv, err := embedded.Start(t.Context(), embedded.Options{Addr: "127.0.0.1:0", DataDir: dir})
	require.NoError(t, err)
	defer srv.Close()
	_, err = embedded.Start(t.Context(), embedded.Options{Addr: "127.0.0.1:0", DataDir: dir})
	require.ErrorIs(t, err, embedded.ErrInUse)
	assert.Contains(t, err.Error(), "one herokuevents serve per data dir")
}

func TestConfigVarsSurviveRestart(t *testing.T) {
	dir := t.TempDir()
	o := embedded.Options{Addr: "127.0.0.1:0", DataDir: dir, App: "my-app"}
	srv, err := embedded.Start(t.Context(), o)
	require.NoError(t, err)
	first := srv.Var("HEROKUEVENTS_PUBLISH_URL")
	require.NoError(t, srv.Close())
	srv, err = embedded.Start(t.Context(), o)
	require.NoError(t, err)
	defer srv.Close()
	a, _ := url.Parse(first)
	b, _ := url.Parse(srv.Var("HEROKUEVENTS_PUBLISH_URL"))
	assert.Equal(t, a.User.String(), b.User.String(), "the same credentials after a restart")
	assert.Len(t, srv.ConfigVars(), 4, "API, publish, subscribe and platform URLs")
}

func TestPrivateWebhookNeedsAllowEgress(t *testing.T) {
	srv, err := embedded.Start(t.Context(), embedded.Options{Addr: "127.0.0.1:0", DataDir: t.TempDir(), App: "my-app"})
	require.NoError(t, err)
	defer srv.Close()
	for _, u := range []string{"http://127.0.0.1:9/hook", "http://10.1.2.3/hook", "http://169.254.169.254/latest/meta-data", "ftp://example.com/hook"} {
		t.Run(u, func(t *testing.T) {
			var e struct{ ID, Message string }
			status := call(t, srv, "POST", "/platforms/webhook/publications", map[string]any{"name": "hook", "url": u}, &e)
			assert.Equal(t, http.StatusUnprocessableEntity, status)
			assert.Equal(t, "invalid_params", e.ID)
			assert.NotEmpty(t, e.Message)
			var pubs []any
			require.Equal(t, http.StatusOK, call(t, srv, "GET", "/publications", nil, &pubs))
			assert.Empty(t, pubs, "nothing changed")
		})
	}
}
