package standin_test

import (
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/herokuevents/herokuevents/shared/salesforce/standin"
)

func TestDataCloudEndpoints(t *testing.T) {
	org := start(t, standin.Options{})
	exchange := func(subject string) (int, map[string]any) {
		form := url.Values{"grant_type": {"urn:salesforce:grant-type:external:cdp"}, "subject_token": {subject},
			"subject_token_type": {"urn:ietf:params:oauth:token-type:access_token"}}
		resp, err := http.PostForm(org.InstanceURL()+"/services/a360/token", form)
		require.NoError(t, err)
		defer resp.Body.Close()
		var out map[string]any
		require.NoError(t, json.NewDecoder(resp.Body).Decode(&out))
		return resp.StatusCode, out
	}
	status, out := exchange("bogus")
	assert.Equal(t, http.StatusBadRequest, status)
	assert.Equal(t, "invalid_grant", out["error"])
	status, out = exchange(org.IssueToken().AccessToken)
	require.Equal(t, http.StatusOK, status)
	assert.Equal(t, org.DataCloudInstanceURL(), out["instance_url"])
	assert.NotContains(t, out["instance_url"], "://", "the tenant host comes without a scheme")
	dc, _ := out["access_token"].(string)
	require.NotEmpty(t, dc)

	base := "http://" + org.DataCloudInstanceURL() + "/api/v1/ingest/sources/" + standin.DataCloudConnector + "/" + standin.DataCloudObject
	rec := `{"data":[{"OrderId":"o1","TotalValue":1,"Status":""}]}`
	tests := []struct {
		name, url, token, body string
		status                 int
		contains               string
	}{
		{name: "validate only", url: base + "/actions/test", token: dc, body: rec, status: http.StatusOK},
		{name: "ingest", url: base, token: dc, body: rec, status: http.StatusAccepted, contains: `"accepted":true`},
		{name: "no token", url: base, body: rec, status: http.StatusUnauthorized},
		{name: "a core token is not a Data Cloud token", url: base, token: org.IssueToken().AccessToken, body: rec, status: http.StatusUnauthorized},
		{name: "missing field", url: base, token: dc, body: `{"data":[{"OrderId":"o1"}]}`, status: http.StatusBadRequest, contains: "missing field"},
		{name: "empty data", url: base, token: dc, body: `{"data":[]}`, status: http.StatusBadRequest},
		{name: "malformed", url: base, token: dc, body: `{"data":`, status: http.StatusBadRequest},
		{name: "over 200 KB", url: base, token: dc, body: `{"data":[{"OrderId":"` + strings.Repeat("x", 200<<10) + `"}]}`, status: http.StatusBadRequest, contains: "200 KB"},
		{name: "unknown object", url: base + "x", token: dc, body: rec, status: http.StatusNotFound},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			status, body := post(t, tt.url, tt.token, tt.body)
			assert.Equal(t, tt.status, status, string(body))
			assert.Contains(t, string(body), tt.contains)
		})
	}
	assert.Len(t, org.Ingested(standin.DataCloudConnector, standin.DataCloudObject), 1, "only the ingest stored a record")

	resp, err := http.Get(org.InstanceURL() + "/_stand-in/ingested?connector=salesConnector&object=HighPriorityOrder")
	require.NoError(t, err)
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	assert.JSONEq(t, `[{"OrderId":"o1","TotalValue":1,"Status":""}]`, string(b))

	org.FailIngest(standin.Fault{Status: http.StatusTooManyRequests, RetryAfter: "5"})
	status, _ = post(t, base, dc, rec)
	assert.Equal(t, http.StatusTooManyRequests, status)
	status, _ = post(t, base, dc, rec)
	assert.Equal(t, http.StatusAccepted, status, "a fault answers once")

	org.ExpireDataCloudTokens()
	status, _ = post(t, base, dc, rec)
	assert.Equal(t, http.StatusUnauthorized, status)
}
