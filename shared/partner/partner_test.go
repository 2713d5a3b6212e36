package partner_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/herokuevents/herokuevents/shared/partner"
	"github.com/herokuevents/herokuevents/shared/queue"
	"github.com/herokuevents/herokuevents/shared/sink"
)

func TestParseManifest(t *testing.T) {
	const prod, test = "https://myaddon.example.com/heroku/resources", "http://localhost:4567/heroku/resources"
	tests := []struct {
		name    string
		raw     string
		test    bool
		err     string
		prodURL string
	}{
		{name: "full", raw: manifest("myaddon", "pw", prod, test, "deploy_notify", "attach_notify"), prodURL: prod},
		{name: "legacy string urls", raw: `{"id":"myaddon","api":{"password":"pw","production":"` + prod + `","test":"` + test + `"}}`, test: true, prodURL: prod},
		{name: "missing id", raw: `{"api":{"password":"pw","production":{"base_url":"` + prod + `"}}}`, err: "invalid manifest: id is missing"},
		{name: "bad id", raw: manifest("My Addon", "pw", prod, test), err: "id \"My Addon\" must be"},
		{name: "missing password", raw: manifest("myaddon", "", prod, test), err: "invalid manifest: api.password is missing"},
		{name: "http production", raw: manifest("myaddon", "pw", "http://myaddon.example.com/heroku/resources", test), err: "api.production.base_url \"http://myaddon.example.com/heroku/resources\" must use https"},
		{name: "missing production", raw: `{"id":"myaddon","api":{"password":"pw"}}`, err: "api.production.base_url is missing"},
		{name: "credentials in url", raw: manifest("myaddon", "pw", "https://u:p@myaddon.example.com", test), err: "must not carry credentials"},
		{name: "test without test url", raw: `{"id":"myaddon","api":{"password":"pw","production":{"base_url":"` + prod + `"}}}`, test: true, err: "api.test.base_url is missing (required with --test)"},
		{name: "test url ftp", raw: manifest("myaddon", "pw", prod, "ftp://x/y"), err: "api.test.base_url \"ftp://x/y\" must use http or https"},
		{name: "unknown requires", raw: manifest("myaddon", "pw", prod, test, "deploy_notifications"), err: `api.requires has unknown value "deploy_notifications"`},
		{name: "not json", raw: `{"id":`, err: "invalid manifest: not a JSON object"},
		{name: "wrong type", raw: `{"id":"myaddon","api":{"password":1}}`, err: "field api.password has the wrong type"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m, err := partner.ParseManifest([]byte(tt.raw), tt.test)
			if tt.err != "" {
				require.Error(t, err)
				assert.ErrorIs(t, err, partner.ErrManifest)
				assert.Contains(t, err.Error(), tt.err)
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tt.prodURL, m.API.Production.BaseURL)
		})
	}
}

// TestSeedPayloads checks the requests a partner gets, Basic auth and body
// byte for byte, against the seed's deploy, attach and detach examples.
func TestSeedPayloads(t *testing.T) {
	ps := newPartnerServer(t, false, nil)
	h := newHarness(t, harnessOptions{seedIDs: true})
	const password = "s3cret-partner-password"
	view := h.createPartner(t, manifest("myaddon", password, "https://myaddon.example.com/heroku/resources", ps.base(),
		"deploy_notify", "attach_notify"), `"test":true,"log_token":true`)
	assert.Equal(t, ps.base()+"/:id/events", view.NotifyURL)
	for _, path := range []string{"/v1/partners", "/v1/partners/myaddon"} {
		assert.NotContains(t, h.op(t, http.MethodGet, path, "", http.StatusOK), password, "passwords are never shown")
	}

	att := h.attach(t, "example", `{"partner":"myaddon","resource_id":"res-42","heroku_id":"app123@heroku.com",
		"app_id":"`+seedID+`","log_token":"d.`+seedID+`"}`)
	assert.Equal(t, "MYADDON_CYAN", att.Name)
	require.NotNil(t, att.Queued)
	assert.Equal(t, 1, *att.Queued)
	h.drain(t)

	// The platform's deploy detail, pretty-printed: forwarded verbatim.
	var detail bytes.Buffer
	var env struct{ Detail json.RawMessage }
	require.NoError(t, json.Unmarshal([]byte(seedDeploy), &env))
	require.NoError(t, json.Indent(&detail, env.Detail, "", "    "))
	assert.Equal(t, 1, h.platform(t, `{"heroku_id": "app123@heroku.com", "event": "deploy", "detail": `+detail.String()+`}`))
	h.drain(t)

	// A platform attach event is completed per resource.
	assert.Equal(t, 1, h.platform(t, `{"heroku_id":"app123@heroku.com","event":"attach","detail":{"id":"`+seedID+`","name":"MYADDON_CYAN","log_token":"d.`+seedID+`","app":{"id":"`+seedID+`","name":"example"}}}`))
	h.drain(t)

	out := h.op(t, http.MethodDelete, "/v1/apps/example/addon-attachments/MYADDON_CYAN", "", http.StatusOK)
	assert.Contains(t, out, `"queued":1`)
	h.drain(t)

	got := ps.requests()
	require.Len(t, got, 4)
	for i, want := range []string{seedAttach, seedDeploy, seedAttach, seedDetach} {
		r := got[i]
		assert.Equal(t, "/heroku/resources/res-42/events", r.Path)
		assert.True(t, r.HasAuth)
		assert.Equal(t, "myaddon", r.User)
		assert.Equal(t, password, r.Pass)
		assert.Equal(t, "application/json", r.ContentType)
		assert.Equal(t, want, r.Body, "request %d byte for byte", i)
	}
	assert.Equal(t, 0, h.dlq.len())
}

func TestOptInMatrix(t *testing.T) {
	ps := newPartnerServer(t, false, nil)
	h := newHarness(t, harnessOptions{})
	flags := map[string][]string{
		"deployer": {"deploy_notify"},
		"attacher": {"attach_notify"},
		"both":     {"deploy_notify", "attach_notify", "attachable"},
		"none":     nil,
	}
	wantAttach := map[string]int{"deployer": 0, "attacher": 1, "both": 1, "none": 0}
	for _, id := range []string{"deployer", "attacher", "both", "none"} {
		h.createPartner(t, manifest(id, "pw-"+id, "https://"+id+".example.com/heroku/resources", ps.base(), flags[id]...), `"test":true`)
		att := h.attach(t, "my-app", `{"partner":"`+id+`","resource_id":"r-`+id+`","heroku_id":"app9@heroku.com"}`)
		assert.Equal(t, wantAttach[id], *att.Queued, "attach notifications queued for %s", id)
	}
	// "both" is also attached to another app: events of my-app reach it once.
	h.attach(t, "other-app", `{"partner":"both","resource_id":"r-both"}`)
	h.drain(t)

	assert.Equal(t, 2, h.platform(t, `{"heroku_id":"app9@heroku.com","event":"deploy","detail":{"app":"my-app","head":"abc"}}`))
	assert.Equal(t, 2, h.platform(t, `{"heroku_id":"app9@heroku.com","event":"attach","detail":{}}`))
	assert.Equal(t, 2, h.platform(t, `{"heroku_id":"app9@heroku.com","event":"detach","detail":{"name":"X"}}`))
	assert.Equal(t, 0, h.platform(t, `{"heroku_id":"nobody@heroku.com","event":"deploy","detail":{}}`))
	h.drain(t)

	count := map[string]int{}
	for _, r := range ps.requests() {
		var env struct {
			Event    string `json:"event"`
			HerokuID string `json:"heroku_id"`
		}
		require.NoError(t, json.Unmarshal([]byte(r.Body), &env))
		count[r.User+" "+env.Event+" "+env.HerokuID]++
		assert.Equal(t, "pw-"+r.User, r.Pass)
		assert.Equal(t, "/heroku/resources/r-"+r.User+"/events", r.Path)
	}
	assert.Equal(t, map[string]int{
		"attacher attach app9@heroku.com":  2, // CLI attach + platform attach
		"both attach app9@heroku.com":      2,
		"both attach other-app@heroku.com": 1, // its attachment to other-app
		"deployer deploy app9@heroku.com":  1,
		"both deploy app9@heroku.com":      1,
		"attacher detach app9@heroku.com":  1,
		"both detach app9@heroku.com":      1,
	}, count)
}

func TestRetryAndDeadLetter(t *testing.T) {
	tests := []struct {
		name      string
		extra     string
		status    func(n int) int
		requests  int
		delays    []time.Duration
		deadLabel string // "" = nothing dead-lettered
	}{
		{name: "500 then 200 delivered after backoff", status: failFirst(1, 500),
			requests: 2, delays: []time.Duration{10 * time.Millisecond}},
		{name: "always 500 with the default 5 attempts", status: func(int) int { return 500 },
			requests: 5, delays: []time.Duration{10, 20, 40, 40}, deadLabel: "gave up after 5 attempts"},
		{name: "always 503 with 3 configured attempts", extra: `,"max_attempts":3`, status: func(int) int { return 503 },
			requests: 3, delays: []time.Duration{10, 20}, deadLabel: "gave up after 3 attempts"},
		{name: "4xx is retried too", extra: `,"max_attempts":2`, status: func(int) int { return 401 },
			requests: 2, delays: []time.Duration{10}, deadLabel: "gave up after 2 attempts"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ps := newPartnerServer(t, false, tt.status)
			h := newHarness(t, harnessOptions{jitter: func(d time.Duration) time.Duration { return d }})
			h.createPartner(t, manifest("flaky", "pw", "https://flaky.example.com", ps.base(), "deploy_notify"), `"test":true`+tt.extra)
			h.attach(t, "my-app", `{"partner":"flaky","resource_id":"r1"}`)
			require.Equal(t, 1, h.platform(t, `{"heroku_id":"my-app@heroku.com","event":"deploy","detail":{"head":"1"}}`))
			delays := h.drain(t)
			got := ps.requests()
			require.Len(t, got, tt.requests)
			for _, r := range got {
				assert.Equal(t, got[0].Body, r.Body, "every attempt sends the same body")
			}
			want := make([]time.Duration, len(tt.delays))
			for i, d := range tt.delays {
				if d < time.Millisecond {
					d *= time.Millisecond
				}
				want[i] = d
			}
			assert.Equal(t, want, delays)
			dead := h.dlq.take()
			if tt.deadLabel == "" {
				assert.Empty(t, dead)
				return
			}
			require.Len(t, dead, 1)
			reason := dead[0].Attributes[queue.AttrReason]
			code := tt.status(1)
			assert.Contains(t, reason, tt.deadLabel)
			assert.Contains(t, reason, fmt.Sprintf("HTTP %d", code))
			assert.Contains(t, reason, fmt.Sprintf("partner says no %d", code), "with a body excerpt")
			assert.Equal(t, "flaky", dead[0].Attributes[queue.AttrTenant])
			var note partner.Notification
			require.NoError(t, json.Unmarshal(dead[0].Body, &note))
			assert.Equal(t, tt.requests-1, note.Attempt)
		})
	}
}

// failFirst answers status to the first n requests and 200 afterwards.
func failFirst(n, status int) func(int) int {
	return func(i int) int {
		if i <= n {
			return status
		}
		return http.StatusOK
	}
}

func TestGoneStopsAndMarks(t *testing.T) {
	ps := newPartnerServer(t, false, func(int) int { return http.StatusGone })
	h := newHarness(t, harnessOptions{})
	h.createPartner(t, manifest("gone", "pw", "https://gone.example.com", ps.base(), "deploy_notify"), `"test":true`)
	h.attach(t, "my-app", `{"partner":"gone","resource_id":"r1"}`)
	require.Equal(t, 1, h.platform(t, `{"heroku_id":"my-app@heroku.com","event":"deploy","detail":{}}`))
	assert.Empty(t, h.drain(t), "no retry after 410")
	assert.Len(t, ps.requests(), 1)
	assert.Equal(t, 0, h.dlq.len())

	var atts []partner.AttachmentView
	require.NoError(t, json.Unmarshal([]byte(h.op(t, http.MethodGet, "/v1/apps/my-app/addon-attachments", "", http.StatusOK)), &atts))
	require.Len(t, atts, 1)
	assert.True(t, atts[0].Gone)
	assert.Contains(t, atts[0].GoneReason, "410")

	assert.Equal(t, 0, h.platform(t, `{"heroku_id":"my-app@heroku.com","event":"deploy","detail":{}}`), "a gone resource gets nothing")
	status, out := h.call(t, http.MethodPost, "/v1/apps/other-app/addon-attachments", opID+":"+opPass, `{"partner":"gone","resource_id":"r1"}`)
	assert.Equal(t, http.StatusConflict, status)
	assert.Contains(t, out, "is gone")
}

// TestTestAndProductionURLs: --test partners are notified at
// api.test.base_url (plain http on loopback), others at the https
// production base URL.
func TestTestAndProductionURLs(t *testing.T) {
	prod := newPartnerServer(t, true, nil)
	test := newPartnerServer(t, false, nil)
	h := newHarness(t, harnessOptions{client: prod.srv.Client()})
	h.createPartner(t, manifest("live", "pw", prod.base(), test.base(), "deploy_notify"), "")
	h.createPartner(t, manifest("trial", "pw", "https://trial.invalid/heroku/resources", test.base(), "deploy_notify"), `"test":true`)
	h.attach(t, "my-app", `{"partner":"live","resource_id":"l1"}`)
	h.attach(t, "my-app", `{"partner":"trial","resource_id":"t1"}`)
	require.Equal(t, 2, h.platform(t, `{"heroku_id":"my-app@heroku.com","event":"deploy","detail":{}}`))
	h.drain(t)
	require.Len(t, prod.requests(), 1)
	assert.Equal(t, "live", prod.requests()[0].User)
	assert.Equal(t, "/heroku/resources/l1/events", prod.requests()[0].Path)
	require.Len(t, test.requests(), 1)
	assert.Equal(t, "trial", test.requests()[0].User)
	assert.Equal(t, "/heroku/resources/t1/events", test.requests()[0].Path)
}

// TestEgressGuard: the test URL is subject to the egress policy, at
// registration and when notifying.
func TestEgressGuard(t *testing.T) {
	ps := newPartnerServer(t, false, nil)
	guard := sink.NewEgress(nil)
	h := newHarness(t, harnessOptions{urlCheck: guard.CheckURL, client: guard.Client(time.Second)})
	status, out := h.call(t, http.MethodPost, "/v1/partners", opID+":"+opPass,
		`{"manifest":`+manifest("local", "pw", "https://local.example.com", ps.base())+`,"test":true}`)
	assert.Equal(t, http.StatusUnprocessableEntity, status)
	assert.Contains(t, out, "api.test.base_url")
	assert.Contains(t, out, "loopback")

	// Registered behind the guard's back: the notifier refuses to dial it
	// and dead-letters at once.
	h2 := newHarness(t, harnessOptions{client: guard.Client(time.Second)})
	h2.createPartner(t, manifest("local", "pw", "https://local.example.com", ps.base(), "deploy_notify"), `"test":true`)
	h2.attach(t, "my-app", `{"partner":"local","resource_id":"r1"}`)
	require.Equal(t, 1, h2.platform(t, `{"heroku_id":"my-app@heroku.com","event":"deploy","detail":{}}`))
	h2.drain(t)
	assert.Empty(t, ps.requests())
	dead := h2.dlq.take()
	require.Len(t, dead, 1)
	assert.Contains(t, dead[0].Attributes[queue.AttrReason], "egress refused")
}

func TestOperatorAuth(t *testing.T) {
	h := newHarness(t, harnessOptions{})
	routes := []struct{ method, path, body string }{
		{http.MethodPost, "/v1/platform/events", `{"heroku_id":"a@heroku.com","event":"deploy","detail":{}}`},
		{http.MethodPost, "/v1/partners", `{"manifest":` + manifest("acme", "pw", "https://acme.example.com", "") + `}`},
		{http.MethodGet, "/v1/partners", ""},
		{http.MethodGet, "/v1/partners/acme", ""},
		{http.MethodDelete, "/v1/partners/acme", ""},
		{http.MethodGet, "/v1/apps/my-app/addon-attachments", ""},
		{http.MethodPost, "/v1/apps/my-app/addon-attachments", `{"partner":"acme","resource_id":"r"}`},
		{http.MethodDelete, "/v1/apps/my-app/addon-attachments/X_CYAN", ""},
	}
	for _, r := range routes {
		for _, auth := range []string{"", opID + ":wrong-password", "someone:" + opPass} {
			t.Run(r.method+" "+r.path+" "+auth, func(t *testing.T) {
				status, out := h.call(t, r.method, r.path, auth, r.body)
				assert.Equal(t, http.StatusUnauthorized, status)
				assert.JSONEq(t, `{"id":"unauthorized","message":"Invalid credentials provided."}`, out)
			})
		}
	}
	assert.Equal(t, "[]\n", h.op(t, http.MethodGet, "/v1/partners", "", http.StatusOK), "nothing was created")
	assert.Equal(t, 0, h.queue.len())
}

func TestOperatorChallenge(t *testing.T) {
	h := newHarness(t, harnessOptions{})
	req, err := http.NewRequestWithContext(t.Context(), http.MethodGet, h.api.URL+"/v1/partners", nil)
	require.NoError(t, err)
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	require.NoError(t, resp.Body.Close())
	assert.Equal(t, http.StatusUnauthorized, resp.StatusCode)
	assert.Equal(t, []string{`Basic realm="herokuevents"`}, resp.Header.Values("WWW-Authenticate"), "operator routes take Basic only")
}

func TestBadInput(t *testing.T) {
	h := newHarness(t, harnessOptions{})
	h.createPartner(t, manifest("ok", "pw", "https://ok.example.com", ""), "")
	tests := []struct {
		name, method, path, body string
		status                   int
		msg                      string
	}{
		{"manifest missing id", "POST", "/v1/partners", `{"manifest":{"api":{"password":"pw","production":{"base_url":"https://acme.example.com"}}}}`, 422, "invalid manifest: id is missing"},
		{"manifest missing password", "POST", "/v1/partners", `{"manifest":` + manifest("acme", "", "https://acme.example.com", "") + `}`, 422, "invalid manifest: api.password is missing"},
		{"http production", "POST", "/v1/partners", `{"manifest":` + manifest("acme", "pw", "http://x.example.com", "") + `}`, 422, "must use https"},
		{"no manifest", "POST", "/v1/partners", `{"test":true}`, 422, "manifest is required"},
		{"test without test url", "POST", "/v1/partners", `{"manifest":` + manifest("acme", "pw", "https://acme.example.com", "") + `,"test":true}`, 422, "api.test.base_url is missing (required with --test)"},
		{"bad horizon", "POST", "/v1/partners", `{"manifest":` + manifest("acme", "pw", "https://acme.example.com", "") + `,"retry_horizon":"soon"}`, 422, "retry_horizon"},
		{"too many attempts", "POST", "/v1/partners", `{"manifest":` + manifest("acme", "pw", "https://acme.example.com", "") + `,"max_attempts":99}`, 422, "max_attempts"},
		{"duplicate", "POST", "/v1/partners", `{"manifest":` + manifest("ok", "pw", "https://ok.example.com", "") + `}`, 409, "already registered"},
		{"unknown field", "POST", "/v1/partners", `{"manifest":{},"nope":1}`, 422, "Unknown field"},
		{"unknown partner", "GET", "/v1/partners/nope", "", 404, "Partner nope not found."},
		{"event type", "POST", "/v1/platform/events", `{"heroku_id":"a@heroku.com","event":"release","detail":{}}`, 422, "must be deploy, attach or detach"},
		{"no heroku id", "POST", "/v1/platform/events", `{"event":"deploy","detail":{}}`, 422, "heroku_id is required"},
		{"detail not object", "POST", "/v1/platform/events", `{"heroku_id":"a@heroku.com","event":"deploy","detail":"x"}`, 422, "detail must be a JSON object"},
		{"not json", "POST", "/v1/platform/events", `{"heroku_id":`, 400, "not valid JSON"},
		{"body too big", "POST", "/v1/platform/events", `{"heroku_id":"` + strings.Repeat("a", 1<<20) + `"}`, 413, "Request body is larger than 1048576 bytes."},
		{"attach bad app", "POST", "/v1/apps/My_App/addon-attachments", `{"partner":"ok","resource_id":"r"}`, 422, "App name"},
		{"attach no resource", "POST", "/v1/apps/my-app/addon-attachments", `{"partner":"ok"}`, 422, "resource_id is required"},
		{"attach bad name", "POST", "/v1/apps/my-app/addon-attachments", `{"partner":"ok","resource_id":"r","as":"1BAD"}`, 422, "Attachment name"},
		{"attach bad heroku id", "POST", "/v1/apps/my-app/addon-attachments", `{"partner":"ok","resource_id":"r","heroku_id":"nope"}`, 422, "heroku_id"},
		{"attach unknown partner", "POST", "/v1/apps/my-app/addon-attachments", `{"partner":"nope","resource_id":"r"}`, 404, "Partner nope not found."},
		{"detach unknown", "DELETE", "/v1/apps/my-app/addon-attachments/OK_CYAN", "", 404, "no add-on attachment OK_CYAN"},
		{"no route", "GET", "/v1/platform/nothing", "", 404, "No such route."},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			status, out := h.call(t, tt.method, tt.path, opID+":"+opPass, tt.body)
			assert.Equal(t, tt.status, status, out)
			assert.Contains(t, out, tt.msg)
		})
	}
	var ps []partner.PartnerView
	require.NoError(t, json.Unmarshal([]byte(h.op(t, http.MethodGet, "/v1/partners", "", http.StatusOK)), &ps))
	require.Len(t, ps, 1, "bad input changes nothing")
	assert.Equal(t, "ok", ps[0].ID)
	assert.Equal(t, 5, ps[0].MaxAttempts)
	assert.Equal(t, "15m0s", ps[0].RetryHorizon)
}

func TestAttachRules(t *testing.T) {
	h := newHarness(t, harnessOptions{})
	h.createPartner(t, manifest("solo", "pw", "https://solo.example.com", ""), "")
	h.createPartner(t, manifest("multi", "pw", "https://multi.example.com", "", "many_per_app"), "")
	h.createPartner(t, manifest("share", "pw", "https://share.example.com", "", "attachable"), "")
	post := func(app, body string) (int, string) {
		return h.call(t, http.MethodPost, "/v1/apps/"+app+"/addon-attachments", opID+":"+opPass, body)
	}
	steps := []struct {
		app, body string
		status    int
		msg       string
	}{
		{"app-one", `{"partner":"solo","resource_id":"s1"}`, 201, `"name":"SOLO_CYAN"`},
		{"app-one", `{"partner":"solo","resource_id":"s2"}`, 422, "does not allow many per app"},
		{"app-two", `{"partner":"solo","resource_id":"s1"}`, 422, "is not attachable"},
		{"app-two", `{"partner":"solo","resource_id":"s2","as":"SOLO_PRIMARY"}`, 201, `"name":"SOLO_PRIMARY"`},
		{"app-one", `{"partner":"solo","resource_id":"s1"}`, 409, "already attached to app-one as SOLO_CYAN"},
		{"app-one", `{"partner":"multi","resource_id":"m1"}`, 201, `"name":"MULTI_CYAN"`},
		{"app-one", `{"partner":"multi","resource_id":"m2"}`, 201, `"name":"MULTI_AMBER"`},
		{"app-one", `{"partner":"multi","resource_id":"m3","as":"MULTI_CYAN"}`, 409, "already has an attachment named MULTI_CYAN"},
		{"app-one", `{"partner":"share","resource_id":"x1"}`, 201, `"name":"SHARE_CYAN"`},
		{"app-two", `{"partner":"share","resource_id":"x1"}`, 201, `"name":"SHARE_CYAN"`},
		{"app-one", `{"partner":"share","resource_id":"x2"}`, 422, "does not allow many per app"},
		{"app-one", `{"partner":"share","resource_id":"x9","heroku_id":"else@heroku.com"}`, 409, "has heroku id app-one@heroku.com"},
	}
	for i, s := range steps {
		status, out := post(s.app, s.body)
		require.Equal(t, s.status, status, "step %d: %s", i, out)
		assert.Contains(t, out, s.msg, "step %d", i)
	}
	one := attachments(t, h, "app-one")
	two := attachments(t, h, "app-two")
	require.Len(t, one, 4)
	require.Len(t, two, 2)
	shared := func(list []partner.AttachmentView) partner.AttachmentView {
		for _, a := range list {
			if a.Partner == "share" {
				return a
			}
		}
		t.Fatal("no share attachment")
		return partner.AttachmentView{}
	}
	assert.Equal(t, shared(one).Addon, shared(two).Addon, "one resource attached to two apps")
	assert.NotEqual(t, shared(one).App.ID, shared(two).App.ID)
	assert.Equal(t, one[0].App.ID, one[1].App.ID, "one app id per app")

	// Detaching the last attachment of a resource removes the resource;
	// destroying a partner removes its attachments.
	h.op(t, http.MethodDelete, "/v1/apps/app-one/addon-attachments/SHARE_CYAN", "", http.StatusOK)
	h.op(t, http.MethodDelete, "/v1/apps/app-two/addon-attachments/SHARE_CYAN", "", http.StatusOK)
	status, _ := post("app-one", `{"partner":"share","resource_id":"x2"}`)
	assert.Equal(t, http.StatusCreated, status)
	h.op(t, http.MethodDelete, "/v1/partners/multi", "", http.StatusOK)
	for _, a := range attachments(t, h, "app-one") {
		assert.NotEqual(t, "multi", a.Partner)
	}
	h.op(t, http.MethodGet, "/v1/partners/multi", "", http.StatusNotFound)
}

func attachments(t *testing.T, h *harness, app string) []partner.AttachmentView {
	t.Helper()
	var out []partner.AttachmentView
	require.NoError(t, json.Unmarshal([]byte(h.op(t, http.MethodGet, "/v1/apps/"+app+"/addon-attachments", "", http.StatusOK)), &out))
	return out
}

func TestEnvelopeKeepsDetailVerbatim(t *testing.T) {
	got, err := partner.Envelope("a<b>@heroku.com", "deploy", json.RawMessage(`{ "z": "x & <y>", "a": [1, 2.50, "é"] }`))
	require.NoError(t, err)
	assert.Equal(t, `{"heroku_id":"a<b>@heroku.com","event":"deploy","detail":{"z":"x & <y>","a":[1,2.50,"é"]}}`, string(got))
	_, err = partner.Envelope("a@heroku.com", "deploy", json.RawMessage(`{`))
	assert.Error(t, err)
}

func TestPoisonMessages(t *testing.T) {
	h := newHarness(t, harnessOptions{})
	msgs := []queue.Message{
		{ID: "bad-json", Body: []byte(`{`)},
		{ID: "no-partner", Body: []byte(`{"partner":"","resource_id":"r","payload":"{}"}`)},
		{ID: "unknown-partner", Body: []byte(`{"partner":"ghost","resource_id":"r","payload":"{}"}`)},
	}
	res := h.notifier.HandleBatch(t.Context(), msgs)
	require.Len(t, res.Failures, 3)
	for _, f := range res.Failures {
		assert.True(t, queue.IsPermanent(f.Err), "%s: %v", f.ID, f.Err)
	}
	var reasons []string
	for _, f := range res.Failures {
		reasons = append(reasons, f.Err.Error())
	}
	assert.Contains(t, strings.Join(reasons, "|"), "partner ghost is not registered")
}
