package api_test

import (
	"context"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/herokuevents/herokuevents/shared/api"
	"github.com/herokuevents/herokuevents/shared/config"
	"github.com/herokuevents/herokuevents/shared/platform"
	"github.com/herokuevents/herokuevents/shared/platform/platformtest"
)

// storedPublication reads a publication of tenant c from the store.
func (h *harness) storedPublication(c tenantCreds, name string) config.Publication {
	h.t.Helper()
	r, err := config.Load[config.Publication](h.t.Context(), h.store, c.ID, config.KindPublication, name)
	require.NoError(h.t, err)
	return r.Value
}

// webhookHook creates the webhook publication "hook" of tenant a.
func (h *harness) webhookHook() config.Publication {
	h.t.Helper()
	h.mustCreate(h.a, "/platforms/webhook/publications", `{"name":"hook","url":"https://example.com/hook","token":"tok-1","skip_handshake":true}`)
	return h.storedPublication(h.a, "hook")
}

func TestUpdatePublication(t *testing.T) {
	tests := []struct {
		name  string
		body  string
		check func(t *testing.T, before, after config.Publication, v map[string]any)
	}{
		{name: "url", body: `{"url":"https://example.org/new","skip_handshake":true}`,
			check: func(t *testing.T, before, after config.Publication, v map[string]any) {
				assert.Equal(t, "https://example.org/new", after.Params.URL)
				assert.Equal(t, before.TokenSealed, after.TokenSealed, "the token stays")
				assert.Equal(t, before.SecretSealed, after.SecretSealed, "the secret stays")
				assert.Equal(t, "https://example.org/new", v["params"].(map[string]any)["url"])
			}},
		{name: "token", body: `{"token":"tok-2"}`,
			check: func(t *testing.T, _, after config.Publication, v map[string]any) {
				assert.Equal(t, "sealed:2-kot", string(after.TokenSealed))
				assert.NotContains(t, v, "token")
			}},
		{name: "token removed", body: `{"token":""}`,
			check: func(t *testing.T, _, after config.Publication, _ map[string]any) {
				assert.Empty(t, after.TokenSealed)
			}},
		{name: "delivery settings", body: `{"timeout":"30s","max_attempts":5,"max_age":"2h","rate":2.5}`,
			check: func(t *testing.T, before, after config.Publication, v map[string]any) {
				assert.Equal(t, 30*time.Second, after.Timeout)
				assert.Equal(t, config.RetryPolicy{MaxAttempts: 5, Horizon: 2 * time.Hour}, after.Retry)
				assert.Equal(t, 2.5, after.Rate)
				assert.Equal(t, before.Params, after.Params)
				assert.Equal(t, map[string]any{"timeout": "30s", "max_attempts": float64(5), "max_age": "2h", "rate": 2.5}, v["delivery"])
			}},
		{name: "mode", body: `{"mode":"binary"}`,
			check: func(t *testing.T, _, after config.Publication, _ map[string]any) {
				assert.Equal(t, "binary", after.Params.Mode)
			}},
		{name: "nothing", body: `{}`,
			check: func(t *testing.T, before, after config.Publication, v map[string]any) {
				assert.Equal(t, before.Params, after.Params)
				assert.NotContains(t, v, "delivery")
			}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newHarness(t)
			before := h.webhookHook()
			r := h.as(h.a, http.MethodPatch, "/publications/hook", tt.body)
			require.Equal(t, http.StatusOK, r.Status, "%s", r.Body)
			v := r.object(t)
			assert.Equal(t, before.ID, v["id"])
			assert.Equal(t, "hook", v["name"])
			after := h.storedPublication(h.a, "hook")
			assert.Equal(t, before.ID, after.ID)
			assert.Equal(t, before.Created, after.Created)
			tt.check(t, before, after, v)
			assert.NotContains(t, h.logs.String(), "tok-2", "tokens are never logged")
			assert.Contains(t, h.logs.String(), `"publication updated"`)
		})
	}
}

func TestUpdatePublicationDelivery(t *testing.T) {
	h := newHarness(t)
	h.webhookHook()
	r := h.as(h.a, http.MethodPatch, "/publications/hook", `{"timeout":"30s","max_attempts":5,"max_age":"2h","rate":3}`)
	require.Equal(t, http.StatusOK, r.Status, "%s", r.Body)
	r = h.as(h.a, http.MethodPatch, "/publications/hook", `{"timeout":"0","max_attempts":0,"max_age":"","rate":0}`)
	require.Equal(t, http.StatusOK, r.Status, "%s", r.Body)
	after := h.storedPublication(h.a, "hook")
	assert.Zero(t, after.Timeout, "back to the default")
	assert.Zero(t, after.Retry)
	assert.Zero(t, after.Rate)
	assert.NotContains(t, r.object(t), "delivery")
}

func TestUpdatePublicationRefusesBadInput(t *testing.T) {
	tests := []struct {
		name, ref, body string
		status          int
		msg             string
	}{
		{"blocked url", "hook", `{"url":"https://blocked.example/x","skip_handshake":true}`, 422, "is not allowed"},
		{"not a url", "hook", `{"url":"ftp://example.com/x","skip_handshake":true}`, 422, "must use http or https"},
		{"timeout too short", "hook", `{"timeout":"10ms"}`, 422, "timeout \"10ms\""},
		{"timeout too long", "hook", `{"timeout":"2m"}`, 422, "from 1s to 1m"},
		{"timeout not a duration", "hook", `{"timeout":"soon"}`, 422, "timeout"},
		{"max attempts", "hook", `{"max_attempts":-1}`, 422, "max_attempts"},
		{"max age", "hook", `{"max_age":"30d"}`, 422, "max_age"},
		{"rate", "hook", `{"rate":-2}`, 422, "rate"},
		{"rate type", "hook", `{"rate":"2/s"}`, 422, "rate"},
		{"bad mode", "hook", `{"mode":"sideways"}`, 422, "mode"},
		{"unknown field", "hook", `{"colour":"red"}`, 422, "colour"},
		{"name cannot change", "hook", `{"name":"other"}`, 422, "name"},
		{"not json", "hook", `{`, 400, "JSON"},
		{"unknown publication", "nope", `{"rate":1}`, 404, "nope"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newHarness(t)
			h.webhookHook()
			before := h.store.snapshot()
			r := h.as(h.a, http.MethodPatch, "/publications/"+tt.ref, tt.body)
			require.Equal(t, tt.status, r.Status, "%s", r.Body)
			_, msg := r.errBody(t)
			assert.Contains(t, msg, tt.msg)
			assert.Equal(t, before, h.store.snapshot(), "bad input changes nothing")
		})
	}
	t.Run("another tenant's publication", func(t *testing.T) {
		h := newHarness(t)
		h.webhookHook()
		r := h.as(h.b, http.MethodPatch, "/publications/hook", `{"rate":1}`)
		assert.Equal(t, http.StatusNotFound, r.Status)
	})
}

// TestUpdateWithoutPlatformUpdate: a platform without an Update validator
// takes the delivery settings only.
func TestUpdateWithoutPlatformUpdate(t *testing.T) {
	fake, _ := platformtest.Platform()
	h := newHarness(t)
	h.srv = newServer(t, api.Options{Store: h.store, BaseURL: "http://127.0.0.1:5454",
		Operator: api.Operator{ID: operatorID, PasswordHash: api.HashKey(operatorPass)}}, platform.Deps{}, fake)
	h.h = h.srv.Handler()
	h.mustCreate(h.a, "/platforms/fake/publications", `{"name":"bucket","bucket":"b1"}`)
	r := h.as(h.a, http.MethodPatch, "/publications/bucket", `{"rate":4}`)
	require.Equal(t, http.StatusOK, r.Status, "%s", r.Body)
	assert.Equal(t, 4.0, h.storedPublication(h.a, "bucket").Rate)
	r = h.as(h.a, http.MethodPatch, "/publications/bucket", `{"bucket":"b2"}`)
	require.Equal(t, http.StatusUnprocessableEntity, r.Status, "%s", r.Body)
	_, msg := r.errBody(t)
	assert.Contains(t, msg, "bucket")
}

func TestEnablePauseResume(t *testing.T) {
	var mu sync.Mutex
	var woken []string
	h := newHarness(t)
	h.srv = newServer(t, api.Options{Store: h.store, BaseURL: "http://127.0.0.1:5454", Logger: nil,
		Now: func() time.Time { return fixedNow },
		Wake: func(_ context.Context, tenant, pub string) (int, error) {
			mu.Lock()
			defer mu.Unlock()
			woken = append(woken, tenant+"/"+pub)
			return 3, nil
		}}, platform.Deps{NewSecret: func() (string, error) { return "whsec_dGVzdA==", nil }})
	h.h = h.srv.Handler()
	pub := h.webhookHook()
	_, err := config.Modify(t.Context(), h.store, h.a.ID, config.KindPublication, "hook", 1, func(r *config.Record[config.Publication]) (bool, error) {
		r.Value.Disabled, r.Value.DisabledReason = true, "endpoint answered 410 Gone at 2026-01-02T03:04:05Z"
		return true, nil
	})
	require.NoError(t, err)
	r := h.as(h.a, http.MethodGet, "/publications/hook", "")
	assert.Equal(t, "endpoint answered 410 Gone at 2026-01-02T03:04:05Z", r.object(t)["disabled_reason"])

	r = h.as(h.a, http.MethodPost, "/publications/hook/enable", "")
	require.Equal(t, http.StatusOK, r.Status, "%s", r.Body)
	assert.NotContains(t, r.object(t), "disabled")
	after := h.storedPublication(h.a, "hook")
	assert.False(t, after.Disabled)
	assert.Empty(t, after.DisabledReason)

	r = h.as(h.a, http.MethodPost, "/publications/hook/pause", "")
	require.Equal(t, http.StatusOK, r.Status, "%s", r.Body)
	v := r.object(t)
	assert.Equal(t, true, v["paused"])
	assert.Equal(t, "2026-01-02T03:04:05.0000006Z", v["paused_at"])
	assert.True(t, h.storedPublication(h.a, "hook").Paused)
	r = h.as(h.a, http.MethodPost, "/publications/hook/pause", "")
	require.Equal(t, http.StatusOK, r.Status, "pausing twice is fine")

	r = h.as(h.a, http.MethodPost, "/publications/"+pub.ID+"/resume", "")
	require.Equal(t, http.StatusOK, r.Status, "%s", r.Body)
	assert.NotContains(t, r.object(t), "paused")
	assert.False(t, h.storedPublication(h.a, "hook").Paused)
	mu.Lock()
	assert.Equal(t, []string{h.a.ID + "/" + pub.ID}, woken, "held deliveries are woken")
	mu.Unlock()

	for _, action := range []string{"enable", "pause", "resume"} {
		r := h.as(h.a, http.MethodPost, "/publications/nope/"+action, "")
		assert.Equal(t, http.StatusNotFound, r.Status, action)
		r = h.as(h.b, http.MethodPost, "/publications/hook/"+action, "")
		assert.Equal(t, http.StatusNotFound, r.Status, "another tenant's: "+action)
	}
}

func TestRotateSecret(t *testing.T) {
	h := newHarness(t)
	before := h.webhookHook()
	r := h.as(h.a, http.MethodPost, "/publications/hook/rotate-secret", `{"overlap":"2h"}`)
	require.Equal(t, http.StatusOK, r.Status, "%s", r.Body)
	extra := r.object(t)["extra"].(map[string]any)
	secret := extra["signing_secret"].(string)
	assert.True(t, strings.HasPrefix(secret, "whsec_"), secret)
	until, err := time.Parse(time.RFC3339, extra["previous_secret_expires_at"].(string))
	require.NoError(t, err)
	assert.WithinDuration(t, time.Now().Add(2*time.Hour), until, time.Minute)
	assert.Equal(t, extra["previous_secret_expires_at"], r.object(t)["previous_secret_expires_at"])
	after := h.storedPublication(h.a, "hook")
	assert.Equal(t, before.SecretSealed, after.PreviousSecretSealed, "the old secret keeps signing")
	assert.Equal(t, "sealed:"+reverse(secret), string(after.SecretSealed))
	assert.NotContains(t, h.logs.String(), secret, "the secret is never logged")

	r = h.as(h.a, http.MethodGet, "/publications/hook", "")
	assert.NotContains(t, r.object(t), "extra", "shown once")

	r = h.as(h.a, http.MethodPost, "/publications/hook/rotate-secret", "")
	require.Equal(t, http.StatusOK, r.Status, "%s", r.Body)
	until, err = time.Parse(time.RFC3339, r.object(t)["extra"].(map[string]any)["previous_secret_expires_at"].(string))
	require.NoError(t, err)
	assert.WithinDuration(t, time.Now().Add(api.DefaultOverlap), until, time.Minute, "24 h by default")

	r = h.as(h.a, http.MethodPost, "/publications/hook/rotate-secret", `{"overlap":"0"}`)
	require.Equal(t, http.StatusOK, r.Status, "%s", r.Body)
	assert.NotContains(t, r.object(t)["extra"], "previous_secret_expires_at")
	assert.Empty(t, h.storedPublication(h.a, "hook").PreviousSecretSealed, "no overlap")

	for _, bad := range []string{`{"overlap":"-1h"}`, `{"overlap":"9d"}`, `{"overlap":"999h"}`, `{"overlap":1}`, `{"other":1}`} {
		snap := h.store.snapshot()
		r := h.as(h.a, http.MethodPost, "/publications/hook/rotate-secret", bad)
		assert.Contains(t, []int{400, 422}, r.Status, bad)
		assert.Equal(t, snap, h.store.snapshot(), bad)
	}
}

func reverse(s string) string {
	b := []byte(s)
	for i, j := 0, len(b)-1; i < j; i, j = i+1, j-1 {
		b[i], b[j] = b[j], b[i]
	}
	return string(b)
}

func TestRotateSecretOfUnsignedPlatform(t *testing.T) {
	fake, _ := platformtest.Platform()
	h := newHarness(t)
	h.srv = newServer(t, api.Options{Store: h.store, BaseURL: "http://127.0.0.1:5454"}, platform.Deps{}, fake)
	h.h = h.srv.Handler()
	h.mustCreate(h.a, "/platforms/fake/publications", `{"name":"bucket","bucket":"b1"}`)
	r := h.as(h.a, http.MethodPost, "/publications/bucket/rotate-secret", "")
	require.Equal(t, http.StatusUnprocessableEntity, r.Status, "%s", r.Body)
	_, msg := r.errBody(t)
	assert.Equal(t, "Publication bucket is a fake publication: it has no signing secret to rotate.", msg)
}

func TestUpdateStream(t *testing.T) {
	h := newHarness(t)
	h.mustCreate(h.a, "/platforms/webhook/subscriptions", `{"name":"orders"}`)
	h.webhookHook()
	h.mustCreate(h.a, "/streams", `{"source":"orders","target":"hook"}`)

	r := h.as(h.a, http.MethodPatch, "/streams/orders/hook", `{"filter":"root = this"}`)
	require.Equal(t, http.StatusOK, r.Status, "%s", r.Body)
	v := r.object(t)
	assert.Equal(t, "root = this", v["filter"])
	assert.Equal(t, "orders", v["source"])
	assert.Equal(t, "hook", v["target"])
	r = h.as(h.a, http.MethodGet, "/streams/orders/hook", "")
	assert.Equal(t, "root = this", r.object(t)["filter"])

	r = h.as(h.a, http.MethodPatch, "/streams/orders/hook", `{"filter":null}`)
	require.Equal(t, http.StatusOK, r.Status, "%s", r.Body)
	assert.Nil(t, r.object(t)["filter"], "null removes the filter")

	tests := []struct {
		name, path, body string
		status           int
		msg              string
	}{
		{"bad filter", "/streams/orders/hook", `{"filter":"root = ("}`, 422, "filter"},
		{"no filter field", "/streams/orders/hook", `{}`, 422, "filter is required"},
		{"other field", "/streams/orders/hook", `{"filter":"root = this","source":"x"}`, 422, "only filter"},
		{"filter type", "/streams/orders/hook", `{"filter":3}`, 422, "string or null"},
		{"no stream", "/streams/hook/orders", `{"filter":null}`, 404, ""},
		{"unknown source", "/streams/nope/hook", `{"filter":null}`, 404, "nope"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			snap := h.store.snapshot()
			r := h.as(h.a, http.MethodPatch, tt.path, tt.body)
			require.Equal(t, tt.status, r.Status, "%s", r.Body)
			_, msg := r.errBody(t)
			assert.Contains(t, msg, tt.msg)
			assert.Equal(t, snap, h.store.snapshot())
		})
	}
}

// TestNamesAreExclusive: a publication cannot take a subscription's name
// nor the reverse: both would answer POST {publish URL}/{name}.
func TestNamesAreExclusive(t *testing.T) {
	h := newHarness(t)
	h.mustCreate(h.a, "/platforms/webhook/subscriptions", `{"name":"inbound"}`)
	h.mustCreate(h.a, "/platforms/webhook/publications", `{"name":"outbound","url":"https://example.com/","skip_handshake":true}`)
	tests := []struct {
		name, path, body, msg string
	}{
		{"publication named like a subscription", "/platforms/webhook/publications",
			`{"name":"inbound","url":"https://example.com/","skip_handshake":true}`, "Name inbound is taken by the subscription inbound"},
		{"subscription named like a publication", "/platforms/webhook/subscriptions",
			`{"name":"outbound"}`, "Name outbound is taken by the publication outbound"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			snap := h.store.snapshot()
			r := h.as(h.a, http.MethodPost, tt.path, tt.body)
			require.Equal(t, http.StatusConflict, r.Status, "%s", r.Body)
			id, msg := r.errBody(t)
			assert.Equal(t, "conflict", id)
			assert.Contains(t, msg, tt.msg)
			assert.Contains(t, msg, "choose another name")
			assert.Equal(t, snap, h.store.snapshot(), "nothing created")
		})
	}
	// Another tenant's names are its own.
	h.mustCreate(h.b, "/platforms/webhook/publications", `{"name":"inbound","url":"https://example.com/","skip_handshake":true}`)
}

// TestDeletedPublicationIsRemembered: deleting a publication records its id
// and name, which deliver and the dead-letter listing use.
func TestDeletedPublicationIsRemembered(t *testing.T) {
	h := newHarness(t)
	pub := h.webhookHook()
	r := h.as(h.a, http.MethodDelete, "/publications/hook", "")
	require.Equal(t, http.StatusOK, r.Status, "%s", r.Body)
	former, err := config.Load[config.FormerPublication](t.Context(), h.store, h.a.ID, config.KindFormerPublication, pub.ID)
	require.NoError(t, err)
	assert.Equal(t, config.FormerPublication{ID: pub.ID, Name: "hook", Deleted: fixedNow.Truncate(time.Second)}, former.Value)
	h.webhookHook() // the name is free again
}

func TestPurgeDeadLetters(t *testing.T) {
	h := newDeadHarness(t)
	h.deadDelivery(h.a, "pub-1", "ev-1", "400")
	h.deadDelivery(h.a, "pub-1", "ev-2", "400")
	h.deadRouted(h.a, "sub-1", "ev-3", "filter failed")
	h.deadDelivery(h.b, "pub-9", "ev-9", "410")
	ids := map[string]string{}
	for _, d := range h.list(h.a) {
		ids[d["event_id"].(string)] = d["id"].(string)
	}

	r := h.as(h.a, http.MethodDelete, "/dead-letters", `{"ids":["`+ids["ev-1"]+`"]}`)
	require.Equal(t, http.StatusOK, r.Status, "%s", r.Body)
	assert.JSONEq(t, `{"purged":1}`, string(r.Body))
	assert.Len(t, h.list(h.a), 2)
	assert.Zero(t, h.queueLen("delivery"), "nothing is sent back")

	tests := []struct {
		name, body string
		status     int
		msg        string
	}{
		{"another tenant's id", `{"ids":["` + h.list(h.b)[0]["id"].(string) + `"]}`, 404, "No dead letter"},
		{"already purged", `{"ids":["` + ids["ev-1"] + `"]}`, 404, "No dead letter " + ids["ev-1"] + " for app my-app."},
		{"bad id", `{"ids":[""]}`, 422, "not a dead letter id"},
		{"not json", `{"ids":`, 400, "JSON"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := h.as(h.a, http.MethodDelete, "/dead-letters", tt.body)
			require.Equal(t, tt.status, r.Status, "%s", r.Body)
			_, msg := r.errBody(t)
			assert.Contains(t, msg, tt.msg)
			assert.Len(t, h.list(h.a), 2, "nothing purged")
		})
	}

	r = h.as(h.a, http.MethodDelete, "/dead-letters", "")
	require.Equal(t, http.StatusOK, r.Status, "%s", r.Body)
	assert.JSONEq(t, `{"purged":2}`, string(r.Body))
	assert.Empty(t, h.list(h.a))
	assert.Len(t, h.list(h.b), 1, "the other tenant's stay")
}

// TestDeadLettersNameDeletedPublications: a dead letter of a deleted
// publication shows its name.
func TestDeadLettersNameDeletedPublications(t *testing.T) {
	h := newDeadHarness(t)
	h.mustCreate(h.a, "/platforms/webhook/publications", `{"name":"hook","url":"https://example.com/","skip_handshake":true}`)
	pub := h.storedPublication(h.a, "hook")
	h.deadDelivery(h.a, pub.ID, "ev-1", "400")
	require.Equal(t, http.StatusOK, h.as(h.a, http.MethodDelete, "/publications/hook", "").Status)
	list := h.list(h.a)
	require.Len(t, list, 1)
	assert.Equal(t, "hook", list[0]["target"])
}

// FuzzLifecycleBodies: whatever the body of a publication update, a secret
// rotation, a stream update or a dead-letter purge, the api answers below
// 500 with {"id","message"}, and a refused request changes nothing.
func FuzzLifecycleBodies(f *testing.F) {
	for _, seed := range []struct {
		route uint8
		body  string
	}{
		{0, `{"url":"https://example.org/x","skip_handshake":true}`},
		{0, `{"timeout":"30s","max_attempts":5,"max_age":"2h","rate":2.5}`},
		{0, `{"token":"","mode":"binary","content_type":"application/json"}`},
		{0, `{"rate":1e400}`}, {0, `{"timeout":"-1s"}`}, {0, `{"max_attempts":9999999999999}`},
		{1, `{"overlap":"1h"}`}, {1, `{"overlap":"0"}`}, {1, ``},
		{2, `{"filter":"root = this"}`}, {2, `{"filter":null}`}, {2, `{"filter":"root = ("}`},
		{3, `{"ids":["1","2"]}`}, {3, `{"ids":[]}`},
		{0, `[]`}, {1, `null`}, {2, `{"filter":{}}`}, {3, `{"ids":"x"}`},
	} {
		f.Add(seed.route, seed.body)
	}
	routes := []struct{ method, path string }{
		{http.MethodPatch, "/publications/hook"},
		{http.MethodPost, "/publications/hook/rotate-secret"},
		{http.MethodPatch, "/streams/orders/hook"},
		{http.MethodDelete, "/dead-letters"},
	}
	var h *harness
	f.Fuzz(func(t *testing.T, route uint8, body string) {
		rt := routes[int(route)%len(routes)]
		if rt.path == "/dead-letters" {
			// Its queues' file lives as long as one run.
			d := newDeadHarness(t)
			d.deadDelivery(d.a, "pub-1", "ev-1", "400")
			d.deadDelivery(d.b, "pub-9", "ev-9", "410")
			h = nil
			check(t, d.harness, rt.method, rt.path, body)
			return
		}
		if h == nil {
			h = newHarness(t) // once per fuzzing process: provisioning is slow
			h.mustCreate(h.a, "/platforms/webhook/subscriptions", `{"name":"orders"}`)
			h.mustCreate(h.a, "/platforms/webhook/publications", `{"name":"hook","url":"https://example.com/","skip_handshake":true}`)
			h.mustCreate(h.a, "/streams", `{"source":"orders","target":"hook"}`)
		}
		h.t = t
		check(t, h, rt.method, rt.path, body)
	})
}

// check sends a request and requires an answer below 500, and for a
// refusal {"id","message"} and an unchanged store.
func check(t *testing.T, h *harness, method, path, body string) {
	t.Helper()
	before := h.store.snapshot()
	r := h.as(h.a, method, path, body)
	require.Less(t, r.Status, 500, "%s %s %s → %s", method, path, body, r.Body)
	if r.Status != http.StatusOK {
		id, msg := r.errBody(t)
		require.NotEmpty(t, id)
		require.NotEmpty(t, msg)
		require.Equal(t, before, h.store.snapshot(), "a refused request changes nothing")
	}
}
