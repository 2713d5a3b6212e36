package awslocal_test

import (
	"encoding/json"
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/herokuevents/herokuevents/infra/aws/awslocal"
	"github.com/herokuevents/herokuevents/infra/aws/awslocal/awslocaltest"
	"github.com/herokuevents/herokuevents/shared/event"
	"github.com/herokuevents/herokuevents/shared/metric"
)

// TestGenerateEnqueuesDueEvents: one scheduler tick of the generate
// function emits the due slots of a 1s generator (TICK_WINDOW shortened to
// 3s for the test) on IngestQueue; filter and deliver bring each to the
// webhook with its own slot time.
func TestGenerateEnqueuesDueEvents(t *testing.T) {
	t.Parallel()
	st := awslocaltest.New(t, awslocal.Options{FunctionEnv: map[string]map[string]string{"GenerateFunction": {"TICK_WINDOW": "3s"}}})
	hook := awslocaltest.NewHook(t)
	tn := st.Provision(t, "gen-app")
	tn.MustCall(t, http.StatusCreated, "POST", "/platforms/webhook/publications", map[string]any{"name": "statusHook", "url": hook.URL}, nil)
	tn.MustCall(t, http.StatusCreated, "POST", "/platforms/generate/subscriptions", map[string]any{
		"name": "heartbeat", "interval": "1s", "target": "statusHook", "mapping": `root = {"status": "up"}`}, nil)

	_, err := st.Tick(t.Context(), "GenerateFunction", time.Now())
	require.NoError(t, err)
	got := hook.WaitAny(t, 3, 30*time.Second)
	times := map[time.Time]bool{}
	for _, r := range got {
		var ce event.Event
		require.NoError(t, json.Unmarshal(r.Body, &ce))
		assert.Equal(t, event.TypeGenerate, ce.Type)
		assert.Equal(t, "/tenants/"+tn.ID+"/subscriptions/heartbeat", ce.Source)
		assert.JSONEq(t, `{"status":"up"}`, string(ce.Data))
		assert.False(t, times[ce.Time], "each event has its own slot")
		times[ce.Time] = true
	}
	var ingested float64
	for _, m := range st.Metrics("GenerateFunction") {
		if m.Name == metric.Ingested && m.Dimensions["Platform"] == "generate" {
			ingested += m.Value
		}
	}
	assert.GreaterOrEqual(t, ingested, 3.0, "EMF Ingested from the generate function")
}

// TestPartnerNotified: an operator registers a partner whose test base URL
// is an httptest partner API, attaches its add-on and posts a deploy
// platform event through the api function; partnernotify POSTs the attach
// and the deploy notifications, byte for byte, with the partner's password.
func TestPartnerNotified(t *testing.T) {
	t.Parallel()
	st := awslocaltest.New(t, awslocal.Options{})
	partnerAPI := awslocaltest.NewHook(t)
	manifest := map[string]any{"id": "myaddon", "api": map[string]any{
		"password": "pw-myaddon", "production": map[string]string{"base_url": "https://myaddon.example.com/heroku/resources"},
		"test": map[string]string{"base_url": partnerAPI.URL + "/heroku/resources"}, "requires": []string{"deploy_notify", "attach_notify"}}}
	status, raw := st.Do(t, "POST", "/v1/partners", st.AsOperator, map[string]any{"manifest": manifest, "test": true}, nil)
	require.Equal(t, http.StatusCreated, status, string(raw))
	status, raw = st.Do(t, "POST", "/v1/apps/example/addon-attachments", st.AsOperator,
		map[string]any{"partner": "myaddon", "resource_id": "res-1", "heroku_id": "app123@heroku.com"}, nil)
	require.Equal(t, http.StatusCreated, status, string(raw))
	const deploy = `{"heroku_id":"app123@heroku.com","event":"deploy","detail":{"app":"example","user":"jane@somedomain.com","head":"441e20"}}`
	status, raw = st.Do(t, "POST", "/v1/platform/events", st.AsOperator, deploy, nil)
	require.Equal(t, http.StatusAccepted, status, string(raw))

	got := partnerAPI.WaitAny(t, 2, 30*time.Second)
	require.NoError(t, st.Drain(t.Context()))
	require.Len(t, partnerAPI.All(), 2, "attach and deploy, once each")
	var events []string
	for _, r := range got {
		assert.Equal(t, "/heroku/resources/res-1/events", r.Path)
		user, pass, ok := (&http.Request{Header: r.Header}).BasicAuth()
		require.True(t, ok)
		assert.Equal(t, [2]string{"myaddon", "pw-myaddon"}, [2]string{user, pass})
		var n struct{ Event string }
		require.NoError(t, json.Unmarshal(r.Body, &n))
		events = append(events, n.Event)
		if n.Event == "deploy" {
			assert.Equal(t, deploy, string(r.Body), "byte for byte")
		}
	}
	assert.ElementsMatch(t, []string{"attach", "deploy"}, events)
}
