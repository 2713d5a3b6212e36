package embedded_test

import (
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/herokuevents/herokuevents/infra/embedded"
	"github.com/herokuevents/herokuevents/shared/platform/catalog"
	"github.com/herokuevents/herokuevents/shared/platform/platformtest"
)

// TestFakePlatformIsOneUnit: a platform added to the list given to the
// embedded mode (and nowhere else) is offered by the api for subscriptions
// and publications, and its publisher is what the deliver role uses.
func TestFakePlatformIsOneUnit(t *testing.T) {
	fake, rec := platformtest.Platform()
	srv, err := embedded.Start(t.Context(), embedded.Options{
		Addr: "127.0.0.1:0", DataDir: t.TempDir(), App: "my-app",
		Platforms: append(catalog.All(), fake),
	})
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, srv.Close()) })

	var sub struct {
		Platform string            `json:"platform"`
		Params   map[string]string `json:"params"`
	}
	require.Equal(t, http.StatusCreated, call(t, srv, "POST", "/platforms/fake/subscriptions", map[string]any{"name": "colors", "color": "blue"}, &sub))
	assert.Equal(t, platformtest.Name, sub.Platform)
	assert.Equal(t, http.StatusUnprocessableEntity, call(t, srv, "POST", "/platforms/fake/subscriptions", map[string]any{"name": "nocolor"}, nil))

	var pub struct {
		Platform string         `json:"platform"`
		Extra    map[string]any `json:"extra"`
	}
	require.Equal(t, http.StatusCreated, call(t, srv, "POST", "/platforms/fake/publications", map[string]any{"name": "bucketed", "bucket": "b1"}, &pub))
	assert.Equal(t, platformtest.Name, pub.Platform)
	assert.Equal(t, "fake-b1", pub.Extra["receipt"])

	id := publish(t, srv, "bucketed", `{"hello": "fake"}`)
	select {
	case <-rec.Wait():
	case <-time.After(10 * time.Second):
		t.Fatal("the fake publisher received nothing")
	}
	got := rec.Got()
	require.Len(t, got, 1)
	assert.Equal(t, id, got[0].Event.ID)
	assert.Equal(t, "bucketed", got[0].Publication)
	assert.Equal(t, "b1", got[0].Bucket)
	assert.JSONEq(t, `{"hello": "fake"}`, string(got[0].Event.Data))

	// Without the fake platform in the list, the api does not offer it.
	other, err := embedded.Start(t.Context(), embedded.Options{Addr: "127.0.0.1:0", DataDir: t.TempDir(), App: "my-app"})
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, other.Close()) })
	assert.Equal(t, http.StatusUnprocessableEntity, call(t, other, "POST", "/platforms/fake/publications", map[string]any{"name": "bucketed", "bucket": "b1"}, nil))
}
