package main

import (
	"net/http"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestStreamsList(t *testing.T) {
	tests := []struct {
		name   string
		args   []string
		body   string
		stdout string
	}{
		{name: "empty", args: []string{"streams"}, body: `[]`, stdout: "No Heroku Events streams for app my-app.\n"},
		{name: "table", args: []string{"events:streams"}, body: `[
			{"id":"s1","source":"accountChange","target":"accountCreated","filter":"root = if this.a {\n this } else { deleted() }","created_at":"2025-01-01T00:00:00Z"},
			{"id":"s2","source":"orders","target":"audit","filter":null,"created_at":"2025-01-01T00:00:00Z"}]`,
			stdout: "" +
				"=== Heroku Events streams for app my-app\n\n" +
				" Source        Target         Filter\n" +
				" " + rule(13, 14, 45) + "\n" +
				" accountChange accountCreated root = if this.a {  this } else { deleted() }\n" +
				" orders        audit\n"},
		{name: "json", args: []string{"streams", "-j"}, body: `[{"id":"s2","source":"a","target":"b","filter":null}]`,
			stdout: "[\n  {\n    \"id\": \"s2\",\n    \"source\": \"a\",\n    \"target\": \"b\",\n    \"filter\": null\n  }\n]\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			api := newFakeAPI(t, map[string]reply{"GET /v1/tenants/t-123/streams": {200, tt.body}})
			r := run(t, nil, append(tt.args, "-a", testApp, "--api-url", api.url())...)
			require.NoError(t, r.err)
			assert.Equal(t, tt.stdout, r.stdout)
			assert.Empty(t, r.stderr)
		})
	}
}

func TestStreamsCreate(t *testing.T) {
	tests := []struct {
		name     string
		args     []string
		rep      reply
		wantBody string
		stderr   string
		err      string
	}{
		{name: "no filter", args: []string{"orders", "audit"}, rep: reply{201, `{"id":"s1","source":"orders","target":"audit","filter":null}`},
			wantBody: `{"source":"orders","target":"audit"}`, stderr: "Linking orders to audit... done\n"},
		{name: "filter", args: []string{"orders", "audit", "-f", "root = this"}, rep: reply{201, `{"id":"s1"}`},
			wantBody: `{"source":"orders","target":"audit","filter":"root = this"}`, stderr: "Linking orders to audit... done\n"},
		{name: "bad filter", args: []string{"orders", "audit", "--filter", "root = ("},
			rep:      reply{422, `{"id":"invalid_params","message":"filter: expected expression"}`},
			wantBody: `{"source":"orders","target":"audit","filter":"root = ("}`,
			stderr:   "Linking orders to audit... !\n", err: "filter: expected expression"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			api := newFakeAPI(t, map[string]reply{"POST /v1/tenants/t-123/streams": tt.rep})
			r := run(t, nil, append([]string{"events:streams:create", "-a", testApp, "--api-url", api.url()}, tt.args...)...)
			if tt.err != "" {
				require.Error(t, r.err)
				assert.Equal(t, tt.err, r.err.Error())
			} else {
				require.NoError(t, r.err)
			}
			assert.Equal(t, tt.stderr, r.stderr)
			assert.Empty(t, r.stdout)
			reqs := api.requests()
			require.Len(t, reqs, 1)
			assert.Equal(t, http.MethodPost, reqs[0].Method)
			assert.JSONEq(t, tt.wantBody, reqs[0].Body)
		})
	}
}

func TestStreamsDestroy(t *testing.T) {
	api := newFakeAPI(t, map[string]reply{"DELETE /v1/tenants/t-123/streams/orders/audit": {200, `{"id":"s1"}`}})
	r := run(t, nil, "streams:destroy", "orders", "audit", "-a", testApp, "-c", testApp, "--api-url", api.url())
	require.NoError(t, r.err)
	assert.Equal(t, "Unlinking orders from audit... done\n", r.stderr)
	reqs := api.requests()
	require.Len(t, reqs, 1)
	assert.Equal(t, http.MethodDelete, reqs[0].Method)
	assert.Equal(t, "/v1/tenants/t-123/streams/orders/audit", reqs[0].Path)
}
