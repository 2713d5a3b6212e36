package main_test

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// memoryLimit is the hard memory limit of the server process in the
// bounded test: RLIMIT_DATA, which caps the Go heap (and everything else
// private and writable) of the process.
const memoryLimit = 512 << 20

// serveLimited starts `herokuevents serve` with its data segment limited to
// memoryLimit (ulimit -d), GOMEMLIMIT below it, and returns its config
// vars and pid.
func serveLimited(t *testing.T) (vars map[string]string, pid int, logs *syncWriter) {
	t.Helper()
	bin, err := binary()
	require.NoError(t, err)
	cmd := exec.Command("sh", "-c", `ulimit -d `+strconv.Itoa(memoryLimit>>10)+` && exec "$0" "$@"`,
		bin, "serve", "--addr", "127.0.0.1:0", "--data-dir", t.TempDir(), "--app", "app-a", "--allow-egress", "127.0.0.1/32")
	cmd.Env = append(os.Environ(), "GOMEMLIMIT=400MiB")
	stdout, err := cmd.StdoutPipe()
	require.NoError(t, err)
	logs = &syncWriter{w: &bytes.Buffer{}}
	cmd.Stderr = logs
	require.NoError(t, cmd.Start())
	exited := make(chan struct{})
	go func() { _ = cmd.Wait(); close(exited) }()
	t.Cleanup(func() { _ = cmd.Process.Kill(); <-exited })
	t.Cleanup(func() {
		select {
		case <-exited:
			t.Errorf("the server exited: %s", text(logs))
		default:
		}
	})
	vars = map[string]string{}
	lines := make(chan string)
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			lines <- sc.Text()
		}
		close(lines)
	}()
	deadline := time.After(30 * time.Second)
	for vars["HEROKUEVENTS_API_URL"] == "" || vars["HEROKUEVENTS_PUBLISH_URL"] == "" || vars["HEROKUEVENTS_PLATFORM_URL"] == "" {
		select {
		case line, ok := <-lines:
			require.True(t, ok, "serve exited: %s", text(logs))
			if k, v, found := strings.Cut(line, "="); found {
				vars[k] = v
			}
		case <-deadline:
			t.Fatalf("serve printed no config vars in time: %s", text(logs))
		}
	}
	go func() {
		for range lines {
		}
	}()
	return vars, cmd.Process.Pid, logs
}

// tenantAPI calls a tenant's management API (the key is the password of
// HEROKUEVENTS_API_URL).
func tenantAPI(t *testing.T, apiURL, method, rel, body string) (int, string) {
	t.Helper()
	u, err := url.Parse(apiURL)
	require.NoError(t, err)
	key, _ := u.User.Password()
	u.User = nil
	req, err := http.NewRequestWithContext(t.Context(), method, u.String()+rel, strings.NewReader(body))
	require.NoError(t, err)
	req.Header.Set("Authorization", "Bearer "+key)
	req.Header.Set("Content-Type", "application/json")
	res, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	require.NoError(t, err)
	return res.StatusCode, string(b)
}

// publishTo posts body to name at a tenant's publish URL.
func publishTo(t *testing.T, publishURL, name, body string) (int, string) {
	t.Helper()
	u, err := url.Parse(publishURL)
	require.NoError(t, err)
	user, pass := u.User.Username(), ""
	pass, _ = u.User.Password()
	u.User = nil
	req, err := http.NewRequestWithContext(t.Context(), http.MethodPost, strings.TrimSuffix(u.String(), "/")+"/"+name, strings.NewReader(body))
	require.NoError(t, err)
	req.SetBasicAuth(user, pass)
	req.Header.Set("Content-Type", "application/json")
	res, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	var acc struct {
		ID string `json:"id"`
	}
	_ = json.Unmarshal(b, &acc)
	return res.StatusCode, acc.ID
}

// peakRSS is the high-water mark of the resident memory of process pid.
func peakRSS(t *testing.T, pid int) int64 {
	t.Helper()
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/status")
	require.NoError(t, err)
	for line := range strings.SplitSeq(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "VmHWM:"); ok {
			kb, err := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), 10, 64)
			require.NoError(t, err)
			return kb << 10
		}
	}
	t.Fatal("no VmHWM")
	return 0
}

// bombFilter runs, for an event's "bomb" field, a mapping that unbounded
// would stall or exhaust the process; other events pass unchanged. On the
// empty object of the create check it does nothing.
var bombFilter = "map r {\n  root = this.apply(\"r\")\n}\n" +
	"let big = if this.bomb == \"string\" { \"x\".repeat(1000000) } else { \"\" }\n" +
	strings.Repeat("let big = $big + $big\n", 40) +
	`root = if this.bomb == "range" { range(0, this.n) } ` +
	`else if this.bomb == "nested" { range(0, 100000).map_each(i -> range(0, 100000).map_each(j -> j)) } ` +
	`else if this.bomb == "recursion" { this.apply("r") } ` +
	`else if this.bomb == "string" { {"n": $big.length()} } ` +
	`else if this.bomb == "output" { {"o": "x".repeat(2000000)} } ` +
	`else { this }`

// TestBombsCannotHurtTheServerOrTheOtherTenant runs `herokuevents serve`
// under a 512 MiB memory limit with two tenants. Tenant A's mappings are
// bombs: refused at create when they can only explode, and exploding at
// run time as a filter and as a generator. The server stays up and within
// its limit, each of A's offending events is dead-lettered with the limit
// named, and every event tenant B published meanwhile is delivered. Near
// the 1 MiB queue limit, B's publishes are refused (413) or delivered.
func TestBombsCannotHurtTheServerOrTheOtherTenant(t *testing.T) {
	vars, pid, logs := serveLimited(t)
	t.Cleanup(func() {
		if t.Failed() {
			_ = os.WriteFile(os.TempDir()+"/bounded-server.log", []byte(text(logs)), 0o600)
		}
	})
	apiA, pubA := vars["HEROKUEVENTS_API_URL"], vars["HEROKUEVENTS_PUBLISH_URL"]

	// Tenant B, provisioned as Heroku does.
	u, err := url.Parse(vars["HEROKUEVENTS_PLATFORM_URL"])
	require.NoError(t, err)
	op, _ := u.User.Password()
	opUser := u.User.Username()
	u.User = nil
	req, err := http.NewRequestWithContext(t.Context(), http.MethodPost, u.String()+"/heroku/resources", strings.NewReader(`{"app":"app-b"}`))
	require.NoError(t, err)
	req.SetBasicAuth(opUser, op)
	req.Header.Set("Content-Type", "application/json")
	res, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	var prov struct {
		Config map[string]string `json:"config"`
	}
	require.NoError(t, json.NewDecoder(res.Body).Decode(&prov))
	res.Body.Close()
	require.Equal(t, http.StatusOK, res.StatusCode)
	apiB, pubB := prov.Config["HEROKUEVENTS_API_URL"], prov.Config["HEROKUEVENTS_PUBLISH_URL"]

	hookA, hookB := newWebhook(t), newWebhook(t)
	for _, c := range []struct{ api, hook string }{{apiA, hookA.URL}, {apiB, hookB.URL}} {
		status, body := tenantAPI(t, c.api, "POST", "/platforms/webhook/subscriptions", `{"name":"inbound"}`)
		require.Equal(t, http.StatusCreated, status, body)
		status, body = tenantAPI(t, c.api, "POST", "/platforms/webhook/publications", `{"name":"hook","url":"`+c.hook+`/hook"}`)
		require.Equal(t, http.StatusCreated, status, body)
	}
	status, body := tenantAPI(t, apiB, "POST", "/streams", `{"source":"inbound","target":"hook"}`)
	require.Equal(t, http.StatusCreated, status, body)

	// At create: mappings that can only explode are refused at once, with
	// the limit named.
	for _, c := range []struct{ name, path, body, limit string }{
		{"filter nested map_each", "/streams", `{"source":"inbound","target":"hook","filter":"root = range(0, 100000).map_each(i -> range(0, 100000).map_each(j -> j))"}`, "time limit of 100ms per event exceeded"},
		{"generator range(0, 100000000)", "/platforms/generate/subscriptions", `{"name":"g1","interval":"1m","mapping":"root = range(0, 100000000)"}`, "range of 100000000 elements exceeds the limit of 1048576 elements"},
		{"generator range(0,10000000).map_each", "/platforms/generate/subscriptions", `{"name":"g2","interval":"1m","mapping":"root = range(0,10000000).map_each(i -> i * 2)"}`, "range of 10000000 elements exceeds"},
		{"generator doubling", "/platforms/generate/subscriptions", `{"name":"g3","interval":"1m","mapping":` + strconv.Quote("let a = \"xxxxxxxxxxxxxxxx\"\n"+strings.Repeat("let a = $a + $a\n", 40)+"root = {\"n\": $a.length()}") + `}`, "limit"},
	} {
		start := time.Now()
		status, body := tenantAPI(t, apiA, "POST", c.path, c.body)
		took := time.Since(start)
		t.Logf("create with %s: %d in %s", c.name, status, took.Round(time.Millisecond))
		assert.Equal(t, http.StatusUnprocessableEntity, status, "%s: %s", c.name, body)
		assert.Contains(t, body, c.limit, c.name)
		assert.Less(t, took, 5*time.Second, c.name)
	}

	// At run time: a filter that explodes on some events, and a generator
	// that starts exploding a few seconds after its create check.
	status, body = tenantAPI(t, apiA, "POST", "/streams", `{"source":"inbound","target":"hook","filter":`+strconv.Quote(bombFilter)+`}`)
	require.Equal(t, http.StatusCreated, status, body)
	from := time.Now().Add(3 * time.Second).Unix()
	gen := fmt.Sprintf(`root = if timestamp_unix() >= %d { range(0, 100000).map_each(i -> range(0, 100000).map_each(j -> j)) } else { {"ok": true} }`, from)
	status, body = tenantAPI(t, apiA, "POST", "/platforms/generate/subscriptions", `{"name":"ticker","interval":"1s","mapping":`+strconv.Quote(gen)+`}`)
	require.Equal(t, http.StatusCreated, status, body)

	bombs := map[string]string{ // event id → the limit its dead letter names
	}
	var bIDs []string
	for i, b := range []struct{ body, limit string }{
		{`{"bomb":"range","n":100000000}`, "range of 100000000 elements exceeds the limit of 1048576 elements"},
		{`{"bomb":"nested"}`, "time limit of 100ms per event exceeded"},
		{`{"bomb":"recursion"}`, "limit"}, // the recursion limit, or time first
		{`{"bomb":"string"}`, "limit"},
		{`{"bomb":"output"}`, "exceeds the limit of 1048576 bytes"},
	} {
		status, id := publishTo(t, pubA, "inbound", b.body)
		require.Equal(t, http.StatusAccepted, status)
		bombs[id] = b.limit
		for j := range 4 {
			status, id := publishTo(t, pubB, "inbound", fmt.Sprintf(`{"n":%d}`, i*4+j))
			require.Equal(t, http.StatusAccepted, status)
			bIDs = append(bIDs, id)
		}
	}
	status, okA := publishTo(t, pubA, "inbound", `{"fine":true}`)
	require.Equal(t, http.StatusAccepted, status)

	// Near the queue limit, straight to B's publication: refused or delivered.
	status, _ = publishTo(t, pubB, "hook", `{"p":"`+strings.Repeat("a", 1<<20-50-len(`{"p":""}`))+`"}`)
	assert.Equal(t, http.StatusRequestEntityTooLarge, status, "1 MiB - 50 bytes")
	status, big := publishTo(t, pubB, "hook", `{"p":"`+strings.Repeat("a", 1<<20-4000-len(`{"p":""}`))+`"}`)
	require.Equal(t, http.StatusAccepted, status, "1 MiB - 4000 bytes")
	bIDs = append(bIDs, big)

	hookB.waitFor(t, bIDs...)
	hookA.waitFor(t, okA)
	for id := range bombs {
		_, got := hookA.has(id)
		assert.False(t, got, "bomb %s was not delivered", id)
	}

	type deadLetter struct {
		EventID string `json:"event_id"`
		Target  string `json:"target"`
		Reason  string `json:"reason"`
	}
	var generated []deadLetter
	reasons := map[string]string{}
	last := ""
	defer func() {
		if t.Failed() {
			t.Logf("A's dead letters: %s", last)
		}
	}()
	require.Eventually(t, func() bool {
		status, body := tenantAPI(t, apiA, "GET", "/dead-letters", "")
		if status != http.StatusOK {
			return false
		}
		last = body
		var dead []deadLetter
		if json.Unmarshal([]byte(body), &dead) != nil {
			return false
		}
		generated = nil
		for _, d := range dead {
			if _, ok := bombs[d.EventID]; ok {
				reasons[d.EventID] = d.Reason
			}
			if strings.HasPrefix(d.Reason, "generator ticker: ") {
				generated = append(generated, d)
			}
		}
		return len(reasons) == len(bombs) && len(generated) > 0
	}, 30*time.Second, 200*time.Millisecond, "every bomb dead-lettered, and the generator's")
	for id, limit := range bombs {
		assert.Contains(t, reasons[id], limit, "dead letter of %s", id)
	}
	assert.Contains(t, generated[0].Reason, "time limit of 100ms per event exceeded")
	assert.Equal(t, "ticker", generated[0].Target)

	status, body = tenantAPI(t, apiB, "GET", "/dead-letters", "")
	require.Equal(t, http.StatusOK, status)
	assert.JSONEq(t, `[]`, body, "tenant B has no dead letters")
	assert.Contains(t, text(logs), "mapping worker stopped", "a log line per stopped mapping")
	assert.Contains(t, text(logs), "time limit of 100ms per event exceeded")

	peak := peakRSS(t, pid)
	t.Logf("server peak RSS: %d MiB (limit %d MiB)", peak>>20, memoryLimit>>20)
	assert.Less(t, peak, int64(memoryLimit))
}

// text is what was written to s so far.
func text(s *syncWriter) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.w.(*bytes.Buffer).String()
}
