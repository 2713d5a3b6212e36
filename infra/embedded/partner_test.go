package embedded_test

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/herokuevents/herokuevents/infra/embedded"
	"github.com/herokuevents/herokuevents/shared/deliver"
	"github.com/herokuevents/herokuevents/shared/partner"
	"github.com/herokuevents/herokuevents/shared/queue"
)

// partnerAPI is an add-on partner's provisioning API receiving
// notifications; each partner (Basic user) answers per its script.
type partnerAPI struct {
	srv    *httptest.Server
	mu     sync.Mutex
	got    map[string][]string // user → bodies
	auth   map[string]string   // user → password seen
	script map[string]func(body string) int
}

func newPartnerAPI(t *testing.T, script map[string]func(body string) int) *partnerAPI {
	t.Helper()
	p := &partnerAPI{got: map[string][]string{}, auth: map[string]string{}, script: script}
	p.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		user, pass, ok := r.BasicAuth()
		body, _ := io.ReadAll(r.Body)
		if !ok || r.Header.Get("Content-Type") != "application/json" ||
			!strings.HasPrefix(r.URL.Path, "/heroku/resources/") || !strings.HasSuffix(r.URL.Path, "/events") {
			w.WriteHeader(http.StatusBadRequest)
			return
		}
		p.mu.Lock()
		p.got[user] = append(p.got[user], string(body))
		p.auth[user] = pass
		p.mu.Unlock()
		status := http.StatusOK
		if f := p.script[user]; f != nil {
			status = f(string(body))
		}
		w.WriteHeader(status)
		_, _ = fmt.Fprintf(w, "answer %d", status)
	}))
	t.Cleanup(p.srv.Close)
	return p
}

// password is the Basic auth password user last presented.
func (p *partnerAPI) password(user string) string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.auth[user]
}

func (p *partnerAPI) bodies(user string) []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]string(nil), p.got[user]...)
}

// operatorCall sends a request with the credentials of HEROKUEVENTS_PLATFORM_URL
// (or none) and returns status and body.
func operatorCall(t *testing.T, srv *embedded.Server, withAuth bool, method, path, body string) (int, string) {
	t.Helper()
	u, err := url.Parse(srv.Var("HEROKUEVENTS_PLATFORM_URL"))
	require.NoError(t, err)
	user, pass := u.User.Username(), ""
	pass, _ = u.User.Password()
	u.User = nil
	req, err := http.NewRequestWithContext(t.Context(), method, u.String()+path, strings.NewReader(body))
	require.NoError(t, err)
	if withAuth {
		req.SetBasicAuth(user, pass)
	}
	res, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	require.NoError(t, err)
	return res.StatusCode, string(b)
}

func TestPartnerNotificationsEndToEnd(t *testing.T) {
	var failed atomic.Bool
	pa := newPartnerAPI(t, map[string]func(string) int{
		"myaddon": func(body string) int { // the first deploy fails
			if strings.Contains(body, `"event":"deploy"`) && failed.CompareAndSwap(false, true) {
				return http.StatusInternalServerError
			}
			return http.StatusOK
		},
		"broken":  func(string) int { return http.StatusServiceUnavailable },
		"retired": func(string) int { return http.StatusGone },
	})
	srv, err := embedded.Start(t.Context(), embedded.Options{
		Addr: "127.0.0.1:0", DataDir: t.TempDir(), App: "my-app", AllowEgress: loopback,
		Backoff: deliver.Backoff{Base: 20 * time.Millisecond, Cap: 50 * time.Millisecond},
	})
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, srv.Close()) })

	status, _ := operatorCall(t, srv, false, http.MethodPost, "/v1/platform/events", `{"heroku_id":"app123@heroku.com","event":"deploy","detail":{}}`)
	require.Equal(t, http.StatusUnauthorized, status, "platform events need the platform credentials")

	mk := func(id string, extra string, requires ...string) {
		m, _ := json.Marshal(map[string]any{"id": id, "api": map[string]any{
			"password": "pw-" + id, "production": map[string]string{"base_url": "https://" + id + ".example.com/heroku/resources"},
			"test": map[string]string{"base_url": pa.srv.URL + "/heroku/resources"}, "requires": requires}})
		status, out := operatorCall(t, srv, true, http.MethodPost, "/v1/partners", `{"manifest":`+string(m)+`,"test":true`+extra+`}`)
		require.Equal(t, http.StatusCreated, status, out)
		assert.NotContains(t, out, "pw-"+id)
	}
	mk("myaddon", `,"log_token":true`, "deploy_notify", "attach_notify")
	mk("broken", `,"max_attempts":3`, "deploy_notify")
	mk("retired", "", "deploy_notify")
	mk("quiet", "") // opted in to nothing

	attach := func(partnerID, rid string) partner.AttachmentView {
		status, out := operatorCall(t, srv, true, http.MethodPost, "/v1/apps/example/addon-attachments",
			`{"partner":"`+partnerID+`","resource_id":"`+rid+`","heroku_id":"app123@heroku.com","log_token":"d.token"}`)
		require.Equal(t, http.StatusCreated, status, out)
		var v partner.AttachmentView
		require.NoError(t, json.Unmarshal([]byte(out), &v))
		return v
	}
	att := attach("myaddon", "res-1")
	for _, p := range []string{"broken", "retired", "quiet"} {
		attach(p, "res-"+p)
	}

	deploy := `{"heroku_id":"app123@heroku.com","event":"deploy","detail":{"app":"example","user":"jane@somedomain.com","head":"441e20","git_log":"441e204 Merge & <ship>\nb980268 Awesome"}}`
	status, out := operatorCall(t, srv, true, http.MethodPost, "/v1/platform/events", deploy)
	require.Equal(t, http.StatusAccepted, status, out)
	assert.JSONEq(t, `{"queued":3}`, out)

	wantAttach := fmt.Sprintf(`{"heroku_id":"app123@heroku.com","event":"attach","detail":{"id":"%s","name":"MYADDON_CYAN","log_token":"d.token","resource":{"id":"%s","name":"%s"},"app":{"id":"%s","name":"example"}}}`,
		att.ID, att.Addon.ID, att.Addon.Name, att.App.ID)
	require.Eventually(t, func() bool { return len(pa.bodies("myaddon")) == 3 }, 10*time.Second, 10*time.Millisecond,
		"attach, deploy (500), deploy again: %v", pa.bodies("myaddon"))
	assert.ElementsMatch(t, []string{wantAttach, deploy, deploy}, pa.bodies("myaddon"), "byte for byte")
	assert.Equal(t, "pw-myaddon", pa.password("myaddon"))

	dlq := srv.Queue(embedded.PartnerDLQ)
	var dead []queue.Message
	require.Eventually(t, func() bool {
		dead, err = dlq.List(t.Context(), 10)
		return err == nil && len(dead) == 1
	}, 10*time.Second, 10*time.Millisecond)
	assert.Len(t, pa.bodies("broken"), 3, "the configured attempts")
	assert.Contains(t, dead[0].Attributes[queue.AttrReason], "gave up after 3 attempts")
	assert.Contains(t, dead[0].Attributes[queue.AttrReason], "HTTP 503 Service Unavailable: answer 503")

	assert.Len(t, pa.bodies("retired"), 1, "410 stops at once")
	assert.Empty(t, pa.bodies("quiet"))
	status, out = operatorCall(t, srv, true, http.MethodGet, "/v1/apps/example/addon-attachments", "")
	require.Equal(t, http.StatusOK, status)
	var atts []partner.AttachmentView
	require.NoError(t, json.Unmarshal([]byte(out), &atts))
	for _, a := range atts {
		assert.Equal(t, a.Partner == "retired", a.Gone, "%s gone", a.Partner)
	}

	status, out = operatorCall(t, srv, true, http.MethodDelete, "/v1/apps/example/addon-attachments/MYADDON_CYAN", "")
	require.Equal(t, http.StatusOK, status, out)
	wantDetach := strings.Replace(wantAttach, `"event":"attach"`, `"event":"detach"`, 1)
	require.Eventually(t, func() bool { return len(pa.bodies("myaddon")) == 4 }, 10*time.Second, 10*time.Millisecond)
	assert.Equal(t, wantDetach, pa.bodies("myaddon")[3])
}
