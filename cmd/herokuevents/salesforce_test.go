package main

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestSalesforceCreateCommands(t *testing.T) {
	const subPath = "POST /v1/tenants/t-123/platforms/salesforce/subscriptions"
	const pubPath = "POST /v1/tenants/t-123/platforms/salesforce/publications"
	tests := []struct {
		name   string
		args   []string
		route  string
		rep    reply
		body   string // JSON sent
		stderr string
		err    string
	}{
		{name: "subscription", route: subPath, rep: reply{201, `{"id":"s1"}`},
			args:   []string{"subscriptions:salesforce:create", "accountChange", "-t", "/data/AccountChangeEvent", "-A", "my-org"},
			body:   `{"name":"accountChange","event":"/data/AccountChangeEvent","org_name":"my-org"}`,
			stderr: "Creating subscription accountChange... done\n"},
		{name: "subscription with replay, target and filter", route: subPath, rep: reply{201, `{"id":"s1"}`},
			args: []string{"subscriptions:salesforce:create", "orders", "--topic", "/event/Order__e", "--org-alias", "my-org",
				"--replay", "earliest", "--target", "hook", "-f", "root = this"},
			body:   `{"name":"orders","event":"/event/Order__e","org_name":"my-org","replay":"earliest","target":"hook","filter":"root = this"}`,
			stderr: "Creating subscription orders... done\n"},
		{name: "subscription refused by the api", route: subPath,
			rep:  reply{422, `{"id":"invalid_params","message":"org_name nope: no such authorization; create it first with authorizations:salesforce:create nope."}`},
			args: []string{"subscriptions:salesforce:create", "x", "-t", "/event/Order__e", "-A", "nope"},
			body: `{"name":"x","event":"/event/Order__e","org_name":"nope"}`,
			err:  "no such authorization"},
		{name: "bad topic", args: []string{"subscriptions:salesforce:create", "x", "-t", "Order__e", "-A", "my-org"},
			err: `--topic "Order__e"`},
		{name: "bad replay", args: []string{"subscriptions:salesforce:create", "x", "-t", "/event/Order__e", "-A", "my-org", "--replay", "-2"},
			err: `--replay "-2"`},
		{name: "filter without target", args: []string{"subscriptions:salesforce:create", "x", "-t", "/event/Order__e", "-A", "my-org", "-f", "root = this"},
			err: "--filter needs --target"},
		{name: "alias required", args: []string{"subscriptions:salesforce:create", "x", "-t", "/event/Order__e"},
			err: `"org-alias" not set`},
		{name: "publication", route: pubPath, rep: reply{201, `{"id":"p1"}`},
			args:   []string{"publications:salesforce:create", "systemStatus", "-t", "/event/System_Status__e", "-A", "my-org"},
			body:   `{"name":"systemStatus","event":"/event/System_Status__e","org_name":"my-org"}`,
			stderr: "Creating publication systemStatus... done\n"},
		{name: "publication with source", route: pubPath, rep: reply{201, `{"id":"p1"}`},
			args:   []string{"publications:salesforce:create", "out", "-t", "/event/Out__e", "-A", "my-org", "-s", "inbound", "-f", "root = this"},
			body:   `{"name":"out","event":"/event/Out__e","org_name":"my-org","source":"inbound","filter":"root = this"}`,
			stderr: "Creating publication out... done\n"},
		{name: "publication topic required", args: []string{"publications:salesforce:create", "out", "-A", "my-org"},
			err: `"topic" not set`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			routes := map[string]reply{}
			if tt.route != "" {
				routes[tt.route] = tt.rep
			}
			api := newFakeAPI(t, routes)
			r := run(t, nil, append(tt.args, "-a", testApp, "--api-url", api.url())...)
			if tt.err != "" {
				require.Error(t, r.err)
				assert.Contains(t, r.err.Error(), tt.err)
			} else {
				require.NoError(t, r.err)
				assert.Equal(t, tt.stderr, r.stderr)
			}
			var posts []request
			for _, q := range api.requests() {
				if q.Method == http.MethodPost {
					posts = append(posts, q)
				}
			}
			if tt.body == "" {
				assert.Empty(t, posts, "nothing sent")
				return
			}
			require.Len(t, posts, 1)
			assert.JSONEq(t, tt.body, posts[0].Body)
		})
	}
}

func TestSubscriptionsInfoShowsCheckpointAge(t *testing.T) {
	at := time.Now().Add(-90 * time.Second).UTC().Truncate(time.Second)
	api := newFakeAPI(t, map[string]reply{"GET /v1/tenants/t-123/subscriptions/acct": {200, `{"id":"s1","name":"acct","platform":"salesforce",
		"params":{"event":"/data/AccountChangeEvent","org_name":"my-org"},"targets":[],"replay":"latest",
		"state":{"status":"failing","last_error":"Authorization my-org is failing: reconnect with authorizations:salesforce:create my-org","checkpoint_at":"` +
		at.Format(time.RFC3339) + `"}}`}})
	r := run(t, nil, "subscriptions:info", "acct", "-a", testApp, "--api-url", api.url())
	require.NoError(t, r.err)
	assert.Contains(t, r.stdout, "State:      failing\n")
	assert.Contains(t, r.stdout, "Last Error: Authorization my-org is failing: reconnect with authorizations:salesforce:create my-org\n")
	line := ""
	for l := range strings.Lines(r.stdout) {
		if strings.HasPrefix(l, "Checkpoint:") {
			line = l
		}
	}
	assert.Regexp(t, `^Checkpoint: +1m ago \(`+at.Format(time.RFC3339)+`\)\n$`, line)
}

func TestCheckpointAge(t *testing.T) {
	now := time.Date(2026, 1, 3, 12, 0, 0, 0, time.UTC)
	tests := []struct {
		ago  time.Duration
		want string
	}{
		{0, "0s ago"},
		{42 * time.Second, "42s ago"},
		{5*time.Minute + 3*time.Second, "5m ago"},
		{3*time.Hour + 7*time.Minute, "3h07m ago"},
		{50 * time.Hour, "2d ago"},
		{-time.Minute, "0s ago"}, // clock skew
	}
	for _, tt := range tests {
		t.Run(tt.want, func(t *testing.T) {
			at := now.Add(-tt.ago)
			assert.Equal(t, tt.want+" ("+at.Format(time.RFC3339)+")", checkpointAge(at, now))
		})
	}
}
