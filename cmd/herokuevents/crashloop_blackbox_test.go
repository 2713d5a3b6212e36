package main_test

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/herokuevents/herokuevents/shared/platform/webhook/webhooktest"
)

// slowHook is a webhook that holds each request while slow is set (until
// the client goes away), and records the events it answered 2xx.
type slowHook struct {
	*httptest.Server
	slow    atomic.Bool
	started atomic.Int64
	mu      sync.Mutex
	got     map[string]bool
}

func newSlowHook(t *testing.T) *slowHook {
	h := &slowHook{got: map[string]bool{}}
	h.slow.Store(true)
	h.Server = httptest.NewServer(webhooktest.Consent(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		h.started.Add(1)
		if h.slow.Load() {
			<-r.Context().Done() // the server died or gave up
			return
		}
		var ce struct{ ID string }
		if json.Unmarshal(b, &ce) == nil && ce.ID != "" {
			h.mu.Lock()
			h.got[ce.ID] = true
			h.mu.Unlock()
		}
		w.WriteHeader(http.StatusNoContent)
	})))
	t.Cleanup(h.Close)
	return h
}

func (h *slowHook) delivered() int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return len(h.got)
}

// TestBlackBoxCrashLoopDeadLettersNothing: five kill -9 restarts while
// deliveries are in flight at a webhook that never answers in time: a
// receive whose handler died with the process is not a failure, so none of
// the events is dead-lettered, and all are delivered once the webhook
// answers (issue 11: before, all 100 were dead-lettered, "received 6 times
// without completing").
func TestBlackBoxCrashLoopDeadLettersNothing(t *testing.T) {
	dataDir := t.TempDir()
	hook := newSlowHook(t)
	srv := serve(t, dataDir)
	srv.mustCLI(t, "events:publications:webhook:create", "slow", "-u", hook.URL+"/hook", "-a", "my-app")
	const events = 30
	ids := map[string]bool{}
	for i := range events {
		status, id := srv.publish(t, "slow", fmt.Sprintf(`{"n":%d}`, i))
		require.Equal(t, http.StatusAccepted, status)
		ids[id] = true
	}
	for restart := range 5 {
		before := hook.started.Load()
		require.Eventually(t, func() bool { return hook.started.Load() > before }, 20*time.Second, 10*time.Millisecond,
			"deliveries in flight before kill %d", restart+1)
		time.Sleep(100 * time.Millisecond) // let the batch's other deliveries start
		require.NoError(t, srv.cmd.Process.Signal(syscall.SIGKILL))
		_ = srv.cmd.Wait()
		srv = serve(t, dataDir)
	}
	hook.slow.Store(false)
	require.Eventually(t, func() bool { return hook.delivered() == events }, 60*time.Second, 50*time.Millisecond,
		"every event delivered after the restarts")
	out, _ := srv.mustCLI(t, "deadletters", "-a", "my-app")
	assert.Contains(t, out, "No dead letters", "a crash is not a failure of the event")
	hook.mu.Lock()
	defer hook.mu.Unlock()
	for id := range ids {
		assert.True(t, hook.got[id], "event %s delivered", id)
	}
}
