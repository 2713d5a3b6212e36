package main

import (
	"encoding/json"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestCreateJSON: every create command prints the created resource as JSON
// with --json (the status line stays on stderr), and nothing else on stdout.
func TestCreateJSON(t *testing.T) {
	tests := []struct {
		name  string
		route string
		body  string
		args  []string
	}{
		{"webhook publication", "POST /v1/tenants/t-123/platforms/webhook/publications",
			`{"id":"p1","name":"hook","platform":"webhook","extra":{"signing_secret":"whsec_x"}}`,
			[]string{"publications:webhook:create", "hook", "-u", "https://example.com/h", "--skip-handshake", "--json"}},
		{"webhook subscription", "POST /v1/tenants/t-123/platforms/webhook/subscriptions",
			`{"id":"s1","name":"orders","platform":"webhook"}`,
			[]string{"subscriptions:webhook:create", "orders", "-j"}},
		{"generator", "POST /v1/tenants/t-123/platforms/generate/subscriptions",
			`{"id":"g1","name":"tick","platform":"generate"}`,
			[]string{"generate", "tick", "-i", "1m", "-m", "root = {}", "--json"}},
		{"stream", "POST /v1/tenants/t-123/streams",
			`{"id":"st1","source":"orders","target":"hook","filter":null}`,
			[]string{"streams:create", "orders", "hook", "--json"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			api := newFakeAPI(t, map[string]reply{tt.route: {201, tt.body}})
			r := run(t, nil, append(tt.args, "-a", testApp, "--api-url", api.url())...)
			require.NoError(t, r.err, r.stderr)
			assert.JSONEq(t, tt.body, r.stdout)
			var v any
			assert.NoError(t, json.Unmarshal([]byte(r.stdout), &v), "stdout is only the JSON")
			assert.Contains(t, r.stderr, "... done")
		})
	}
}
