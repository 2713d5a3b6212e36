package main

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"regexp"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/herokuevents/herokuevents/shared/platform/webhook/webhooktest"
)

// TestReplaysCLI: a slow replay is listed while it runs, cancelled, shown
// cancelled; bad input is refused and starts nothing.
func TestReplaysCLI(t *testing.T) {
	srv, cli := startEmbedded(t)
	hook := httptest.NewServer(webhooktest.Consent(http.HandlerFunc(func(http.ResponseWriter, *http.Request) {})))
	t.Cleanup(hook.Close)
	must(t, cli("subscriptions:webhook:create", "orders", "--retention", "72h"))
	must(t, cli("publications:webhook:create", "audit", "-u", hook.URL+"/in"))
	var sub struct {
		Retention string `json:"retention"`
	}
	require.NoError(t, json.Unmarshal([]byte(must(t, cli("subscriptions:info", "orders", "--json")).stdout), &sub))
	assert.Equal(t, "72h", sub.Retention)
	for range 5 {
		publishTo(t, srv.Var("HEROKUEVENTS_PUBLISH_URL"), "orders", `{"n":1}`)
	}
	time.Sleep(200 * time.Millisecond) // the archive's writer appends within 50 ms

	for _, bad := range [][]string{
		{"replay", "orders", "--from", "yesterday", "--to", "now"},
		{"replay", "orders", "--from", "-1h"},
		{"replay", "orders", "--from", "-1h", "--to", "now", "--rate", "fast"},
		{"replay", "orders", "--from", "now", "--to", "-1h"},
		{"replay", "nosuch", "--from", "-1h", "--to", "now"},
	} {
		r := cli(bad...)
		require.Error(t, r.err, "%v", bad)
		assert.Empty(t, r.stdout)
	}
	assert.Equal(t, "No replays for app my-app.\n", must(t, cli("replays")).stdout)

	r := must(t, cli("replay", "orders", "--from", "-1h", "--to", "now", "--publication", "audit", "--rate", "6/m"))
	id := regexp.MustCompile(`rp_[0-9a-f]+`).FindString(r.stdout)
	require.NotEmpty(t, id, r.stdout)
	assert.Contains(t, r.stdout, "of orders to audit")
	assert.Contains(t, r.stdout, "at 0.1/s")

	require.Eventually(t, func() bool {
		out := must(t, cli("replays")).stdout
		return regexp.MustCompile(id + `.*running +1/5 +0.1/s`).MatchString(out)
	}, 10*time.Second, 50*time.Millisecond, "listed while it runs, 1 of 5 sent")

	r = must(t, cli("replays:cancel", id))
	assert.Equal(t, "Replay "+id+" cancelled after 1/5 events.\n", r.stdout)
	info := must(t, cli("replays:info", id)).stdout
	assert.Regexp(t, `State: +cancelled`, info)
	assert.Regexp(t, `To: +audit`, info)
	assert.Regexp(t, `Sent: +1/5`, info)

	again := cli("replays:cancel", id)
	require.Error(t, again.err)
	assert.Contains(t, again.err.Error(), "cancelled already")
	require.Error(t, cli("replays:info", "rp_nosuch").err)
}
