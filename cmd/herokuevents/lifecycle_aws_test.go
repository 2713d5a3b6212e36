package main

import (
	"encoding/json"
	"net/http"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/herokuevents/herokuevents/infra/aws/awsenv"
	"github.com/herokuevents/herokuevents/shared/event"
	"github.com/herokuevents/herokuevents/shared/platform/catalog"
	"github.com/herokuevents/herokuevents/shared/queue"
)

// TestLifecycleCommandsAWS: the lifecycle commands work against the AWS
// mode's api handler (DynamoDB and SQS in moto): update, pause and resume
// (no wake there: held deliveries come back when their hold ends),
// rotate-secret, streams:update and deadletters:purge over SQS.
func TestLifecycleCommandsAWS(t *testing.T) {
	apiURL := apiOnAWS(t, catalog.All(), "5d3b0c5e-0000-4000-8000-000000000002", map[string]string{"ALLOW_EGRESS": "127.0.0.0/8"})
	cli := func(args ...string) result {
		t.Helper()
		return run(t, nil, append(args, "-a", testApp, "--api-url", apiURL)...)
	}
	rc := newReceiver(t, http.StatusNoContent)

	must(t, cli("publications:webhook:create", "hook", "-u", rc.srv.URL+"/events"))
	must(t, cli("publications:update", "hook", "--rate", "5/s", "--timeout", "20s", "--max-attempts", "3"))
	info := must(t, cli("publications:info", "hook")).stdout
	assert.Regexp(t, `(?m)^Rate: +5/s$`, info)
	assert.Regexp(t, `(?m)^Timeout: +20s$`, info)
	assert.Regexp(t, `(?m)^Max Attempts: +3$`, info)
	must(t, cli("publications:pause", "hook"))
	assert.Contains(t, must(t, cli("publications:info", "hook")).stdout, "Paused:")
	must(t, cli("publications:resume", "hook"))
	assert.NotContains(t, must(t, cli("publications:info", "hook")).stdout, "Paused:")
	r := must(t, cli("publications:webhook:rotate-secret", "hook", "--overlap", "2h"))
	assert.Contains(t, r.stdout, "Signing secret (shown once): whsec_")

	must(t, cli("subscriptions:webhook:create", "inbound"))
	must(t, cli("streams:create", "inbound", "hook"))
	must(t, cli("streams:update", "inbound", "hook", "-f", "root = this"))
	assert.Contains(t, must(t, cli("streams")).stdout, "root = this")
	r = cli("publications:webhook:create", "inbound", "-u", rc.srv.URL)
	require.Error(t, r.err)
	assert.Contains(t, r.err.Error(), "Name inbound is taken by the subscription inbound")

	tenant := tenantOfURL(t, apiURL)
	dlq := awsenv.MustLoad(t.Context(), "api").Queue("DELIVERY_DLQ_URL") // apiOnAWS set the environment
	for _, id := range []string{"ev-1", "ev-2"} {
		body, err := json.Marshal(event.Delivery{Tenant: tenant, Publication: "gone", Event: event.Event{ID: id, Source: "/s", Type: event.TypePublish}})
		require.NoError(t, err)
		require.NoError(t, dlq.Send(t.Context(), queue.Message{Body: body,
			Attributes: map[string]string{queue.AttrTenant: tenant, queue.AttrAttempt: "1", queue.AttrReason: "400"}}))
	}
	var dead []deadLetter
	require.NoError(t, json.Unmarshal([]byte(must(t, cli("deadletters", "--json")).stdout), &dead))
	require.Len(t, dead, 2)
	r = must(t, cli("deadletters:purge", dead[0].ID, "-c", testApp))
	assert.Equal(t, "Purging 1 dead letter... done\n", r.stderr)
	require.NoError(t, json.Unmarshal([]byte(must(t, cli("deadletters", "--json")).stdout), &dead))
	require.Len(t, dead, 1)
	r = must(t, cli("deadletters:purge", "-c", testApp))
	assert.Equal(t, "Purging every dead letter of my-app... done\n1 dead letter was purged.\n", r.stderr)
	assert.Equal(t, "No dead letters for app my-app.\n", must(t, cli("deadletters")).stdout)
}
