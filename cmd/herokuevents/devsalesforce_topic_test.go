package main

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/herokuevents/herokuevents/shared/logtest"
)

// Topics and Data Cloud objects added on the command line are served.
func TestDevSalesforceAddsTopicsAndObjects(t *testing.T) {
	ctx, cancel := context.WithCancel(t.Context())
	stdout, stderr := &logtest.Buffer{}, &logtest.Buffer{}
	root := newRoot()
	root.SetArgs([]string{"dev:salesforce", "--grpc-addr", "127.0.0.1:0", "--http-addr", "127.0.0.1:0",
		"--topic", "/event/Order__e:Amount__c=double,Note__c", "--topic", "/data/ContactChangeEvent:Name,Email",
		"--datacloud-object", "shopConnector/Cart:CartId,Total"})
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

	for _, tc := range []struct{ topic, body string }{
		{"/event/Order__e", `{"Amount__c":12.5,"Note__c":"rush"}`},
		{"/data/ContactChangeEvent", `{"ChangeEventHeader":{"changeType":"CREATE"},"Name":"Ada","Email":"ada@example.com"}`},
	} {
		var out bytes.Buffer
		r := newRoot()
		r.SetArgs([]string{"dev:salesforce:emit", "--http-addr", vars["SALESFORCE_LOGIN_URL"], tc.topic, tc.body})
		r.SetOut(&out)
		r.SetErr(&out)
		require.NoError(t, r.ExecuteContext(t.Context()), "%s: %s", tc.topic, out.String())
	}

	// The Ingestion API knows the added object: a full record is accepted,
	// one missing a field refused.
	postForm := func(u string, form url.Values) map[string]any {
		resp, err := http.PostForm(u, form)
		require.NoError(t, err)
		defer resp.Body.Close()
		require.Equal(t, http.StatusOK, resp.StatusCode)
		var out map[string]any
		require.NoError(t, json.NewDecoder(resp.Body).Decode(&out))
		return out
	}
	core := postForm(vars["SALESFORCE_LOGIN_URL"]+"/services/oauth2/token", url.Values{"grant_type": {"client_credentials"},
		"client_id": {vars["SALESFORCE_CLIENT_ID"]}, "client_secret": {vars["SALESFORCE_CLIENT_SECRET"]}})
	dc := postForm(vars["SALESFORCE_LOGIN_URL"]+"/services/a360/token", url.Values{"grant_type": {"urn:salesforce:grant-type:external:cdp"},
		"subject_token": {core["access_token"].(string)}, "subject_token_type": {"urn:ietf:params:oauth:token-type:access_token"}})
	ingest := func(body string) int {
		req, err := http.NewRequestWithContext(t.Context(), http.MethodPost,
			"http://"+dc["instance_url"].(string)+"/api/v1/ingest/sources/shopConnector/Cart", strings.NewReader(body))
		require.NoError(t, err)
		req.Header.Set("Authorization", "Bearer "+dc["access_token"].(string))
		req.Header.Set("Content-Type", "application/json")
		resp, err := http.DefaultClient.Do(req)
		require.NoError(t, err)
		resp.Body.Close()
		return resp.StatusCode
	}
	assert.Equal(t, http.StatusAccepted, ingest(`{"data":[{"CartId":"c1","Total":3}]}`))
	assert.Equal(t, http.StatusBadRequest, ingest(`{"data":[{"CartId":"c1"}]}`))
}

func TestDevSalesforceRefusesBadDeclarations(t *testing.T) {
	for _, tc := range []struct{ name, flag, value, want string }{
		{"topic prefix", "--topic", "/foo/Bar", "--topic"},
		{"field type", "--topic", "/event/Order__e:Amount__c=money", "money"},
		{"twice", "--topic", "/event/Order__e:A__c,A__c", "twice"},
		{"object", "--datacloud-object", "noslash", "--datacloud-object"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var out bytes.Buffer
			r := newRoot()
			r.SetArgs([]string{"dev:salesforce", "--grpc-addr", "127.0.0.1:0", "--http-addr", "127.0.0.1:0", tc.flag, tc.value})
			r.SetOut(&out)
			r.SetErr(&out)
			err := r.ExecuteContext(t.Context())
			require.Error(t, err)
			assert.Contains(t, err.Error(), tc.want)
		})
	}
}
