package main

import (
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/herokuevents/herokuevents/infra/embedded"
	"github.com/herokuevents/herokuevents/shared/deliver"
	"github.com/herokuevents/herokuevents/shared/platform/webhook/webhooktest"
)

const deliveriesJSON = `[
	{"time":"2026-01-02T03:04:07.5Z","event_id":"e1","attempt":3,"outcome":"delivered","status":200,"latency_ms":4.25},
	{"time":"2026-01-02T03:04:06Z","event_id":"e1","attempt":2,"outcome":"retry","status":500,"latency_ms":1500,"error":"HTTP 500","next_attempt_at":"2026-01-02T03:04:07.5Z"},
	{"time":"2026-01-02T03:04:05Z","event_id":"e1","attempt":1,"outcome":"dead_lettered","latency_ms":12,"error":"no response"}]`

func TestDeliveries(t *testing.T) {
	const path = "GET /v1/tenants/t-123/publications/hook/deliveries"
	tests := []struct {
		name   string
		args   []string
		body   string
		stdout string
		err    string
	}{
		{name: "table", args: []string{"deliveries", "hook"}, body: deliveriesJSON, stdout: "" +
			"=== Latest deliveries to hook for app my-app\n\n" +
			" Time                     Event Attempt Status        Latency Next Attempt\n" +
			" " + rule(24, 5, 7, 13, 7, 24) + "\n" +
			" 2026-01-02T03:04:07.500Z e1    3       200 delivered 4.2 ms\n" +
			" 2026-01-02T03:04:06.000Z e1    2       500 retry     1.5 s   2026-01-02T03:04:07.500Z\n" +
			" 2026-01-02T03:04:05.000Z e1    1       dead letter   12 ms\n"},
		{name: "events: prefix", args: []string{"events:deliveries", "hook", "--status", "failed"}, body: `[]`,
			stdout: "No failed deliveries to hook for app my-app.\n"},
		{name: "json", args: []string{"deliveries", "hook", "--json"}, body: `[{"event_id":"e1"}]`,
			stdout: "[\n  {\n    \"event_id\": \"e1\"\n  }\n]\n"},
		{name: "bad status", args: []string{"deliveries", "hook", "--status", "lost"}, err: "--status must be one of failed, delivered, pending"},
		{name: "bad n", args: []string{"deliveries", "hook", "-n", "0"}, err: "-n must be from 1 to 1000"},
		{name: "unknown publication", args: []string{"deliveries", "nope"}, err: "no route GET /v1/tenants/t-123/publications/nope/deliveries"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			api := newFakeAPI(t, map[string]reply{path: {200, tt.body}})
			r := run(t, nil, append(tt.args, "-a", testApp, "--api-url", api.url())...)
			if tt.err != "" {
				require.Error(t, r.err)
				assert.Contains(t, r.err.Error(), tt.err)
				assert.Empty(t, r.stdout)
				return
			}
			require.NoError(t, r.err)
			assert.Equal(t, tt.stdout, r.stdout)
			assert.Empty(t, r.stderr)
		})
	}
}

const traceJSON = `{"event_id":"e1","steps":[
	{"time":"2026-01-02T03:04:05Z","stage":"accepted","subscription":"inbound","via":"publish"},
	{"time":"2026-01-02T03:04:05.1Z","stage":"routed","subscription":"inbound","publication":"hook"},
	{"time":"2026-01-02T03:04:05.1Z","stage":"filtered_out","subscription":"inbound","publication":"archive","reason":"the filter dropped it (deleted())"},
	{"time":"2026-01-02T03:04:05.2Z","stage":"attempt","publication":"hook","attempt":1,"outcome":"retry","status":500,"latency_ms":3,"error":"retry: HTTP 500\n  busy","next_attempt_at":"2026-01-02T03:04:06Z"},
	{"time":"2026-01-02T03:04:06Z","stage":"attempt","publication":"hook","attempt":2,"outcome":"delivered","status":204,"latency_ms":2}]}`

func TestTrace(t *testing.T) {
	api := newFakeAPI(t, map[string]reply{"GET /v1/tenants/t-123/events/e1/trace": {200, traceJSON}})
	r := run(t, nil, "events:trace", "e1", "-a", testApp, "--api-url", api.url())
	require.NoError(t, r.err)
	assert.Equal(t, ""+
		"=== Event e1 for app my-app\n\n"+
		" Time                     Step         Where                Detail\n"+
		" "+rule(24, 12, 20, 73)+"\n"+
		" 2026-01-02T03:04:05.000Z accepted     subscription inbound from the publish URL\n"+
		" 2026-01-02T03:04:05.100Z routed       inbound → hook\n"+
		" 2026-01-02T03:04:05.100Z filtered out inbound → archive    the filter dropped it (deleted())\n"+
		" 2026-01-02T03:04:05.200Z attempt 1    hook                 500 retry, 3.0 ms, next at 2026-01-02T03:04:06.000Z, retry: HTTP 500 busy\n"+
		" 2026-01-02T03:04:06.000Z attempt 2    hook                 204 delivered, 2.0 ms\n", r.stdout)

	r = run(t, nil, "trace", "e1", "--json", "-a", testApp, "--api-url", api.url())
	require.NoError(t, r.err)
	assert.JSONEq(t, traceJSON, r.stdout)

	api = newFakeAPI(t, map[string]reply{"GET /v1/tenants/t-123/events/e2/trace": {404, `{"id":"not_found","message":"No trace of event e2 for app my-app."}`}})
	r = run(t, nil, "trace", "e2", "-a", testApp, "--api-url", api.url())
	require.Error(t, r.err)
	assert.Equal(t, "No trace of event e2 for app my-app.", r.err.Error())
}

func TestDeliveriesRetry(t *testing.T) {
	api := newFakeAPI(t, map[string]reply{"POST /v1/tenants/t-123/events/e1/publications/hook/retry": {202, `{"event_id":"e1","publication":"hook"}`}})
	r := run(t, nil, "events:deliveries:retry", "e1", "hook", "-a", testApp, "--api-url", api.url())
	require.NoError(t, r.err)
	assert.Equal(t, "Retrying event e1 on publication hook... done\n", r.stderr)
	assert.Empty(t, r.stdout)
	reqs := api.requests()
	require.Len(t, reqs, 1)
	assert.Equal(t, http.MethodPost, reqs[0].Method)

	r = run(t, nil, "deliveries:retry", "e1", "-a", testApp, "--api-url", api.url())
	require.Error(t, r.err, "both arguments are required")
}

const healthJSON = `"health":{"state":"failing","last_error":"HTTP 503","last_error_at":"2026-01-02T03:04:05Z",
	"backlog":{"pending":2,"oldest_at":"2026-01-02T03:00:00Z","oldest_age_s":245},"next_retry_at":"2026-01-02T03:05:00Z",
	"last_hour":{"delivered":12,"failed":3,"p50_ms":8,"p99_ms":1200}}`

func TestInfoShowsHealth(t *testing.T) {
	api := newFakeAPI(t, map[string]reply{
		"GET /v1/tenants/t-123/publications/hook":     {200, `{"id":"p1","name":"hook","platform":"webhook","params":{"url":"https://example.com/h"},"sources":[],` + healthJSON + `}`},
		"GET /v1/tenants/t-123/subscriptions/inbound": {200, `{"id":"s1","name":"inbound","platform":"webhook","params":{},"targets":[],` + healthJSON + `}`},
		"GET /v1/tenants/t-123/publications": {200, `[{"id":"p1","name":"hook","platform":"webhook","params":{"url":"https://example.com/h"},` + healthJSON + `},
			{"id":"p2","name":"idle","platform":"webhook","params":{"url":"https://example.com/i"},"health":{"state":"paused","backlog":{"pending":0},"last_hour":{"delivered":0,"failed":0}}}]`},
	})
	for _, cmd := range []string{"publications:info", "subscriptions:info"} {
		t.Run(cmd, func(t *testing.T) {
			ref := "hook"
			if cmd == "subscriptions:info" {
				ref = "inbound"
			}
			r := run(t, nil, cmd, ref, "-a", testApp, "--api-url", api.url())
			require.NoError(t, r.err)
			for _, line := range []string{
				"State:      failing\n",
				"Last Error: HTTP 503, ",
				"(2026-01-02T03:04:05Z)\n",
				"Backlog:    2 deliveries waiting for a retry, the oldest first tried ",
				"Next Retry: 2026-01-02T03:05:00.000Z\n",
				"Last Hour:  12 delivered, 3 failed, latency p50 8.0 ms, p99 1.2 s\n",
			} {
				assert.Contains(t, r.stdout, line)
			}
			r = run(t, nil, "events:"+cmd, ref, "--json", "-a", testApp, "--api-url", api.url())
			require.NoError(t, r.err)
			var v map[string]any
			require.NoError(t, json.Unmarshal([]byte(r.stdout), &v), r.stdout)
			assert.Equal(t, "failing", v["health"].(map[string]any)["state"])
		})
	}
	t.Run("publications", func(t *testing.T) {
		r := run(t, nil, "publications", "-a", testApp, "--api-url", api.url())
		require.NoError(t, r.err)
		lines := strings.Split(r.stdout, "\n")
		require.Len(t, lines, 7, r.stdout)
		assert.Equal(t, []string{"Name", "Platform", "Details", "State", "Last", "Hour"}, strings.Fields(lines[2]))
		assert.Equal(t, " hook webhook  Url: https://example.com/h failing 12 delivered, 3 failed", lines[4])
		assert.Equal(t, " idle webhook  Url: https://example.com/i paused  0 delivered, 0 failed", lines[5])
	})
}

// TestInfoJSON: every *:info command answers the API's JSON with --json.
func TestInfoJSON(t *testing.T) {
	root := newRoot()
	for _, c := range root.Commands() {
		if strings.HasSuffix(strings.Fields(c.Use)[0], ":info") {
			assert.NotNil(t, c.Flags().Lookup("json"), "%s --json", c.Use)
		}
	}
	api := newFakeAPI(t, map[string]reply{"GET /v1/tenants/t-123/authorizations/my-org": {200, `{"alias":"my-org","status":"connected"}`}})
	r := run(t, nil, "authorizations:info", "my-org", "-j", "-a", testApp, "--api-url", api.url())
	require.NoError(t, r.err)
	assert.JSONEq(t, `{"alias":"my-org","status":"connected"}`, r.stdout)
}

// TestWhatHappenedToMyEventCLI is the acceptance test through the CLI
// against the embedded mode: a webhook answering 500, 500, 200;
// `deliveries` shows the three attempts with their statuses and the
// next-attempt times that were used, `trace` each stream's decision and
// the attempts, and `deliveries:retry` delivers it once more.
func TestWhatHappenedToMyEventCLI(t *testing.T) {
	var mu sync.Mutex
	got := map[string][]time.Time{} // event id → when each attempt arrived
	hook := httptest.NewServer(webhooktest.Consent(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		var ce struct{ ID string }
		_ = json.Unmarshal(b, &ce)
		mu.Lock()
		got[ce.ID] = append(got[ce.ID], time.Now())
		n := len(got[ce.ID])
		mu.Unlock()
		if n <= 2 {
			http.Error(w, fmt.Sprintf("busy %d", n), http.StatusInternalServerError)
		}
	})))
	t.Cleanup(hook.Close)
	arrivals := func(id string) []time.Time {
		mu.Lock()
		defer mu.Unlock()
		return append([]time.Time(nil), got[id]...)
	}
	srv, err := embedded.Start(t.Context(), embedded.Options{
		Addr: "127.0.0.1:0", DataDir: t.TempDir(), App: testApp,
		AllowEgress: []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")},
		Backoff:     deliver.Backoff{Base: 100 * time.Millisecond, Cap: 300 * time.Millisecond},
		Logger:      slog.New(slog.DiscardHandler),
	})
	require.NoError(t, err)
	t.Cleanup(func() { _ = srv.Close() })
	apiURL := srv.Var("HEROKUEVENTS_API_URL")
	cli := func(args ...string) result {
		t.Helper()
		return run(t, nil, append(args, "-a", testApp, "--api-url", apiURL)...)
	}
	require.NoError(t, cli("subscriptions:webhook:create", "inbound").err)
	require.NoError(t, cli("publications:webhook:create", "systemStatus", "-u", hook.URL+"/hook").err)
	require.NoError(t, cli("publications:webhook:create", "archive", "-u", hook.URL+"/archive").err)
	require.NoError(t, cli("streams:create", "inbound", "systemStatus").err)
	require.NoError(t, cli("streams:create", "inbound", "archive", "-f", `root = if this.keep == true { this } else { deleted() }`).err)

	id := publishTo(t, srv.Var("HEROKUEVENTS_PUBLISH_URL"), "inbound", `{"keep":false}`)
	var list []attempt
	require.Eventually(t, func() bool {
		require.NoError(t, srv.FlushJournal(t.Context()))
		r := cli("deliveries", "systemStatus", "--json")
		require.NoError(t, r.err)
		list = nil
		require.NoError(t, json.Unmarshal([]byte(r.stdout), &list))
		return len(list) == 3 && list[0].Outcome == "delivered"
	}, 10*time.Second, 50*time.Millisecond)
	at := arrivals(id)
	require.Len(t, at, 3)
	for i, want := range []struct {
		attempt int
		status  string
	}{{3, "200 delivered"}, {2, "500 retry"}, {1, "500 retry"}} {
		assert.Equal(t, want.attempt, list[i].Attempt)
		assert.Equal(t, want.status, statusOf(list[i].Status, list[i].Outcome))
	}
	for k := 1; k <= 2; k++ { // attempt k's next attempt is when attempt k+1 reached the webhook
		scheduled := list[3-k].NextAttemptAt
		assert.WithinDuration(t, scheduled, at[k], 500*time.Millisecond, "attempt %d", k+1)
	}

	r := cli("deliveries", "systemStatus")
	require.NoError(t, r.err)
	lines := strings.Split(strings.TrimSpace(r.stdout), "\n")
	require.Len(t, lines, 7, r.stdout)
	assert.Equal(t, "=== Latest deliveries to systemStatus for app my-app", lines[0])
	assert.Equal(t, []string{"Time", "Event", "Attempt", "Status", "Latency", "Next", "Attempt"}, strings.Fields(lines[2]))
	for i, want := range []string{"3 200 delivered", "2 500 retry", "1 500 retry"} {
		assert.Contains(t, lines[4+i], id+" ")
		f := strings.Fields(lines[4+i])
		assert.Equal(t, strings.Fields(want), f[2:5])
		if i > 0 {
			assert.Equal(t, stamp(list[i].NextAttemptAt), f[len(f)-1], "the next attempt's time")
		}
	}
	r = cli("deliveries", "systemStatus", "--status", "failed", "-n", "1")
	require.NoError(t, r.err)
	assert.Contains(t, r.stdout, "=== Latest failed deliveries to systemStatus")
	assert.Len(t, strings.Split(strings.TrimSpace(r.stdout), "\n"), 5)

	r = cli("trace", id)
	require.NoError(t, r.err)
	out := r.stdout
	assert.Contains(t, out, "accepted     subscription inbound   from the publish URL")
	assert.Regexp(t, `routed +inbound → systemStatus`, out)
	assert.Regexp(t, `filtered out +inbound → archive +the filter dropped it \(deleted\(\)\)`, out)
	assert.Regexp(t, `attempt 1 +systemStatus +500 retry, [0-9.]+ m?s, next at [0-9T:.Z-]+, retry: HTTP 500 Internal Server Error: busy 1`, out)
	assert.Regexp(t, `attempt 2 +systemStatus +500 retry`, out)
	assert.Regexp(t, `attempt 3 +systemStatus +200 delivered, [0-9.]+ m?s\n`, out)

	r = cli("publications:info", "systemStatus")
	require.NoError(t, r.err)
	assert.Contains(t, r.stdout, "State:      active\n")
	assert.Contains(t, r.stdout, "Last Hour:  1 delivered, 2 failed, ")
	r = cli("subscriptions:info", "inbound")
	require.NoError(t, r.err)
	assert.Contains(t, r.stdout, "Backlog:    none\n")

	r = cli("deliveries:retry", id, "systemStatus")
	require.NoError(t, r.err)
	assert.Equal(t, "Retrying event "+id+" on publication systemStatus... done\n", r.stderr)
	require.Eventually(t, func() bool { return len(arrivals(id)) == 4 }, 10*time.Second, 20*time.Millisecond)
}
