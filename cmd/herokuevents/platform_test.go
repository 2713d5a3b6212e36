package main

import (
	"bytes"
	"encoding/json"
	"maps"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/herokuevents/herokuevents/infra/aws/awsapi"
	"github.com/herokuevents/herokuevents/infra/aws/awsapp"
	"github.com/herokuevents/herokuevents/infra/aws/awsenv"
	"github.com/herokuevents/herokuevents/infra/aws/awslocal"
	"github.com/herokuevents/herokuevents/infra/aws/motoserver"
	"github.com/herokuevents/herokuevents/infra/embedded"
	"github.com/herokuevents/herokuevents/shared/platform"
	"github.com/herokuevents/herokuevents/shared/platform/catalog"
	"github.com/herokuevents/herokuevents/shared/platform/platformtest"
)

// TestFakePlatformCommands: the create commands of a platform listed once
// are rendered by the CLI (flags, checks, body, shown extra) and work
// against the embedded mode that lists it too.
func TestFakePlatformCommands(t *testing.T) {
	fake, rec := platformtest.Platform()
	platforms := append(catalog.All(), fake)
	srv, err := embedded.Start(t.Context(), embedded.Options{
		Addr: "127.0.0.1:0", DataDir: t.TempDir(), App: testApp, Platforms: platforms,
	})
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, srv.Close()) })
	apiURL := srv.Var("HEROKUEVENTS_API_URL")

	exec := func(args ...string) result { return runWith(t, platforms, args...) }

	help := exec("--help")
	require.NoError(t, help.err)
	assert.Contains(t, help.stdout, "publications:fake:create")
	assert.Contains(t, help.stdout, "subscriptions:fake:create")

	missing := exec("publications:fake:create", "bucketed", "-a", testApp, "--api-url", apiURL)
	require.Error(t, missing.err)
	assert.Contains(t, missing.err.Error(), `"bucket" not set`)

	r := exec("events:publications:fake:create", "bucketed", "-b", "b1", "-a", testApp, "--api-url", apiURL)
	require.NoError(t, r.err, r.stderr)
	assert.Contains(t, r.stderr, "Creating publication bucketed... done")
	assert.Equal(t, "Receipt: fake-b1\n", r.stdout)

	r = exec("subscriptions:fake:create", "colors", "--color", "blue", "--target", "bucketed", "-a", testApp, "--api-url", apiURL)
	require.NoError(t, r.err, r.stderr)
	info := exec("subscriptions:info", "colors", "-a", testApp, "--api-url", apiURL)
	require.NoError(t, info.err)
	assert.Contains(t, info.stdout, "fake")
	assert.Contains(t, info.stdout, "bucketed")

	// The deliver role uses the fake publisher: publish to the publication.
	req, err := http.NewRequestWithContext(t.Context(), http.MethodPost, srv.Var("HEROKUEVENTS_PUBLISH_URL")+"/bucketed", strings.NewReader(`{"n": 1}`))
	require.NoError(t, err)
	req.Header.Set("Content-Type", "application/json")
	res, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	res.Body.Close()
	require.Equal(t, http.StatusAccepted, res.StatusCode)
	select {
	case <-rec.Wait():
	case <-time.After(10 * time.Second):
		t.Fatal("the fake publisher received nothing")
	}
	assert.Equal(t, "b1", rec.Got()[0].Bucket)

	// Without it in the list, the CLI has no such command.
	plain := run(t, nil, "publications:fake:create", "x", "-b", "b1")
	require.Error(t, plain.err)
	assert.Contains(t, plain.err.Error(), "unknown command")
}

// TestFakePlatformCommandsAWS: the same CLI against the AWS mode's api
// function handler (awsapp + awsapi on the template's table, queues and key
// in a local AWS API) offers the listed fake platform.
func TestFakePlatformCommandsAWS(t *testing.T) {
	fake, _ := platformtest.Platform()
	platforms := append(catalog.All(), fake)
	apiURL := apiOnAWS(t, platforms, "5d3b0c5e-0000-4000-8000-000000000001", nil)

	exec := func(args ...string) result { return runWith(t, platforms, args...) }
	r := exec("publications:fake:create", "bucketed", "-b", "b1", "-a", testApp, "--api-url", apiURL)
	require.NoError(t, r.err, r.stderr)
	assert.Equal(t, "Receipt: fake-b1\n", r.stdout)
	info := exec("publications:info", "bucketed", "-a", testApp, "--api-url", apiURL)
	require.NoError(t, info.err)
	assert.Contains(t, info.stdout, "fake")
	r = exec("publications:fake:create", "other", "-a", testApp, "--api-url", apiURL)
	require.Error(t, r.err)
	assert.Contains(t, r.err.Error(), `"bucket" not set`)
}

// runWith executes the CLI built with platforms in-process.
func runWith(t *testing.T, platforms []platform.Platform, args ...string) result {
	t.Helper()
	root := newRootWith(platforms)
	var out, errb bytes.Buffer
	root.SetOut(&out)
	root.SetErr(&errb)
	root.SetIn(strings.NewReader(""))
	root.SetArgs(args)
	err := root.ExecuteContext(t.Context())
	return result{stdout: out.String(), stderr: errb.String(), err: err}
}

// apiOnAWS serves the AWS mode's api function handler (awsapp + awsapi on
// template.yaml's table, queues and key in a local AWS API) with platforms,
// provisions testApp as Heroku would (add-on uuid) and returns its
// HEROKUEVENTS_API_URL. extra overrides the function's environment.
func apiOnAWS(t *testing.T, platforms []platform.Platform, uuid string, extra map[string]string) string {
	t.Helper()
	moto, err := motoserver.Start()
	require.NoError(t, err)
	t.Cleanup(func() { _ = moto.Close() })
	st, err := awslocal.Deploy(t.Context(), awslocal.Options{Endpoint: moto.URL, Binaries: map[string]string{}, Functions: []string{}, NoPollers: true})
	require.NoError(t, err)
	t.Cleanup(func() { _ = st.Close() })
	hs := httptest.NewUnstartedServer(nil)
	env := st.Env("ApiFunction")
	env["PUBLIC_URL"] = "http://" + hs.Listener.Addr().String()
	maps.Copy(env, extra)
	for k, v := range env {
		t.Setenv(k, v)
	}
	app, err := awsapp.New(awsenv.MustLoad(t.Context(), "api"), awsapp.Options{Platforms: platforms, PublicURL: env["PUBLIC_URL"]})
	require.NoError(t, err)
	h, err := awsapi.Handler(app)
	require.NoError(t, err)
	hs.Config.Handler = h
	hs.Start()
	t.Cleanup(hs.Close)

	req, err := http.NewRequestWithContext(t.Context(), http.MethodPost, hs.URL+"/heroku/resources",
		strings.NewReader(`{"uuid":"`+uuid+`","plan":"herokuevents:test","options":{"app":"`+testApp+`"}}`))
	require.NoError(t, err)
	req.SetBasicAuth(st.Operator())
	req.Header.Set("Content-Type", "application/json")
	res, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer res.Body.Close()
	var prov struct {
		Config map[string]string `json:"config"`
	}
	require.NoError(t, json.NewDecoder(res.Body).Decode(&prov))
	require.Equal(t, http.StatusOK, res.StatusCode) // the Partner API v3 answers 200
	require.NotEmpty(t, prov.Config["HEROKUEVENTS_API_URL"])
	return prov.Config["HEROKUEVENTS_API_URL"]
}
