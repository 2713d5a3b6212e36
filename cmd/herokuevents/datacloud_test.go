package main

import (
	"net/http"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestDataCloudCreateCommand(t *testing.T) {
	const path = "POST /v1/tenants/t-123/platforms/datacloud/publications"
	tests := []struct {
		name string
		args []string
		rep  reply
		body string // JSON sent
		err  string
	}{
		{name: "with -A", rep: reply{201, `{"id":"p1"}`},
			args: []string{"highPriorityOrders", "-c", "salesConnector", "--object", "HighPriorityOrder", "-A", "my-org"},
			body: `{"name":"highPriorityOrders","connector":"salesConnector","object":"HighPriorityOrder","org_name":"my-org"}`},
		{name: "v0.0.1 flags with source and filter", rep: reply{201, `{"id":"p1"}`},
			args: []string{"orders", "--connector", "salesConnector", "--object", "Order", "-o", "my-org", "-s", "inbound", "-f", "root = this"},
			body: `{"name":"orders","connector":"salesConnector","object":"Order","org_name":"my-org","source":"inbound","filter":"root = this"}`},
		{name: "same alias twice", rep: reply{201, `{"id":"p1"}`},
			args: []string{"orders", "-c", "c1", "--object", "O", "-o", "my-org", "-A", "my-org"},
			body: `{"name":"orders","connector":"c1","object":"O","org_name":"my-org"}`},
		{name: "refused by the api", rep: reply{422, `{"id":"invalid_params","message":"org_name nope: no such authorization"}`},
			args: []string{"x", "-c", "c1", "--object", "O", "-A", "nope"},
			body: `{"name":"x","connector":"c1","object":"O","org_name":"nope"}`, err: "no such authorization"},
		{name: "different aliases", args: []string{"x", "-c", "c1", "--object", "O", "-A", "a", "-o", "b"}, err: "differ"},
		{name: "alias required", args: []string{"x", "-c", "c1", "--object", "O"}, err: `"org-alias" not set`},
		{name: "connector required", args: []string{"x", "--object", "O", "-A", "a"}, err: `"connector" not set`},
		{name: "object required", args: []string{"x", "-c", "c1", "-A", "a"}, err: `"object" not set`},
		{name: "bad object", args: []string{"x", "-c", "c1", "--object", "a/b", "-A", "a"}, err: `--object "a/b"`},
		{name: "filter without source", args: []string{"x", "-c", "c1", "--object", "O", "-A", "a", "-f", "root = this"}, err: "--filter needs --source"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			routes := map[string]reply{}
			if tt.body != "" {
				routes[path] = tt.rep
			}
			api := newFakeAPI(t, routes)
			r := run(t, nil, append(append([]string{"publications:datacloud:create"}, tt.args...), "-a", testApp, "--api-url", api.url())...)
			var posts []request
			for _, q := range api.requests() {
				if q.Method == http.MethodPost {
					posts = append(posts, q)
				}
			}
			if tt.err != "" {
				require.Error(t, r.err)
				assert.Contains(t, r.err.Error(), tt.err)
			} else {
				require.NoError(t, r.err)
				assert.Contains(t, r.stderr, "Creating publication "+tt.args[0]+"... done")
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
