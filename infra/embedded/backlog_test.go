package embedded_test

import (
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/herokuevents/herokuevents/infra/embedded"
	"github.com/herokuevents/herokuevents/shared/deliver"
)

// publishStatus posts one event and returns the status and Retry-After.
func publishStatus(t *testing.T, srv *embedded.Server, name string) (int, string) {
	t.Helper()
	u, err := url.Parse(srv.Var("HEROKUEVENTS_PUBLISH_URL"))
	require.NoError(t, err)
	pass, _ := u.User.Password()
	user := u.User.Username()
	u.User = nil
	req, err := http.NewRequestWithContext(t.Context(), http.MethodPost, u.String()+"/"+name, strings.NewReader(`{"n":1}`))
	require.NoError(t, err)
	req.SetBasicAuth(user, pass)
	req.Header.Set("Content-Type", "application/json")
	res, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	res.Body.Close()
	return res.StatusCode, res.Header.Get("Retry-After")
}

// The queues are bounded: with the publication paused, publishes are
// accepted up to MaxBacklog, then refused with 503 and Retry-After; once
// the publication resumes and the backlog drains, publishes are accepted
// again and every accepted event is delivered.
func TestBacklogIsBounded(t *testing.T) {
	const max = 8
	srv, err := embedded.Start(t.Context(), embedded.Options{
		Addr: "127.0.0.1:0", DataDir: t.TempDir(), App: "my-app", AllowEgress: loopback,
		Backoff:    deliver.Backoff{Base: 50 * time.Millisecond, Cap: 200 * time.Millisecond},
		MaxBacklog: max,
	})
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, srv.Close()) })
	h := newHook(t, func(int, http.ResponseWriter) {})
	require.Equal(t, http.StatusCreated, call(t, srv, http.MethodPost, "/platforms/webhook/publications",
		map[string]any{"name": "out", "url": h.URL, "skip_handshake": true}, nil))
	require.Equal(t, http.StatusOK, call(t, srv, http.MethodPost, "/publications/out/pause", nil, nil))

	accepted := 0
	var status int
	var retry string
	for range 3 * max {
		if status, retry = publishStatus(t, srv, "out"); status != http.StatusAccepted {
			break
		}
		accepted++
	}
	require.Equal(t, http.StatusServiceUnavailable, status, "past the bound")
	assert.Equal(t, "1", retry)
	// a held delivery is re-queued before its former message is settled:
	// the count can be one above for a moment
	assert.GreaterOrEqual(t, accepted, max-1, "accepted up to the bound")
	assert.LessOrEqual(t, accepted, max)

	require.Equal(t, http.StatusOK, call(t, srv, http.MethodPost, "/publications/out/resume", nil, nil))
	require.Eventually(t, func() bool {
		h.mu.Lock()
		defer h.mu.Unlock()
		return len(h.attempts) == accepted
	}, 10*time.Second, 20*time.Millisecond, "every accepted event is delivered once resumed")
	require.Eventually(t, func() bool {
		status, _ := publishStatus(t, srv, "out")
		return status == http.StatusAccepted
	}, 5*time.Second, 20*time.Millisecond, "drained: publishes are accepted again")
}
