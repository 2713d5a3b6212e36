package stacktest_test

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/herokuevents/herokuevents/infra/aws/stacktest"
	"github.com/herokuevents/herokuevents/shared/salesforce/salesforcetest"
	"github.com/herokuevents/herokuevents/shared/sfsub"
)

// TestSalesforceSubscribeToWebhook: the stand-in org is the Salesforce of
// the stack (template parameters: Pub/Sub endpoint, CA, connected app); an
// authorization made with the web flow through the api function, a CDC
// subscription from the earliest replay with a CREATE-only filter, and one
// sfsubscribe tick carry the CREATE changes to the webhook with their
// stable ids, through filter and deliver.
func TestSalesforceSubscribeToWebhook(t *testing.T) {
	t.Parallel()
	org, err := salesforcetest.Start(salesforcetest.Options{Keepalive: 100 * time.Millisecond})
	require.NoError(t, err)
	t.Cleanup(func() { org.Close() })
	st := stacktest.New(t, stacktest.Options{
		Params: map[string]string{"SalesforcePubsubEndpoint": org.PubSubEndpoint(), "SalesforceCaCert": org.CACertFile(),
			"SalesforceClientId": org.ClientID(), "SalesforceClientSecret": org.ClientSecret()},
		FunctionEnv: map[string]map[string]string{"SfsubscribeFunction": {"RUN_FOR": "2s"}},
	})
	hook := stacktest.NewHook(t)
	tn := st.Provision(t, "sf-app")

	var auth struct {
		Extra struct {
			RedirectURI string `json:"redirect_uri"`
		} `json:"extra"`
	}
	tn.MustCall(t, http.StatusCreated, "POST", "/platforms/salesforce/authorizations",
		map[string]any{"org_name": "example-org", "login_url": org.LoginURL()}, &auth)
	res, err := http.Get(auth.Extra.RedirectURI) // the browser: the org redirects to the api's callback
	require.NoError(t, err)
	page, _ := io.ReadAll(res.Body)
	res.Body.Close()
	require.Equal(t, http.StatusOK, res.StatusCode, string(page))

	tn.MustCall(t, http.StatusCreated, "POST", "/platforms/webhook/publications", map[string]any{"name": "accountCreated", "url": hook.URL}, nil)
	var sub struct{ ID string }
	tn.MustCall(t, http.StatusCreated, "POST", "/platforms/salesforce/subscriptions", map[string]any{
		"name": "accountChange", "event": salesforcetest.AccountChangeTopic, "org_name": "example-org", "replay": "earliest",
		"target": "accountCreated", "filter": `root = if this.ChangeEventHeader.changeType == "CREATE" { this } else { deleted() }`}, &sub)
	var creates []*salesforcetest.EmitResult
	for i, change := range []string{"CREATE", "UPDATE", "CREATE"} {
		r, err := org.Emit(salesforcetest.AccountChangeTopic,
			fmt.Appendf(nil, `{"ChangeEventHeader":{"changeType":%q,"recordIds":["001xx00000000%02dAAA"]},"Name":"Acme %d"}`, change, i, i))
		require.NoError(t, err)
		if change == "CREATE" {
			creates = append(creates, r)
		}
	}

	_, err = st.Tick(t.Context(), "SfsubscribeFunction", time.Now())
	require.NoError(t, err)
	for _, r := range creates {
		id := sfsub.EventID(sub.ID, salesforcetest.AccountChangeTopic, r.ReplayID)
		got := hook.Wait(t, id, 1, 30*time.Second)[0]
		var ce map[string]json.RawMessage
		require.NoError(t, json.Unmarshal(got.Body, &ce))
		assert.JSONEq(t, `"/data/AccountChangeEvent"`, string(ce["subject"]))
		assert.JSONEq(t, string(r.Data), string(ce["data"]), "data is the union-wrapped Avro JSON")
	}
	require.NoError(t, st.Drain(t.Context()))
	assert.Len(t, hook.All(), 2, "exactly the CREATE changes, once each")
}
