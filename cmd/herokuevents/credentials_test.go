package main

import (
	"net/http"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestCredentialsRotate(t *testing.T) {
	f := newFakeAPI(t, map[string]reply{
		"POST /v1/tenants/" + testTenant + "/credentials/rotate": {http.StatusOK,
			`{"config":{"HEROKUEVENTS_PUBLISH_URL":"http://t:new@h/publish","HEROKUEVENTS_API_URL":"http://herokuevents:new@h/v1/tenants/` + testTenant + `"},` +
				`"message":"New credentials; the app's config vars on Heroku are updated (the app restarts)."}`},
	})
	r := run(t, nil, "credentials:rotate", "-a", testApp, "--api-url", f.url())
	require.Error(t, r.err, "asks for confirmation")
	assert.Empty(t, f.requests(), "nothing sent unconfirmed")

	r = run(t, nil, "credentials:rotate", "-a", testApp, "--confirm", testApp, "--api-url", f.url())
	require.NoError(t, r.err, r.stderr)
	assert.Equal(t, "HEROKUEVENTS_API_URL=http://herokuevents:new@h/v1/tenants/"+testTenant+"\nHEROKUEVENTS_PUBLISH_URL=http://t:new@h/publish\n", r.stdout)
	assert.Equal(t, "Rotating the credentials of ⬢ "+testApp+"... done\nNew credentials; the app's config vars on Heroku are updated (the app restarts).\n", r.stderr)
	reqs := f.requests()
	require.Len(t, reqs, 1)
	assert.Equal(t, http.MethodPost, reqs[0].Method)
}
