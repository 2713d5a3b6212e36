package main

import (
	"bytes"
	"context"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/herokuevents/herokuevents/shared/logtest"
	"github.com/herokuevents/herokuevents/shared/salesforce"
	"github.com/herokuevents/herokuevents/shared/salesforce/pubsub"
	"github.com/herokuevents/herokuevents/shared/salesforce/standin"
)

// printedVars returns the KEY=value lines of out.
func printedVars(out string) map[string]string {
	vars := map[string]string{}
	for _, line := range strings.Split(out, "\n") {
		if k, v, ok := strings.Cut(line, "="); ok {
			vars[k] = v
		}
	}
	return vars
}

func TestDevSalesforceServeAndEmit(t *testing.T) {
	ctx, cancel := context.WithCancel(t.Context())
	stdout, stderr := &logtest.Buffer{}, &logtest.Buffer{}
	root := newRoot()
	root.SetArgs([]string{"events:dev:salesforce", "--grpc-addr", "127.0.0.1:0", "--http-addr", "127.0.0.1:0", "--keepalive", "100ms"})
	root.SetOut(stdout)
	root.SetErr(stderr)
	done := make(chan error, 1)
	go func() { done <- root.ExecuteContext(ctx) }()
	t.Cleanup(func() {
		cancel()
		require.NoError(t, <-done)
	})

	var vars map[string]string
	require.Eventually(t, func() bool {
		vars = printedVars(stdout.String())
		return vars["SALESFORCE_CA_CERT"] != ""
	}, 5*time.Second, 10*time.Millisecond)
	for _, k := range []string{"SALESFORCE_LOGIN_URL", "SALESFORCE_CLIENT_ID", "SALESFORCE_CLIENT_SECRET", "SALESFORCE_PUBSUB_ENDPOINT"} {
		assert.NotEmpty(t, vars[k], k)
	}
	assert.Contains(t, stderr.String(), `"msg":"salesforce stand-in started"`)

	emit := func(args ...string) (string, error) {
		var out bytes.Buffer
		r := newRoot()
		r.SetArgs(append([]string{"dev:salesforce:emit", "--http-addr", vars["SALESFORCE_LOGIN_URL"]}, args...))
		r.SetOut(&out)
		r.SetErr(&out)
		err := r.ExecuteContext(t.Context())
		return strings.TrimSpace(out.String()), err
	}
	replay, err := emit("/event/System_Status__e", `{"Context__c":{"string":"up"}}`)
	require.NoError(t, err)
	id, err := base64.StdEncoding.DecodeString(replay)
	require.NoError(t, err)
	assert.Len(t, id, 8)
	_, err = emit("/event/Nope__e", `{}`)
	require.ErrorContains(t, err, "unknown topic")
	_, err = emit("/event/System_Status__e", `{`)
	require.Error(t, err)

	// An app configured from the printed variables subscribes and sees the event.
	o := &salesforce.OAuth{LoginURL: vars["SALESFORCE_LOGIN_URL"], ClientID: vars["SALESFORCE_CLIENT_ID"], ClientSecret: vars["SALESFORCE_CLIENT_SECRET"]}
	c, err := pubsub.Dial(t.Context(), vars["SALESFORCE_PUBSUB_ENDPOINT"], pubsub.WithCAFile(vars["SALESFORCE_CA_CERT"]),
		pubsub.WithSession(o.ClientCredentialsTokenSource()))
	require.NoError(t, err)
	defer c.Close()
	sub, err := c.Subscribe(t.Context(), pubsub.SubscribeRequest{Topic: "/event/System_Status__e", Replay: pubsub.ReplayEarliest})
	require.NoError(t, err)
	defer sub.Close()
	b, err := sub.Recv()
	require.NoError(t, err)
	require.Len(t, b.Events, 1)
	assert.Equal(t, id, b.Events[0].ReplayID)
	var data map[string]any
	require.NoError(t, json.Unmarshal(b.Events[0].Data, &data))
	assert.Equal(t, map[string]any{"string": "up"}, data["Context__c"])
}

// The stand-in's login is printed: its user and password, and a JWT key
// file the org accepts; emit finds the stand-in from SALESFORCE_LOGIN_URL.
func TestDevSalesforcePrintsItsLogin(t *testing.T) {
	ctx, cancel := context.WithCancel(t.Context())
	stdout, stderr := &logtest.Buffer{}, &logtest.Buffer{}
	root := newRoot()
	root.SetArgs([]string{"dev:salesforce", "--grpc-addr", "127.0.0.1:0", "--http-addr", "127.0.0.1:0"})
	root.SetOut(stdout)
	root.SetErr(stderr)
	done := make(chan error, 1)
	go func() { done <- root.ExecuteContext(ctx) }()
	t.Cleanup(func() {
		cancel()
		require.NoError(t, <-done)
	})
	var vars map[string]string
	require.Eventually(t, func() bool {
		vars = printedVars(stdout.String())
		return vars["SALESFORCE_CA_CERT"] != ""
	}, 5*time.Second, 10*time.Millisecond)
	assert.Equal(t, standin.DefaultUsername, vars["SALESFORCE_USERNAME"])
	assert.Equal(t, standin.DefaultPassword, vars["SALESFORCE_PASSWORD"])

	pemBytes, err := os.ReadFile(vars["SALESFORCE_JWT_KEY_FILE"])
	require.NoError(t, err)
	block, _ := pem.Decode(pemBytes)
	require.NotNil(t, block)
	key, err := x509.ParsePKCS1PrivateKey(block.Bytes)
	require.NoError(t, err)
	o := &salesforce.OAuth{LoginURL: vars["SALESFORCE_LOGIN_URL"], ClientID: vars["SALESFORCE_CLIENT_ID"]}
	tok, err := o.JWTBearer(t.Context(), vars["SALESFORCE_USERNAME"], key)
	require.NoError(t, err, "the org accepts the printed key for the JWT bearer flow")
	assert.NotEmpty(t, tok.AccessToken)

	t.Setenv("SALESFORCE_LOGIN_URL", vars["SALESFORCE_LOGIN_URL"])
	var out bytes.Buffer
	r := newRoot()
	r.SetArgs([]string{"dev:salesforce:emit", "/data/AccountChangeEvent", `{"ChangeEventHeader":{"changeType":"CREATE"},"Name":"Acme"}`})
	r.SetOut(&out)
	r.SetErr(&out)
	require.NoError(t, r.ExecuteContext(t.Context()), "emit without --http-addr: %s", out.String())
	_, err = base64.StdEncoding.DecodeString(strings.TrimSpace(out.String()))
	assert.NoError(t, err, "a replay id: %s", out.String())
}
