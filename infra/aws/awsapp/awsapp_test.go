package awsapp_test

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/herokuevents/herokuevents/infra/aws/awsapi"
	"github.com/herokuevents/herokuevents/infra/aws/awsapp"
	"github.com/herokuevents/herokuevents/infra/aws/awsenv"
	"github.com/herokuevents/herokuevents/infra/aws/awslocal"
	"github.com/herokuevents/herokuevents/infra/aws/awslocal/awslocaltest"
	"github.com/herokuevents/herokuevents/shared/config"
	"github.com/herokuevents/herokuevents/shared/event"
	"github.com/herokuevents/herokuevents/shared/platform"
	"github.com/herokuevents/herokuevents/shared/platform/catalog"
	"github.com/herokuevents/herokuevents/shared/platform/platformtest"
	"github.com/herokuevents/herokuevents/shared/platform/webhook/cloudevent"
	"github.com/herokuevents/herokuevents/shared/queue"
	"github.com/herokuevents/herokuevents/shared/sfsub"
)

func TestMain(m *testing.M) { awslocaltest.Main(m) }

// TestFakePlatformIsOneUnit: in the AWS mode too, a platform added to the
// list the functions hand to awsapp is offered by the api function's
// handler and used by the deliver function's handler, against the
// template's table, queues and key in a local AWS API (moto).
func TestFakePlatformIsOneUnit(t *testing.T) {
	fake, rec := platformtest.Platform()
	platforms := append(catalog.All(), fake)
	// Provision a tenant as Heroku would, then create a fake publication.
	api := apiOnAWS(t, platforms, "01234567-89ab-cdef-0123-456789abcdef")

	var pub struct {
		ID       string         `json:"id"`
		Platform string         `json:"platform"`
		Extra    map[string]any `json:"extra"`
	}
	status := do(t, api.h, http.MethodPost, api.path+"/platforms/fake/publications", api.bearer, map[string]any{"name": "bucketed", "bucket": "b1"}, &pub)
	require.Equal(t, http.StatusCreated, status)
	assert.Equal(t, platformtest.Name, pub.Platform)
	assert.Equal(t, "fake-b1", pub.Extra["receipt"])

	// The deliver function's handler publishes with the fake publisher.
	for k, v := range api.st.Env("DeliverFunction") {
		t.Setenv(k, v)
	}
	denv := awsenv.MustLoad(t.Context(), "deliver")
	dapp, err := awsapp.New(denv, awsapp.Options{Platforms: platforms, DataPlane: true,
		Engines: map[string]platform.Engine{config.PlatformSalesforce: sfsub.Engine{}, config.PlatformWebhook: cloudevent.Engine{}}})
	require.NoError(t, err)
	dh, err := dapp.Deliver(t.Context())
	require.NoError(t, err)
	ev := event.Event{ID: "3f1c2a9e-6b1d-4c7e-9a0b-1d2e3f4a5b6c", Source: "urn:test", Type: "com.example.fake", Time: time.Now().UTC(), Data: json.RawMessage(`{"n":1}`)}
	body, err := json.Marshal(event.Delivery{Tenant: api.tenant, Publication: pub.ID, Event: ev})
	require.NoError(t, err)
	res := dh.HandleBatch(context.WithoutCancel(t.Context()), []queue.Message{{ID: "m1", Body: body, Receives: 1}})
	require.Empty(t, res.Failures)
	got := rec.Got()
	require.Len(t, got, 1)
	assert.Equal(t, ev.ID, got[0].Event.ID)
	assert.Equal(t, "b1", got[0].Bucket)

	// Without it in the list, the api function does not offer it.
	plain, err := awsapp.New(api.env, awsapp.Options{Platforms: catalog.All(), PublicURL: api.st.Env("ApiFunction")["PUBLIC_URL"]})
	require.NoError(t, err)
	ph, err := awsapi.Handler(plain)
	require.NoError(t, err)
	assert.Equal(t, http.StatusUnprocessableEntity,
		do(t, ph, http.MethodPost, api.path+"/platforms/fake/publications", api.bearer, map[string]any{"name": "other", "bucket": "b2"}, nil))
}

// apiStack is the api function's handler (awsapp and awsapi, as
// functions/api builds them) on the template's resources, deployed without
// functions to the package's moto server, with one tenant provisioned.
type apiStack struct {
	st     *awslocal.Stack
	env    *awsenv.Env
	h      http.Handler
	tenant string              // the provisioned tenant's id
	path   string              // the tenant's API path
	bearer func(*http.Request) // authorizes a request as the tenant
}

// apiOnAWS deploys the stack, builds the api handler with platforms and
// provisions the tenant uuid through it as Heroku would.
func apiOnAWS(t *testing.T, platforms []platform.Platform, uuid string) apiStack {
	t.Helper()
	st, err := awslocal.Deploy(t.Context(), awslocal.Options{
		Endpoint: awslocaltest.Moto(t).URL, Binaries: map[string]string{}, Functions: []string{}, NoPollers: true,
	})
	require.NoError(t, err)
	t.Cleanup(func() { _ = st.Close() })
	for k, v := range st.Env("ApiFunction") {
		t.Setenv(k, v)
	}
	env := awsenv.MustLoad(t.Context(), "api")
	app, err := awsapp.New(env, awsapp.Options{Platforms: platforms, PublicURL: st.Env("ApiFunction")["PUBLIC_URL"]})
	require.NoError(t, err)
	h, err := awsapi.Handler(app)
	require.NoError(t, err)
	var prov struct {
		ID     string            `json:"id"`
		Config map[string]string `json:"config"`
	}
	do(t, h, http.MethodPost, "/heroku/resources", func(r *http.Request) {
		r.SetBasicAuth(st.Operator())
	}, map[string]any{"uuid": uuid, "plan": "herokuevents:test", "options": map[string]string{"app": "my-app"}}, &prov)
	require.NotEmpty(t, prov.Config["HEROKUEVENTS_API_URL"])
	apiURL, err := url.Parse(prov.Config["HEROKUEVENTS_API_URL"])
	require.NoError(t, err)
	key, _ := apiURL.User.Password()
	return apiStack{st: st, env: env, h: h, tenant: prov.ID, path: apiURL.Path,
		bearer: func(r *http.Request) { r.Header.Set("Authorization", "Bearer "+key) }}
}

// do serves one JSON request with h and decodes the answer into out.
func do(t *testing.T, h http.Handler, method, path string, auth func(*http.Request), body, out any) int {
	t.Helper()
	b, err := json.Marshal(body)
	require.NoError(t, err)
	req := httptest.NewRequestWithContext(t.Context(), method, path, bytes.NewReader(b))
	req.Header.Set("Content-Type", "application/json")
	auth(req)
	w := httptest.NewRecorder()
	h.ServeHTTP(w, req)
	if out != nil {
		require.NoError(t, json.Unmarshal(w.Body.Bytes(), out), w.Body.String())
	}
	return w.Code
}

// tenantApp is an app provisioned through the api function: its config
// vars, the path of its management API and a way to authenticate to it.
type tenantApp struct {
	ID      string
	Config  map[string]string
	APIPath string
	Bearer  func(*http.Request)
}

// provision provisions the add-on resource uuid for the app named name on
// the test plan, as Heroku does (Partner API v3, options.app).
func provision(t *testing.T, api apiStack, uuid, name string) tenantApp {
	t.Helper()
	var prov struct {
		ID     string            `json:"id"`
		Config map[string]string `json:"config"`
	}
	do(t, api.h, http.MethodPost, "/heroku/resources", func(r *http.Request) { r.SetBasicAuth(api.st.Operator()) },
		map[string]any{"uuid": uuid, "plan": "herokuevents:test", "options": map[string]string{"app": name}}, &prov)
	apiURL, err := url.Parse(prov.Config["HEROKUEVENTS_API_URL"])
	require.NoError(t, err)
	apiKey, _ := apiURL.User.Password()
	return tenantApp{ID: prov.ID, Config: prov.Config, APIPath: apiURL.Path,
		Bearer: func(r *http.Request) { r.Header.Set("Authorization", "Bearer "+apiKey) }}
}
