package main_test

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/herokuevents/herokuevents/shared/platform/webhook/webhooktest"
)

// binary builds the herokuevents command once per test run.
var binary = sync.OnceValues(func() (string, error) {
	dir, err := os.MkdirTemp("", "herokuevents-bin")
	if err != nil {
		return "", err
	}
	path := filepath.Join(dir, "herokuevents")
	out, err := exec.Command("go", "build", "-o", path, ".").CombinedOutput()
	if err != nil {
		return "", fmt.Errorf("go build: %v\n%s", err, out)
	}
	return path, nil
})

type server struct {
	cmd  *exec.Cmd
	vars map[string]string
	logs *bytes.Buffer
}

// serve starts `herokuevents serve` on a free port and reads its config vars.
func serve(t *testing.T, dataDir string) *server {
	t.Helper()
	bin, err := binary()
	require.NoError(t, err)
	cmd := exec.Command(bin, "serve", "--addr", "127.0.0.1:0", "--data-dir", dataDir, "--app", "my-app", "--allow-egress", "127.0.0.1/32")
	stdout, err := cmd.StdoutPipe()
	require.NoError(t, err)
	logs := &bytes.Buffer{}
	cmd.Stderr = &syncWriter{w: logs}
	require.NoError(t, cmd.Start())
	s := &server{cmd: cmd, vars: map[string]string{}, logs: logs}
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	lines := make(chan string)
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			lines <- sc.Text()
		}
		close(lines)
	}()
	deadline := time.After(30 * time.Second)
	for len(s.vars) < 4 { // API, publish, subscribe, platform
		select {
		case line, ok := <-lines:
			require.True(t, ok, "serve exited: %s", logs)
			k, v, found := strings.Cut(line, "=")
			require.True(t, found, "stdout line %q is not NAME=value", line)
			s.vars[k] = v
		case <-deadline:
			t.Fatalf("serve printed no config vars in time: %s", logs)
		}
	}
	go func() {
		for range lines {
		}
	}()
	return s
}

type syncWriter struct {
	mu sync.Mutex
	w  io.Writer
}

func (s *syncWriter) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.w.Write(p)
}

// cli runs a CLI command against the server and returns stdout, stderr and the exit code.
func (s *server) cli(t *testing.T, args ...string) (string, string, int) {
	t.Helper()
	bin, err := binary()
	require.NoError(t, err)
	cmd := exec.Command(bin, args...)
	cmd.Env = append(os.Environ(), "HEROKUEVENTS_API_URL="+s.vars["HEROKUEVENTS_API_URL"])
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err = cmd.Run()
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else {
		require.NoError(t, err)
	}
	return out.String(), errb.String(), code
}

func (s *server) mustCLI(t *testing.T, args ...string) (string, string) {
	t.Helper()
	out, errs, code := s.cli(t, args...)
	require.Equal(t, 0, code, "herokuevents %v: %s", args, errs)
	return out, errs
}

// publish posts JSON to the publish URL as an app does: Basic auth from the userinfo.
func (s *server) publish(t *testing.T, name, body string) (int, string) {
	t.Helper()
	status, id, _ := s.publishWith(t, name, body, nil)
	return status, id
}

// publishWith is publish with the request headers h added; it also returns
// the answer's headers.
func (s *server) publishWith(t *testing.T, name, body string, h http.Header) (int, string, http.Header) {
	t.Helper()
	u, err := url.Parse(s.vars["HEROKUEVENTS_PUBLISH_URL"])
	require.NoError(t, err)
	pass, _ := u.User.Password()
	user := u.User.Username()
	u.User = nil
	req, err := http.NewRequest(http.MethodPost, strings.TrimSuffix(u.String(), "/")+"/"+name, strings.NewReader(body))
	require.NoError(t, err)
	req.SetBasicAuth(user, pass)
	req.Header.Set("Content-Type", "application/json")
	for k, v := range h {
		req.Header[k] = v
	}
	res, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	var acc struct {
		ID string `json:"id"`
	}
	_ = json.Unmarshal(b, &acc)
	return res.StatusCode, acc.ID, res.Header
}

// webhook is a real HTTP receiver that records CloudEvents by id.
type webhook struct {
	*httptest.Server
	mu       sync.Mutex
	status   int
	received map[string]map[string]any
	count    int
}

func newWebhook(t *testing.T) *webhook {
	w := &webhook{status: http.StatusNoContent, received: map[string]map[string]any{}}
	w.Server = httptest.NewServer(webhooktest.Consent(http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		w.mu.Lock()
		defer w.mu.Unlock()
		if w.status >= 300 {
			rw.WriteHeader(w.status)
			return
		}
		var ce map[string]any
		if json.Unmarshal(b, &ce) == nil && r.Header.Get("Content-Type") == "application/cloudevents+json" {
			if id, ok := ce["id"].(string); ok {
				w.received[id] = ce
				w.count++
			}
		}
		rw.WriteHeader(w.status)
	})))
	t.Cleanup(w.Close)
	return w
}

func (w *webhook) setStatus(s int) { w.mu.Lock(); w.status = s; w.mu.Unlock() }

func (w *webhook) has(id string) (map[string]any, bool) {
	w.mu.Lock()
	defer w.mu.Unlock()
	ce, ok := w.received[id]
	return ce, ok
}

func (w *webhook) waitFor(t *testing.T, ids ...string) {
	t.Helper()
	require.Eventually(t, func() bool {
		for _, id := range ids {
			if _, ok := w.has(id); !ok {
				return false
			}
		}
		return true
	}, 20*time.Second, 20*time.Millisecond, "webhook did not receive every event")
}

func TestBlackBoxServeCLIPublishDeliverCrashRestart(t *testing.T) {
	dataDir := t.TempDir()
	hook := newWebhook(t)
	srv := serve(t, dataDir)
	for _, k := range []string{"HEROKUEVENTS_API_URL", "HEROKUEVENTS_PUBLISH_URL", "HEROKUEVENTS_PLATFORM_URL"} {
		require.NotEmpty(t, srv.vars[k], k)
	}

	_, errs := srv.mustCLI(t, "subscriptions:webhook:create", "inbound", "-a", "my-app")
	assert.Contains(t, errs, "Creating subscription inbound... done")
	out, errs := srv.mustCLI(t, "events:publications:webhook:create", "systemStatus", "-u", hook.URL+"/hook", "-a", "my-app")
	assert.Contains(t, errs, "Creating publication systemStatus... done")
	assert.Contains(t, out, "whsec_", "the signing secret is shown once")
	_, errs = srv.mustCLI(t, "streams:create", "inbound", "systemStatus", "-f",
		`root = if this.Context__c.string == "drop" { deleted() } else { this }`, "-a", "my-app")
	assert.Contains(t, errs, "Linking inbound to systemStatus... done")
	out, _ = srv.mustCLI(t, "streams", "-a", "my-app")
	assert.Contains(t, out, "inbound")
	assert.Contains(t, out, "systemStatus")

	t.Run("wrong app is refused", func(t *testing.T) {
		_, errs, code := srv.cli(t, "subscriptions", "-a", "other-app")
		assert.Equal(t, 1, code)
		assert.Contains(t, errs, "my-app")
	})

	const body = `{"Context__c":{"string":"subscription"},"CreatedById":"005Ws000001eUtGIAU","CreatedDate":1733842936}`
	status, id := srv.publish(t, "inbound", body)
	require.Equal(t, http.StatusAccepted, status)
	require.NotEmpty(t, id)
	status, dropped := srv.publish(t, "inbound", `{"Context__c":{"string":"drop"}}`)
	require.Equal(t, http.StatusAccepted, status)
	status, direct := srv.publish(t, "systemStatus", `{"direct":true}`)
	require.Equal(t, http.StatusAccepted, status)
	hook.waitFor(t, id, direct)
	ce, _ := hook.has(id)
	assert.Equal(t, "1.0", ce["specversion"])
	data, _ := json.Marshal(ce["data"])
	assert.JSONEq(t, body, string(data))
	assert.NotEmpty(t, ce["source"])
	assert.NotEmpty(t, ce["type"])
	assert.NotEmpty(t, ce["time"])

	// Events in flight when the process dies: the webhook fails, so they wait in the queue.
	hook.setStatus(http.StatusServiceUnavailable)
	var pending []string
	for i := range 20 {
		status, id := srv.publish(t, "inbound", fmt.Sprintf(`{"n":%d}`, i))
		require.Equal(t, http.StatusAccepted, status)
		pending = append(pending, id)
	}
	require.NoError(t, srv.cmd.Process.Signal(syscall.SIGKILL))
	_ = srv.cmd.Wait()
	hook.setStatus(http.StatusOK)

	srv = serve(t, dataDir)
	out, _ = srv.mustCLI(t, "subscriptions", "-a", "my-app")
	assert.Contains(t, out, "inbound", "configuration survives kill -9")
	hook.waitFor(t, pending...)
	_, ok := hook.has(dropped)
	assert.False(t, ok, "a filtered-out event never arrives")

	t.Run("a second serve on the same data dir is refused", func(t *testing.T) {
		bin, err := binary()
		require.NoError(t, err)
		out, err := exec.Command(bin, "serve", "--addr", "127.0.0.1:0", "--data-dir", dataDir).CombinedOutput()
		require.Error(t, err)
		assert.Contains(t, string(out), "data dir")
	})
}
