package main

import (
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/herokuevents/herokuevents/infra/embedded"
	"github.com/herokuevents/herokuevents/shared/platform/webhook/webhooktest"
)

const deadLettersJSON = `[
	{"id":"12","queue":"delivery","event_id":"9f1c","target":"hook","reason":"deliver to publication hook: 400 Bad Request\n  bad field","attempt":1,"dead_lettered_at":"2026-01-02T03:04:05Z"},
	{"id":"7","queue":"ingest","event_id":"ab","target":"orders","reason":"filter failed","attempt":0}]`

func TestDeadLettersList(t *testing.T) {
	tests := []struct {
		name   string
		args   []string
		body   string
		stdout string
	}{
		{name: "empty", args: []string{"deadletters"}, body: `[]`, stdout: "No dead letters for app my-app.\n"},
		{name: "table", args: []string{"events:deadletters"}, body: deadLettersJSON, stdout: "" +
			"=== Dead letters for app my-app\n\n" +
			" Id Queue    Event Target Reason\n" +
			" " + rule(2, 8, 5, 6, 54) + "\n" +
			" 12 delivery 9f1c  hook   deliver to publication hook: 400 Bad Request bad field\n" +
			" 7  ingest   ab    orders filter failed\n"},
		{name: "json", args: []string{"deadletters", "--json"}, body: `[{"id":"7","queue":"ingest"}]`,
			stdout: "[\n  {\n    \"id\": \"7\",\n    \"queue\": \"ingest\"\n  }\n]\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			api := newFakeAPI(t, map[string]reply{"GET /v1/tenants/t-123/dead-letters": {200, tt.body}})
			r := run(t, nil, append(tt.args, "-a", testApp, "--api-url", api.url())...)
			require.NoError(t, r.err)
			assert.Equal(t, tt.stdout, r.stdout)
			assert.Empty(t, r.stderr)
			reqs := api.requests()
			require.Len(t, reqs, 1)
			assert.Equal(t, http.MethodGet, reqs[0].Method)
		})
	}
}

func TestDeadLettersRedrive(t *testing.T) {
	tests := []struct {
		name     string
		args     []string
		routes   map[string]reply
		wantBody string // of the POST; "" when none is sent
		stdout   string
		stderr   string
		err      string
	}{
		{name: "by id", args: []string{"12", "7", "12"},
			routes:   map[string]reply{"POST /v1/tenants/t-123/dead-letters/redrive": {200, `{"redriven":2}`}},
			wantBody: `{"ids":["12","7"]}`, stderr: "Redriving 2 dead letters... done\n"},
		{name: "one", args: []string{"12"},
			routes:   map[string]reply{"POST /v1/tenants/t-123/dead-letters/redrive": {200, `{"redriven":1}`}},
			wantBody: `{"ids":["12"]}`, stderr: "Redriving 1 dead letter... done\n"},
		{name: "all", routes: map[string]reply{
			"GET /v1/tenants/t-123/dead-letters":          {200, deadLettersJSON},
			"POST /v1/tenants/t-123/dead-letters/redrive": {200, `{"redriven":2}`}},
			wantBody: `{"ids":[]}`, stderr: "Redriving 2 dead letters... done\n"},
		{name: "all, more meanwhile", routes: map[string]reply{
			"GET /v1/tenants/t-123/dead-letters":          {200, deadLettersJSON},
			"POST /v1/tenants/t-123/dead-letters/redrive": {200, `{"redriven":3}`}},
			wantBody: `{"ids":[]}`, stderr: "Redriving 2 dead letters... done\n3 dead letters were redriven.\n"},
		{name: "none", routes: map[string]reply{"GET /v1/tenants/t-123/dead-letters": {200, `[]`}},
			stdout: "No dead letters for app my-app.\n"},
		{name: "unknown id", args: []string{"99"},
			routes:   map[string]reply{"POST /v1/tenants/t-123/dead-letters/redrive": {404, `{"id":"not_found","message":"No dead letter 99 for app my-app."}`}},
			wantBody: `{"ids":["99"]}`, stderr: "Redriving 1 dead letter... !\n", err: "No dead letter 99 for app my-app."},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			api := newFakeAPI(t, tt.routes)
			r := run(t, nil, append([]string{"deadletters:redrive", "-a", testApp, "--api-url", api.url()}, tt.args...)...)
			if tt.err != "" {
				require.Error(t, r.err)
				assert.Equal(t, tt.err, r.err.Error())
			} else {
				require.NoError(t, r.err)
			}
			assert.Equal(t, tt.stdout, r.stdout)
			assert.Equal(t, tt.stderr, r.stderr)
			var posted []request
			for _, req := range api.requests() {
				if req.Method == http.MethodPost {
					posted = append(posted, req)
				}
			}
			if tt.wantBody == "" {
				assert.Empty(t, posted)
				return
			}
			require.Len(t, posted, 1)
			assert.JSONEq(t, tt.wantBody, posted[0].Body)
		})
	}
}

// TestDeadLettersEndToEnd: a webhook answering 400 dead-letters an event;
// deadletters shows it with the reason; once the webhook is fixed,
// deadletters:redrive delivers it.
func TestDeadLettersEndToEnd(t *testing.T) {
	var fixed atomic.Bool
	var mu sync.Mutex
	received := map[string][]int{} // event id → statuses answered
	hook := httptest.NewServer(webhooktest.Consent(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		var ce struct{ ID string }
		_ = json.Unmarshal(b, &ce)
		status := http.StatusBadRequest
		if fixed.Load() {
			status = http.StatusNoContent
		}
		mu.Lock()
		received[ce.ID] = append(received[ce.ID], status)
		mu.Unlock()
		if status == http.StatusBadRequest {
			http.Error(w, "missing field amount", status)
			return
		}
		w.WriteHeader(status)
	})))
	t.Cleanup(hook.Close)
	statuses := func(id string) []int {
		mu.Lock()
		defer mu.Unlock()
		return append([]int(nil), received[id]...)
	}

	srv, err := embedded.Start(t.Context(), embedded.Options{
		Addr: "127.0.0.1:0", DataDir: t.TempDir(), App: testApp,
		AllowEgress: []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")},
		Logger:      slog.New(slog.DiscardHandler),
	})
	require.NoError(t, err)
	t.Cleanup(func() { _ = srv.Close() })
	apiURL := srv.Var("HEROKUEVENTS_API_URL")
	cli := func(args ...string) result {
		t.Helper()
		return run(t, nil, append(args, "-a", testApp, "--api-url", apiURL)...)
	}

	r := cli("deadletters")
	require.NoError(t, r.err)
	assert.Equal(t, "No dead letters for app my-app.\n", r.stdout)
	require.NoError(t, cli("publications:webhook:create", "hook", "-u", hook.URL+"/events").err)

	id := publishTo(t, srv.Var("HEROKUEVENTS_PUBLISH_URL"), "hook", `{"order":1}`)
	var list []deadLetter
	require.Eventually(t, func() bool {
		r := cli("deadletters", "--json")
		require.NoError(t, r.err)
		require.NoError(t, json.Unmarshal([]byte(r.stdout), &list))
		return len(list) == 1
	}, 10*time.Second, 50*time.Millisecond, "the event is dead-lettered")
	assert.Equal(t, []int{http.StatusBadRequest}, statuses(id), "a 400 is not retried")
	d := list[0]
	assert.Equal(t, id, d.EventID)
	assert.Equal(t, "delivery", d.Queue)
	assert.Equal(t, "hook", d.Target)
	assert.Contains(t, d.Reason, "400")

	r = cli("deadletters")
	require.NoError(t, r.err)
	lines := strings.Split(r.stdout, "\n")
	require.Len(t, lines, 6, r.stdout)
	assert.Equal(t, "=== Dead letters for app my-app", lines[0])
	assert.Equal(t, []string{d.ID, "delivery", id, "hook"}, strings.Fields(lines[4])[:4])
	assert.Contains(t, lines[4], d.Reason)

	fixed.Store(true)
	r = cli("deadletters:redrive")
	require.NoError(t, r.err)
	assert.Equal(t, "Redriving 1 dead letter... done\n", r.stderr)
	require.Eventually(t, func() bool { return len(statuses(id)) == 2 }, 10*time.Second, 20*time.Millisecond, "redelivered")
	assert.Equal(t, []int{http.StatusBadRequest, http.StatusNoContent}, statuses(id))

	r = cli("deadletters")
	require.NoError(t, r.err)
	assert.Equal(t, "No dead letters for app my-app.\n", r.stdout)
	r = cli("deadletters:redrive", d.ID)
	require.Error(t, r.err, "already redriven")
	assert.Equal(t, "No dead letter "+d.ID+" for app my-app.", r.err.Error())
}

// publishTo POSTs body to the publish URL's name with its Basic credentials
// and returns the accepted event id.
func publishTo(t *testing.T, publishURL, name, body string) string {
	t.Helper()
	u, err := url.Parse(publishURL)
	require.NoError(t, err)
	user := u.User.Username()
	pass, _ := u.User.Password()
	u.User = nil
	req, err := http.NewRequestWithContext(t.Context(), http.MethodPost, u.String()+"/"+name, strings.NewReader(body))
	require.NoError(t, err)
	req.SetBasicAuth(user, pass)
	req.Header.Set("Content-Type", "application/json")
	res, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer res.Body.Close()
	require.Equal(t, http.StatusAccepted, res.StatusCode)
	var acc struct{ ID string }
	require.NoError(t, json.NewDecoder(res.Body).Decode(&acc))
	require.NotEmpty(t, acc.ID)
	return acc.ID
}
