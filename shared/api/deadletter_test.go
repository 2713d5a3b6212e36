package api_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/herokuevents/herokuevents/infra/embedded/sqlitequeue"
	"github.com/herokuevents/herokuevents/shared/api"
	"github.com/herokuevents/herokuevents/shared/event"
	"github.com/herokuevents/herokuevents/shared/logtest"
	"github.com/herokuevents/herokuevents/shared/platform"
	"github.com/herokuevents/herokuevents/shared/queue"
)

// deadHarness is a harness whose server serves dead letters from embedded
// queues "ingest"/"delivery" and their "-dlq".
type deadHarness struct {
	*harness
	db *sqlitequeue.DB
}

func newDeadHarness(t *testing.T) *deadHarness {
	t.Helper()
	db, err := sqlitequeue.Open(filepath.Join(t.TempDir(), "queues.db"))
	require.NoError(t, err)
	t.Cleanup(func() { assert.NoError(t, db.Close()) })
	dl := sqlitequeue.NewDeadLetters(
		sqlitequeue.Pair{DLQ: db.Queue("ingest-dlq"), Source: db.Queue("ingest")},
		sqlitequeue.Pair{DLQ: db.Queue("delivery-dlq"), Source: db.Queue("delivery")},
	)
	logger, logs := logtest.JSON(nil)
	h := &harness{t: t, store: newMemStore(), logs: logs}
	h.srv = newServer(t, api.Options{
		Store: h.store, BaseURL: "http://127.0.0.1:5454",
		Operator:    api.Operator{ID: operatorID, PasswordHash: api.HashKey(operatorPass)},
		Now:         func() time.Time { return fixedNow },
		Logger:      logger,
		DeadLetters: dl,
	}, platform.Deps{})
	h.h = h.srv.Handler()
	h.a = h.provision("my-app")
	h.b = h.provision("other-app")
	return &deadHarness{harness: h, db: db}
}

// deadDelivery dead-letters a delivery of event id to publication pub of c.
func (h *deadHarness) deadDelivery(c tenantCreds, pub, id, reason string) {
	h.t.Helper()
	body, err := json.Marshal(event.Delivery{Tenant: c.ID, Publication: pub, Attempt: 2,
		Event: event.Event{ID: id, Source: "/s", Type: event.TypePublish}})
	require.NoError(h.t, err)
	require.NoError(h.t, h.db.Queue("delivery-dlq").Send(h.t.Context(), queue.Message{Body: body,
		Attributes: map[string]string{queue.AttrTenant: c.ID, queue.AttrAttempt: "2", queue.AttrReason: reason}}))
}

func (h *deadHarness) deadRouted(c tenantCreds, sub, id, reason string) {
	h.t.Helper()
	body, err := json.Marshal(event.Routed{Tenant: c.ID, Subscription: sub, Event: event.Event{ID: id, Source: "/s", Type: event.TypePublish}})
	require.NoError(h.t, err)
	require.NoError(h.t, h.db.Queue("ingest-dlq").Send(h.t.Context(), queue.Message{Body: body,
		Attributes: map[string]string{queue.AttrTenant: c.ID, queue.AttrAttempt: "0", queue.AttrReason: reason}}))
}

func (h *deadHarness) list(c tenantCreds) []map[string]any {
	h.t.Helper()
	r := h.as(c, http.MethodGet, "/dead-letters", "")
	require.Equal(h.t, http.StatusOK, r.Status, "%s", r.Body)
	return r.list(h.t)
}

func (h *deadHarness) queueLen(name string) int {
	h.t.Helper()
	n, err := h.db.Queue(name).Len(h.t.Context())
	require.NoError(h.t, err)
	return n
}

func TestDeadLettersList(t *testing.T) {
	h := newDeadHarness(t)
	r := h.as(h.a, http.MethodGet, "/dead-letters", "")
	require.Equal(t, http.StatusOK, r.Status)
	assert.Equal(t, "[]\n", string(r.Body), "none yet: an empty array")

	pub := h.mustCreate(h.a, "/platforms/webhook/publications", `{"skip_handshake":true,"name":"hook","url":"https://example.com/"}`)
	sub := h.mustCreate(h.a, "/platforms/webhook/subscriptions", `{"name":"orders"}`)
	h.deadDelivery(h.a, pub["id"].(string), "ev-1", "deliver to publication hook: 400 Bad Request")
	h.deadDelivery(h.a, "0b7c8d5e-0000-4000-8000-000000000000", "ev-2", "publication deleted")
	h.deadRouted(h.a, sub["id"].(string), "ev-3", "filter failed")
	h.deadDelivery(h.b, "pub-of-b", "ev-b", "secret reason of b")

	list := h.list(h.a)
	require.Len(t, list, 3)
	for _, d := range list {
		assert.NotEmpty(t, d["id"])
		assert.NotEmpty(t, d["dead_lettered_at"])
		delete(d, "id")
		delete(d, "dead_lettered_at")
	}
	assert.Equal(t, []map[string]any{
		{"queue": "delivery", "event_id": "ev-1", "target": "hook", "reason": "deliver to publication hook: 400 Bad Request", "attempt": float64(2)},
		{"queue": "delivery", "event_id": "ev-2", "target": "0b7c8d5e-0000-4000-8000-000000000000", "reason": "publication deleted", "attempt": float64(2)},
		{"queue": "ingest", "event_id": "ev-3", "target": "orders", "reason": "filter failed", "attempt": float64(0)},
	}, list, "the tenant's own, targets by name (the id when deleted)")
	assert.NotContains(t, string(h.as(h.a, http.MethodGet, "/dead-letters", "").Body), "secret reason of b")

	b := h.list(h.b)
	require.Len(t, b, 1)
	assert.Equal(t, "ev-b", b[0]["event_id"])

	r = h.as(h.a, http.MethodGet, "/dead-letters?limit=1", "")
	require.Equal(t, http.StatusOK, r.Status)
	assert.Len(t, r.list(t), 1)
	for _, bad := range []string{"0", "-1", "x", "1001"} {
		r = h.as(h.a, http.MethodGet, "/dead-letters?limit="+bad, "")
		require.Equal(t, http.StatusUnprocessableEntity, r.Status, bad)
		id, msg := r.errBody(t)
		assert.Equal(t, "invalid_params", id)
		assert.Equal(t, "limit must be a number from 1 to 1000.", msg)
	}
}

func TestDeadLettersRedrive(t *testing.T) {
	h := newDeadHarness(t)
	h.deadDelivery(h.a, "p1", "ev-1", "r1")
	h.deadDelivery(h.a, "p1", "ev-2", "r2")
	h.deadRouted(h.a, "s1", "ev-3", "r3")
	h.deadDelivery(h.b, "p9", "ev-b", "rb")
	a := h.list(h.a)
	require.Len(t, a, 3)

	r := h.as(h.a, http.MethodPost, "/dead-letters/redrive", fmt.Sprintf(`{"ids":[%q]}`, a[0]["id"]))
	require.Equal(t, http.StatusOK, r.Status, "%s", r.Body)
	assert.JSONEq(t, `{"redriven":1}`, string(r.Body))
	assert.Equal(t, 1, h.queueLen("delivery"))
	assert.Len(t, h.list(h.a), 2)
	assert.Contains(t, h.logs.String(), `"msg":"dead letters redriven","tenant":"`+h.a.ID+`","redriven":1`)

	r = h.as(h.a, http.MethodPost, "/dead-letters/redrive", "")
	require.Equal(t, http.StatusOK, r.Status, "%s", r.Body)
	assert.JSONEq(t, `{"redriven":2}`, string(r.Body), "no body: all of the tenant's")
	assert.Equal(t, 2, h.queueLen("delivery"))
	assert.Equal(t, 1, h.queueLen("ingest"))
	assert.Empty(t, h.list(h.a))
	assert.Len(t, h.list(h.b), 1, "the other tenant's stays")

	r = h.as(h.a, http.MethodPost, "/dead-letters/redrive", `{"ids":[]}`)
	require.Equal(t, http.StatusOK, r.Status, "%s", r.Body)
	assert.JSONEq(t, `{"redriven":0}`, string(r.Body))
	assert.Len(t, h.list(h.b), 1)

	r = h.as(h.b, http.MethodPost, "/dead-letters/redrive", `{}`)
	require.Equal(t, http.StatusOK, r.Status, "%s", r.Body)
	assert.JSONEq(t, `{"redriven":1}`, string(r.Body))
}

func TestDeadLettersRedriveBadInput(t *testing.T) {
	h := newDeadHarness(t)
	h.deadDelivery(h.a, "p1", "ev-1", "r1")
	h.deadDelivery(h.b, "p9", "ev-b", "rb")
	aID := h.list(h.a)[0]["id"].(string)
	bID := h.list(h.b)[0]["id"].(string)
	tooMany := `{"ids":[` + strings.TrimSuffix(strings.Repeat(`"1",`, api.MaxRedriveIDs+1), ",") + `]}`
	tests := []struct {
		name, body string
		status     int
		id, msg    string
	}{
		{"unknown id", `{"ids":["424242"]}`, 404, "not_found", "No dead letter 424242 for app my-app."},
		{"other tenant's id", fmt.Sprintf(`{"ids":[%q]}`, bID), 404, "not_found", fmt.Sprintf("No dead letter %s for app my-app.", bID)},
		{"one good, two missing", fmt.Sprintf(`{"ids":[%q,%q,"x1"]}`, aID, bID), 404, "not_found", fmt.Sprintf("No dead letters %s, x1 for app my-app.", bID)},
		{"not JSON", `{"ids":`, 400, "bad_request", "Request body is not valid JSON."},
		{"not an object", `["1"]`, 400, "bad_request", "Request body must be a JSON object."},
		{"ids not an array", `{"ids":"1"}`, 422, "invalid_params", `Field "ids" must be an array.`},
		{"unknown field", `{"id":["1"]}`, 422, "invalid_params", `Unknown field "id".`},
		{"empty id", `{"ids":[""]}`, 422, "invalid_params", `ids: "" is not a dead letter id.`},
		{"id with spaces", `{"ids":["a b"]}`, 422, "invalid_params", `ids: "a b" is not a dead letter id.`},
		{"too many ids", tooMany, 422, "invalid_params", "ids: at most 1000 ids per request."},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := h.as(h.a, http.MethodPost, "/dead-letters/redrive", tc.body)
			require.Equal(t, tc.status, r.Status, "%s", r.Body)
			id, msg := r.errBody(t)
			assert.Equal(t, tc.id, id)
			assert.Equal(t, tc.msg, msg)
			assert.Zero(t, h.queueLen("delivery"), "nothing moved")
			assert.Len(t, h.list(h.a), 1)
			assert.Len(t, h.list(h.b), 1)
		})
	}
}

func TestDeadLettersAuth(t *testing.T) {
	h := newDeadHarness(t)
	h.deadDelivery(h.a, "p1", "ev-1", "r1")
	for _, p := range []struct{ method, rel, body string }{
		{http.MethodGet, "/dead-letters", ""},
		{http.MethodPost, "/dead-letters/redrive", `{}`},
	} {
		r := h.do(p.method, "/v1/tenants/"+h.a.ID+p.rel, p.body, "Bearer "+h.b.APIKey)
		require.Equal(t, http.StatusUnauthorized, r.Status, "%s %s", p.method, p.rel)
		r = h.do(p.method, "/v1/tenants/"+h.a.ID+p.rel, p.body, "")
		require.Equal(t, http.StatusUnauthorized, r.Status)
	}
	assert.Len(t, h.list(h.a), 1)
	assert.Zero(t, h.queueLen("delivery"))
}

func TestDeadLettersNotMounted(t *testing.T) {
	h := newHarness(t)
	r := h.as(h.a, http.MethodGet, "/dead-letters", "")
	require.Equal(t, http.StatusNotFound, r.Status)
	id, _ := r.errBody(t)
	assert.Equal(t, "not_found", id)
}
