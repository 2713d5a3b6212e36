package main

import (
	"net/http"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestGenerate(t *testing.T) {
	const created = `{"id":"g1","name":"my-generator","platform":"generate","params":{"interval":"1m","mapping":"root.timestamp = timestamp_unix()"},"targets":[]}`
	tests := []struct {
		name     string
		args     []string
		rep      reply
		wantBody string // "" = no request expected
		stderr   string
		err      string
	}{
		{name: "seed example", args: []string{"generate", "my-generator", "-i", "1m", "-m", "root.timestamp = timestamp_unix()"},
			rep:      reply{201, created},
			wantBody: `{"name":"my-generator","interval":"1m","mapping":"root.timestamp = timestamp_unix()"}`,
			stderr:   "Creating event generator my-generator... done\n"},
		{name: "events: prefix and every flag", args: []string{"events:generate", "my-generator", "--interval", "TZ=Europe/London 0 9 * * 1-5",
			"--mapping", `root = {"status": "up"}`, "-t", "statusHook", "-f", "root = this"},
			rep:      reply{201, created},
			wantBody: `{"name":"my-generator","interval":"TZ=Europe/London 0 9 * * 1-5","mapping":"root = {\"status\": \"up\"}","target":"statusHook","filter":"root = this"}`,
			stderr:   "Creating event generator my-generator... done\n"},
		{name: "compile error from the API", args: []string{"generate", "my-generator", "-i", "1m", "-m", `root = env("AWS_SECRET_ACCESS_KEY")`},
			rep:      reply{422, `{"id":"invalid_params","message":"mapping: invalid Bloblang: line 1 char 36: unrecognised function 'env'"}`},
			wantBody: `{"name":"my-generator","interval":"1m","mapping":"root = env(\"AWS_SECRET_ACCESS_KEY\")"}`,
			stderr:   "Creating event generator my-generator... !\n",
			err:      "mapping: invalid Bloblang: line 1 char 36: unrecognised function 'env'"},
		{name: "interval error from the API", args: []string{"generate", "my-generator", "-i", "500ms", "-m", "root = {}"},
			rep:      reply{422, `{"id":"invalid_params","message":"interval \"500ms\" is shorter than 1s."}`},
			wantBody: `{"name":"my-generator","interval":"500ms","mapping":"root = {}"}`,
			stderr:   "Creating event generator my-generator... !\n", err: `interval "500ms" is shorter than 1s.`},
		{name: "filter without target", args: []string{"generate", "my-generator", "-i", "1m", "-m", "root = {}", "-f", "root = this"},
			err: "--filter needs --target"},
		{name: "interval required", args: []string{"generate", "my-generator", "-m", "root = {}"}, err: `"interval"`},
		{name: "mapping required", args: []string{"generate", "my-generator", "-i", "1m"}, err: `"mapping"`},
		{name: "blank mapping", args: []string{"generate", "my-generator", "-i", "1m", "-m", " "}, err: "--mapping must not be empty"},
		{name: "blank interval", args: []string{"generate", "my-generator", "-i", "", "-m", "root = {}"}, err: "--interval must not be empty"},
		{name: "name required", args: []string{"generate", "-i", "1m", "-m", "root = {}"}, err: "accepts 1 arg"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			api := newFakeAPI(t, map[string]reply{"POST /v1/tenants/t-123/platforms/generate/subscriptions": tt.rep})
			r := run(t, nil, append(tt.args, "-a", testApp, "--api-url", api.url())...)
			if tt.err != "" {
				require.Error(t, r.err)
				assert.Contains(t, r.err.Error(), tt.err)
			} else {
				require.NoError(t, r.err)
			}
			assert.Equal(t, tt.stderr, r.stderr)
			assert.Empty(t, r.stdout)
			reqs := api.requests()
			if tt.wantBody == "" {
				assert.Empty(t, reqs)
				return
			}
			require.Len(t, reqs, 1)
			assert.Equal(t, http.MethodPost, reqs[0].Method)
			assert.JSONEq(t, tt.wantBody, reqs[0].Body)
			assert.Equal(t, "Bearer "+testKey, reqs[0].Auth)
		})
	}
}

func TestGenerateOtherApp(t *testing.T) {
	api := newFakeAPI(t, nil)
	r := run(t, nil, "generate", "g", "-i", "1m", "-m", "root = {}", "-a", "other-app", "--api-url", api.url())
	require.Error(t, r.err)
	assert.Contains(t, r.err.Error(), "not other-app")
	assert.Empty(t, api.requests(), "nothing is created on another app's tenant")
}
