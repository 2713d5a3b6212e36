package api

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"

	"github.com/herokuevents/herokuevents/shared/httpjson"
	"github.com/herokuevents/herokuevents/shared/name"

	"github.com/google/uuid"

	"github.com/herokuevents/herokuevents/shared/config"
)

// Config var names handed to the app.
const (
	VarAPIURL     = "HEROKUEVENTS_API_URL"
	VarPublishURL = "HEROKUEVENTS_PUBLISH_URL"
)

// ProvisionRequest is Heroku's add-on provisioning body (Partner API v3).
// Fields Heroku may add are tolerated on the HTTP route, as its partner
// contract requires.
type ProvisionRequest struct {
	UUID        string         `json:"uuid"`
	Plan        string         `json:"plan"`
	Region      string         `json:"region"`
	CallbackURL string         `json:"callback_url"`
	Options     map[string]any `json:"options"`
	// App is the name of the app the add-on is installed on; required,
	// also accepted as options.app.
	App string `json:"app"`
}

// ProvisionResponse is the provisioning answer: the tenant id and the
// config vars that carry its credentials. The keys are in Config only; the
// store keeps their hashes.
type ProvisionResponse struct {
	ID      string            `json:"id"`
	Config  map[string]string `json:"config"`
	Message string            `json:"message"`
}

// Provision creates a tenant for an app with new random API and publish keys.
// Errors are *Error: 422 invalid_params for a missing or malformed app name,
// 409 conflict (wrapping config.ErrConflict) when the app already has one;
// other errors are store or randomness failures.
func (s *Server) Provision(ctx context.Context, req ProvisionRequest) (ProvisionResponse, error) {
	app := strings.TrimSpace(req.App)
	if app == "" {
		if v, ok := req.Options["app"]; ok {
			str, isStr := v.(string)
			if !isStr {
				return ProvisionResponse{}, Invalid("options.app must be a string.")
			}
			app = strings.TrimSpace(str)
		}
	}
	if app == "" {
		return ProvisionResponse{}, Invalid("app is required: the name of the app the add-on is installed on.")
	}
	if !name.IsApp(app) {
		return ProvisionResponse{}, Invalid("app %q is not a valid app name.", app)
	}
	apiKey, err := randomKey()
	if err != nil {
		return ProvisionResponse{}, err
	}
	publishKey, err := randomKey()
	if err != nil {
		return ProvisionResponse{}, err
	}
	t := config.Tenant{
		ID: uuid.NewString(), App: app, Created: s.timestamp(),
		APIKeyHash: HashKey(apiKey), PublishKeyHash: HashKey(publishKey),
	}
	it := config.Item{Kind: config.KindTenant, ID: t.ID, Name: app}
	if _, err := config.Insert(ctx, s.store, it, t); err != nil {
		if errors.Is(err, config.ErrConflict) {
			return ProvisionResponse{}, edge(conflict(fmt.Sprintf("App %s already has herokuevents.", app), err))
		}
		return ProvisionResponse{}, fmt.Errorf("create tenant: %w", err)
	}
	s.log.InfoContext(ctx, "tenant provisioned", "tenant", t.ID, "kind", config.KindTenant, "name", app, "id", t.ID,
		"heroku_uuid", req.UUID, "plan", req.Plan, "region", req.Region)
	return ProvisionResponse{
		ID: t.ID,
		Config: map[string]string{
			VarAPIURL:     s.urlWith(url.UserPassword("herokuevents", apiKey), "/v1/tenants/"+t.ID),
			VarPublishURL: s.urlWith(url.UserPassword(t.ID, publishKey), "/publish"),
		},
		Message: fmt.Sprintf("herokuevents is ready for %s: manage it with `heroku events` commands.", app),
	}, nil
}

// Deprovision removes a tenant and all its data. Errors are *Error 404
// not_found for an unknown tenant, or store failures.
func (s *Server) Deprovision(ctx context.Context, id string) error {
	rec, err := config.Load[config.Tenant](ctx, s.store, "", config.KindTenant, id)
	if errors.Is(err, config.ErrNotFound) || (err == nil && rec.Item.ID != id) {
		return edge(notFound("Couldn't find that add-on resource."))
	}
	if err != nil {
		return fmt.Errorf("load tenant: %w", err)
	}
	if err := s.store.DeleteTenant(ctx, id); err != nil {
		return fmt.Errorf("delete tenant data: %w", err)
	}
	if err := s.store.Delete(ctx, "", config.KindTenant, id, 0); err != nil && !errors.Is(err, config.ErrNotFound) {
		return fmt.Errorf("delete tenant: %w", err)
	}
	s.log.InfoContext(ctx, "tenant deprovisioned", "tenant", id, "kind", config.KindTenant, "name", rec.Value.App, "id", id)
	return nil
}

func (s *Server) urlWith(user *url.Userinfo, path string) string {
	u := *s.base
	u.User = user
	u.Path = strings.TrimSuffix(u.Path, "/") + path
	u.RawPath, u.RawQuery, u.Fragment = "", "", ""
	return u.String()
}

func randomKey() (string, error) {
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		return "", fmt.Errorf("read random: %w", err)
	}
	return hex.EncodeToString(b), nil
}

func (s *Server) provision(w http.ResponseWriter, r *http.Request) {
	body, err := ReadBody(w, r)
	if err != nil {
		WriteError(w, err)
		return
	}
	var req ProvisionRequest
	if err := decode(body, &req, false); err != nil {
		WriteError(w, err)
		return
	}
	resp, err := s.Provision(r.Context(), req)
	if err != nil {
		s.logFailure(r, err)
		WriteError(w, err)
		return
	}
	WriteJSON(w, http.StatusCreated, resp)
}

func (s *Server) deprovision(w http.ResponseWriter, r *http.Request) {
	if err := s.Deprovision(r.Context(), r.PathValue("id")); err != nil {
		s.logFailure(r, err)
		WriteError(w, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

func (s *Server) logFailure(r *http.Request, err error) {
	if e := httpjson.AsError(err); !httpjson.Internal(err) {
		s.log.InfoContext(r.Context(), "request rejected", "method", r.Method, "path", r.URL.Path, "status", e.Status, "reason", e.Message)
		return
	}
	s.log.ErrorContext(r.Context(), "request failed", "method", r.Method, "path", r.URL.Path, "err", err)
}
