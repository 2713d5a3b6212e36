package main

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestPublicationsBatchFlags: --batch-size reaches the API as a number and
// --batch-window as given, at create and at update; bad values are refused
// before any request; publications:info shows the settings and --json
// carries them.
func TestPublicationsBatchFlags(t *testing.T) {
	const created = `{"id":"p1","name":"hook","platform":"webhook","params":{"url":"https://example.com/hook","batch_size":50,"batch_window":"200ms"},"sources":[],
		"extra":{"signing_secret":"whsec_c2VjcmV0"}}`
	tests := []struct {
		name     string
		args     []string
		wantBody string
		err      string
	}{
		{name: "create", args: []string{"publications:webhook:create", "hook", "-u", "https://example.com/hook", "--batch-size", "50", "--batch-window", "200ms"},
			wantBody: `{"name":"hook","url":"https://example.com/hook","batch_size":50,"batch_window":"200ms"}`},
		{name: "create, not a number", args: []string{"publications:webhook:create", "hook", "-u", "https://example.com/hook", "--batch-size", "many"},
			err: `--batch-size "many": give a whole number`},
		{name: "update", args: []string{"publications:update", "hook", "--batch-size", "20", "--batch-window", "1s"},
			wantBody: `{"batch_size":20,"batch_window":"1s"}`},
		{name: "update, off", args: []string{"publications:update", "hook", "--batch-size", "0"}, wantBody: `{"batch_size":0}`},
		{name: "update, bad window", args: []string{"publications:update", "hook", "--batch-window", "soon"},
			err: `--batch-window "soon": give a duration such as 30s or 2h (0 for the default)`},
		{name: "update, negative", args: []string{"publications:update", "hook", "--batch-size", "-1"},
			err: "--batch-size -1: give 2 to 100 events per request, or 0 for one event per request"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			api := newFakeAPI(t, map[string]reply{
				"POST /v1/tenants/t-123/platforms/webhook/publications": {201, created},
				"PATCH " + pubPath: {200, created},
			})
			r := run(t, nil, append(tt.args, "-a", testApp, "--api-url", api.url())...)
			reqs := api.requests()
			if tt.err != "" {
				require.Error(t, r.err)
				assert.Equal(t, tt.err, r.err.Error())
				assert.Empty(t, reqs)
				return
			}
			require.NoError(t, r.err)
			require.Len(t, reqs, 1)
			assert.JSONEq(t, tt.wantBody, reqs[0].Body)
		})
	}
	t.Run("info", func(t *testing.T) {
		api := newFakeAPI(t, map[string]reply{"GET " + pubPath: {200, created}})
		r := run(t, nil, "publications:info", "hook", "-a", testApp, "--api-url", api.url())
		require.NoError(t, r.err)
		assert.Regexp(t, `(?m)^Batch Size: +50$`, r.stdout)
		assert.Regexp(t, `(?m)^Batch Window: +200ms$`, r.stdout)
		r = run(t, nil, "publications:info", "hook", "--json", "-a", testApp, "--api-url", api.url())
		require.NoError(t, r.err)
		assert.Contains(t, r.stdout, `"batch_size": 50`)
		assert.Contains(t, r.stdout, `"batch_window": "200ms"`)
	})
}
