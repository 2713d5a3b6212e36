package main

import (
	"context"
	"net/http"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/herokuevents/herokuevents/shared/logtest"
)

func TestDevWebhookPrintsWhatItGets(t *testing.T) {
	ctx, cancel := context.WithCancel(t.Context())
	stdout := &logtest.Buffer{}
	root := newRoot()
	root.SetArgs([]string{"dev:webhook", "--addr", "127.0.0.1:0"})
	root.SetOut(stdout)
	root.SetErr(stdout)
	done := make(chan error, 1)
	go func() { done <- root.ExecuteContext(ctx) }()
	t.Cleanup(func() {
		cancel()
		require.NoError(t, <-done)
	})
	var url string
	ready := regexp.MustCompile(`ready at (http://\S+);`)
	require.Eventually(t, func() bool {
		m := ready.FindStringSubmatch(stdout.String())
		if m != nil {
			url = m[1]
		}
		return m != nil
	}, 5*time.Second, 10*time.Millisecond)
	assert.True(t, strings.HasSuffix(url, "/hook"), url)

	req, err := http.NewRequestWithContext(t.Context(), http.MethodPost, url, strings.NewReader(`{"specversion":"1.0","id":"e1","data":{"Name":"Acme"}}`))
	require.NoError(t, err)
	req.Header.Set("Content-Type", "application/cloudevents+json")
	req.Header.Set("Webhook-Id", "e1")
	req.Header.Set("X-Other", "not printed")
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	resp.Body.Close()
	assert.Equal(t, http.StatusOK, resp.StatusCode)
	out := stdout.String()
	assert.Regexp(t, `\d\d:\d\d:\d\d POST /hook\n`, out)
	assert.Contains(t, out, "Content-Type: application/cloudevents+json\nWebhook-Id: e1\n")
	assert.NotContains(t, out, "not printed")
	assert.Contains(t, out, "{\n  \"specversion\": \"1.0\",\n  \"id\": \"e1\",\n  \"data\": {\n    \"Name\": \"Acme\"\n  }\n}\n")
}

// TestDevWebhookConsents: dev:webhook answers the CloudEvents webhook
// handshake, so that publications:webhook:create accepts it.
func TestDevWebhookConsents(t *testing.T) {
	ctx, cancel := context.WithCancel(t.Context())
	stdout := &logtest.Buffer{}
	root := newRoot()
	root.SetArgs([]string{"dev:webhook", "--addr", "127.0.0.1:0"})
	root.SetOut(stdout)
	root.SetErr(stdout)
	done := make(chan error, 1)
	go func() { done <- root.ExecuteContext(ctx) }()
	t.Cleanup(func() {
		cancel()
		require.NoError(t, <-done)
	})
	var url string
	ready := regexp.MustCompile(`ready at (http://\S+);`)
	require.Eventually(t, func() bool {
		m := ready.FindStringSubmatch(stdout.String())
		if m != nil {
			url = m[1]
		}
		return m != nil
	}, 5*time.Second, 10*time.Millisecond)

	req, err := http.NewRequestWithContext(t.Context(), http.MethodOptions, url, nil)
	require.NoError(t, err)
	req.Header.Set("WebHook-Request-Origin", "127.0.0.1")
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	resp.Body.Close()
	assert.Equal(t, http.StatusOK, resp.StatusCode)
	assert.Equal(t, "127.0.0.1", resp.Header.Get("WebHook-Allowed-Origin"))
	assert.Contains(t, stdout.String(), "OPTIONS /hook: CloudEvents webhook handshake from 127.0.0.1, granted")
}
