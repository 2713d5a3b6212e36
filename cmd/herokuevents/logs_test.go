package main

import (
	"bytes"
	"context"
	"net/http"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/herokuevents/herokuevents/infra/embedded"
)

// herokuLine is the format of `heroku logs`.
var herokuLine = regexp.MustCompile(`^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}\+00:00 app\[herokuevents\]: `)

func TestLogsAgainstEmbedded(t *testing.T) {
	srv, err := embedded.Start(t.Context(), embedded.Options{Addr: "127.0.0.1:0", DataDir: t.TempDir(), App: testApp})
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, srv.Close()) })
	apiURL := srv.Var("HEROKUEVENTS_API_URL")
	publishURL := srv.Var("HEROKUEVENTS_PUBLISH_URL")
	r := run(t, nil, "subscriptions:webhook:create", "inbound", "-a", testApp, "--api-url", apiURL)
	require.NoError(t, r.err, r.stderr)
	post := func(body string) {
		resp, err := http.Post(publishURL+"/inbound", "application/json", strings.NewReader(body))
		require.NoError(t, err)
		resp.Body.Close()
		require.Equal(t, http.StatusAccepted, resp.StatusCode)
	}
	post(`{"n":1}`)
	post(`{"n":2}`)
	var lines []string
	require.Eventually(t, func() bool {
		require.NoError(t, srv.FlushJournal(t.Context()))
		r = run(t, nil, "logs", "-a", testApp, "--api-url", apiURL)
		require.NoError(t, r.err, r.stderr)
		lines = strings.Split(strings.TrimSpace(r.stdout), "\n")
		return strings.Count(r.stdout, "event=accepted") == 2
	}, 10*time.Second, 50*time.Millisecond)
	for _, l := range lines {
		assert.Regexp(t, herokuLine, l)
	}
	r = run(t, nil, "logs", "-n", "1", "-a", testApp, "--api-url", apiURL)
	require.NoError(t, r.err, r.stderr)
	assert.Equal(t, lines[len(lines)-1]+"\n", r.stdout, "-n 1 is the newest line")

	t.Run("--tail prints new lines as they come", func(t *testing.T) {
		tailEvery = 50 * time.Millisecond
		ctx, cancel := context.WithCancel(t.Context())
		defer cancel()
		var out syncBuffer
		root := newRoot()
		root.SetOut(&out)
		root.SetErr(&out)
		root.SetArgs([]string{"logs", "--tail", "-a", testApp, "--api-url", apiURL})
		done := make(chan error, 1)
		go func() { done <- root.ExecuteContext(ctx) }()
		require.Eventually(t, func() bool { return strings.Count(out.String(), "event=accepted") == 2 }, 5*time.Second, 20*time.Millisecond)
		post(`{"n":3}`)
		require.Eventually(t, func() bool {
			_ = srv.FlushJournal(t.Context())
			return strings.Count(out.String(), "event=accepted") == 3
		}, 5*time.Second, 20*time.Millisecond)
		cancel()
		require.NoError(t, <-done)
		for _, l := range strings.Split(strings.TrimSpace(out.String()), "\n") {
			assert.Regexp(t, herokuLine, l)
		}
	})
	t.Run("bad -n", func(t *testing.T) {
		r := run(t, nil, "logs", "-n", "0", "-a", testApp, "--api-url", apiURL)
		require.Error(t, r.err)
		assert.Contains(t, r.err.Error(), "-n must be from 1 to 1500")
	})
	t.Run("another app", func(t *testing.T) {
		r := run(t, nil, "logs", "-a", "other-app", "--api-url", apiURL)
		require.Error(t, r.err)
		assert.Contains(t, r.err.Error(), "not other-app")
	})
}

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

func TestLogsWithoutKeptLines(t *testing.T) {
	api := newFakeAPI(t, map[string]reply{}) // as the AWS api function: no such route
	r := run(t, nil, "logs", "-a", testApp, "--api-url", api.url())
	require.Error(t, r.err)
	assert.Contains(t, r.err.Error(), "heroku logs --tail --dyno herokuevents -a "+testApp)
}
