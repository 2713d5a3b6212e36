package api

import (
	"context"
	"errors"
	"net/http"
	"strings"

	"github.com/herokuevents/herokuevents/shared/httpjson"

	"github.com/herokuevents/herokuevents/shared/config"
)

// HashKey returns the hex SHA-256 of a credential, the form in which API and
// publish keys are stored (config.Tenant.APIKeyHash, PublishKeyHash).
func HashKey(key string) string { return config.HashKey(key) }

// equalHash compares a presented key with a stored hex hash in constant time.
func equalHash(key, storedHash string) bool { return config.KeyMatches(key, storedHash) }

// credential extracts the secret of "Authorization: Bearer K" or the password
// of Basic auth.
func credential(r *http.Request) (string, bool) {
	if _, pass, ok := r.BasicAuth(); ok {
		return pass, pass != ""
	}
	h := r.Header.Get("Authorization")
	scheme, token, ok := strings.Cut(h, " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") {
		return "", false
	}
	token = strings.TrimSpace(token)
	return token, token != ""
}

// tenantHandler is a handler of a tenant-scoped route.
type tenantHandler func(ctx context.Context, t config.Tenant, r *http.Request, body []byte) (status int, v any, err error)

// tenant authenticates the tenant of the path and runs h. An unknown tenant
// and a wrong key both answer 401, so that tenant ids do not leak.
func (s *Server) tenant(h tenantHandler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ctx := r.Context()
		id := r.PathValue("tenant")
		key, hasKey := credential(r)
		t, err := s.loadTenant(ctx, id)
		switch {
		case err != nil && !errors.Is(err, config.ErrNotFound):
			s.log.ErrorContext(ctx, "load tenant", "tenant", id, "err", err)
			WriteError(w, err)
			return
		case err != nil:
			equalHash(key, strings.Repeat("0", 64)) // same work as a known tenant
			s.log.InfoContext(ctx, "api request refused", "tenant", id, "reason", "unknown tenant")
			WriteError(w, errUnauthorized)
			return
		case !hasKey || !equalHash(key, t.APIKeyHash):
			s.log.InfoContext(ctx, "api request refused", "tenant", id, "reason", "bad credentials")
			WriteError(w, errUnauthorized)
			return
		}
		var body []byte
		if r.Method == http.MethodPost || r.Method == http.MethodPut || r.Method == http.MethodPatch || r.Method == http.MethodDelete {
			if body, err = ReadBody(w, r); err != nil {
				WriteError(w, err)
				return
			}
		}
		status, v, err := h(ctx, t, r, body)
		if err != nil {
			if httpjson.Internal(err) {
				s.log.ErrorContext(ctx, "api request failed", "tenant", t.ID, "method", r.Method, "path", r.URL.Path, "err", err)
			}
			WriteError(w, err)
			return
		}
		WriteJSON(w, status, v)
	})
}

// loadTenant reads the tenant whose id is exactly id (the store also matches
// names, which must not authenticate).
func (s *Server) loadTenant(ctx context.Context, id string) (config.Tenant, error) {
	if id == "" {
		return config.Tenant{}, config.ErrNotFound
	}
	rec, err := config.Load[config.Tenant](ctx, s.store, "", config.KindTenant, id)
	if err != nil {
		return config.Tenant{}, err
	}
	if rec.Item.ID != id {
		return config.Tenant{}, config.ErrNotFound
	}
	return rec.Value, nil
}

// operatorOnly guards the provisioning routes with the operator's Basic auth.
func (s *Server) operatorOnly(h http.HandlerFunc) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		id, pass, ok := r.BasicAuth()
		if !ok || !s.operatorOK(id, pass) {
			s.log.InfoContext(r.Context(), "operator request refused", "path", r.URL.Path)
			WriteError(w, errUnauthorized)
			return
		}
		h(w, r)
	})
}

func (s *Server) operatorOK(id, pass string) bool { return s.operator.Check(id, pass) }

// partnerOnly guards the Partner API routes (/heroku/resources) with the
// manifest's id and api.password when there is a manifest, and with the
// operator's credentials otherwise. Refusals are 401 with a JSON message.
func (s *Server) partnerOnly(h http.HandlerFunc) http.Handler {
	if s.manifest == nil {
		return s.operatorOnly(h)
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		id, pass, ok := r.BasicAuth()
		if !s.manifest.Check(id, pass) || !ok {
			s.log.InfoContext(r.Context(), "partner request refused", "method", r.Method, "path", r.URL.Path)
			w.Header().Set("Content-Type", "application/json")
			WriteError(w, errUnauthorized)
			return
		}
		h(w, r)
	})
}
