package api_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/herokuevents/herokuevents/shared/api"
	"github.com/herokuevents/herokuevents/shared/config"
	"github.com/herokuevents/herokuevents/shared/platform"
)

const created = `"2026-01-02T03:04:05Z"`

func TestGetTenant(t *testing.T) {
	h := newHarness(t)
	for _, auth := range []string{"Bearer " + h.a.APIKey, basic("herokuevents", h.a.APIKey), basic("", h.a.APIKey)} {
		r := h.do(http.MethodGet, "/v1/tenants/"+h.a.ID, "", auth)
		require.Equal(t, http.StatusOK, r.Status, "%s", r.Body)
		assert.JSONEq(t, fmt.Sprintf(`{"id":%q,"app":"my-app"}`, h.a.ID), string(r.Body))
		assert.Equal(t, "application/json; charset=utf-8", r.Header.Get("Content-Type"))
	}
}

func TestAuth(t *testing.T) {
	h := newHarness(t)
	paths := []struct{ method, rel, body string }{
		{http.MethodGet, "", ""},
		{http.MethodGet, "/subscriptions", ""},
		{http.MethodPost, "/platforms/webhook/subscriptions", `{"name":"orders"}`},
		{http.MethodPost, "/platforms/webhook/publications", `{"skip_handshake":true,"name":"hook","url":"https://example.com/"}`},
		{http.MethodPost, "/streams", `{"source":"a","target":"b"}`},
		{http.MethodDelete, "/subscriptions/x", ""},
		{http.MethodDelete, "/streams/a/b", ""},
	}
	tests := []struct {
		name, tenant, auth string
	}{
		{"no credentials", h.a.ID, ""},
		{"wrong bearer", h.a.ID, "Bearer " + strings.Repeat("0", 64)},
		{"empty bearer", h.a.ID, "Bearer "},
		{"other tenant's key", h.a.ID, "Bearer " + h.b.APIKey},
		{"publish key is not the api key", h.a.ID, "Bearer " + h.a.PublishKey},
		{"basic with wrong password", h.a.ID, basic("herokuevents", "nope")},
		{"unknown scheme", h.a.ID, "Token " + h.a.APIKey},
		{"unknown tenant with a valid key", "6f1b1c2e-1111-4222-8333-444455556666", "Bearer " + h.a.APIKey},
		{"tenant addressed by app name", "my-app", "Bearer " + h.a.APIKey},
	}
	for _, tc := range tests {
		for _, p := range paths {
			t.Run(tc.name+" "+p.method+p.rel, func(t *testing.T) {
				before := h.store.snapshot()
				r := h.do(p.method, "/v1/tenants/"+tc.tenant+p.rel, p.body, tc.auth)
				require.Equal(t, http.StatusUnauthorized, r.Status, "%s", r.Body)
				id, msg := r.errBody(t)
				assert.Equal(t, "unauthorized", id)
				assert.Equal(t, "Invalid credentials provided.", msg)
				assert.Contains(t, r.Header.Get("WWW-Authenticate"), "Bearer")
				assert.Equal(t, before, h.store.snapshot())
			})
		}
	}
}

// TestLifecycle walks the happy paths and checks the exact JSON shapes.
func TestLifecycle(t *testing.T) {
	h := newHarness(t)
	filter := `root = if this.total > 100 { this } else { deleted() }`

	sub := h.mustCreate(h.a, "/platforms/webhook/subscriptions", `{"name":"orderEvents"}`)
	subID := sub["id"].(string)
	subJSON := func(targets string) string {
		return fmt.Sprintf(`{"id":%q,"name":"orderEvents","platform":"webhook","params":{},"created_at":%s,"targets":[%s]}`,
			subID, created, targets)
	}
	subJSONb, _ := json.Marshal(sub)
	assert.JSONEq(t, subJSON(""), string(subJSONb))

	// Publication with token, source and filter.
	body := fmt.Sprintf(`{"skip_handshake":true,"name":"orderHook","url":"https://hooks.example.com/orders","token":"tok-123","source":"orderEvents","filter":%q}`, filter)
	r := h.as(h.a, http.MethodPost, "/platforms/webhook/publications", body)
	require.Equal(t, http.StatusCreated, r.Status, "%s", r.Body)
	pubID := r.object(t)["id"].(string)
	linkedSub := fmt.Sprintf(`{"id":%q,"name":"orderEvents","platform":"webhook","filter":%q,"params":{},"created_at":%s}`, subID, filter, created)
	pubJSON := func(sources string) string {
		return fmt.Sprintf(`{"id":%q,"name":"orderHook","platform":"webhook","params":{"url":"https://hooks.example.com/orders"},"created_at":%s,"sources":[%s]}`,
			pubID, created, sources)
	}
	assert.JSONEq(t, strings.TrimSuffix(pubJSON(linkedSub), "}")+`,"extra":{"signing_secret":"whsec_dGVzdC1zZWNyZXQt0001"}}`, string(r.Body))

	// The token and secret are stored sealed only.
	rec, err := config.Load[config.Publication](t.Context(), h.store, h.a.ID, config.KindPublication, "orderHook")
	require.NoError(t, err)
	tok, err := fakeSealer{}.Open(t.Context(), rec.Value.TokenSealed)
	require.NoError(t, err)
	assert.Equal(t, "tok-123", string(tok))
	sec, err := fakeSealer{}.Open(t.Context(), rec.Value.SecretSealed)
	require.NoError(t, err)
	assert.Equal(t, "whsec_dGVzdC1zZWNyZXQt0001", string(sec))
	for _, it := range h.store.snapshot() {
		assert.NotContains(t, string(it.Body), "tok-123")
		assert.NotContains(t, string(it.Body), "whsec_")
	}

	// Publication without token or source.
	audit := h.mustCreate(h.a, "/platforms/webhook/publications", `{"skip_handshake":true,"name":"auditHook","url":"http://audit.example.com:8080/in"}`)
	auditID := audit["id"].(string)
	assert.Equal(t, map[string]any{"signing_secret": "whsec_dGVzdC1zZWNyZXQt0002"}, audit["extra"])
	assert.Equal(t, []any{}, audit["sources"])
	rec, err = config.Load[config.Publication](t.Context(), h.store, h.a.ID, config.KindPublication, auditID)
	require.NoError(t, err)
	assert.Empty(t, rec.Value.TokenSealed)

	// Stream by id and name, no filter.
	r = h.as(h.a, http.MethodPost, "/streams", fmt.Sprintf(`{"source":%q,"target":"auditHook"}`, subID))
	require.Equal(t, http.StatusCreated, r.Status, "%s", r.Body)
	streamID := r.object(t)["id"].(string)
	auditStream := fmt.Sprintf(`{"id":%q,"source":"orderEvents","target":"auditHook","filter":null,"created_at":%s}`, streamID, created)
	assert.JSONEq(t, auditStream, string(r.Body))

	linkedAudit := fmt.Sprintf(`{"id":%q,"name":"auditHook","platform":"webhook","filter":null,"params":{"url":"http://audit.example.com:8080/in"},"created_at":%s}`, auditID, created)
	linkedOrder := fmt.Sprintf(`{"id":%q,"name":"orderHook","platform":"webhook","filter":%q,"params":{"url":"https://hooks.example.com/orders"},"created_at":%s}`, pubID, filter, created)

	t.Run("reads", func(t *testing.T) {
		full := subJSON(linkedAudit + "," + linkedOrder)
		for _, ref := range []string{"orderEvents", subID} {
			r := h.as(h.a, http.MethodGet, "/subscriptions/"+ref, "")
			require.Equal(t, http.StatusOK, r.Status)
			assert.JSONEq(t, full, string(r.Body))
		}
		r := h.as(h.a, http.MethodGet, "/subscriptions", "")
		require.Equal(t, http.StatusOK, r.Status)
		assert.JSONEq(t, "["+full+"]", string(r.Body))

		for _, ref := range []string{"orderHook", pubID} {
			r := h.as(h.a, http.MethodGet, "/publications/"+ref, "")
			require.Equal(t, http.StatusOK, r.Status)
			assert.JSONEq(t, pubJSON(linkedSub), string(r.Body))
			assert.NotContains(t, string(r.Body), "secret")
			assert.NotContains(t, string(r.Body), "token")
			assert.NotContains(t, string(r.Body), "sealed")
		}
		r = h.as(h.a, http.MethodGet, "/publications", "")
		require.Equal(t, http.StatusOK, r.Status)
		auditFull := fmt.Sprintf(`{"id":%q,"name":"auditHook","platform":"webhook","params":{"url":"http://audit.example.com:8080/in"},"created_at":%s,"sources":[%s]}`,
			auditID, created, strings.Replace(linkedSub, fmt.Sprintf("%q", filter), "null", 1))
		assert.JSONEq(t, "["+auditFull+","+pubJSON(linkedSub)+"]", string(r.Body))

		r = h.as(h.a, http.MethodGet, "/streams", "")
		require.Equal(t, http.StatusOK, r.Status)
		streams := r.list(t)
		require.Len(t, streams, 2)
		assert.Equal(t, "auditHook", streams[0]["target"])
		assert.Equal(t, "orderHook", streams[1]["target"])
		assert.Equal(t, filter, streams[1]["filter"])

		r = h.as(h.a, http.MethodGet, "/streams/orderEvents/"+auditID, "")
		require.Equal(t, http.StatusOK, r.Status)
		assert.JSONEq(t, auditStream, string(r.Body))

		r = h.as(h.a, http.MethodGet, "/v1/tenants/"+h.b.ID+"/subscriptions", "")
		assert.Equal(t, http.StatusNotFound, r.Status, "a path inside the tenant path is no route")
		r = h.as(h.b, http.MethodGet, "/subscriptions", "")
		require.Equal(t, http.StatusOK, r.Status)
		assert.JSONEq(t, `[]`, string(r.Body), "other tenant sees nothing")
	})

	t.Run("unlink and relink", func(t *testing.T) {
		r := h.as(h.a, http.MethodDelete, "/streams/orderEvents/auditHook", "")
		require.Equal(t, http.StatusOK, r.Status, "%s", r.Body)
		assert.JSONEq(t, auditStream, string(r.Body))
		assert.Len(t, h.as(h.a, http.MethodGet, "/streams", "").list(t), 1)

		r = h.as(h.a, http.MethodPost, "/streams", `{"source":"orderEvents","target":"auditHook","filter":"root = this"}`)
		require.Equal(t, http.StatusCreated, r.Status, "%s", r.Body)
		again := r.object(t)
		assert.Equal(t, "root = this", again["filter"])

		r = h.as(h.a, http.MethodDelete, "/subscriptions/"+subID+"/publications/auditHook", "")
		require.Equal(t, http.StatusOK, r.Status, "v0.0.1 unlink path: %s", r.Body)
		assert.Equal(t, again["id"], r.object(t)["id"])
		assert.Len(t, h.as(h.a, http.MethodGet, "/streams", "").list(t), 1)
	})

	t.Run("subscription with target", func(t *testing.T) {
		r := h.as(h.a, http.MethodPost, "/platforms/webhook/subscriptions", `{"name":"inbound2","target":"auditHook","filter":"root = this"}`)
		require.Equal(t, http.StatusCreated, r.Status, "%s", r.Body)
		got := r.object(t)
		targets := got["targets"].([]any)
		require.Len(t, targets, 1)
		assert.Equal(t, "auditHook", targets[0].(map[string]any)["name"])
		assert.Equal(t, "root = this", targets[0].(map[string]any)["filter"])

		r = h.as(h.a, http.MethodPost, "/platforms/webhook/subscriptions", `{"name":"inbound3","target":"auditHook","filter":null}`)
		require.Equal(t, http.StatusCreated, r.Status, "null filter is no filter: %s", r.Body)
		assert.Nil(t, r.object(t)["targets"].([]any)[0].(map[string]any)["filter"])

		r = h.as(h.a, http.MethodDelete, "/subscriptions/inbound2", "")
		require.Equal(t, http.StatusOK, r.Status, "%s", r.Body)
		deleted := r.object(t)
		assert.Equal(t, got, deleted, "DELETE returns the full object with its targets")
		r = h.as(h.a, http.MethodDelete, "/subscriptions/inbound3", "")
		require.Equal(t, http.StatusOK, r.Status, "%s", r.Body)
		assert.Len(t, h.as(h.a, http.MethodGet, "/streams", "").list(t), 1, "its streams are gone")
	})

	t.Run("destroy publication unlinks", func(t *testing.T) {
		r := h.as(h.a, http.MethodDelete, "/publications/orderHook", "")
		require.Equal(t, http.StatusOK, r.Status, "%s", r.Body)
		assert.JSONEq(t, pubJSON(linkedSub), string(r.Body))
		assert.JSONEq(t, `[]`, string(h.as(h.a, http.MethodGet, "/streams", "").Body))
		r = h.as(h.a, http.MethodGet, "/subscriptions/orderEvents", "")
		assert.JSONEq(t, subJSON(""), string(r.Body))
		items, err := h.store.List(t.Context(), h.a.ID, config.KindStream)
		require.NoError(t, err)
		assert.Empty(t, items)
		r = h.as(h.a, http.MethodGet, "/publications/orderHook", "")
		assert.Equal(t, http.StatusNotFound, r.Status)
	})

	t.Run("destroy subscription", func(t *testing.T) {
		h.mustCreate(h.a, "/streams", `{"source":"orderEvents","target":"auditHook"}`)
		r := h.as(h.a, http.MethodDelete, "/subscriptions/orderEvents", "")
		require.Equal(t, http.StatusOK, r.Status, "%s", r.Body)
		assert.Len(t, r.object(t)["targets"], 1)
		items, err := h.store.List(t.Context(), h.a.ID, config.KindStream)
		require.NoError(t, err)
		assert.Empty(t, items)
		assert.JSONEq(t, `[]`, string(h.as(h.a, http.MethodGet, "/subscriptions", "").Body))
	})

	t.Run("logs", func(t *testing.T) {
		logs := h.logs.String()
		for _, secret := range []string{h.a.APIKey, h.a.PublishKey, h.b.APIKey, "tok-123", "whsec_", operatorPass} {
			assert.NotContains(t, logs, secret)
		}
		var mutations int
		for line := range strings.Lines(logs) {
			var rec map[string]any
			require.NoError(t, json.Unmarshal([]byte(line), &rec))
			msg := rec["msg"].(string)
			if strings.HasSuffix(msg, " created") || strings.HasSuffix(msg, " deleted") {
				mutations++
				for _, k := range []string{"tenant", "kind", "name", "id"} {
					assert.NotEmpty(t, rec[k], "%s in %s", k, line)
				}
			}
		}
		// 2 subs + 2 pubs + 3 links via /streams + 2 link-on-create + subs/pubs/streams deleted.
		assert.GreaterOrEqual(t, mutations, 14)
	})
}

func TestSubscriptionState(t *testing.T) {
	h := newHarness(t)
	sub := config.Subscription{ID: "3b8e8a55-0000-4000-8000-000000000001", Name: "sfOrders", Platform: config.PlatformSalesforce,
		Params: config.Params{Event: "/event/Order__e", OrgName: "my-org"}, Created: fixedNow, Replay: "latest",
		State: &config.SourceState{Status: "failing", LastError: "token expired", Checkpoint: []byte{1, 2, 3}, CheckedAt: fixedNow}}
	_, err := config.Insert(t.Context(), h.store, config.Item{Tenant: h.a.ID, Kind: config.KindSubscription, ID: sub.ID, Name: sub.Name}, sub)
	require.NoError(t, err)
	r := h.as(h.a, http.MethodGet, "/subscriptions/sfOrders", "")
	require.Equal(t, http.StatusOK, r.Status)
	assert.JSONEq(t, `{"id":"3b8e8a55-0000-4000-8000-000000000001","name":"sfOrders","platform":"salesforce",
		"params":{"event":"/event/Order__e","org_name":"my-org"},"replay":"latest","created_at":"2026-01-02T03:04:05.0000006Z",
		"state":{"status":"failing","last_error":"token expired","checkpoint_at":"2026-01-02T03:04:05.0000006Z"},"targets":[]}`, string(r.Body))
}

// setupGraph gives tenant a a linked sub/pub pair and tenant b its own.
func setupGraph(h *harness) (bSubID, bPubID string) {
	h.mustCreate(h.a, "/platforms/webhook/subscriptions", `{"name":"orderEvents"}`)
	h.mustCreate(h.a, "/platforms/webhook/publications", `{"skip_handshake":true,"name":"orderHook","url":"https://hooks.example.com/o","source":"orderEvents"}`)
	h.mustCreate(h.a, "/platforms/webhook/publications", `{"skip_handshake":true,"name":"spareHook","url":"https://hooks.example.com/s"}`)
	bSubID = h.mustCreate(h.b, "/platforms/webhook/subscriptions", `{"name":"bSub"}`)["id"].(string)
	bPubID = h.mustCreate(h.b, "/platforms/webhook/publications", `{"skip_handshake":true,"name":"bPub","url":"https://b.example.com/","source":"bSub"}`)["id"].(string)
	return bSubID, bPubID
}

// TestBadInput checks that every bad request gets a clear JSON error and
// changes nothing.
func TestBadInput(t *testing.T) {
	h := newHarness(t)
	bSubID, bPubID := setupGraph(h)
	const (
		subs    = "/platforms/webhook/subscriptions"
		pubs    = "/platforms/webhook/publications"
		streams = "/streams"
	)
	deep := strings.Repeat("[", 40) + strings.Repeat("]", 40)
	tests := []struct {
		name         string
		method, rel  string
		body         string
		status       int
		id, contains string
	}{
		{"invalid JSON", http.MethodPost, subs, `{"name":`, 400, "bad_request", "Request body is not valid JSON."},
		{"trailing data", http.MethodPost, subs, `{"name":"a"} {}`, 400, "bad_request", "not valid JSON"},
		{"array body", http.MethodPost, subs, `["orders"]`, 400, "bad_request", "Request body must be a JSON object."},
		{"string body", http.MethodPost, pubs, `"orders"`, 400, "bad_request", "must be a JSON object"},
		{"null body", http.MethodPost, streams, `null`, 400, "bad_request", "must be a JSON object"},
		{"empty body", http.MethodPost, streams, ``, 400, "bad_request", "must be a JSON object"},
		{"too deep", http.MethodPost, subs, `{"name":"a","x":` + deep + `}`, 400, "bad_request", "nested deeper than 32"},
		{"body over 1 MiB", http.MethodPost, pubs, `{"skip_handshake":true,"name":"big","url":"https://x.example/` + strings.Repeat("a", api.MaxBody) + `"}`, 413, "payload_too_large", "larger than 1048576 bytes"},
		{"unknown field", http.MethodPost, subs, `{"name":"a","nmae":"b"}`, 422, "invalid_params", `Unknown field "nmae".`},
		{"unknown field on stream", http.MethodPost, streams, `{"source":"orderEvents","target":"spareHook","filtre":"x"}`, 422, "invalid_params", `Unknown field "filtre".`},
		{"wrong type", http.MethodPost, subs, `{"name":42}`, 422, "invalid_params", `Field "name" must be a string.`},
		{"missing name", http.MethodPost, subs, `{}`, 422, "invalid_params", "name is required."},
		{"name with digit first", http.MethodPost, subs, `{"name":"1orders"}`, 422, "invalid_params", `subscription name "1orders" is invalid: use 1 to 64 letters, digits, '_' or '-', starting with a letter.`},
		{"name with space", http.MethodPost, pubs, `{"skip_handshake":true,"name":"my hook","url":"https://e.example/"}`, 422, "invalid_params", `publication name "my hook" is invalid`},
		{"name too long", http.MethodPost, subs, `{"name":"` + strings.Repeat("a", 65) + `"}`, 422, "invalid_params", "is invalid"},
		{"name like an id", http.MethodPost, subs, `{"name":"d1b1c2e3-1111-4222-8333-444455556666"}`, 422, "invalid_params", "must not look like an id"},
		{"duplicate subscription", http.MethodPost, subs, `{"name":"orderEvents"}`, 409, "conflict", "Subscription orderEvents already exists."},
		{"duplicate publication", http.MethodPost, pubs, `{"skip_handshake":true,"name":"orderHook","url":"https://e.example/"}`, 409, "conflict", "Publication orderHook already exists."},
		{"duplicate publication with source", http.MethodPost, pubs, `{"skip_handshake":true,"name":"spareHook","url":"https://e.example/","source":"orderEvents"}`, 409, "conflict", "Publication spareHook already exists."},
		{"duplicate stream", http.MethodPost, streams, `{"source":"orderEvents","target":"orderHook"}`, 409, "conflict", "Subscription orderEvents already streams to publication orderHook."},
		{"invalid Bloblang", http.MethodPost, streams, `{"source":"orderEvents","target":"spareHook","filter":"root = "}`, 422, "invalid_params", "filter: invalid Bloblang: line 1 char 8: expected query"},
		{"invalid Bloblang on publication", http.MethodPost, pubs, `{"skip_handshake":true,"name":"newHook","url":"https://e.example/","source":"orderEvents","filter":"root = {this}"}`, 422, "invalid_params", "line 1 char 13"},
		{"Bloblang env()", http.MethodPost, streams, `{"source":"orderEvents","target":"spareHook","filter":"root = env(\"HOME\")"}`, 422, "invalid_params", "unrecognised function 'env'"},
		{"Bloblang file()", http.MethodPost, subs, `{"name":"newSub","target":"spareHook","filter":"root = file(\"/etc/passwd\")"}`, 422, "invalid_params", "unrecognised function 'file'"},
		{"filter without source", http.MethodPost, pubs, `{"skip_handshake":true,"name":"newHook","url":"https://e.example/","filter":"root = this"}`, 422, "invalid_params", "filter can only be set together with source."},
		{"filter without target", http.MethodPost, subs, `{"name":"newSub","filter":"root = this"}`, 422, "invalid_params", "filter can only be set together with target."},
		{"missing url", http.MethodPost, pubs, `{"name":"newHook"}`, 422, "invalid_params", "url is required."},
		{"ftp url", http.MethodPost, pubs, `{"skip_handshake":true,"name":"newHook","url":"ftp://files.example.com/x"}`, 422, "invalid_params", `url "ftp://files.example.com/x" must use http or https.`},
		{"javascript url", http.MethodPost, pubs, `{"skip_handshake":true,"name":"newHook","url":"javascript:alert(1)"}`, 422, "invalid_params", "must use http or https"},
		{"relative url", http.MethodPost, pubs, `{"skip_handshake":true,"name":"newHook","url":"/hooks"}`, 422, "invalid_params", "must use http or https"},
		{"url without host", http.MethodPost, pubs, `{"skip_handshake":true,"name":"newHook","url":"https:///hooks"}`, 422, "invalid_params", "has no host"},
		{"url with credentials", http.MethodPost, pubs, `{"skip_handshake":true,"name":"newHook","url":"https://u:p@e.example/"}`, 422, "invalid_params", "must not contain credentials"},
		{"url refused by egress", http.MethodPost, pubs, `{"skip_handshake":true,"name":"newHook","url":"https://blocked.example/x"}`, 422, "invalid_params", `url "https://blocked.example/x" is not allowed: address 10.0.0.1 is private`},
		{"token with newline", http.MethodPost, pubs, `{"skip_handshake":true,"name":"newHook","url":"https://e.example/","token":"a\nb"}`, 422, "invalid_params", "token must be one line"},
		{"unknown source on publication", http.MethodPost, pubs, `{"skip_handshake":true,"name":"newHook","url":"https://e.example/","source":"nope"}`, 404, "not_found", "Couldn't find that subscription: nope."},
		{"unknown target on subscription", http.MethodPost, subs, `{"name":"newSub","target":"nope"}`, 404, "not_found", "Couldn't find that publication: nope."},
		{"stream without source", http.MethodPost, streams, `{"target":"spareHook"}`, 422, "invalid_params", "source is required"},
		{"stream without target", http.MethodPost, streams, `{"source":"orderEvents"}`, 422, "invalid_params", "target is required"},
		{"stream unknown source", http.MethodPost, streams, `{"source":"nope","target":"spareHook"}`, 404, "not_found", "Couldn't find that subscription: nope."},
		{"stream unknown target", http.MethodPost, streams, `{"source":"orderEvents","target":"nope"}`, 404, "not_found", "Couldn't find that publication: nope."},
		{"get unknown subscription", http.MethodGet, "/subscriptions/nope", "", 404, "not_found", "Couldn't find that subscription: nope."},
		{"get unknown publication", http.MethodGet, "/publications/nope", "", 404, "not_found", "Couldn't find that publication: nope."},
		{"destroy unknown subscription", http.MethodDelete, "/subscriptions/nope", "", 404, "not_found", "Couldn't find that subscription: nope."},
		{"destroy unknown publication", http.MethodDelete, "/publications/nope", "", 404, "not_found", "Couldn't find that publication: nope."},
		{"destroy absent stream", http.MethodDelete, "/streams/orderEvents/spareHook", "", 404, "not_found", "Couldn't find that stream: orderEvents does not stream to spareHook."},
		{"destroy stream of unknown source", http.MethodDelete, "/streams/nope/orderHook", "", 404, "not_found", "Couldn't find that subscription: nope."},
		{"unlink absent (v0.0.1 path)", http.MethodDelete, "/subscriptions/orderEvents/publications/spareHook", "", 404, "not_found", "Couldn't find that stream"},
		{"other tenant's subscription by name", http.MethodGet, "/subscriptions/bSub", "", 404, "not_found", "Couldn't find that subscription: bSub."},
		{"other tenant's subscription by id", http.MethodGet, "/subscriptions/" + bSubID, "", 404, "not_found", "Couldn't find that subscription"},
		{"destroy other tenant's subscription", http.MethodDelete, "/subscriptions/" + bSubID, "", 404, "not_found", "Couldn't find that subscription"},
		{"destroy other tenant's publication", http.MethodDelete, "/publications/bPub", "", 404, "not_found", "Couldn't find that publication: bPub."},
		{"get other tenant's publication by id", http.MethodGet, "/publications/" + bPubID, "", 404, "not_found", "Couldn't find that publication"},
		{"link other tenant's subscription", http.MethodPost, streams, fmt.Sprintf(`{"source":%q,"target":"spareHook"}`, bSubID), 404, "not_found", "Couldn't find that subscription"},
		{"link other tenant's publication", http.MethodPost, streams, fmt.Sprintf(`{"source":"orderEvents","target":%q}`, bPubID), 404, "not_found", "Couldn't find that publication"},
		{"publication sourcing other tenant", http.MethodPost, pubs, `{"skip_handshake":true,"name":"newHook","url":"https://e.example/","source":"bSub"}`, 404, "not_found", "Couldn't find that subscription: bSub."},
		{"destroy other tenant's stream", http.MethodDelete, "/streams/bSub/bPub", "", 404, "not_found", "Couldn't find that subscription: bSub."},
		{"salesforce subscriptions not yet", http.MethodPost, "/platforms/salesforce/subscriptions", `{"name":"sf"}`, 422, "invalid_params", "platform salesforce is not supported yet for subscriptions."},
		{"generate subscriptions not yet", http.MethodPost, "/platforms/generate/subscriptions", `{"name":"gen","interval":"1m","mapping":"root = {}"}`, 422, "invalid_params", "platform generate is not supported yet"},
		{"datacloud publications not yet", http.MethodPost, "/platforms/datacloud/publications", `{"name":"dc"}`, 422, "invalid_params", "platform datacloud is not supported yet for publications."},
		{"unknown route", http.MethodGet, "/nothing", "", 404, "not_found", "No such route."},
		{"wrong method", http.MethodPut, "/subscriptions/orderEvents", "", 405, "method_not_allowed", "Method PUT is not allowed here."},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			before := h.store.snapshot()
			listsBefore := h.lists(h.a)
			r := h.as(h.a, tc.method, tc.rel, tc.body)
			require.Equal(t, tc.status, r.Status, "%s", r.Body)
			id, msg := r.errBody(t)
			assert.Equal(t, tc.id, id)
			assert.Contains(t, msg, tc.contains)
			assert.Equal(t, before, h.store.snapshot(), "nothing changed in the store")
			assert.Equal(t, listsBefore, h.lists(h.a), "nothing changed in the API")
		})
	}
	assert.NotContains(t, h.logs.String(), "whsec_")
}

// lists returns the three list responses of tenant c.
func (h *harness) lists(c tenantCreds) []string {
	var out []string
	for _, rel := range []string{"/subscriptions", "/publications", "/streams"} {
		r := h.as(c, http.MethodGet, rel, "")
		require.Equal(h.t, http.StatusOK, r.Status)
		out = append(out, string(r.Body))
	}
	return out
}

func TestStoreFailure(t *testing.T) {
	h := newHarness(t)
	setupGraph(h)
	h.store.setFail(fmt.Errorf("disk on fire at /var/lib/x"))
	t.Cleanup(func() { h.store.setFail(nil) })
	r := h.as(h.a, http.MethodGet, "/subscriptions", "")
	// Loading the tenant fails first: an internal error, not a 401.
	require.Equal(t, http.StatusInternalServerError, r.Status)
	id, msg := r.errBody(t)
	assert.Equal(t, "internal_error", id)
	assert.NotContains(t, msg, "disk on fire")
	assert.Contains(t, h.logs.String(), "disk on fire")
}

func TestConcurrentCreates(t *testing.T) {
	h := newHarness(t)
	h.mustCreate(h.a, "/platforms/webhook/publications", `{"skip_handshake":true,"name":"hook","url":"https://e.example/"}`)
	const n = 8
	run := func(rel, body string) map[int]int {
		var mu sync.Mutex
		counts := map[int]int{}
		var wg sync.WaitGroup
		for range n {
			wg.Go(func() {
				r := h.as(h.a, http.MethodPost, rel, body)
				mu.Lock()
				counts[r.Status]++
				mu.Unlock()
			})
		}
		wg.Wait()
		return counts
	}
	assert.Equal(t, map[int]int{201: 1, 409: n - 1}, run("/platforms/webhook/subscriptions", `{"name":"orders"}`))
	assert.Equal(t, map[int]int{201: 1, 409: n - 1}, run("/streams", `{"source":"orders","target":"hook"}`))
	items, err := h.store.List(t.Context(), h.a.ID, config.KindStream)
	require.NoError(t, err)
	assert.Len(t, items, 1)
}

// TestConcurrentDeleteAndLink checks that a stream never outlives its ends.
func TestConcurrentDeleteAndLink(t *testing.T) {
	h := newHarness(t)
	for i := range 10 {
		name := fmt.Sprintf("sub%d", i)
		h.mustCreate(h.a, "/platforms/webhook/subscriptions", fmt.Sprintf(`{"name":%q}`, name))
		h.mustCreate(h.a, "/platforms/webhook/publications", fmt.Sprintf(`{"skip_handshake":true,"name":"pub%d","url":"https://e.example/"}`, i))
		var wg sync.WaitGroup
		wg.Go(func() { h.as(h.a, http.MethodPost, "/streams", fmt.Sprintf(`{"source":%q,"target":"pub%d"}`, name, i)) })
		wg.Go(func() { h.as(h.a, http.MethodDelete, "/subscriptions/"+name, "") })
		wg.Wait()
	}
	items, err := h.store.List(t.Context(), h.a.ID, config.KindStream)
	require.NoError(t, err)
	assert.Empty(t, items)
}

func TestPlatformExtension(t *testing.T) {
	store := newMemStore()
	srv := newServer(t, api.Options{Store: store, BaseURL: "https://events.example.com/base/"}, platform.Deps{},
		platform.Platform{Name: "generate", Subscription: &platform.Source{
			Validate: func(_ context.Context, _ platform.Deps, _ string, body []byte) (config.Subscription, error) {
				var req struct {
					api.SubscriptionFields
					Interval string `json:"interval"`
					Mapping  string `json:"mapping"`
				}
				if err := api.DecodeJSON(body, &req); err != nil {
					return config.Subscription{}, err
				}
				if req.Interval == "" {
					return config.Subscription{}, api.Invalid("interval is required.")
				}
				return config.Subscription{Params: config.Params{Interval: req.Interval, Mapping: req.Mapping}}, nil
			},
		}})
	resp, err := srv.Provision(t.Context(), api.ProvisionRequest{App: "gen-app"})
	require.NoError(t, err)
	assert.Equal(t, "https://herokuevents:"+keyOf(t, resp.Config[api.VarAPIURL])+"@events.example.com/base/v1/tenants/"+resp.ID, resp.Config[api.VarAPIURL])
	h := &harness{t: t, store: store, srv: srv, h: srv.Handler()}
	c := tenantCreds{ID: resp.ID, APIKey: keyOf(t, resp.Config[api.VarAPIURL])}

	r := h.as(c, http.MethodPost, "/platforms/generate/subscriptions", `{"name":"tick","interval":"1m","mapping":"root = {}"}`)
	require.Equal(t, http.StatusCreated, r.Status, "%s", r.Body)
	got := r.object(t)
	assert.Equal(t, "generate", got["platform"])
	assert.Equal(t, map[string]any{"interval": "1m", "mapping": "root = {}"}, got["params"])

	r = h.as(c, http.MethodPost, "/platforms/generate/subscriptions", `{"name":"tock"}`)
	require.Equal(t, http.StatusUnprocessableEntity, r.Status)
	_, msg := r.errBody(t)
	assert.Equal(t, "interval is required.", msg)
	r = h.as(c, http.MethodPost, "/platforms/generate/subscriptions", `{"name":"tock","interval":"1m","bogus":1}`)
	require.Equal(t, http.StatusUnprocessableEntity, r.Status)
	_, msg = r.errBody(t)
	assert.Equal(t, `Unknown field "bogus".`, msg)
}

// TestDeleteVersionConflict: a concurrent update of the resource makes the
// delete re-read and retry; one that never stops ends in 409, changing nothing.
func TestDeleteVersionConflict(t *testing.T) {
	h := newHarness(t)
	setupGraph(h)
	bump := func(times int) {
		left := times
		h.store.setOnDelete(func(tenant, kind, id string) {
			if kind != config.KindPublication || left == 0 {
				return
			}
			left--
			it, err := h.store.Get(context.Background(), tenant, kind, id)
			if err == nil {
				_, _ = h.store.Update(context.Background(), it)
			}
		})
	}
	t.Cleanup(func() { h.store.setOnDelete(nil) })

	bump(100)
	before := h.store.snapshot()
	r := h.as(h.a, http.MethodDelete, "/publications/orderHook", "")
	require.Equal(t, http.StatusConflict, r.Status, "%s", r.Body)
	id, msg := r.errBody(t)
	assert.Equal(t, "conflict", id)
	assert.Equal(t, "Publication orderHook keeps changing; try again.", msg)
	after := h.store.snapshot()
	require.Len(t, after, len(before), "nothing deleted")

	bump(1)
	r = h.as(h.a, http.MethodDelete, "/publications/orderHook", "")
	require.Equal(t, http.StatusOK, r.Status, "%s", r.Body)
	assert.Equal(t, "orderHook", r.object(t)["name"])
	assert.JSONEq(t, `[]`, string(h.as(h.a, http.MethodGet, "/streams", "").Body))
}
