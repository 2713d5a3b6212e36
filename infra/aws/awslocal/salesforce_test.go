package awslocal_test

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/herokuevents/herokuevents/infra/aws/awslocal"
	"github.com/herokuevents/herokuevents/infra/aws/awslocal/awslocaltest"
	"github.com/herokuevents/herokuevents/shared/salesforce/standin"
	"github.com/herokuevents/herokuevents/shared/sfsub"
)

// TestSalesforceSubscribeToWebhook: the stand-in org is the Salesforce of
// the stack (template parameters: Pub/Sub endpoint, CA, connected app); an
// authorization made with the web flow through the api function, a CDC
// subscription from the earliest replay with a CREATE-only filter, and one
// sfsubscribe tick carry the CREATE changes to the webhook with their
// stable ids, through filter and deliver.
// salesforceStack starts a stand-in org and a stack pointed at it.
func salesforceStack(t *testing.T) (*standin.Org, *awslocaltest.Stack) {
	org, err := standin.Start(standin.Options{Keepalive: 100 * time.Millisecond})
	require.NoError(t, err)
	t.Cleanup(func() { org.Close() })
	st := awslocaltest.New(t, awslocal.Options{
		Params: map[string]string{"SalesforcePubsubEndpoint": org.PubSubEndpoint(), "SalesforceCaCert": org.CACertFile(),
			"SalesforceClientId": org.ClientID(), "SalesforceClientSecret": org.ClientSecret()},
		FunctionEnv: map[string]map[string]string{"SfsubscribeFunction": {"RUN_FOR": "2s"}},
	})
	return org, st
}

// connect makes the authorization example-org through the api function's
// browser flow: an HTTP client plays the browser.
func connect(t *testing.T, tn *awslocaltest.Tenant, org *standin.Org) {
	t.Helper()
	var auth struct {
		Extra struct {
			RedirectURI string `json:"redirect_uri"`
		} `json:"extra"`
	}
	tn.MustCall(t, http.StatusCreated, "POST", "/platforms/salesforce/authorizations",
		map[string]any{"org_name": "example-org", "login_url": org.LoginURL()}, &auth)
	res, err := http.Get(auth.Extra.RedirectURI) // the org redirects to the api's callback
	require.NoError(t, err)
	page, _ := io.ReadAll(res.Body)
	res.Body.Close()
	require.Equal(t, http.StatusOK, res.StatusCode, string(page))
}

// A Salesforce publication: an event published by the app is Avro-encoded by
// the deliver function and published over the Pub/Sub API.
func TestSalesforcePublication(t *testing.T) {
	t.Parallel()
	org, st := salesforceStack(t)
	tn := st.Provision(t, "sf-pub-app")
	connect(t, tn, org)
	tn.MustCall(t, http.StatusCreated, "POST", "/platforms/salesforce/publications",
		map[string]any{"name": "systemStatus", "event": standin.SystemStatusTopic, "org_name": "example-org"}, nil)
	tn.Publish(t, "systemStatus", `{"Context__c":{"string":"from aws"},"CreatedById":"005Ws000001eUtGIAU","CreatedDate":1733842936000}`)
	require.NoError(t, st.Drain(t.Context()))
	got := org.Published(standin.SystemStatusTopic)
	require.Len(t, got, 1)
	assert.JSONEq(t, `{"string":"from aws"}`, string(mustField(t, got[0].Data, "Context__c")))
}

func mustField(t *testing.T, data json.RawMessage, name string) json.RawMessage {
	t.Helper()
	var m map[string]json.RawMessage
	require.NoError(t, json.Unmarshal(data, &m))
	return m[name]
}

func TestSalesforceSubscribeToWebhook(t *testing.T) {
	t.Parallel()
	org, st := salesforceStack(t)
	hook := awslocaltest.NewHook(t)
	tn := st.Provision(t, "sf-app")

	connect(t, tn, org)

	tn.MustCall(t, http.StatusCreated, "POST", "/platforms/webhook/publications", map[string]any{"name": "accountCreated", "url": hook.URL}, nil)
	var sub struct{ ID string }
	tn.MustCall(t, http.StatusCreated, "POST", "/platforms/salesforce/subscriptions", map[string]any{
		"name": "accountChange", "event": standin.AccountChangeTopic, "org_name": "example-org", "replay": "earliest",
		"target": "accountCreated", "filter": `root = if this.ChangeEventHeader.changeType == "CREATE" { this } else { deleted() }`}, &sub)
	var creates []*standin.EmitResult
	for i, change := range []string{"CREATE", "UPDATE", "CREATE"} {
		r, err := org.Emit(standin.AccountChangeTopic,
			fmt.Appendf(nil, `{"ChangeEventHeader":{"changeType":%q,"recordIds":["001xx00000000%02dAAA"]},"Name":"Acme %d"}`, change, i, i))
		require.NoError(t, err)
		if change == "CREATE" {
			creates = append(creates, r)
		}
	}

	_, err := st.Tick(t.Context(), "SfsubscribeFunction", time.Now())
	require.NoError(t, err)
	for _, r := range creates {
		id := sfsub.EventID(sub.ID, standin.AccountChangeTopic, r.ReplayID)
		got := hook.Wait(t, id, 1, 30*time.Second)[0]
		var ce map[string]json.RawMessage
		require.NoError(t, json.Unmarshal(got.Body, &ce))
		assert.JSONEq(t, `"/data/AccountChangeEvent"`, string(ce["subject"]))
		assert.JSONEq(t, string(r.Data), string(ce["data"]), "data is the union-wrapped Avro JSON")
	}
	require.NoError(t, st.Drain(t.Context()))
	assert.Len(t, hook.All(), 2, "exactly the CREATE changes, once each")
}

// Each tick resumes from the last one's checkpoint, with a token that
// expired in between refreshed: every event arrives once, none skipped.
func TestSalesforceResumeAcrossTicks(t *testing.T) {
	t.Parallel()
	org, st := salesforceStack(t)
	hook := awslocaltest.NewHook(t)
	tn := st.Provision(t, "sf-resume-app")
	connect(t, tn, org)
	tn.MustCall(t, http.StatusCreated, "POST", "/platforms/webhook/publications", map[string]any{"name": "status", "url": hook.URL}, nil)
	var sub struct{ ID string }
	tn.MustCall(t, http.StatusCreated, "POST", "/platforms/salesforce/subscriptions", map[string]any{
		"name": "statusEvents", "event": standin.SystemStatusTopic, "org_name": "example-org", "replay": "earliest", "target": "status"}, &sub)
	emit := func(n int) []string {
		var ids []string
		for i := range n {
			r, err := org.Emit(standin.SystemStatusTopic, fmt.Appendf(nil, `{"Context__c":"tick %d"}`, i))
			require.NoError(t, err)
			ids = append(ids, sfsub.EventID(sub.ID, standin.SystemStatusTopic, r.ReplayID))
		}
		return ids
	}
	first := emit(2)
	_, err := st.Tick(t.Context(), "SfsubscribeFunction", time.Now())
	require.NoError(t, err)
	org.ExpireAccessTokens()
	second := emit(3)
	_, err = st.Tick(t.Context(), "SfsubscribeFunction", time.Now())
	require.NoError(t, err)
	require.NoError(t, st.Drain(t.Context()))
	for _, id := range append(first, second...) {
		assert.Len(t, hook.Requests(id), 1, "event %s delivered once", id)
	}
	assert.Len(t, hook.All(), 5)
}
