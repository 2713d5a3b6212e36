package main

import (
	"bytes"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/herokuevents/herokuevents/infra/embedded"
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

	exec := func(args ...string) result {
		root := newRootWith(platforms)
		var out, errb bytes.Buffer
		root.SetOut(&out)
		root.SetErr(&errb)
		root.SetIn(strings.NewReader(""))
		root.SetArgs(args)
		err := root.ExecuteContext(t.Context())
		return result{stdout: out.String(), stderr: errb.String(), err: err}
	}

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
