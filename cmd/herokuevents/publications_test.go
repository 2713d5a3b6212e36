package main

import (
	"net/http"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestPublicationsList(t *testing.T) {
	tests := []struct {
		name   string
		args   []string
		body   string
		stdout string
	}{
		{name: "empty", args: []string{"publications"}, body: `[]`,
			stdout: "No Heroku Events publications for app my-app.\n"},
		{name: "table", args: []string{"events:publications"}, body: `[
			{"id":"b1","name":"fakeOrgAccountCreated","platform":"webhook","params":{"url":"https://example.com/hook"},"sources":[]},
			{"id":"b2","name":"highPriorityOrders","platform":"datacloud","params":{"connector":"salesConnector","object":"HighPriorityOrder","org_name":"fake-sfdc-org"}}]`,
			stdout: "" +
				"=== Heroku Events publications for app my-app\n\n" +
				" Name                  Platform  Details\n" +
				" " + rule(21, 9, 77) + "\n" +
				" fakeOrgAccountCreated webhook   Url: https://example.com/hook\n" +
				" highPriorityOrders    datacloud Connector: salesConnector, Object: HighPriorityOrder, Org Name: fake-sfdc-org\n"},
		{name: "json keeps the raw answer", args: []string{"publications", "--json"},
			body:   `[{"id":"b1","name":"p","platform":"webhook","params":{"url":"https://x"},"sources":[]}]`,
			stdout: "[\n  {\n    \"id\": \"b1\",\n    \"name\": \"p\",\n    \"platform\": \"webhook\",\n    \"params\": {\n      \"url\": \"https://x\"\n    },\n    \"sources\": []\n  }\n]\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			api := newFakeAPI(t, map[string]reply{"GET /v1/tenants/t-123/publications": {200, tt.body}})
			r := run(t, nil, append(tt.args, "-a", testApp, "--api-url", api.url())...)
			require.NoError(t, r.err)
			assert.Equal(t, tt.stdout, r.stdout)
			assert.Empty(t, r.stderr)
		})
	}
}

func TestPublicationsInfo(t *testing.T) {
	api := newFakeAPI(t, map[string]reply{"GET /v1/tenants/t-123/publications/fakeOrgAccountCreated": {200, `{
		"id":"beabd9f6","name":"fakeOrgAccountCreated","platform":"webhook","params":{"url":"https://example.com/hook"},
		"sources":[{"id":"5d25c8a0","name":"fakeOrgAccountChange","platform":"salesforce","filter":"root = this","params":{"event":"/data/AccountChange"}}],
		"disabled":true,"disabled_reason":"endpoint answered 410 Gone"}`}})
	r := run(t, nil, "events:publications:info", "fakeOrgAccountCreated", "-a", testApp, "--api-url", api.url())
	require.NoError(t, r.err)
	assert.Equal(t, ""+
		"Disabled: endpoint answered 410 Gone\n"+
		"Id:       beabd9f6\n"+
		"Name:     fakeOrgAccountCreated\n"+
		"Platform: webhook\n"+
		"Sources:  fakeOrgAccountChange (filtered)\n"+
		"Url:      https://example.com/hook\n", r.stdout)
}

func TestPublicationsWebhookCreate(t *testing.T) {
	const created = `{"id":"p1","name":"hook","platform":"webhook","params":{"url":"https://example.com/hook"},"sources":[],
		"extra":{"signing_secret":"whsec_c2VjcmV0"}}`
	tests := []struct {
		name     string
		args     []string
		rep      reply
		wantBody string // "" = no request expected
		stdout   string
		stderr   string
		err      string
	}{
		{name: "url only", args: []string{"-u", "https://example.com/hook"}, rep: reply{201, created},
			wantBody: `{"name":"hook","url":"https://example.com/hook"}`,
			stdout:   "Signing secret (shown once): whsec_c2VjcmV0\n",
			stderr:   "Creating publication hook... done\n"},
		{name: "all flags", args: []string{"--url", "https://example.com/hook", "-t", "tok", "-s", "orders", "-f", "root = this"},
			rep:      reply{201, created},
			wantBody: `{"name":"hook","url":"https://example.com/hook","token":"tok","source":"orders","filter":"root = this"}`,
			stdout:   "Signing secret (shown once): whsec_c2VjcmV0\n",
			stderr:   "Creating publication hook... done\n"},
		{name: "invalid params from the API", args: []string{"-u", "http://127.0.0.1/x"},
			rep:      reply{422, `{"id":"invalid_params","message":"url: loopback addresses are not allowed"}`},
			wantBody: `{"name":"hook","url":"http://127.0.0.1/x"}`,
			stderr:   "Creating publication hook... !\n", err: "url: loopback addresses are not allowed"},
		{name: "filter without source", args: []string{"-u", "https://example.com/hook", "-f", "root = this"},
			err: "--filter needs --source"},
		{name: "relative url", args: []string{"-u", "/hook"}, err: "--url must be an absolute http or https URL"},
		{name: "url required", args: nil, err: `"url"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			api := newFakeAPI(t, map[string]reply{"POST /v1/tenants/t-123/platforms/webhook/publications": tt.rep})
			args := append([]string{"publications:webhook:create", "hook", "-a", testApp, "--api-url", api.url()}, tt.args...)
			r := run(t, nil, args...)
			if tt.err != "" {
				require.Error(t, r.err)
				assert.Contains(t, r.err.Error(), tt.err)
			} else {
				require.NoError(t, r.err)
			}
			assert.Equal(t, tt.stderr, r.stderr)
			if tt.stdout != "" {
				lines := strings.SplitAfterN(r.stdout, "\n", 2)
				assert.Equal(t, tt.stdout, lines[0])
				assert.Contains(t, r.stdout, "Standard Webhooks")
			} else {
				assert.Empty(t, r.stdout)
			}
			reqs := api.requests()
			if tt.wantBody == "" {
				assert.Empty(t, reqs)
				return
			}
			require.Len(t, reqs, 1)
			assert.Equal(t, http.MethodPost, reqs[0].Method)
			assert.JSONEq(t, tt.wantBody, reqs[0].Body)
		})
	}
}

func TestPublicationsDestroy(t *testing.T) {
	tests := []struct {
		name   string
		rep    reply
		stderr string
		err    string
	}{
		{name: "destroyed", rep: reply{200, `{"id":"p1","name":"hook","platform":"webhook","params":{}}`},
			stderr: "Destroying publication hook on my-app... done\n"},
		{name: "not found", rep: reply{404, `{"id":"not_found","message":"Publication hook not found."}`},
			stderr: "Destroying publication hook on my-app... !\n", err: "Publication hook not found."},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			api := newFakeAPI(t, map[string]reply{"DELETE /v1/tenants/t-123/publications/hook": tt.rep})
			r := run(t, nil, "events:publications:destroy", "hook", "-a", testApp, "--confirm", testApp, "--api-url", api.url())
			if tt.err != "" {
				require.Error(t, r.err)
				assert.Equal(t, tt.err, r.err.Error())
			} else {
				require.NoError(t, r.err)
			}
			assert.Equal(t, tt.stderr, r.stderr)
			require.Len(t, api.requests(), 1)
		})
	}
}
