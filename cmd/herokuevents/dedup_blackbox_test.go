package main_test

import (
	"maps"
	"net/http"
	"os"
	"os/exec"
	"slices"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// publishKeyed posts body to name with an Idempotency-Key and returns the
// status, the id answered and whether it was marked a replay.
func (s *server) publishKeyed(t *testing.T, name, body, idempotencyKey string) (int, string, bool) {
	t.Helper()
	status, id, h := s.publishWith(t, name, body, http.Header{"Idempotency-Key": {idempotencyKey}})
	return status, id, h.Get("Idempotent-Replayed") == "true"
}

// ids is the set of event ids the webhook received.
func (w *webhook) ids() []string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return slices.Collect(maps.Keys(w.received))
}

// TestBlackBoxPublishExactlyOnceAcrossKill9: the same Idempotency-Key
// published three times, the third after a kill -9 of serve, to a
// publication and to a subscription routed through a stream: every answer
// carries the first event's id and the webhook receives each event once.
func TestBlackBoxPublishExactlyOnceAcrossKill9(t *testing.T) {
	dataDir := t.TempDir()
	hook := newWebhook(t)
	srv := serve(t, dataDir)
	srv.mustCLI(t, "events:publications:webhook:create", "orders", "-u", hook.URL+"/hook", "-a", "my-app")
	srv.mustCLI(t, "subscriptions:webhook:create", "inbound", "-a", "my-app")
	srv.mustCLI(t, "streams:create", "inbound", "orders", "-a", "my-app")

	targets := []struct{ name, key, body string }{
		{"orders", "order-42-created", `{"order":42}`},
		{"inbound", "order-43-created", `{"order":43}`},
	}
	first := map[string]string{}
	for _, tg := range targets {
		status, id, replayed := srv.publishKeyed(t, tg.name, tg.body, tg.key)
		require.Equal(t, http.StatusAccepted, status)
		require.NotEmpty(t, id)
		assert.False(t, replayed)
		first[tg.name] = id
		status, again, replayed := srv.publishKeyed(t, tg.name, tg.body, tg.key)
		require.Equal(t, http.StatusAccepted, status)
		assert.Equal(t, id, again, "a retry gets the first event's id")
		assert.True(t, replayed)
	}
	hook.waitFor(t, first["orders"], first["inbound"])

	require.NoError(t, srv.cmd.Process.Signal(syscall.SIGKILL))
	_ = srv.cmd.Wait()
	srv = serve(t, dataDir)

	for _, tg := range targets {
		status, id, replayed := srv.publishKeyed(t, tg.name, tg.body, tg.key)
		require.Equal(t, http.StatusAccepted, status)
		assert.Equal(t, first[tg.name], id, "the key survives kill -9")
		assert.True(t, replayed)
	}
	// A last event without a key: once it arrived (and a moment more),
	// anything a duplicate had enqueued would have arrived too.
	status, last := srv.publish(t, "orders", `{"last":true}`)
	require.Equal(t, http.StatusAccepted, status)
	hook.waitFor(t, last)
	time.Sleep(time.Second)
	// Each keyed event is one event: a publish the key did not catch would
	// have made another event, with an id of its own. The same event may
	// arrive twice (delivery is at least once, and receivers tell repeats by
	// the CloudEvent id): the kill can land after the webhook answered and
	// before the delivery's message was settled.
	assert.ElementsMatch(t, []string{first["orders"], first["inbound"], last}, hook.ids(), "each keyed event once, and the last one")
}

// TestServeRefusesABadDedupWindow: --dedup-window must be a positive
// duration; serve says so and exits 1 before touching the data dir.
func TestServeRefusesABadDedupWindow(t *testing.T) {
	bin, err := binary()
	require.NoError(t, err)
	for _, v := range []string{"0", "-1h", "soon"} {
		t.Run(v, func(t *testing.T) {
			dir := t.TempDir()
			cmd := exec.Command(bin, "serve", "--addr", "127.0.0.1:0", "--data-dir", dir, "--dedup-window="+v)
			out, err := cmd.CombinedOutput()
			var ee *exec.ExitError
			require.ErrorAs(t, err, &ee, "%s", out)
			assert.Equal(t, 1, ee.ExitCode())
			assert.Contains(t, string(out), "dedup-window")
			entries, err := os.ReadDir(dir)
			require.NoError(t, err)
			assert.Empty(t, entries, "nothing made in the data dir")
		})
	}
}
