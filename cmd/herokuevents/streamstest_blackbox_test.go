package main_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestBlackBoxStreamsTest is the acceptance test of the filter dry-run:
// 20 events published to a subscription whose stream's filter drops half;
// `streams:test` prints the right decision for each of the 20 stored
// events, tries another filter on them, and delivers nothing.
func TestBlackBoxStreamsTest(t *testing.T) {
	hook := newWebhook(t)
	srv := serve(t, t.TempDir())
	srv.mustCLI(t, "subscriptions:webhook:create", "inbound", "-a", "my-app")
	srv.mustCLI(t, "publications:webhook:create", "systemStatus", "-u", hook.URL+"/hook", "-a", "my-app")
	const dropOdd = `root = if this.n % 2 == 1 { deleted() } else { this }`
	srv.mustCLI(t, "streams:create", "inbound", "systemStatus", "-f", dropOdd, "-a", "my-app")

	ids := make([]string, 20) // ids[n-1] is the event with "n": n
	var kept []string
	for n := 1; n <= 20; n++ {
		status, id := srv.publish(t, "inbound", fmt.Sprintf(`{"n":%d,"Context__c":{"string":"order %d"}}`, n, n))
		require.Equal(t, http.StatusAccepted, status)
		ids[n-1] = id
		if n%2 == 0 {
			kept = append(kept, id)
		}
	}
	hook.waitFor(t, kept...)

	// The filter keeps events asynchronously: wait until all 20 are there.
	var res struct {
		Total, Kept, Dropped int
	}
	require.Eventually(t, func() bool {
		out, _ := srv.mustCLI(t, "streams:test", "inbound", "systemStatus", "--json", "-a", "my-app")
		require.NoError(t, json.Unmarshal([]byte(out), &res))
		return res.Total == 20
	}, 10*time.Second, 50*time.Millisecond, "the 20 events are kept for streams:test")
	assert.Equal(t, 10, res.Kept)
	assert.Equal(t, 10, res.Dropped)

	out, errs := srv.mustCLI(t, "streams:test", "inbound", "systemStatus", "-a", "my-app")
	assert.Empty(t, errs)
	lines := strings.Split(strings.TrimRight(out, "\n"), "\n")
	require.Len(t, lines, 2+20+2, "header, rule, 20 events, blank, summary:\n%s", out)
	assert.Regexp(t, `^ Event +Time +Result +Output / error$`, lines[0])
	for n := 1; n <= 20; n++ {
		want := "KEPT"
		if n%2 == 1 {
			want = "DROPPED"
		}
		line := lines[1+n]
		assert.Regexp(t, regexp.MustCompile(`^ `+regexp.QuoteMeta(ids[n-1])+` +\S+ +`+want+`$`), line, "event n=%d", n)
	}
	assert.Equal(t, "10 kept, 10 dropped of 20 events", lines[len(lines)-1])

	// Another filter, on the 5 latest: n > 17 passes, n = 17 is transformed.
	out, _ = srv.mustCLI(t, "streams:test", "inbound", "-n", "5", "-a", "my-app", "-f",
		`root = if this.n == 17 { this.merge({"vip": true}) } else if this.n > 17 { this } else { deleted() }`)
	lines = strings.Split(strings.TrimRight(out, "\n"), "\n")
	require.Len(t, lines, 2+5+2, out)
	assert.Regexp(t, `^ `+regexp.QuoteMeta(ids[15])+` +\S+ +DROPPED$`, lines[2])
	assert.Regexp(t, `^ `+regexp.QuoteMeta(ids[16])+` +\S+ +TRANSFORMED +\{.*"vip":true.*\}$`, lines[3])
	assert.Regexp(t, `^ `+regexp.QuoteMeta(ids[19])+` +\S+ +KEPT$`, lines[6])
	assert.Equal(t, "3 kept, 1 transformed, 1 dropped of 5 events", lines[len(lines)-1])

	// A mapping error is shown per event.
	out, _ = srv.mustCLI(t, "streams:test", "inbound", "-n", "2", "-a", "my-app", "-f", `root = this.n.uppercase()`)
	assert.Contains(t, out, "ERROR")
	assert.Contains(t, out, "0 kept, 0 dropped, 2 errors of 2 events")

	// No side effect: nothing more was delivered, the stream's filter is unchanged.
	time.Sleep(300 * time.Millisecond) // a delivery the dry-run had enqueued would arrive by now
	hook.mu.Lock()
	count := hook.count
	hook.mu.Unlock()
	assert.Equal(t, 10, count, "the dry-run delivered nothing")
	out, _ = srv.mustCLI(t, "streams", "-a", "my-app", "--json")
	assert.Contains(t, out, `"filter": "root = if this.n % 2 == 1 { deleted() } else { this }"`)

	_, errs, code := srv.cli(t, "streams:test", "inbound", "-a", "my-app")
	assert.Equal(t, 1, code)
	assert.Contains(t, errs, "give TARGET")
}
