package embedded_test

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	cehttp "github.com/cloudevents/sdk-go/v2/protocol/http"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// sdkPython is .venv/bin/python at the module root, where
// scripts/setup-tools installs the pinned CloudEvents Python SDK.
func sdkPython(t *testing.T) string {
	t.Helper()
	dir, err := os.Getwd()
	require.NoError(t, err)
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			break
		}
		parent := filepath.Dir(dir)
		require.NotEqual(t, dir, parent, "no go.mod above the working directory")
		dir = parent
	}
	py := filepath.Join(dir, ".venv", "bin", "python")
	out, err := exec.CommandContext(t.Context(), py, "-c", "import cloudevents.core.bindings.http").CombinedOutput()
	require.NoError(t, err, "the CloudEvents Python SDK is missing: run scripts/setup-tools\n%s", out)
	return py
}

// runSDK runs testdata/cloudevents_sdk.py with stdin and returns one
// decoded JSON object per line of its output.
func runSDK(t *testing.T, py string, stdin []byte, args ...string) []map[string]any {
	t.Helper()
	cmd := exec.CommandContext(t.Context(), py, append([]string{filepath.Join("testdata", "cloudevents_sdk.py")}, args...)...)
	cmd.Stdin = bytes.NewReader(stdin)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	require.NoError(t, err, "cloudevents_sdk.py %s:\n%s", args[0], stderr.String())
	var objs []map[string]any
	for line := range strings.Lines(string(out)) {
		var m map[string]any
		require.NoError(t, json.Unmarshal([]byte(line), &m), line)
		objs = append(objs, m)
	}
	return objs
}

// recorder is a webhook receiver that keeps every POST as it came and
// answers the handshake with the CloudEvents Go SDK's own handler.
type recorder struct {
	*httptest.Server
	mu   sync.Mutex
	reqs map[string][]sdkRequest // by path
}

type sdkRequest struct {
	Headers    map[string]string `json:"headers"`
	BodyBase64 string            `json:"body_base64"`
}

func newRecorder(t *testing.T) *recorder {
	t.Helper()
	p, err := cehttp.New(cehttp.WithDefaultOptionsHandlerFunc([]string{http.MethodPost}, 600, []string{"*"}, false))
	require.NoError(t, err)
	rec := &recorder{reqs: map[string][]sdkRequest{}}
	rec.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodOptions {
			p.OptionsHandlerFn(w, r)
			return
		}
		body, _ := io.ReadAll(r.Body)
		h := map[string]string{}
		for k := range r.Header {
			h[k] = r.Header.Get(k)
		}
		rec.mu.Lock()
		rec.reqs[r.URL.Path] = append(rec.reqs[r.URL.Path], sdkRequest{Headers: h, BodyBase64: base64.StdEncoding.EncodeToString(body)})
		rec.mu.Unlock()
		w.WriteHeader(http.StatusNoContent)
	}))
	t.Cleanup(rec.Close)
	return rec
}

func (rec *recorder) got(path string) []sdkRequest {
	rec.mu.Lock()
	defer rec.mu.Unlock()
	return append([]sdkRequest(nil), rec.reqs[path]...)
}

// TestCloudEventsFidelity is the acceptance test of CloudEvents fidelity:
// events sent by the CloudEvents Python SDK in binary mode, with
// non-ASCII, spaces, '%' and quotes in their attributes and with extension
// attributes, to an inbound subscription (through a stream) and straight
// to publications, arrive at webhooks in structured mode,
// structured-as-application/json and binary mode, where the same SDK's
// HTTP binding parses every attribute, extension and the data back
// exactly as sent, and a hand-made Standard Webhooks check accepts each
// signature. The publications were created through the handshake, which
// the Go SDK's receiver answered.
func TestCloudEventsFidelity(t *testing.T) {
	py := sdkPython(t)
	srv := start(t, 5*time.Second)
	rec := newRecorder(t)

	require.Equal(t, http.StatusCreated, call(t, srv, "POST", "/platforms/webhook/subscriptions", map[string]any{"name": "inbound"}, nil))
	secrets := map[string]string{}
	for name, params := range map[string]map[string]any{
		"structuredHook": {},
		"legacyHook":     {"content_type": "application/json"},
		"binaryHook":     {"mode": "binary"},
	} {
		body := map[string]any{"name": name, "url": rec.URL + "/" + name, "source": "inbound"}
		for k, v := range params {
			body[k] = v
		}
		var pub struct {
			Params struct {
				Origin      string `json:"origin"`
				AllowedRate int    `json:"allowed_rate"`
			} `json:"params"`
			Extra struct {
				SigningSecret string `json:"signing_secret"`
			} `json:"extra"`
		}
		require.Equal(t, http.StatusCreated, call(t, srv, "POST", "/platforms/webhook/publications", body, &pub), name)
		assert.Equal(t, "127.0.0.1", pub.Params.Origin, "the handshake's origin is the service's host")
		assert.Equal(t, 600, pub.Params.AllowedRate, "the rate the receiver allowed")
		secrets[name] = pub.Extra.SigningSecret
	}

	attrs := func(id string) map[string]any {
		return map[string]any{
			"id": id, "source": "/python/sdk?q=caf%C3%A9&r=100%25", "type": `com.example.order "placed"`,
			"subject": `café "x" 100%`, "time": "2026-03-01T09:00:00.123456+00:00",
			"datacontenttype": "application/json", "dataschema": "https://example.com/schemas/order.json",
			"region": `éu "west" 50%`, "traceparent": "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01",
			"comment": " leading, inner  and trailing spaces, %2F kept ",
		}
	}
	var in bytes.Buffer
	for _, spec := range []struct{ path, id string }{
		{"/inbound", `ev 1 "routed" é%`},
		{"/inbound", "ev-2"},
		{"/structuredHook", "ev 3 direct"},
		{"/legacyHook", "ev 4 direct"},
		{"/binaryHook", "ev 5 direct"},
	} {
		line, err := json.Marshal(map[string]any{"path": spec.path, "attributes": attrs(spec.id), "data": map[string]any{"total": 4, "note": "café \"crème\" 100%"}})
		require.NoError(t, err)
		in.Write(append(line, '\n'))
	}
	sent := map[string]map[string]any{}
	for _, ev := range runSDK(t, py, in.Bytes(), "send", srv.Var("HEROKUEVENTS_PUBLISH_URL")) {
		sent[ev["id"].(string)] = ev
	}
	require.Len(t, sent, 5)

	want := map[string][]string{ // publication → the ids it receives
		"structuredHook": {`ev 1 "routed" é%`, "ev-2", "ev 3 direct"},
		"legacyHook":     {`ev 1 "routed" é%`, "ev-2", "ev 4 direct"},
		"binaryHook":     {`ev 1 "routed" é%`, "ev-2", "ev 5 direct"},
	}
	require.Eventually(t, func() bool {
		for name, ids := range want {
			if len(rec.got("/"+name)) < len(ids) {
				return false
			}
		}
		return true
	}, 20*time.Second, 20*time.Millisecond, "not every event was delivered")

	for name, ids := range want {
		t.Run(name, func(t *testing.T) {
			reqs := rec.got("/" + name)
			require.Len(t, reqs, len(ids))
			for _, r := range reqs {
				switch name {
				case "binaryHook":
					assert.Equal(t, "application/json", r.Headers["Content-Type"])
					assert.Equal(t, "caf%C3%A9%20%22x%22%20100%25", r.Headers["Ce-Subject"], "percent-encoded on the wire")
				case "legacyHook":
					assert.Equal(t, "application/json", r.Headers["Content-Type"])
				default:
					assert.Equal(t, "application/cloudevents+json", r.Headers["Content-Type"])
				}
				assert.Equal(t, "127.0.0.1", r.Headers["Webhook-Request-Origin"])
			}
			raw, err := json.Marshal(reqs)
			require.NoError(t, err)
			got := map[string]bool{}
			for _, ev := range runSDK(t, py, raw, "parse", secrets[name]) {
				assert.Equal(t, true, ev["_signature_ok"], "the Standard Webhooks signature matches the body")
				delete(ev, "_signature_ok")
				id, _ := ev["id"].(string)
				require.Contains(t, sent, id)
				assert.Equal(t, sent[id], ev, "every attribute, extension and the data as sent")
				got[id] = true
			}
			for _, id := range ids {
				assert.True(t, got[id], "%s received %q", name, id)
			}
		})
	}
}

// TestWebhookHandshakeEndToEnd: a target that refuses the handshake is
// refused at create with the reason (422, nothing stored); the publish URL
// answers the handshake of senders that validate it.
func TestWebhookHandshakeEndToEnd(t *testing.T) {
	srv := start(t, 5*time.Second)
	refusing := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusMethodNotAllowed)
	}))
	t.Cleanup(refusing.Close)
	var e struct{ ID, Message string }
	status := call(t, srv, "POST", "/platforms/webhook/publications", map[string]any{"name": "hook", "url": refusing.URL + "/hook"}, &e)
	assert.Equal(t, http.StatusUnprocessableEntity, status)
	assert.Equal(t, "invalid_params", e.ID)
	assert.Contains(t, e.Message, "refused the CloudEvents handshake")
	assert.Contains(t, e.Message, "HTTP 405 Method Not Allowed")
	assert.Contains(t, e.Message, "--skip-handshake")
	var pubs []any
	require.Equal(t, http.StatusOK, call(t, srv, "GET", "/publications", nil, &pubs))
	assert.Empty(t, pubs, "nothing created")
	require.Equal(t, http.StatusCreated, call(t, srv, "POST", "/platforms/webhook/publications",
		map[string]any{"name": "hook", "url": refusing.URL + "/hook", "skip_handshake": true}, nil), "unless skipped")

	u, err := url.Parse(srv.Var("HEROKUEVENTS_PUBLISH_URL"))
	require.NoError(t, err)
	u.User = nil
	req, err := http.NewRequestWithContext(t.Context(), http.MethodOptions, u.String()+"/hook", nil)
	require.NoError(t, err)
	req.Header.Set("WebHook-Request-Origin", "eventgrid.example.net")
	res, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	res.Body.Close()
	assert.Equal(t, http.StatusOK, res.StatusCode)
	assert.Equal(t, "eventgrid.example.net", res.Header.Get("WebHook-Allowed-Origin"))
	assert.Equal(t, "*", res.Header.Get("WebHook-Allowed-Rate"))
}
