package main

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/herokuevents/herokuevents/infra/aws/awsapi"
	"github.com/herokuevents/herokuevents/infra/aws/awsapp"
	"github.com/herokuevents/herokuevents/infra/aws/awsenv"
	"github.com/herokuevents/herokuevents/infra/aws/awslocal"
	"github.com/herokuevents/herokuevents/infra/aws/motoserver"
	"github.com/herokuevents/herokuevents/shared/event"
	"github.com/herokuevents/herokuevents/shared/platform/catalog"
	"github.com/herokuevents/herokuevents/shared/queue"
)

// TestLifecycleCommandsAWS: the lifecycle commands work against the AWS
// mode's api handler (DynamoDB and SQS in moto): update, pause and resume
// (no wake there: held deliveries come back when their hold ends),
// rotate-secret, streams:update and deadletters:purge over SQS.
func TestLifecycleCommandsAWS(t *testing.T) {
	moto, err := motoserver.Start()
	require.NoError(t, err)
	t.Cleanup(func() { _ = moto.Close() })
	st, err := awslocal.Deploy(t.Context(), awslocal.Options{Endpoint: moto.URL, Binaries: map[string]string{}, Functions: []string{}, NoPollers: true})
	require.NoError(t, err)
	t.Cleanup(func() { _ = st.Close() })
	hs := httptest.NewUnstartedServer(nil)
	env := st.Env("ApiFunction")
	env["PUBLIC_URL"] = "http://" + hs.Listener.Addr().String()
	env["ALLOW_EGRESS"] = "127.0.0.0/8"
	for k, v := range env {
		t.Setenv(k, v)
	}
	e := awsenv.MustLoad(t.Context(), "api")
	app, err := awsapp.New(e, awsapp.Options{Platforms: catalog.All(), PublicURL: env["PUBLIC_URL"]})
	require.NoError(t, err)
	h, err := awsapi.Handler(app)
	require.NoError(t, err)
	hs.Config.Handler = h
	hs.Start()
	t.Cleanup(hs.Close)

	req, err := http.NewRequestWithContext(t.Context(), http.MethodPost, hs.URL+"/heroku/resources",
		strings.NewReader(`{"uuid":"5d3b0c5e-0000-4000-8000-000000000002","plan":"herokuevents:test","options":{"app":"`+testApp+`"}}`))
	require.NoError(t, err)
	req.SetBasicAuth(env["OPERATOR_ID"], env["OPERATOR_PASSWORD"])
	req.Header.Set("Content-Type", "application/json")
	res, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	var prov struct {
		Config map[string]string `json:"config"`
	}
	require.NoError(t, json.NewDecoder(res.Body).Decode(&prov))
	res.Body.Close()
	require.Equal(t, http.StatusCreated, res.StatusCode)
	apiURL := prov.Config["HEROKUEVENTS_API_URL"]
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
	dlq := e.Queue("DELIVERY_DLQ_URL")
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
