package standin_test

import (
	"encoding/base64"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/herokuevents/herokuevents/shared/salesforce/salesforcetest"
	"github.com/herokuevents/herokuevents/shared/salesforce/standin"
)

func start(t *testing.T, opts standin.Options) *standin.Org { return salesforcetest.StartOrg(t, opts) }

func post(t *testing.T, url, token, body string) (int, []byte) {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), http.MethodPost, url, strings.NewReader(body))
	require.NoError(t, err)
	req.Header.Set("Content-Type", "application/json")
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	return resp.StatusCode, b
}

func TestRESTPublish(t *testing.T) {
	org := start(t, standin.Options{})
	tok := org.IssueToken()
	url := org.InstanceURL() + "/services/data/v62.0/sobjects/System_Status__e/"

	status, body := post(t, url, tok.AccessToken, `{"Context__c":"from rest"}`)
	require.Equal(t, http.StatusCreated, status, string(body))
	var res struct {
		Success bool `json:"success"`
		Errors  []struct {
			StatusCode string `json:"statusCode"`
			Message    string `json:"message"`
		} `json:"errors"`
	}
	require.NoError(t, json.Unmarshal(body, &res))
	assert.True(t, res.Success)
	require.Len(t, res.Errors, 1)
	assert.Equal(t, "OPERATION_ENQUEUED", res.Errors[0].StatusCode)

	pub := org.Published(standin.SystemStatusTopic)
	require.Len(t, pub, 1)
	assert.Equal(t, res.Errors[0].Message, pub[0].EventID)
	assert.Equal(t, "rest", pub[0].Via)
	var data map[string]any
	require.NoError(t, json.Unmarshal(pub[0].Data, &data))
	assert.Equal(t, map[string]any{"string": "from rest"}, data["Context__c"])
	assert.Equal(t, org.UserID(), data["CreatedById"])

	tests := []struct {
		name, url, token, body string
		status                 int
		code                   string
	}{
		{"bad session", url, "nope", `{}`, http.StatusUnauthorized, "INVALID_SESSION_ID"},
		{"unknown field", url, tok.AccessToken, `{"Nope__c":1}`, http.StatusBadRequest, "INVALID_FIELD"},
		{"bad json", url, tok.AccessToken, `{`, http.StatusBadRequest, "JSON_PARSER_ERROR"},
		{"unknown event", org.InstanceURL() + "/services/data/v62.0/sobjects/Nope__e", tok.AccessToken, `{}`, http.StatusNotFound, "NOT_FOUND"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			status, body := post(t, tc.url, tc.token, tc.body)
			assert.Equal(t, tc.status, status)
			var errs []struct {
				ErrorCode string `json:"errorCode"`
			}
			require.NoError(t, json.Unmarshal(body, &errs), string(body))
			require.Len(t, errs, 1)
			assert.Equal(t, tc.code, errs[0].ErrorCode)
		})
	}
}

func TestEmitEndpointAndTopicsFile(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "topics.json")
	require.NoError(t, os.WriteFile(file, []byte(`[{"name":"/event/Order_Created__e","schema":
		{"type":"record","name":"Order_Created__e","namespace":"com.sforce.eventbus","fields":[
		 {"name":"CreatedDate","type":"long"},{"name":"CreatedById","type":"string"},
		 {"name":"Total__c","type":["null","double"],"default":null}]}}]`), 0o600))
	org := start(t, standin.Options{TopicsFile: file, Dir: dir})
	assert.FileExists(t, org.CACertFile())
	assert.Equal(t, dir, filepath.Dir(org.CACertFile()))

	status, body := post(t, org.LoginURL()+"/_stand-in/emit/event/Order_Created__e", "", `{"Total__c":12.5}`)
	require.Equal(t, http.StatusCreated, status, string(body))
	var res standin.EmitResponse
	require.NoError(t, json.Unmarshal(body, &res))
	id, err := base64.StdEncoding.DecodeString(res.ReplayID)
	require.NoError(t, err)
	assert.Len(t, id, 8)
	assert.Equal(t, "/event/Order_Created__e", res.Topic)
	var data map[string]any
	require.NoError(t, json.Unmarshal(res.Data, &data))
	assert.Equal(t, map[string]any{"double": 12.5}, data["Total__c"])

	status, _ = post(t, org.LoginURL()+"/_stand-in/emit/event/Nope__e", "", `{}`)
	assert.Equal(t, http.StatusNotFound, status)
	status, _ = post(t, org.LoginURL()+"/_stand-in/emit/event/Order_Created__e", "", `{"Total__c":"many"}`)
	assert.Equal(t, http.StatusBadRequest, status)

	status, _ = post(t, org.LoginURL()+"/_stand-in/emit/data/AccountChangeEvent", "", `{"Name":"Acme"}`)
	assert.Equal(t, http.StatusCreated, status)
}

func TestControlHooks(t *testing.T) {
	org := start(t, standin.Options{})
	tok := org.IssueToken()
	userinfo := func(access string) int {
		req, err := http.NewRequestWithContext(t.Context(), http.MethodGet, org.InstanceURL()+"/services/oauth2/userinfo", nil)
		require.NoError(t, err)
		req.Header.Set("Authorization", "Bearer "+access)
		resp, err := http.DefaultClient.Do(req)
		require.NoError(t, err)
		resp.Body.Close()
		return resp.StatusCode
	}
	require.Equal(t, http.StatusOK, userinfo(tok.AccessToken))
	status, _ := post(t, org.LoginURL()+"/_stand-in/expire-tokens", "", "")
	require.Equal(t, http.StatusNoContent, status)
	assert.Equal(t, http.StatusUnauthorized, userinfo(tok.AccessToken))

	req, err := http.NewRequestWithContext(t.Context(), http.MethodPost, org.LoginURL()+"/_stand-in/revoke",
		strings.NewReader("token="+tok.RefreshToken))
	require.NoError(t, err)
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	resp.Body.Close()
	assert.Equal(t, http.StatusNoContent, resp.StatusCode)
	_, err = org.OAuth("").Refresh(t.Context(), tok.RefreshToken)
	require.Error(t, err)

	resp, err = http.Get(org.LoginURL() + "/_stand-in/published")
	require.NoError(t, err)
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	assert.JSONEq(t, `[]`, string(b))
}
