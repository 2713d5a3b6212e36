package embedded_test

import (
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/herokuevents/herokuevents/shared/event"
)

// TestGeneratorStreamedToWebhook: a 1s generator streamed to a webhook
// delivers at least 3 events within 4s, each with its own id, its
// scheduled time and the mapping's fields.
func TestGeneratorStreamedToWebhook(t *testing.T) {
	srv := start(t, 5*time.Second)
	h := newHook(t, ok)
	require.Equal(t, http.StatusCreated, call(t, srv, "POST", "/platforms/webhook/publications",
		map[string]any{"name": "statusHook", "url": h.URL + "/hook"}, nil))

	created := time.Now()
	var sub struct {
		ID      string `json:"id"`
		Targets []struct {
			Name string `json:"name"`
		} `json:"targets"`
	}
	require.Equal(t, http.StatusCreated, call(t, srv, "POST", "/platforms/generate/subscriptions", map[string]any{
		"name": "heartbeat", "interval": "1s", "target": "statusHook",
		"mapping": `root = {"status": "up", "created_at": timestamp_unix_milli(), "app": "my-app"}`,
	}, &sub))
	require.Len(t, sub.Targets, 1)

	received := func() map[string][]byte {
		h.mu.Lock()
		defer h.mu.Unlock()
		out := map[string][]byte{}
		for id, b := range h.bodies {
			out[id] = b
		}
		return out
	}
	// The first event is due at once; between it and the webhook are two
	// SQS batching windows of 1s (template.yaml, mirrored by the embedded
	// queues), so delivery latency is 0-2s. Hence: the first event within
	// 3s of creating the generator, then at least 3 events within 4s.
	require.Eventually(t, func() bool { return len(received()) >= 1 }, 3*time.Second, 10*time.Millisecond,
		"the first event within 3s of creating the generator")
	first := time.Now()
	t.Logf("first event after %s", first.Sub(created).Round(time.Millisecond))
	require.Eventually(t, func() bool { return len(received()) >= 3 }, 4*time.Second, 10*time.Millisecond,
		"at least 3 events within 4s")
	t.Logf("%d events %s after the first, %s after creating the generator", len(received()),
		time.Since(first).Round(time.Millisecond), time.Since(created).Round(time.Millisecond))

	u, err := url.Parse(srv.Var("HEROKUEVENTS_API_URL"))
	require.NoError(t, err)
	tenant := u.Path[strings.LastIndex(u.Path, "/")+1:]
	times := map[time.Time]bool{}
	for id, body := range received() {
		var ce event.Event
		require.NoError(t, json.Unmarshal(body, &ce))
		assert.Equal(t, id, ce.ID)
		assert.Equal(t, event.TypeGenerate, ce.Type)
		assert.Equal(t, "/tenants/"+tenant+"/subscriptions/heartbeat", ce.Source)
		var data struct {
			Status    string `json:"status"`
			App       string `json:"app"`
			CreatedAt int64  `json:"created_at"`
		}
		require.NoError(t, json.Unmarshal(ce.Data, &data))
		assert.Equal(t, "up", data.Status)
		assert.Equal(t, "my-app", data.App)
		assert.InDelta(t, created.UnixMilli(), data.CreatedAt, 10_000)
		assert.False(t, times[ce.Time], "each event has its own slot")
		times[ce.Time] = true
		assert.Equal(t, 1, h.attemptsOf(id), "delivered once")
	}

	// The generator is an ordinary subscription: listed, and destroyed with its stream.
	var subs []struct {
		Name     string `json:"name"`
		Platform string `json:"platform"`
		State    struct {
			Status string `json:"status"`
		} `json:"state"`
	}
	require.Equal(t, http.StatusOK, call(t, srv, "GET", "/subscriptions", nil, &subs))
	require.Len(t, subs, 1)
	assert.Equal(t, "generate", subs[0].Platform)
	assert.Equal(t, "active", subs[0].State.Status)
	require.Equal(t, http.StatusOK, call(t, srv, "DELETE", "/subscriptions/heartbeat", nil, nil))
}

func TestGeneratorRejectsHostAccess(t *testing.T) {
	srv := start(t, 5*time.Second)
	for _, m := range []string{`root = env("AWS_SECRET_ACCESS_KEY")`, `root = file("/etc/passwd")`} {
		var e struct{ ID, Message string }
		require.Equal(t, http.StatusUnprocessableEntity, call(t, srv, "POST", "/platforms/generate/subscriptions",
			map[string]any{"name": "leak", "interval": "1s", "mapping": m}, &e), m)
		assert.Equal(t, "invalid_params", e.ID)
		assert.Contains(t, e.Message, "unrecognised function")
		assert.Contains(t, e.Message, "line 1 char")
	}
	var subs []any
	require.Equal(t, http.StatusOK, call(t, srv, "GET", "/subscriptions", nil, &subs))
	assert.Empty(t, subs)
}
