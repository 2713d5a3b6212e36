package main

import (
	"net/http"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

const subsFixture = `[
 {"id":"87756ff1","name":"herokuEventsSystemStatus","platform":"generate",
  "params":{"interval":"1m","mapping":"root = {\"status\": \"up\"}"},"targets":[],"created_at":"2025-01-01T00:00:00Z"},
 {"id":"5d25c8a0","name":"fakeOrgAccountChange","platform":"salesforce",
  "params":{"event":"/data/AccountChange","org_name":"fake-sfdc-org"},"targets":[]},
 {"id":"0b1","name":"orders","platform":"webhook","params":{},"targets":[]}
]`

func TestSubscriptionsList(t *testing.T) {
	tests := []struct {
		name   string
		args   []string
		body   string
		stdout string
	}{
		{name: "empty", args: []string{"subscriptions"}, body: `[]`,
			stdout: "No Heroku Events subscriptions for app my-app.\n"},
		{name: "table", args: []string{"events:subscriptions"}, body: subsFixture, stdout: "" +
			"=== Heroku Events subscriptions for app my-app\n\n" +
			" Name                     Platform   Details\n" +
			" " + rule(24, 10, 51) + "\n" +
			" herokuEventsSystemStatus generate   Interval: 1m, Mapping: root = {\"status\": \"up\"}\n" +
			" fakeOrgAccountChange     salesforce Event: /data/AccountChange, Org Name: fake-sfdc-org\n" +
			" orders                   webhook\n"},
		{name: "json", args: []string{"subscriptions", "--json"}, body: `[{"id":"1","name":"x","platform":"webhook","params":{}}]`,
			stdout: "[\n  {\n    \"id\": \"1\",\n    \"name\": \"x\",\n    \"platform\": \"webhook\",\n    \"params\": {}\n  }\n]\n"},
		{name: "json empty", args: []string{"subscriptions", "-j"}, body: `[]`, stdout: "[]\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			api := newFakeAPI(t, map[string]reply{"GET /v1/tenants/t-123/subscriptions": {200, tt.body}})
			r := run(t, nil, append(tt.args, "-a", testApp, "--api-url", api.url())...)
			require.NoError(t, r.err)
			assert.Equal(t, tt.stdout, r.stdout)
			assert.Empty(t, r.stderr)
			reqs := api.requests()
			require.Len(t, reqs, 1)
			assert.Equal(t, http.MethodGet, reqs[0].Method)
		})
	}
}

func TestSubscriptionsInfo(t *testing.T) {
	tests := []struct {
		name, arg, path string
		rep             reply
		stdout, err     string
	}{
		{name: "salesforce with state and targets", arg: "fakeOrgAccountChange", path: "/v1/tenants/t-123/subscriptions/fakeOrgAccountChange",
			rep: reply{200, `{"id":"5d25c8a0","name":"fakeOrgAccountChange","platform":"salesforce",
			  "params":{"event":"/data/AccountChange","org_name":"fake-sfdc-org"},
			  "targets":[{"id":"p1","name":"accountCreated","platform":"webhook","filter":"root = this","params":{"url":"https://x"}},
			             {"id":"p2","name":"audit","platform":"webhook","filter":null,"params":{}}],
			  "replay":"earliest","state":{"status":"failing","last_error":"invalid_grant: expired access/refresh token"}}`},
			stdout: "" +
				"Event:      /data/AccountChange\n" +
				"Id:         5d25c8a0\n" +
				"Last Error: invalid_grant: expired access/refresh token\n" +
				"Name:       fakeOrgAccountChange\n" +
				"Org Name:   fake-sfdc-org\n" +
				"Platform:   salesforce\n" +
				"Replay:     earliest\n" +
				"State:      failing\n" +
				"Targets:    accountCreated (filtered)\n" +
				"            audit\n"},
		{name: "generate without state, by id", arg: "87756ff1", path: "/v1/tenants/t-123/subscriptions/87756ff1",
			rep: reply{200, `{"id":"87756ff1","name":"status","platform":"generate","params":{"interval":"1m","mapping":"root = {}"},"targets":[]}`},
			stdout: "" +
				"Id:       87756ff1\n" +
				"Interval: 1m\n" +
				"Mapping:  root = {}\n" +
				"Name:     status\n" +
				"Platform: generate\n"},
		{name: "webhook has no state", arg: "orders", path: "/v1/tenants/t-123/subscriptions/orders",
			rep:    reply{200, `{"id":"0b1","name":"orders","platform":"webhook","params":{},"state":{"status":"active"}}`},
			stdout: "Id:       0b1\nName:     orders\nPlatform: webhook\n"},
		{name: "name is escaped", arg: "a b/c", path: "/v1/tenants/t-123/subscriptions/a%20b%2Fc",
			rep:    reply{200, `{"id":"1","name":"a b/c","platform":"webhook","params":{}}`},
			stdout: "Id:       1\nName:     a b/c\nPlatform: webhook\n"},
		{name: "not found", arg: "nope", path: "/v1/tenants/t-123/subscriptions/nope",
			rep: reply{404, `{"id":"not_found","message":"Subscription nope not found."}`}, err: "Subscription nope not found."},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			api := newFakeAPI(t, map[string]reply{"GET " + tt.path: tt.rep})
			r := run(t, nil, "subscriptions:info", tt.arg, "-a", testApp, "--api-url", api.url())
			if tt.err != "" {
				require.Error(t, r.err)
				assert.Equal(t, tt.err, r.err.Error())
				assert.Empty(t, r.stdout)
				return
			}
			require.NoError(t, r.err)
			assert.Equal(t, tt.stdout, r.stdout)
		})
	}
}

func TestSubscriptionsWebhookCreate(t *testing.T) {
	tests := []struct {
		name   string
		rep    reply
		stderr string
		err    string
	}{
		{name: "created", rep: reply{201, `{"id":"1","name":"orders","platform":"webhook","params":{}}`},
			stderr: "Creating subscription orders... done\n" +
				"Publish events to it with POST $HEROKUEVENTS_PUBLISH_URL/orders (JSON body), then link it with streams:create orders TARGET.\n"},
		{name: "conflict", rep: reply{409, `{"id":"conflict","message":"Subscription orders already exists."}`},
			stderr: "Creating subscription orders... !\n", err: "Subscription orders already exists."},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			api := newFakeAPI(t, map[string]reply{"POST /v1/tenants/t-123/platforms/webhook/subscriptions": tt.rep})
			r := run(t, nil, "events:subscriptions:webhook:create", "orders", "-a", testApp, "--api-url", api.url())
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
			assert.JSONEq(t, `{"name":"orders"}`, reqs[0].Body)
			assert.Equal(t, "application/json", reqs[0].ContentType)
			assert.Equal(t, "Bearer "+testKey, reqs[0].Auth)
		})
	}
}

func TestSubscriptionsDestroy(t *testing.T) {
	api := newFakeAPI(t, map[string]reply{
		"DELETE /v1/tenants/t-123/subscriptions/orders": {200, `{"id":"1","name":"orders","platform":"webhook","params":{}}`},
	})
	r := run(t, nil, "subscriptions:destroy", "orders", "-a", testApp, "-c", testApp, "--api-url", api.url())
	require.NoError(t, r.err)
	assert.Equal(t, "Destroying subscription orders on my-app... done\n", r.stderr)
	assert.Empty(t, r.stdout)
	reqs := api.requests()
	require.Len(t, reqs, 1)
	assert.Equal(t, http.MethodDelete, reqs[0].Method)
	assert.Equal(t, "/v1/tenants/t-123/subscriptions/orders", reqs[0].Path)
}
