package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/herokuevents/herokuevents/shared/logtest"
	"github.com/herokuevents/herokuevents/shared/platform/webhook/webhooktest"
)

// TestAWSLocal runs the command in-process: the printed config vars work
// for an inbound webhook subscription streamed to a webhook publication,
// and cancelling tears everything down.
func TestAWSLocal(t *testing.T) {
	var stdout, stderr logtest.Buffer
	password := strings.Repeat("p4ss", 10)
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	up := make(chan started, 1)
	done := make(chan error, 1)
	go func() {
		done <- run(ctx, []string{"--addr", "127.0.0.1:0", "--app", "shop", "--allow-egress", "127.0.0.0/8",
			"--param", "OperatorPassword=" + password}, &stdout, &stderr, func(s started) { up <- s })
	}()
	var s started
	select {
	case s = <-up:
	case err := <-done:
		t.Fatalf("run ended before it was ready: %v\n%s", err, stderr.String())
	case <-time.After(90 * time.Second):
		t.Fatalf("not ready after 90s:\n%s", stderr.String())
	}

	vars := map[string]*url.URL{}
	for line := range strings.Lines(stdout.String()) {
		name, val, ok := strings.Cut(strings.TrimSpace(line), "=")
		require.True(t, ok, "stdout line %q is not NAME=value", line)
		u, err := url.Parse(val)
		require.NoError(t, err, line)
		vars[name] = u
	}
	require.Len(t, vars, 4, stdout.String())
	require.NotNil(t, vars["HEROKUEVENTS_SUBSCRIBE_URL"], "aws-local prints the subscribe URL")
	platform := vars["HEROKUEVENTS_PLATFORM_URL"]
	require.NotNil(t, platform)
	assert.Equal(t, s.URL, "http://"+platform.Host)
	pw, _ := platform.User.Password()
	assert.Equal(t, password, pw, "the operator password given with --param")

	api := vars["HEROKUEVENTS_API_URL"]
	require.NotNil(t, api)
	apiKey, _ := api.User.Password()
	api.User = nil
	call := func(path, body string) {
		t.Helper()
		req, err := http.NewRequestWithContext(t.Context(), http.MethodPost, api.String()+path, strings.NewReader(body))
		require.NoError(t, err)
		req.Header.Set("Authorization", "Bearer "+apiKey)
		req.Header.Set("Content-Type", "application/json")
		resp, err := http.DefaultClient.Do(req)
		require.NoError(t, err)
		defer resp.Body.Close()
		raw, _ := io.ReadAll(resp.Body)
		require.Equal(t, http.StatusCreated, resp.StatusCode, "POST %s: %s", path, raw)
	}

	received := make(chan []byte, 10)
	hook := httptest.NewServer(webhooktest.Consent(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		received <- b
	})))
	defer hook.Close()
	call("/platforms/webhook/subscriptions", `{"name":"inbound"}`)
	call("/platforms/webhook/publications", `{"name":"hook","url":"`+hook.URL+`"}`)
	call("/streams", `{"source":"inbound","target":"hook"}`)

	pub := vars["HEROKUEVENTS_PUBLISH_URL"]
	require.NotNil(t, pub)
	tenant, publishKey := pub.User.Username(), ""
	publishKey, _ = pub.User.Password()
	pub.User = nil
	req, err := http.NewRequestWithContext(t.Context(), http.MethodPost, pub.String()+"/inbound", strings.NewReader(`{"order":42}`))
	require.NoError(t, err)
	req.SetBasicAuth(tenant, publishKey)
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	raw, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	require.Equal(t, http.StatusAccepted, resp.StatusCode, string(raw))
	var accepted struct{ ID string }
	require.NoError(t, json.Unmarshal(raw, &accepted))

	select {
	case body := <-received:
		var ce struct {
			ID   string          `json:"id"`
			Data json.RawMessage `json:"data"`
		}
		require.NoError(t, json.Unmarshal(body, &ce), string(body))
		assert.Equal(t, accepted.ID, ce.ID)
		assert.JSONEq(t, `{"order":42}`, string(ce.Data))
	case <-time.After(30 * time.Second):
		t.Fatalf("the webhook received nothing in 30s:\n%s", stderr.String())
	}
	assert.Eventually(t, func() bool { return strings.Contains(stderr.String(), "\ningest | {") },
		5*time.Second, 50*time.Millisecond, "function output on stderr, prefixed by its role:\n%s", stderr.String())

	// Every process is ours to find before the shutdown, and gone after.
	markers := []string{"moto_server -H 127.0.0.1 -p " + strconv.Itoa(s.MotoPort), s.BinDir}
	for _, a := range s.Emulators {
		markers = append(markers, "--runtime-interface-emulator-address "+a)
	}
	for _, m := range markers {
		assert.NotEmpty(t, processes(t, m), "no process runs %q", m)
	}
	cancel()
	select {
	case err := <-done:
		require.NoError(t, err)
	case <-time.After(30 * time.Second):
		t.Fatal("run did not return within 30s of the cancel")
	}
	for _, m := range markers {
		assert.Empty(t, processes(t, m), "a process still runs %q", m)
	}
	_, err = os.Stat(s.BinDir)
	assert.ErrorIs(t, err, os.ErrNotExist, "the build directory is removed")
	c, err := net.DialTimeout("tcp", strings.TrimPrefix(s.URL, "http://"), time.Second)
	if err == nil {
		c.Close()
	}
	assert.Error(t, err, "the HTTP API no longer listens")
}

// processes returns the ids of processes whose command line contains
// marker (arguments joined by spaces).
func processes(t *testing.T, marker string) []int {
	t.Helper()
	dirs, err := filepath.Glob("/proc/[0-9]*")
	require.NoError(t, err)
	var out []int
	for _, d := range dirs {
		b, err := os.ReadFile(filepath.Join(d, "cmdline"))
		if err != nil {
			continue // gone meanwhile
		}
		if strings.Contains(string(bytes.ReplaceAll(b, []byte{0}, []byte{' '})), marker) {
			pid, _ := strconv.Atoi(filepath.Base(d))
			out = append(out, pid)
		}
	}
	return out
}

// TestAWSLocalFailsLoudly: a missing tool, a taken address and bad flags
// stop the command at once with a message saying what to do.
func TestAWSLocalFailsLoudly(t *testing.T) {
	taken, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	defer taken.Close()
	cases := []struct {
		name string
		args []string
		env  map[string]string
		want string
	}{
		{"moto missing", nil, map[string]string{"MOTO_SERVER": "/nonexistent/moto_server"}, "scripts/setup-tools"},
		{"rie missing", nil, map[string]string{"AWS_LAMBDA_RIE": "/nonexistent/aws-lambda-rie"}, "scripts/setup-tools"},
		{"address taken", []string{"--addr", taken.Addr().String()}, nil, "listen on " + taken.Addr().String()},
		{"bad egress", []string{"--allow-egress", "not-a-cidr"}, nil, "allow-egress"},
		{"bad param", []string{"--param", "NoEquals"}, nil, "Name=Value"},
		{"egress twice", []string{"--allow-egress", "10.0.0.0/8", "--param", "AllowEgress=10.0.0.0/8"}, nil, "not both"},
		{"extra argument", []string{"serve"}, nil, "unexpected arguments"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			for k, v := range c.env {
				t.Setenv(k, v)
			}
			var stdout, stderr bytes.Buffer
			err := run(t.Context(), c.args, &stdout, &stderr, func(started) { t.Error("started") })
			require.Error(t, err)
			assert.Contains(t, fmt.Sprint(err, stderr.String()), c.want)
			assert.Empty(t, stdout.String())
		})
	}
}

func TestNewFrom(t *testing.T) {
	cases := []struct {
		name, seen, cur string
		want            int
	}{
		{"nothing seen", "", "a\nb\n", 0},
		{"grown", "a\n", "a\nb\n", 2},
		{"tail dropped its start", "a\nb\n", "b\nc\n", 2},
		{"all dropped", "a\nb\n", "x\ny\n", 0},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			assert.Equal(t, c.want, newFrom(c.seen, c.cur))
		})
	}
}
