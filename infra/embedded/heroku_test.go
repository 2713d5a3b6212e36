package embedded_test

import (
	"bytes"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/herokuevents/herokuevents/infra/embedded"
	"github.com/herokuevents/herokuevents/shared/addon"
	"github.com/herokuevents/herokuevents/shared/config"
	"github.com/herokuevents/herokuevents/shared/deliver"
	"github.com/herokuevents/herokuevents/shared/heroku"
	"github.com/herokuevents/herokuevents/shared/heroku/standin"
	"github.com/herokuevents/herokuevents/shared/queue"
)

// TestHerokuLifecycle: the stand-in provisions the embedded mode as Heroku
// does (the app learned through the Platform API), the tenant gets queued
// deliveries (a paused publication), a dead letter and delivery log
// entries; deprovisioning removes all of it from the store, the queues and
// the journal, and a second DELETE answers 410.
func TestHerokuLifecycle(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	addr := ln.Addr().String()
	require.NoError(t, ln.Close())
	m, err := addon.Load("../../addon-manifest.json", func(k string) string {
		return map[string]string{addon.EnvPassword: "pw", addon.EnvSSOSalt: "salt"}[k]
	})
	require.NoError(t, err)
	m.API.Test = addon.Endpoints{BaseURL: "http://" + addr + "/heroku/resources", SSOURL: "http://" + addr + "/sso/login"}
	sh, err := standin.Start(standin.Options{Manifest: m})
	require.NoError(t, err)
	t.Cleanup(func() { _ = sh.Close() })
	srv, err := embedded.Start(t.Context(), embedded.Options{
		Addr: addr, DataDir: t.TempDir(), AllowEgress: loopback,
		Backoff: deliver.Backoff{Base: time.Hour, Cap: time.Hour},
		HerokuOptions: embedded.HerokuOptions{Addon: m,
			Heroku: heroku.Settings{APIURL: sh.URL(), IDURL: sh.URL(), ClientSecret: sh.ClientSecret()}},
	})
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, srv.Close()) })

	var created struct {
		ID string `json:"id"`
	}
	herokuCall(t, http.MethodPost, sh.URL()+"/apps/shop-app/addons", `{"plan":{"name":"herokuevents:basic"}}`, http.StatusCreated, &created)
	rec, err := config.Load[config.Tenant](t.Context(), srv.Store(), "", config.KindTenant, "shop-app")
	require.NoError(t, err, "the app was learned")
	tenant := rec.Item.ID
	assert.Equal(t, created.ID, tenant)
	assert.Equal(t, "basic", rec.Value.Plan)
	var vars map[string]string
	herokuCall(t, http.MethodGet, sh.URL()+"/apps/shop-app/config-vars", "", http.StatusOK, &vars)
	apiURL, publishURL := vars["HEROKUEVENTS_API_URL"], vars["HEROKUEVENTS_PUBLISH_URL"]
	require.NotEmpty(t, apiURL)

	hook := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusBadRequest) // a permanent failure: dead letter
	}))
	t.Cleanup(hook.Close)
	for _, name := range []string{"held", "refused", "ordered"} {
		status, body := asTenant(t, apiURL, http.MethodPost, "/platforms/webhook/publications",
			`{"skip_handshake":true,"name":"`+name+`","url":"`+hook.URL+`/hook","ordered":`+strconv.FormatBool(name == "ordered")+`}`)
		require.Equal(t, http.StatusCreated, status, body)
	}
	for _, name := range []string{"held", "ordered"} {
		status, body := asTenant(t, apiURL, http.MethodPost, "/publications/"+name+"/pause", "")
		require.Equal(t, http.StatusOK, status, body)
	}
	var ids []string
	for _, name := range []string{"held", "held", "refused", "ordered", "ordered"} {
		ids = append(ids, publishTo(t, publishURL, name))
	}
	require.Eventually(t, func() bool {
		return tenantMessages(t, srv, tenant, embedded.DeliveryQueue) == 2 && tenantMessages(t, srv, tenant, embedded.DeliveryQueue+"-dlq") == 1 &&
			tenantMessages(t, srv, tenant, embedded.OrderedQueue) == 2
	}, 20*time.Second, 50*time.Millisecond, "two held deliveries, one dead letter and an ordered lane held")
	require.NoError(t, srv.FlushJournal(t.Context()))
	entries, err := srv.Journal().Event(t.Context(), tenant, ids[0])
	require.NoError(t, err)
	require.NotEmpty(t, entries)

	// A credential rotation reaches the app's config vars on Heroku.
	status, body := asTenant(t, apiURL, http.MethodPost, "/credentials/rotate", "")
	require.Equal(t, http.StatusOK, status, body)
	var rot struct {
		Config map[string]string `json:"config"`
	}
	require.NoError(t, json.Unmarshal([]byte(body), &rot))
	vars = nil
	herokuCall(t, http.MethodGet, sh.URL()+"/apps/shop-app/config-vars", "", http.StatusOK, &vars)
	assert.Equal(t, rot.Config, vars)
	assert.NotEqual(t, apiURL, vars["HEROKUEVENTS_API_URL"])

	herokuCall(t, http.MethodDelete, sh.URL()+"/apps/shop-app/addons/herokuevents", "", http.StatusOK, nil)
	for _, q := range []string{embedded.IngestQueue, embedded.IngestQueue + "-dlq", embedded.DeliveryQueue, embedded.DeliveryQueue + "-dlq", embedded.OrderedQueue} {
		assert.Zero(t, tenantMessages(t, srv, tenant, q), "queue %s", q)
	}
	for _, id := range ids {
		entries, err := srv.Journal().Event(t.Context(), tenant, id)
		require.NoError(t, err)
		assert.Empty(t, entries, "delivery log of %s", id)
	}
	_, err = srv.Store().Get(t.Context(), "", config.KindTenant, tenant)
	require.ErrorIs(t, err, config.ErrNotFound)
	pubs, err := srv.Store().List(t.Context(), tenant, config.KindPublication)
	require.NoError(t, err)
	assert.Empty(t, pubs)

	req, err := http.NewRequestWithContext(t.Context(), http.MethodDelete, m.API.Test.BaseURL+"/"+tenant, nil)
	require.NoError(t, err)
	req.SetBasicAuth(m.ID, m.API.Password)
	req.Header.Set("Accept", "application/vnd.heroku-addons+json; version=3")
	res, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	res.Body.Close()
	assert.Equal(t, http.StatusGone, res.StatusCode, "a second DELETE")
}

func tenantMessages(t *testing.T, srv *embedded.Server, tenant, q string) int {
	t.Helper()
	msgs, err := srv.Queue(q).List(t.Context(), 1000)
	require.NoError(t, err)
	n := 0
	for _, m := range msgs {
		if m.Attributes[queue.AttrTenant] == tenant {
			n++
		}
	}
	return n
}

func publishTo(t *testing.T, publishURL, name string) string {
	t.Helper()
	u, err := url.Parse(publishURL)
	require.NoError(t, err)
	user := u.User
	u.User = nil
	req, err := http.NewRequestWithContext(t.Context(), http.MethodPost, u.String()+"/"+name, strings.NewReader(`{"n":1}`))
	require.NoError(t, err)
	pass, _ := user.Password()
	req.SetBasicAuth(user.Username(), pass)
	req.Header.Set("Content-Type", "application/json")
	res, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer res.Body.Close()
	var out struct {
		ID string `json:"id"`
	}
	b, _ := io.ReadAll(res.Body)
	require.Equal(t, http.StatusAccepted, res.StatusCode, "%s", b)
	require.NoError(t, json.Unmarshal(b, &out))
	return out.ID
}

func herokuCall(t *testing.T, method, u, body string, status int, out any) {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), method, u, bytes.NewReader([]byte(body)))
	require.NoError(t, err)
	res, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	require.Equal(t, status, res.StatusCode, "%s %s: %s", method, u, b)
	if out != nil {
		require.NoError(t, json.Unmarshal(b, out))
	}
}
