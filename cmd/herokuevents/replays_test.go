package main

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"regexp"
	"sync"
	"sync/atomic"
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

// TestDeadLettersRedriveWindow: deadletters:redrive --publication --from
// --to sends again only the dead letters of that publication in that
// window, each with its full payload and id; the others stay.
func TestDeadLettersRedriveWindow(t *testing.T) {
	srv, cli := startEmbedded(t)
	var fixed atomic.Bool
	var mu sync.Mutex
	got := map[string]string{} // event id → body delivered after the fix
	hook := httptest.NewServer(webhooktest.Consent(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !fixed.Load() {
			w.WriteHeader(http.StatusBadRequest) // permanent: dead-lettered at once
			return
		}
		b, _ := io.ReadAll(r.Body)
		var ce struct{ ID string }
		_ = json.Unmarshal(b, &ce)
		mu.Lock()
		got[ce.ID] = string(b)
		mu.Unlock()
	})))
	t.Cleanup(hook.Close)
	must(t, cli("publications:webhook:create", "first", "-u", hook.URL+"/a"))
	must(t, cli("publications:webhook:create", "second", "-u", hook.URL+"/b"))
	publishURL := srv.Var("HEROKUEVENTS_PUBLISH_URL")
	var firsts []string
	for i := range 3 {
		firsts = append(firsts, publishTo(t, publishURL, "first", fmt.Sprintf(`{"n":%d}`, i)))
	}
	other := publishTo(t, publishURL, "second", `{"n":9}`)
	var list []deadLetter
	require.Eventually(t, func() bool {
		require.NoError(t, json.Unmarshal([]byte(must(t, cli("deadletters", "--json")).stdout), &list))
		return len(list) == 4
	}, 10*time.Second, 50*time.Millisecond)

	fixed.Store(true)
	for _, bad := range [][]string{{"deadletters:redrive", "1", "--publication", "first"}, {"deadletters:redrive", "--from", "yesterday"}} {
		require.Error(t, cli(bad...).err, "%v", bad)
	}
	assert.Equal(t, "0 dead letters were redriven.\n", must(t, cli("deadletters:redrive", "--publication", "first", "--to", "-1h")).stdout)
	r := must(t, cli("deadletters:redrive", "--publication", "first", "--from", "-1h", "--to", "now"))
	assert.Equal(t, "3 dead letters were redriven.\n", r.stdout)
	require.Eventually(t, func() bool { mu.Lock(); defer mu.Unlock(); return len(got) == 3 }, 10*time.Second, 20*time.Millisecond)
	mu.Lock()
	for i, id := range firsts {
		assert.Contains(t, got[id], fmt.Sprintf(`"n":%d`, i), "the full payload, under its id")
	}
	mu.Unlock()
	require.NoError(t, json.Unmarshal([]byte(must(t, cli("deadletters", "--json")).stdout), &list))
	require.Len(t, list, 1)
	assert.Equal(t, other, list[0].EventID, "the other publication's dead letter stays")
}
