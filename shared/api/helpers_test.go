package api_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/herokuevents/herokuevents/shared/api"
	"github.com/herokuevents/herokuevents/shared/config"
	"github.com/herokuevents/herokuevents/shared/logtest"
	"github.com/herokuevents/herokuevents/shared/platform"
	"github.com/herokuevents/herokuevents/shared/platform/webhook"
	"github.com/herokuevents/herokuevents/shared/sink"
)

// fakeSealer is reversible and recognisable: "sealed:" + hex-free reversal.
type fakeSealer struct{}

func (fakeSealer) Seal(_ context.Context, p []byte) ([]byte, error) {
	out := []byte("sealed:")
	for i := len(p) - 1; i >= 0; i-- {
		out = append(out, p[i])
	}
	return out, nil
}

func (fakeSealer) Open(_ context.Context, s []byte) ([]byte, error) {
	rest, ok := bytes.CutPrefix(s, []byte("sealed:"))
	if !ok {
		return nil, errors.New("not sealed")
	}
	out := make([]byte, 0, len(rest))
	for i := len(rest) - 1; i >= 0; i-- {
		out = append(out, rest[i])
	}
	return out, nil
}

var fixedNow = time.Date(2026, 1, 2, 3, 4, 5, 600, time.UTC)

const (
	operatorID   = "herokuevents"
	operatorPass = "operator-secret"
)

// tenantCreds are the credentials of a provisioned tenant.
type tenantCreds struct {
	ID, App, APIKey, PublishKey string
}

type harness struct {
	t       *testing.T
	store   *memStore
	srv     *api.Server
	h       http.Handler
	logs    *logtest.Buffer
	secrets atomic.Int64
	a, b    tenantCreds
}

// newHarness builds a server on a fresh store with two tenants, "my-app" (a)
// and "other-app" (b). Its URL check refuses the host blocked.example.
func newHarness(t *testing.T) *harness {
	t.Helper()
	logger, logs := logtest.JSON(slog.LevelDebug)
	h := &harness{t: t, store: newMemStore(), logs: logs}
	h.srv = newServer(t, api.Options{
		Store:    h.store,
		BaseURL:  "http://127.0.0.1:5454",
		Operator: api.Operator{ID: operatorID, PasswordHash: api.HashKey(operatorPass)},
		Logger:   logger,
		Now:      func() time.Time { return fixedNow },
	}, platform.Deps{
		CheckURL: func(_ context.Context, raw string) error {
			u, err := url.Parse(raw)
			if err != nil {
				return err
			}
			if u.Hostname() == "blocked.example" {
				return errors.New("address 10.0.0.1 is private")
			}
			return nil
		},
		NewSecret: func() (string, error) {
			return fmt.Sprintf("whsec_dGVzdC1zZWNyZXQt%04d", h.secrets.Add(1)), nil
		},
	})
	h.h = h.srv.Handler()
	h.a = h.provision("my-app")
	h.b = h.provision("other-app")
	return h
}

// registry returns the platforms of a test server: the webhook platform
// plus extra (which replace a platform of the same name), with d completed
// by the test defaults: Store from store, the fakeSealer, an egress guard
// with no allow list, and a URL check of the shape rules only.
func registry(t *testing.T, store config.Store, d platform.Deps, extra ...platform.Platform) *platform.Registry {
	t.Helper()
	if d.Store == nil {
		d.Store = store
	}
	if d.Sealer == nil {
		d.Sealer = fakeSealer{}
	}
	if d.Egress == nil {
		d.Egress = sink.NewEgress(nil)
	}
	if d.CheckURL == nil {
		d.CheckURL = func(context.Context, string) error { return nil }
	}
	platforms := []platform.Platform{webhook.Platform()}
	for _, p := range extra {
		i := slices.IndexFunc(platforms, func(q platform.Platform) bool { return q.Name == p.Name })
		if i >= 0 {
			platforms[i] = p
		} else {
			platforms = append(platforms, p)
		}
	}
	r, err := platform.NewRegistry(d, platforms...)
	require.NoError(t, err)
	return r
}

// newServer builds a server from o, with Platforms from registry (o.Store,
// d and extra) when o has none.
func newServer(t *testing.T, o api.Options, d platform.Deps, extra ...platform.Platform) *api.Server {
	t.Helper()
	if o.Platforms == nil {
		o.Platforms = registry(t, o.Store, d, extra...)
	}
	srv, err := api.New(o)
	require.NoError(t, err)
	return srv
}

// provision creates a tenant through Provision and returns its credentials
// parsed back from the config vars.
func (h *harness) provision(app string) tenantCreds {
	h.t.Helper()
	resp, err := h.srv.Provision(h.t.Context(), api.ProvisionRequest{App: app, Plan: "test"})
	require.NoError(h.t, err)
	apiURL, err := url.Parse(resp.Config[api.VarAPIURL])
	require.NoError(h.t, err)
	pubURL, err := url.Parse(resp.Config[api.VarPublishURL])
	require.NoError(h.t, err)
	apiKey, _ := apiURL.User.Password()
	pubKey, _ := pubURL.User.Password()
	return tenantCreds{ID: resp.ID, App: app, APIKey: apiKey, PublishKey: pubKey}
}

type response struct {
	Status int
	Header http.Header
	Body   []byte
}

// errBody decodes an error response.
func (r response) errBody(t *testing.T) (id, message string) {
	t.Helper()
	var e map[string]any
	require.NoError(t, json.Unmarshal(r.Body, &e), "body %s", r.Body)
	require.Len(t, e, 2, "error body has exactly id and message: %s", r.Body)
	id, _ = e["id"].(string)
	message, _ = e["message"].(string)
	return id, message
}

func (r response) object(t *testing.T) map[string]any {
	t.Helper()
	var v map[string]any
	require.NoError(t, json.Unmarshal(r.Body, &v), "body %s", r.Body)
	return v
}

func (r response) list(t *testing.T) []map[string]any {
	t.Helper()
	var v []map[string]any
	require.NoError(t, json.Unmarshal(r.Body, &v), "body %s", r.Body)
	return v
}

// do sends a request; auth is the full Authorization header ("" for none).
func (h *harness) do(method, path, body, auth string) response {
	h.t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req := httptest.NewRequestWithContext(h.t.Context(), method, path, rd)
	if auth != "" {
		req.Header.Set("Authorization", auth)
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	rec := httptest.NewRecorder()
	h.h.ServeHTTP(rec, req)
	return response{Status: rec.Code, Header: rec.Header(), Body: rec.Body.Bytes()}
}

// as sends a request as tenant c with its bearer key, to a path relative to
// /v1/tenants/{c.ID}.
func (h *harness) as(c tenantCreds, method, rel, body string) response {
	h.t.Helper()
	return h.do(method, "/v1/tenants/"+c.ID+rel, body, "Bearer "+c.APIKey)
}

// mustCreate sends a create and requires 201.
func (h *harness) mustCreate(c tenantCreds, rel, body string) map[string]any {
	h.t.Helper()
	r := h.as(c, http.MethodPost, rel, body)
	require.Equal(h.t, http.StatusCreated, r.Status, "POST %s %s: %s", rel, body, r.Body)
	return r.object(h.t)
}

func basic(user, pass string) string {
	req, _ := http.NewRequest(http.MethodGet, "/", nil)
	req.SetBasicAuth(user, pass)
	return req.Header.Get("Authorization")
}
