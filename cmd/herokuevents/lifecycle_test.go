package main

import (
	"net/http"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

const pubPath = "/v1/tenants/t-123/publications/hook"

func TestPublicationsUpdate(t *testing.T) {
	tests := []struct {
		name string
		args []string
		body string // "" when nothing is sent
		err  string
	}{
		{name: "url", args: []string{"-u", "https://example.com/new"}, body: `{"url":"https://example.com/new"}`},
		{name: "url without handshake", args: []string{"-u", "http://127.0.0.1:9/x", "--skip-handshake"},
			body: `{"url":"http://127.0.0.1:9/x","skip_handshake":true}`},
		{name: "token", args: []string{"-t", "s3cret"}, body: `{"token":"s3cret"}`},
		{name: "token removed", args: []string{"-t", ""}, body: `{"token":""}`},
		{name: "delivery", args: []string{"--timeout", "30s", "--max-attempts", "5", "--max-age", "2h", "--rate", "2.5/s"},
			body: `{"timeout":"30s","max_attempts":5,"max_age":"2h","rate":2.5}`},
		{name: "defaults back", args: []string{"--timeout", "0", "--max-attempts", "0", "--max-age", "0", "--rate", "off"},
			body: `{"timeout":"0","max_attempts":0,"max_age":"0","rate":0}`},
		{name: "mode and content type", args: []string{"--mode", "binary", "--content-type", "application/json"},
			body: `{"mode":"binary","content_type":"application/json"}`},
		{name: "nothing to change", err: "nothing to change: give at least one of --url, --token, --oauth2-*, --client-cert, --timeout, --max-attempts, --max-age, --rate, --mode, --content-type, --ordered, --ordered-by, --on-failure"},
		{name: "bad rate", args: []string{"--rate", "fast"}, err: `--rate "fast": give events per second, such as 10/s (0 for no cap)`},
		{name: "negative rate", args: []string{"--rate", "-1/s"}, err: `--rate "-1/s": give events per second, such as 10/s (0 for no cap)`},
		{name: "bad timeout", args: []string{"--timeout", "soon"}, err: `--timeout "soon": give a duration such as 30s or 2h (0 for the default)`},
		{name: "empty url", args: []string{"-u", ""}, err: "--url must not be empty"},
		{name: "negative attempts", args: []string{"--max-attempts", "-2"}, err: "--max-attempts -2: give a number of attempts (0 for the default)"},
		{name: "ordered", args: []string{"--ordered"}, body: `{"ordered":true}`},
		{name: "ordered by and block", args: []string{"--ordered-by", "this.order.id", "--on-failure", "block"},
			body: `{"ordered_by":"this.order.id","on_failure":"block"}`},
		{name: "unordered again", args: []string{"--ordered=false"}, body: `{"ordered":false}`},
		{name: "bad on-failure", args: []string{"--on-failure", "retry"}, err: `--on-failure "retry": give skip or block`},
		{name: "empty ordered-by", args: []string{"--ordered-by", " "}, err: "--ordered-by must not be empty (use --ordered for the default key)"},
		{name: "unordered with a key", args: []string{"--ordered=false", "--ordered-by", "this.id"}, err: "--ordered=false cannot come with --ordered-by or --on-failure"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			api := newFakeAPI(t, map[string]reply{"PATCH " + pubPath: {200, `{"id":"p1","name":"hook"}`}})
			r := run(t, nil, append([]string{"publications:update", "hook", "-a", testApp, "--api-url", api.url()}, tt.args...)...)
			if tt.err != "" {
				require.Error(t, r.err)
				assert.Equal(t, tt.err, r.err.Error())
				assert.Empty(t, api.all(), "nothing is called")
				return
			}
			require.NoError(t, r.err)
			assert.Equal(t, "Updating publication hook... done\n", r.stderr)
			reqs := api.requests()
			require.Len(t, reqs, 1)
			assert.Equal(t, http.MethodPatch, reqs[0].Method)
			assert.JSONEq(t, tt.body, reqs[0].Body)
		})
	}
	t.Run("refused", func(t *testing.T) {
		api := newFakeAPI(t, map[string]reply{"PATCH " + pubPath: {422, `{"id":"invalid_params","message":"url \"https://blocked\" is not allowed: private"}`}})
		r := run(t, nil, "publications:update", "hook", "-u", "https://blocked", "-a", testApp, "--api-url", api.url())
		require.Error(t, r.err)
		assert.Equal(t, `url "https://blocked" is not allowed: private`, r.err.Error())
		assert.Equal(t, "Updating publication hook... !\n", r.stderr)
	})
}

func TestPublicationsEnablePauseResume(t *testing.T) {
	tests := []struct {
		cmd, verb, stderr string
	}{
		{"publications:enable", "enable", "Enabling publication hook... done\n" +
			"Events dead-lettered while it was disabled stay: send them again with deadletters:redrive.\n"},
		{"events:publications:pause", "pause", "Pausing publication hook... done\nEvents for hook wait until publications:resume hook.\n"},
		{"publications:resume", "resume", "Resuming publication hook... done\n"},
	}
	for _, tt := range tests {
		t.Run(tt.verb, func(t *testing.T) {
			api := newFakeAPI(t, map[string]reply{"POST " + pubPath + "/" + tt.verb: {200, `{"id":"p1","name":"hook"}`}})
			r := run(t, nil, tt.cmd, "hook", "-a", testApp, "--api-url", api.url())
			require.NoError(t, r.err)
			assert.Equal(t, tt.stderr, r.stderr)
			assert.Empty(t, r.stdout)
			reqs := api.requests()
			require.Len(t, reqs, 1)
			assert.Equal(t, http.MethodPost, reqs[0].Method)
		})
	}
	api := newFakeAPI(t, nil)
	r := run(t, nil, "publications:pause", "nope", "-a", testApp, "--api-url", api.url())
	require.Error(t, r.err)
	assert.Equal(t, "Pausing publication nope... !\n", r.stderr)
}

func TestRotateSecretCommand(t *testing.T) {
	tests := []struct {
		name, answer, body, stdout string
		args                       []string
	}{
		{name: "default overlap",
			answer: `{"id":"p1","extra":{"signing_secret":"whsec_bmV3","previous_secret_expires_at":"2026-01-03T03:04:05Z"}}`,
			body:   `{"overlap":"24h0m0s"}`,
			stdout: "Signing secret (shown once): whsec_bmV3\nThe previous secret keeps signing until 2026-01-03T03:04:05Z (webhook-signature carries both).\n"},
		{name: "no overlap", args: []string{"--overlap", "0"},
			answer: `{"id":"p1","extra":{"signing_secret":"whsec_bmV3"}}`,
			body:   `{"overlap":"0s"}`,
			stdout: "Signing secret (shown once): whsec_bmV3\nThe previous secret no longer signs.\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			api := newFakeAPI(t, map[string]reply{"POST " + pubPath + "/rotate-secret": {200, tt.answer}})
			r := run(t, nil, append([]string{"publications:webhook:rotate-secret", "hook", "-a", testApp, "--api-url", api.url()}, tt.args...)...)
			require.NoError(t, r.err)
			assert.Equal(t, "Rotating the signing secret of hook... done\n", r.stderr)
			assert.Equal(t, tt.stdout, r.stdout)
			reqs := api.requests()
			require.Len(t, reqs, 1)
			assert.JSONEq(t, tt.body, reqs[0].Body)
		})
	}
}

func TestDeadLettersPurge(t *testing.T) {
	tests := []struct {
		name   string
		args   []string
		answer string
		body   string // of the DELETE; "" when it has none
		stderr string
		err    string
	}{
		{name: "by id", args: []string{"12", "7", "12", "-c", testApp}, answer: `{"purged":2}`,
			body: `{"ids":["12","7"]}`, stderr: "Purging 2 dead letters... done\n"},
		{name: "all", args: []string{"--confirm", testApp}, answer: `{"purged":3}`,
			stderr: "Purging every dead letter of my-app... done\n3 dead letters were purged.\n"},
		{name: "unconfirmed", err: "this command is destructive and stdin is not a terminal: pass --confirm my-app"},
		{name: "wrong app", args: []string{"-c", "other-app"}, err: "Confirmation other-app did not match my-app. Aborted."},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			api := newFakeAPI(t, map[string]reply{"DELETE /v1/tenants/t-123/dead-letters": {200, tt.answer}})
			r := run(t, nil, append([]string{"deadletters:purge", "-a", testApp, "--api-url", api.url()}, tt.args...)...)
			if tt.err != "" {
				require.Error(t, r.err)
				assert.Equal(t, tt.err, r.err.Error())
				assert.Empty(t, api.all(), "nothing is called before the confirmation")
				return
			}
			require.NoError(t, r.err)
			assert.Equal(t, tt.stderr, r.stderr)
			reqs := api.requests()
			require.Len(t, reqs, 1)
			assert.Equal(t, http.MethodDelete, reqs[0].Method)
			if tt.body == "" {
				assert.Empty(t, reqs[0].Body)
			} else {
				assert.JSONEq(t, tt.body, reqs[0].Body)
			}
		})
	}
	t.Run("interactive", func(t *testing.T) {
		api := newFakeAPI(t, map[string]reply{"DELETE /v1/tenants/t-123/dead-letters": {200, `{"purged":1}`}})
		r := run(t, tty{strings.NewReader(testApp + "\n")}, "deadletters:purge", "5", "-a", testApp, "--api-url", api.url())
		require.NoError(t, r.err)
		assert.Contains(t, r.stderr, "WARNING: Destructive Action")
		assert.Contains(t, r.stderr, "Purging 1 dead letter... done\n")
	})
}

func TestStreamsUpdate(t *testing.T) {
	tests := []struct {
		name string
		args []string
		body string
		err  string
	}{
		{name: "filter", args: []string{"-f", "root = this"}, body: `{"filter":"root = this"}`},
		{name: "filter removed", args: []string{"-f", ""}, body: `{"filter":null}`},
		{name: "no filter flag", err: `required flag(s) "filter" not set`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			api := newFakeAPI(t, map[string]reply{"PATCH /v1/tenants/t-123/streams/orders/audit": {200, `{"id":"s1"}`}})
			r := run(t, nil, append([]string{"streams:update", "orders", "audit", "-a", testApp, "--api-url", api.url()}, tt.args...)...)
			if tt.err != "" {
				require.Error(t, r.err)
				assert.Equal(t, tt.err, r.err.Error())
				assert.Empty(t, api.all())
				return
			}
			require.NoError(t, r.err)
			assert.Equal(t, "Updating the filter of orders to audit... done\n", r.stderr)
			reqs := api.requests()
			require.Len(t, reqs, 1)
			assert.JSONEq(t, tt.body, reqs[0].Body)
		})
	}
}

func TestPublicationsInfoLifecycle(t *testing.T) {
	api := newFakeAPI(t, map[string]reply{"GET " + pubPath: {200, `{
		"id":"p1","name":"hook","platform":"webhook","params":{"url":"https://example.com/hook"},"sources":[],
		"paused":true,"paused_at":"2026-01-02T03:04:05Z",
		"delivery":{"timeout":"30s","max_attempts":5,"max_age":"2h","rate":2.5},
		"previous_secret_expires_at":"2026-01-03T00:00:00Z"}`}})
	r := run(t, nil, "publications:info", "hook", "-a", testApp, "--api-url", api.url())
	require.NoError(t, r.err)
	assert.Equal(t, ""+
		"Id:              p1\n"+
		"Max Age:         2h\n"+
		"Max Attempts:    5\n"+
		"Name:            hook\n"+
		"Paused:          since 2026-01-02T03:04:05Z\n"+
		"Platform:        webhook\n"+
		"Previous Secret: signs until 2026-01-03T00:00:00Z\n"+
		"Rate:            2.5/s\n"+
		"Timeout:         30s\n"+
		"Url:             https://example.com/hook\n", r.stdout)
}
