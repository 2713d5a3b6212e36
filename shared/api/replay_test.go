package api_test

import (
	"context"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/herokuevents/herokuevents/shared/api"
	"github.com/herokuevents/herokuevents/shared/config"
	"github.com/herokuevents/herokuevents/shared/platform"
	"github.com/herokuevents/herokuevents/shared/replay"
)

// kicks records the replays the api starts.
type kicks struct {
	mu  sync.Mutex
	ids []string
	err error
}

func (k *kicks) Kick(_ context.Context, tenant, id string) error {
	k.mu.Lock()
	defer k.mu.Unlock()
	k.ids = append(k.ids, tenant+"/"+id)
	return k.err
}

func replayHarness(t *testing.T) (*harness, *kicks) {
	t.Helper()
	h := newHarness(t)
	k := &kicks{}
	h.srv = newServer(t, api.Options{
		Store: h.store, BaseURL: "http://127.0.0.1:5454", Operator: api.Operator{ID: operatorID, PasswordHash: api.HashKey(operatorPass)},
		Now: func() time.Time { return fixedNow }, Replays: k,
	}, platform.Deps{})
	h.h = h.srv.Handler()
	return h, k
}

func TestReplays(t *testing.T) {
	h, k := replayHarness(t)
	h.mustCreate(h.a, "/platforms/webhook/subscriptions", `{"name":"orders","retention":"72h"}`)
	h.mustCreate(h.a, "/platforms/webhook/publications", `{"name":"audit","url":"https://hooks.example.com/a","skip_handshake":true}`)
	assert.Equal(t, "72h", h.as(h.a, http.MethodGet, "/subscriptions/orders", "").object(t)["retention"])

	t.Run("bad input changes nothing", func(t *testing.T) {
		tests := []struct {
			name, path, body string
			status           int
		}{
			{"no window", "/subscriptions/orders/replays", `{}`, http.StatusUnprocessableEntity},
			{"bad time", "/subscriptions/orders/replays", `{"from":"yesterday","to":"now"}`, http.StatusUnprocessableEntity},
			{"reversed", "/subscriptions/orders/replays", `{"from":"now","to":"-1h"}`, http.StatusUnprocessableEntity},
			{"too long", "/subscriptions/orders/replays", `{"from":"-800h","to":"now"}`, http.StatusUnprocessableEntity},
			{"rate", "/subscriptions/orders/replays", `{"from":"-1h","to":"now","rate":5000}`, http.StatusUnprocessableEntity},
			{"unknown field", "/subscriptions/orders/replays", `{"from":"-1h","to":"now","speed":1}`, http.StatusUnprocessableEntity},
			{"no subscription", "/subscriptions/nosuch/replays", `{"from":"-1h","to":"now"}`, http.StatusNotFound},
			{"no publication", "/subscriptions/orders/replays", `{"from":"-1h","to":"now","publication":"nosuch"}`, http.StatusNotFound},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				r := h.as(h.a, http.MethodPost, tt.path, tt.body)
				require.Equal(t, tt.status, r.Status, string(r.Body))
				id, msg := r.errBody(t)
				assert.NotEmpty(t, id)
				assert.NotEmpty(t, msg)
			})
		}
		for _, body := range []string{`{"retention":"10m"}`, `{"retention":"soon"}`, `{"retention":"1000h"}`} {
			r := h.as(h.a, http.MethodPatch, "/subscriptions/orders", body)
			assert.Equal(t, http.StatusUnprocessableEntity, r.Status, body)
		}
		assert.Equal(t, "72h", h.as(h.a, http.MethodGet, "/subscriptions/orders", "").object(t)["retention"])
		assert.Empty(t, h.as(h.a, http.MethodGet, "/replays", "").list(t))
		assert.Empty(t, k.ids)
	})

	r := h.as(h.a, http.MethodPost, "/subscriptions/orders/replays", `{"from":"-1h","to":"now","publication":"audit","rate":50}`)
	require.Equal(t, http.StatusCreated, r.Status, string(r.Body))
	job := r.object(t)
	id := job["id"].(string)
	assert.Equal(t, "running", job["state"])
	assert.Equal(t, "orders", job["subscription"])
	assert.Equal(t, "audit", job["publication"])
	assert.Equal(t, float64(50), job["rate"])
	assert.Nil(t, job["total"], "counted at its first step")
	assert.Equal(t, fixedNow.Add(-time.Hour).UTC().Format(time.RFC3339Nano), job["from"])
	assert.Equal(t, []string{h.a.ID + "/" + id}, k.ids, "started")

	assert.Equal(t, http.StatusNotFound, h.as(h.b, http.MethodGet, "/replays/"+id, "").Status, "another tenant's")
	assert.Equal(t, http.StatusNotFound, h.as(h.b, http.MethodPost, "/replays/"+id+"/cancel", "").Status)
	assert.Len(t, h.as(h.a, http.MethodGet, "/replays", "").list(t), 1)

	for range replay.MaxRunning - 1 {
		require.Equal(t, http.StatusCreated, h.as(h.a, http.MethodPost, "/subscriptions/orders/replays", `{"from":"-1h","to":"now"}`).Status)
	}
	r = h.as(h.a, http.MethodPost, "/subscriptions/orders/replays", `{"from":"-1h","to":"now"}`)
	assert.Equal(t, http.StatusTooManyRequests, r.Status, "at most %d at once", replay.MaxRunning)

	r = h.as(h.a, http.MethodPost, "/replays/"+id+"/cancel", "")
	require.Equal(t, http.StatusOK, r.Status, string(r.Body))
	assert.Equal(t, "cancelled", r.object(t)["state"])
	assert.Equal(t, http.StatusConflict, h.as(h.a, http.MethodPost, "/replays/"+id+"/cancel", "").Status)
	require.Equal(t, http.StatusCreated, h.as(h.a, http.MethodPost, "/subscriptions/orders/replays", `{"from":"-1h","to":"now"}`).Status, "a cancelled one frees its place")

	t.Run("ended replays are forgotten after a week", func(t *testing.T) {
		rec, err := config.Load[replay.Job](t.Context(), h.store, h.a.ID, replay.Kind, id)
		require.NoError(t, err)
		rec.Value.Finished = fixedNow.Add(-replay.KeepFinished - time.Hour)
		_, err = config.Save(t.Context(), h.store, rec)
		require.NoError(t, err)
		h.as(h.a, http.MethodPost, "/subscriptions/orders/replays", `{"from":"-1h","to":"now"}`) // 429: the others run; it forgets anyway
		assert.Equal(t, http.StatusNotFound, h.as(h.a, http.MethodGet, "/replays/"+id, "").Status)
	})
}
