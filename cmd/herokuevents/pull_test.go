package main

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/herokuevents/herokuevents/shared/dataaction"
	"github.com/herokuevents/herokuevents/shared/salesforce/standin"
)

func TestPullAndDataActionCommands(t *testing.T) {
	tests := []struct {
		name   string
		args   []string
		routes map[string]reply
		method string
		body   string // JSON sent
		out    []string
		err    string
	}{
		{name: "create with --pull", args: []string{"subscriptions:webhook:create", "orders", "--pull"},
			routes: map[string]reply{"POST /v1/tenants/t-123/platforms/webhook/subscriptions": {201, `{"id":"s1","pull":true}`}},
			method: http.MethodPost, body: `{"name":"orders","pull":true}`},
		{name: "datacloud create shows the target once", args: []string{"subscriptions:datacloud:create", "patientChanges", "-A", "my-org"},
			routes: map[string]reply{"POST /v1/tenants/t-123/platforms/datacloud/subscriptions": {201,
				`{"id":"s1","extra":{"url":"https://events.example/dataactions/t-123/s1","signing_key":"k3y"}}`}},
			method: http.MethodPost, body: `{"name":"patientChanges","org_name":"my-org"}`,
			out: []string{"Data action target URL: https://events.example/dataactions/t-123/s1\n", "Signing key (shown once): k3y\n"}},
		{name: "datacloud create needs the org", args: []string{"subscriptions:datacloud:create", "x"}, err: `"org-alias" not set`},
		{name: "update --pull", args: []string{"subscriptions:update", "orders", "--pull"},
			routes: map[string]reply{"PATCH /v1/tenants/t-123/subscriptions/orders": {200, `{"id":"s1","pull":true}`}},
			method: http.MethodPatch, body: `{"pull":true}`},
		{name: "update --pull=false", args: []string{"subscriptions:update", "orders", "--pull=false"},
			routes: map[string]reply{"PATCH /v1/tenants/t-123/subscriptions/orders": {200, `{"id":"s1"}`}},
			method: http.MethodPatch, body: `{"pull":false}`},
		{name: "update without a change", args: []string{"subscriptions:update", "orders"}, err: "nothing to change"},
		{name: "info shows the backlog", args: []string{"subscriptions:info", "orders"},
			routes: map[string]reply{"GET /v1/tenants/t-123/subscriptions/orders": {200,
				`{"id":"s1","name":"orders","platform":"webhook","params":{},"targets":[],"pull":true,"pull_backlog":{"pending":3,"leased":1}}`}},
			out: []string{"Pull:", "on: GET $HEROKUEVENTS_SUBSCRIBE_URL/<name>", "Pull Backlog: 3 events (1 leased, awaiting acknowledgement)"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			api := newFakeAPI(t, tt.routes)
			r := run(t, nil, append(tt.args, "-a", testApp, "--api-url", api.url())...)
			if tt.err != "" {
				require.Error(t, r.err)
				assert.Contains(t, r.err.Error(), tt.err)
				return
			}
			require.NoError(t, r.err, r.stderr)
			for _, o := range tt.out {
				assert.Contains(t, r.stdout, o)
			}
			if tt.body == "" {
				return
			}
			var sent []request
			for _, q := range api.requests() {
				if q.Method == tt.method {
					sent = append(sent, q)
				}
			}
			require.Len(t, sent, 1)
			assert.JSONEq(t, tt.body, sent[0].Body)
		})
	}
}

// dev:salesforce:emit --data-action: the stand-in's Data Cloud sends one
// signed batch to the target.
func TestDevSalesforceEmitDataAction(t *testing.T) {
	org, err := standin.Start(standin.Options{})
	require.NoError(t, err)
	t.Cleanup(func() { org.Close() })
	var mu sync.Mutex
	var got []byte
	var sig string
	target := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		mu.Lock()
		got, sig = b, r.Header.Get("x-signature")
		mu.Unlock()
		w.WriteHeader(http.StatusAccepted)
		_, _ = w.Write([]byte(`{"ids":["a","b"]}`))
	}))
	t.Cleanup(target.Close)

	r := run(t, nil, "dev:salesforce:emit", "Patient__dlm", `[{"Id__c":"p-1"},{"Id__c":"p-2"}]`,
		"--data-action", "PatientChanged", "--target", target.URL, "--key", "k3y", "--http-addr", org.LoginURL())
	require.NoError(t, r.err, r.stderr)
	assert.Contains(t, r.stderr, "The target answered HTTP 202.")
	assert.JSONEq(t, `{"ids":["a","b"]}`, r.stdout)
	mu.Lock()
	defer mu.Unlock()
	assert.True(t, dataaction.Verify("k3y", got, sig), "signed with the key over the raw body")
	req, err := dataaction.Decode(got)
	require.NoError(t, err)
	require.Len(t, req.Records, 2)
	assert.Equal(t, "PatientChanged", req.Records[0].Action)
	assert.Equal(t, "Patient__dlm", req.Records[1].Object)
	var first map[string]any
	require.NoError(t, json.Unmarshal(req.Records[0].Raw, &first))
	assert.JSONEq(t, `{"Id__c":"p-1"}`, first["PayloadCurrentValue"].(string))

	r = run(t, nil, "dev:salesforce:emit", "Patient__dlm", `{}`, "--data-action", "A", "--http-addr", org.LoginURL())
	require.Error(t, r.err)
	assert.Contains(t, r.err.Error(), "--target and --key")
}
