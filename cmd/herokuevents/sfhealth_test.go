package main

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// subscriptions:info shows a stalled Salesforce subscription's state and
// reason, and the org's event deliveries of the last 24 h.
func TestSubscriptionsInfoShowsStallAndUsage(t *testing.T) {
	api := newFakeAPI(t, map[string]reply{"GET /v1/tenants/t-123/subscriptions/acct": {200, `{"id":"s1","name":"acct","platform":"salesforce",
		"params":{"event":"/data/AccountChangeEvent","org_name":"my-org","on_replay_gap":"halt"},"targets":[],"replay":"latest",
		"state":{"status":"stalled","last_error":"stalled: salesforce stream stalled: no events or keepalives for 2m0s (twice the keepalive interval); reconnecting (attempt 1, next in 1s)"},
		"salesforce_usage":{"org":"my-org","delivered_24h":42}}`}})
	r := run(t, nil, "subscriptions:info", "acct", "-a", testApp, "--api-url", api.url())
	require.NoError(t, r.err)
	assert.Contains(t, r.stdout, "State:            stalled\n")
	assert.Contains(t, r.stdout, "no events or keepalives for 2m0s")
	assert.Contains(t, r.stdout, "Salesforce Usage: 42 events delivered by org my-org in the last 24 h")
}

func TestSubscriptionsInfoShowsUsageAgainstAllocation(t *testing.T) {
	api := newFakeAPI(t, map[string]reply{"GET /v1/tenants/t-123/subscriptions/acct": {200, `{"id":"s1","name":"acct","platform":"salesforce",
		"params":{"event":"/data/AccountChangeEvent","org_name":"my-org"},"targets":[],"replay":"latest","state":{"status":"active"},
		"salesforce_usage":{"org":"my-org","delivered_24h":45000,"allocation":50000,"warning":"org my-org used 90% of its allocation of 50000 event deliveries per 24 h: Salesforce stops delivering at 100%"}}`}})
	r := run(t, nil, "subscriptions:info", "acct", "-a", testApp, "--api-url", api.url())
	require.NoError(t, r.err)
	assert.Contains(t, r.stdout, "Salesforce Usage: 45000 of 50000 events (90%) delivered by org my-org in the last 24 h")
	assert.Contains(t, r.stdout, "Warning:          org my-org used 90% of its allocation")
}

func TestAuthorizationsCreateSendsAllocation(t *testing.T) {
	api := newFakeAPI(t, map[string]reply{"POST /v1/tenants/t-123/platforms/salesforce/authorizations": {201, `{"id":"a1","alias":"my-org","status":"connected"}`}})
	r := run(t, nil, "authorizations:salesforce:create", "my-org", "--client-id", "cid", "--client-secret", "sec",
		"--login-url", "https://example.my.salesforce.com", "--allocation", "50000", "-a", testApp, "--api-url", api.url())
	require.NoError(t, r.err, r.stderr)
	var body string
	for _, req := range api.requests() {
		if req.Method == "POST" {
			body = req.Body
		}
	}
	assert.Contains(t, body, `"allocation":50000`)
}
