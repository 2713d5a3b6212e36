package embedded_test

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/herokuevents/herokuevents/infra/embedded"
	"github.com/herokuevents/herokuevents/shared/dataaction"
	"github.com/herokuevents/herokuevents/shared/salesforce/standin"
)

// pullReq sends a request to the subscribe URL with its credentials.
func pullReq(t *testing.T, srv *embedded.Server, method, rel, body string, hdr map[string]string) (int, http.Header, []byte) {
	t.Helper()
	u, err := url.Parse(srv.Var("HEROKUEVENTS_SUBSCRIBE_URL"))
	require.NoError(t, err, "serve hands out HEROKUEVENTS_SUBSCRIBE_URL")
	user := u.User.Username()
	pass, _ := u.User.Password()
	u.User = nil
	req, err := http.NewRequestWithContext(t.Context(), method, u.String()+rel, strings.NewReader(body))
	require.NoError(t, err)
	req.SetBasicAuth(user, pass)
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	res, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	require.NoError(t, err)
	return res.StatusCode, res.Header, b
}

// The original product's client: GET {url}/{name} every few seconds (here
// 20 ms), an empty body meaning nothing pending, a JSON CloudEvent each
// time there is one.
func TestPullOriginalClientLoop(t *testing.T) {
	srv := start(t, 5*time.Second)
	require.Equal(t, http.StatusCreated, call(t, srv, "POST", "/platforms/webhook/subscriptions", map[string]any{"name": "orders", "pull": true}, nil))
	bodies := []string{`{"n":1,"Status__c":{"string":"new"}}`, `{"n":2,"nested":{"a":[1,2.5,null]}}`, `{"n":3,"text":"café \"x\" 100%"}`}
	want := map[string]string{}
	for _, b := range bodies {
		want[publish(t, srv, "orders", b)] = b
	}
	got := map[string]string{}
	deadline := time.Now().Add(10 * time.Second)
	for empties := 0; empties < 5 && time.Now().Before(deadline); {
		status, hdr, b := pullReq(t, srv, http.MethodGet, "/orders", "", nil)
		require.Equal(t, http.StatusOK, status, string(b))
		if len(b) == 0 {
			if len(got) == len(want) {
				empties++ // nothing more comes
			}
			time.Sleep(20 * time.Millisecond)
			continue
		}
		assert.Equal(t, "application/cloudevents+json", hdr.Get("Content-Type"))
		var ce map[string]json.RawMessage
		require.NoError(t, json.Unmarshal(b, &ce))
		var id string
		require.NoError(t, json.Unmarshal(ce["id"], &id))
		assert.NotContains(t, got, id, "each event once")
		got[id] = string(ce["data"])
		assert.JSONEq(t, `"1.0"`, string(ce["specversion"]))
		assert.NotEmpty(t, ce["source"])
	}
	assert.Equal(t, want, got, "every event, its data exactly as published")
	var info map[string]any
	require.Equal(t, http.StatusOK, call(t, srv, "GET", "/subscriptions/orders", nil, &info))
	assert.Equal(t, true, info["pull"])
	assert.Equal(t, float64(0), info["pull_backlog"].(map[string]any)["pending"], "a plain GET takes what it hands out")
}

func TestPullBatchLeaseAndAck(t *testing.T) {
	srv := start(t, 5*time.Second)
	require.Equal(t, http.StatusCreated, call(t, srv, "POST", "/platforms/webhook/subscriptions", map[string]any{"name": "orders"}, nil))
	status, _, b := pullReq(t, srv, http.MethodGet, "/orders", "", nil)
	require.Equal(t, http.StatusConflict, status, "pull is off: %s", b)
	require.Equal(t, http.StatusOK, call(t, srv, "PATCH", "/subscriptions/orders", map[string]any{"pull": true}, nil))
	ids := []string{publish(t, srv, "orders", `{"n":1}`), publish(t, srv, "orders", `{"n":2}`), publish(t, srv, "orders", `{"n":3}`)}

	var batch []map[string]any
	require.Eventually(t, func() bool {
		_, _, b := pullReq(t, srv, http.MethodGet, "/orders?max=10&visibility=1s&wait=1s", "", nil)
		var got []map[string]any
		require.NoError(t, json.Unmarshal(b, &got), string(b))
		batch = append(batch, got...)
		return len(batch) == 3
	}, 10*time.Second, 10*time.Millisecond)
	var leased []string
	for _, ce := range batch {
		leased = append(leased, ce["id"].(string))
	}
	assert.ElementsMatch(t, ids, leased)

	status, _, b = pullReq(t, srv, http.MethodDelete, "/orders/"+ids[0], "", nil)
	require.Equal(t, http.StatusNoContent, status, string(b))
	status, _, b = pullReq(t, srv, http.MethodPost, "/orders/ack", `{"ids":["`+ids[1]+`"]}`, nil)
	require.Equal(t, http.StatusOK, status, string(b))
	var info map[string]any
	require.Equal(t, http.StatusOK, call(t, srv, "GET", "/subscriptions/orders", nil, &info))
	assert.Equal(t, map[string]any{"pending": float64(1), "leased": float64(1), "oldest": info["pull_backlog"].(map[string]any)["oldest"]}, info["pull_backlog"])

	// The unacknowledged event comes back once its lease of 1 s ends
	// (a long poll waits for it), and only it.
	start := time.Now()
	status, hdr, b := pullReq(t, srv, http.MethodGet, "/orders?wait=5s", "", map[string]string{"Accept": "application/cloudevents-batch+json"})
	require.Equal(t, http.StatusOK, status)
	assert.Equal(t, "application/cloudevents-batch+json", hdr.Get("Content-Type"))
	var again []map[string]any
	require.NoError(t, json.Unmarshal(b, &again), string(b))
	require.Len(t, again, 1)
	assert.Equal(t, ids[2], again[0]["id"])
	assert.Less(t, time.Since(start), 3*time.Second)
}

// A signed batch of 3 data action events becomes 3 CloudEvents at a
// webhook through a stream; forged, stale and truncated requests are
// refused and nothing arrives.
func TestDataActionsThroughAStream(t *testing.T) {
	w := newSFWorld(t)
	srv := w.start(t)
	w.connect(t, srv)
	h := newHook(t, ok)
	require.Equal(t, http.StatusCreated, call(t, srv, "POST", "/platforms/webhook/publications",
		map[string]any{"name": "careTeam", "url": h.URL + "/hook"}, nil))
	var sub struct {
		Extra struct {
			URL        string `json:"url"`
			SigningKey string `json:"signing_key"`
		} `json:"extra"`
	}
	require.Equal(t, http.StatusCreated, call(t, srv, "POST", "/platforms/datacloud/subscriptions",
		map[string]any{"name": "patientChanges", "org_name": "example-org", "target": "careTeam"}, &sub))
	require.True(t, strings.HasPrefix(sub.Extra.URL, srv.URL()+"/dataactions/"), sub.Extra.URL)
	require.Len(t, sub.Extra.SigningKey, 64)

	post := func(body []byte, sig string) int {
		req, err := http.NewRequestWithContext(t.Context(), http.MethodPost, sub.Extra.URL, bytes.NewReader(body))
		require.NoError(t, err)
		req.Header.Set("x-signature", sig)
		res, err := http.DefaultClient.Do(req)
		require.NoError(t, err)
		res.Body.Close()
		return res.StatusCode
	}
	body := func(created time.Time) []byte {
		b, err := standin.DataAction{Action: "PatientChanged", Object: "Patient__dlm", Created: created,
			Records: []json.RawMessage{json.RawMessage(`{"Id__c":"x"}`)}}.Body()
		require.NoError(t, err)
		return b
	}
	fresh := body(time.Now())
	assert.Equal(t, http.StatusUnauthorized, post(fresh, dataaction.Sign("forged-key", fresh)), "forged")
	assert.Equal(t, http.StatusUnauthorized, post(fresh[:len(fresh)-10], dataaction.Sign(sub.Extra.SigningKey, fresh)), "truncated")
	stale := body(time.Now().Add(-time.Hour))
	assert.Equal(t, http.StatusUnauthorized, post(stale, dataaction.Sign(sub.Extra.SigningKey, stale)), "stale")

	// The stand-in's Data Cloud sends the batch (POST /_stand-in/data-action).
	req, err := json.Marshal(standin.DataAction{URL: sub.Extra.URL, Key: sub.Extra.SigningKey, Action: "PatientChanged", Object: "Patient__dlm",
		Records: []json.RawMessage{json.RawMessage(`{"Id__c":"p-1"}`), json.RawMessage(`{"Id__c":"p-2"}`), json.RawMessage(`{"Id__c":"p-3"}`)}})
	require.NoError(t, err)
	res, err := http.Post(w.org.LoginURL()+"/_stand-in/data-action", "application/json", bytes.NewReader(req))
	require.NoError(t, err)
	var sent standin.DataActionResult
	require.NoError(t, json.NewDecoder(res.Body).Decode(&sent))
	res.Body.Close()
	require.Equal(t, http.StatusAccepted, sent.Status, string(sent.Body))
	var accepted dataaction.Accepted
	require.NoError(t, json.Unmarshal(sent.Body, &accepted))
	require.Len(t, accepted.IDs, 3)

	require.Eventually(t, func() bool {
		for _, id := range accepted.IDs {
			if h.attemptsOf(id) != 1 {
				return false
			}
		}
		return true
	}, 10*time.Second, 10*time.Millisecond)
	for _, id := range accepted.IDs {
		h.mu.Lock()
		b := h.bodies[id]
		h.mu.Unlock()
		var ce map[string]any
		require.NoError(t, json.Unmarshal(b, &ce))
		assert.Equal(t, "com.salesforce.datacloud.dataaction.PatientChanged", ce["type"])
		assert.Equal(t, "Patient__dlm", ce["subject"])
	}
	time.Sleep(200 * time.Millisecond)
	h.mu.Lock()
	assert.Len(t, h.attempts, 3, "the refused requests delivered nothing")
	h.mu.Unlock()
}
