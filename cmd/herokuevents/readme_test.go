package main_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/herokuevents/herokuevents/shared/platform/webhook/webhooktest"
)

// walkthroughMarker is the first line of the README's Salesforce
// walkthrough block.
const walkthroughMarker = "# the Salesforce walkthrough; cmd/herokuevents/readme_test.go runs these lines as they are"

// TestREADMESalesforceWalkthrough pastes the README's Salesforce walkthrough
// into bash as a newcomer would, in the state the README describes: a
// dev:salesforce stand-in and `herokuevents serve --allow-egress
// 127.0.0.0/8` running with the stand-in's lines exported, and both sets of
// printed lines exported in the shell. The browser login runs with
// $BROWSER set to a "browser" that follows the login page (the stand-in
// approves at once); WEBHOOK_URL is this test's receiver. The lines end with
// the CDC event of the emitted Account at the webhook.
func TestREADMESalesforceWalkthrough(t *testing.T) {
	block := readmeBlock(t, walkthroughMarker)
	curl, err := exec.LookPath("curl")
	require.NoError(t, err, "the test's browser follows the login page with curl")
	bin, err := binary()
	require.NoError(t, err)
	dir := t.TempDir()

	sfVars := startPrinting(t, "SALESFORCE_CA_CERT", nil, bin, "dev:salesforce",
		"--grpc-addr", "127.0.0.1:0", "--http-addr", "127.0.0.1:0", "--dir", filepath.Join(dir, "salesforce"))
	var sfEnv []string
	for k, v := range sfVars {
		sfEnv = append(sfEnv, k+"="+v)
	}
	appVars := startPrinting(t, "HEROKUEVENTS_PLATFORM_URL", sfEnv, bin, "serve",
		"--addr", "127.0.0.1:0", "--data-dir", filepath.Join(dir, "data"), "--app", "my-app", "--allow-egress", "127.0.0.0/8")

	var mu sync.Mutex
	var received [][]byte
	hook := httptest.NewServer(webhooktest.Consent(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		mu.Lock()
		received = append(received, b)
		mu.Unlock()
	})))
	t.Cleanup(hook.Close)

	browser := filepath.Join(dir, "browser")
	require.NoError(t, os.WriteFile(browser, []byte("#!/bin/sh\nexec "+curl+" -fsSL -o /dev/null \"$1\"\n"), 0o755))

	env := []string{"PATH=" + filepath.Dir(bin) + string(os.PathListSeparator) + os.Getenv("PATH"), "HOME=" + dir,
		"BROWSER=" + browser, "WEBHOOK_URL=" + hook.URL + "/hook"}
	env = append(env, sfEnv...)
	for k, v := range appVars {
		env = append(env, k+"="+v)
	}
	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "bash", "-e", "-o", "pipefail", "-c", block)
	cmd.Dir = dir
	cmd.Env = env
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	require.NoError(t, cmd.Run(), "the walkthrough's lines:\n%s", out.String())
	t.Logf("the walkthrough's output:\n%s", out.String())

	type cloudEvent struct {
		Type    string `json:"type"`
		Subject string `json:"subject"`
		Data    struct {
			Name              map[string]string `json:"Name"`
			ChangeEventHeader struct {
				ChangeType string `json:"changeType"`
			} `json:"ChangeEventHeader"`
		} `json:"data"`
	}
	var got cloudEvent
	require.Eventually(t, func() bool {
		mu.Lock()
		defer mu.Unlock()
		for _, b := range received {
			if json.Unmarshal(b, &got) == nil && got.Subject == "/data/AccountChangeEvent" {
				return true
			}
		}
		return false
	}, 60*time.Second, 100*time.Millisecond, "no CDC event at the webhook; walkthrough output:\n%s", out.String())
	assert.Equal(t, "CREATE", got.Data.ChangeEventHeader.ChangeType)
	assert.Equal(t, map[string]string{"string": "Acme"}, got.Data.Name)
	assert.Contains(t, out.String(), "my-org-jwt", "authorizations lists the three flows' aliases")
	assert.Contains(t, out.String(), "my-org-cc")
}

// readmeBlock returns the ```sh block of README.md whose first line is
// marker, marker included.
func readmeBlock(t *testing.T, marker string) string {
	t.Helper()
	raw, err := os.ReadFile("../../README.md")
	require.NoError(t, err)
	_, rest, ok := strings.Cut(string(raw), "```sh\n"+marker+"\n")
	require.True(t, ok, "README.md has no ```sh block starting with %q", marker)
	body, _, ok := strings.Cut(rest, "\n```")
	require.True(t, ok, "the block does not end")
	return marker + "\n" + body + "\n"
}

// startPrinting runs bin args (with env added to the test's) until the test
// ends and returns the NAME=value lines it prints on stdout, once it has
// printed last.
func startPrinting(t *testing.T, last string, env []string, bin string, args ...string) map[string]string {
	t.Helper()
	cmd := exec.Command(bin, args...)
	cmd.Env = append(os.Environ(), env...)
	stdout, err := cmd.StdoutPipe()
	require.NoError(t, err)
	logs := &lockedBuffer{}
	cmd.Stderr = logs
	require.NoError(t, cmd.Start())
	t.Cleanup(func() {
		_ = cmd.Process.Signal(os.Interrupt)
		done := make(chan struct{})
		go func() { _ = cmd.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			_ = cmd.Process.Kill()
			<-done
		}
		if t.Failed() {
			t.Logf("%s logs:\n%s", args[0], logs.String())
		}
	})
	vars := map[string]string{}
	lines := make(chan string)
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			lines <- sc.Text()
		}
		close(lines)
	}()
	deadline := time.After(30 * time.Second)
	for vars[last] == "" {
		select {
		case line, ok := <-lines:
			require.True(t, ok, "%s exited", args[0])
			k, v, found := strings.Cut(line, "=")
			require.True(t, found, "stdout line %q is not NAME=value", line)
			vars[k] = v
		case <-deadline:
			t.Fatalf("%s printed no %s in time", args[0], last)
		}
	}
	go func() {
		for range lines {
		}
	}()
	return vars
}

// lockedBuffer collects a process's output for the test to read.
type lockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// herokuMarker is the first line of the README's Heroku walkthrough block.
const herokuMarker = "# the Heroku walkthrough; cmd/herokuevents/readme_test.go runs these lines as they are"

// TestREADMEHerokuWalkthrough pastes the README's dev:heroku walkthrough
// into bash in the state the README describes: `herokuevents dev:heroku`
// and `herokuevents serve --app ” --addon-manifest addon-manifest.json
// --allow-egress 127.0.0.0/8` running with the stand-in's lines exported
// (on free ports instead of 5600 and 5454: --addon-url tells the stand-in),
// the stand-in's lines exported in the shell and WEBHOOK_URL this test's
// receiver. The lines end with the seed's curl delivering to the webhook
// and the delivery line shown by the stand-in's log view.
func TestREADMEHerokuWalkthrough(t *testing.T) {
	block := readmeBlock(t, herokuMarker)
	bin, err := binary()
	require.NoError(t, err)
	dir := t.TempDir()
	manifest, err := filepath.Abs("../../addon-manifest.json")
	require.NoError(t, err)
	// The stand-in must know serve's address before serve starts, so serve
	// gets a port that was free a moment ago; should another process take
	// it first, serve cannot listen and both start again on another.
	var env []string
	for attempt := 1; ; attempt++ {
		addonAddr := freeAddr(t)
		herokuVars := startPrinting(t, "HEROKU_SSO_SALT", nil, bin, "dev:heroku",
			"--addr", "127.0.0.1:0", "--addon-manifest", manifest, "--addon-url", "http://"+addonAddr)
		env = env[:0]
		for k, v := range herokuVars {
			env = append(env, k+"="+v)
		}
		err := startServing(t, "http://"+addonAddr, env, bin, "serve", "--addr", addonAddr, "--data-dir", filepath.Join(dir, "data"),
			"--app", "", "--addon-manifest", manifest, "--allow-egress", "127.0.0.0/8")
		if err == nil {
			break
		}
		require.True(t, attempt < 3 && strings.Contains(err.Error(), "address already in use"), "%v", err)
		t.Logf("attempt %d: %v", attempt, err)
	}

	var mu sync.Mutex
	var received [][]byte
	hook := httptest.NewServer(webhooktest.Consent(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		mu.Lock()
		received = append(received, b)
		mu.Unlock()
	})))
	t.Cleanup(hook.Close)

	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "bash", "-e", "-o", "pipefail", "-c", block)
	cmd.Dir = dir
	cmd.Env = append([]string{"PATH=" + filepath.Dir(bin) + string(os.PathListSeparator) + os.Getenv("PATH"), "HOME=" + dir,
		"WEBHOOK_URL=" + hook.URL + "/hook"}, env...)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	require.NoError(t, cmd.Run(), "the walkthrough's lines:\n%s", out.String())
	t.Logf("the walkthrough's output:\n%s", out.String())

	text := out.String()
	assert.Contains(t, text, "Creating herokuevents on ⬢ my-app... done")
	assert.Contains(t, text, "herokuevents is ready for my-app", "the app learned through the Platform API")
	assert.Regexp(t, `Created herokuevents-[a-z]+-\d+ as HEROKUEVENTS_API_URL, HEROKUEVENTS_PUBLISH_URL, HEROKUEVENTS_SUBSCRIBE_URL`, text)
	assert.Regexp(t, `\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}\+00:00 app\[herokuevents\]: event=delivered .*publication=myHook .*status=200`, text,
		"the delivery line in the stand-in's log view")
	assert.Regexp(t, `Opening http://\S+/addons-sso/my-app/herokuevents\.\.\.`, text, "addons:open signs in through SSO and prints the page a browser opens")

	mu.Lock()
	defer mu.Unlock()
	var delivered bool
	for _, b := range received {
		var ce struct {
			Data map[string]any `json:"data"`
		}
		if json.Unmarshal(b, &ce) == nil && ce.Data["CreatedById"] == "005Ws000001eUtGIAU" {
			delivered = true
		}
	}
	assert.True(t, delivered, "the seed's event reached the webhook")
}

// freeAddr returns a loopback address with a port free at the time.
func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	addr := ln.Addr().String()
	require.NoError(t, ln.Close())
	return addr
}

// startServing runs bin args (with env added) until the test ends and
// returns once url answers HTTP, having logged that it serves there (so
// that another process answering on that port is not taken for it). It
// returns an error with the logs when the process exits first.
func startServing(t *testing.T, url string, env []string, bin string, args ...string) error {
	t.Helper()
	cmd := exec.Command(bin, args...)
	cmd.Env = append(os.Environ(), env...)
	logs := &lockedBuffer{}
	cmd.Stdout, cmd.Stderr = logs, logs
	require.NoError(t, cmd.Start())
	exited := make(chan struct{})
	go func() { _ = cmd.Wait(); close(exited) }()
	t.Cleanup(func() {
		_ = cmd.Process.Signal(os.Interrupt)
		select {
		case <-exited:
		case <-time.After(10 * time.Second):
			_ = cmd.Process.Kill()
			<-exited
		}
		if t.Failed() {
			t.Logf("%s logs:\n%s", args[0], logs.String())
		}
	})
	addr := strings.TrimPrefix(url, "http://")
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		select {
		case <-exited:
			return fmt.Errorf("%s exited before serving %s: %s", args[0], url, logs.String())
		case <-time.After(50 * time.Millisecond):
		}
		if !strings.Contains(logs.String(), `"herokuevents serving","addr":"`+addr+`"`) {
			continue
		}
		if resp, err := http.Get(url); err == nil {
			resp.Body.Close()
			return nil
		}
	}
	t.Fatalf("%s does not answer at %s; logs:\n%s", args[0], url, logs.String())
	return nil
}
