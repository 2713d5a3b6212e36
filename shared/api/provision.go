package api

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"sync"
	"time"

	"github.com/google/uuid"

	"github.com/herokuevents/herokuevents/shared/addon"
	"github.com/herokuevents/herokuevents/shared/config"
	"github.com/herokuevents/herokuevents/shared/httpjson"
	"github.com/herokuevents/herokuevents/shared/name"
)

// Config var names handed to the app when no manifest names them
// (addon.Manifest.Var with the default prefix).
const (
	VarAPIURL       = "HEROKUEVENTS_API_URL"
	VarPublishURL   = "HEROKUEVENTS_PUBLISH_URL"
	VarSubscribeURL = "HEROKUEVENTS_SUBSCRIBE_URL"
)

// LinkTimeout bounds the Platform API calls made while Heroku waits for
// the provision answer (it expects one within 3 s).
const LinkTimeout = 2 * time.Second

// ProvisionRequest is Heroku's add-on provisioning body (Partner API v3,
// reference heroku-addon.md §1.3), decoded leniently: fields Heroku may add
// are ignored, oauth_grant may be null.
type ProvisionRequest struct {
	// UUID is the add-on resource's id on Heroku: the tenant's id and the
	// key that makes a repeated provision answer the same.
	UUID        string         `json:"uuid"`
	Name        string         `json:"name"`
	Plan        string         `json:"plan"`
	Region      string         `json:"region"`
	CallbackURL string         `json:"callback_url"`
	Options     map[string]any `json:"options"`
	OAuthGrant  *OAuthGrant    `json:"oauth_grant"`
	LogInputURL string         `json:"log_input_url"`
	// App names the app directly, for standalone use without Heroku
	// (also accepted as options.app); Heroku never sends it, the app is
	// learned through the Platform API.
	App string `json:"app"`
}

// OAuthGrant is the Platform API grant of a provision request.
type OAuthGrant struct {
	Code string `json:"code"`
	Type string `json:"type"`
	// ExpiresAt is kept as sent: Heroku's documented example has an
	// offset without a colon, which time.Time's JSON decoder refuses.
	ExpiresAt string `json:"expires_at"`
}

// Expires parses ExpiresAt in the layouts Heroku uses; false when none fits.
func (g OAuthGrant) Expires() (time.Time, bool) {
	for _, layout := range []string{time.RFC3339Nano, "2006-01-02T15:04:05-0700", "2006-01-02T15:04:05Z0700", "2006-01-02T15:04:05.999999999-0700"} {
		if t, err := time.Parse(layout, g.ExpiresAt); err == nil {
			return t, true
		}
	}
	return time.Time{}, false
}

// ProvisionResponse is the provisioning answer: the tenant id and the
// config vars that carry its credentials. The keys are in Config only; the
// store keeps their hashes (and the config sealed, for repeats).
type ProvisionResponse struct {
	ID      string            `json:"id"`
	Config  map[string]string `json:"config"`
	Message string            `json:"message"`
}

var planPattern = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`^[a-z0-9][a-z0-9-]{0,62}$`) })

// Provision creates a tenant with new random API and publish keys and
// returns its config vars. With a UUID (Heroku), the tenant's id is the
// UUID and a repeat returns the same id and config (never a second
// tenant); the grant, when Options.Link is set, is exchanged and the app
// learned before it returns (bounded by LinkTimeout; a failure is logged,
// the tenant stays, and a repeat tries again). Without a UUID (standalone)
// the app is required.
//
// Errors are *Error: 422 invalid_params for a malformed uuid, plan or app
// name, or a missing app without a uuid; 409 conflict (wrapping
// config.ErrConflict) when the app already has a tenant; other errors are
// store, sealing or randomness failures.
func (s *Server) Provision(ctx context.Context, req ProvisionRequest) (ProvisionResponse, error) {
	app, err := provisionApp(req)
	if err != nil {
		return ProvisionResponse{}, err
	}
	plan := strings.TrimPrefix(strings.TrimSpace(req.Plan), s.addonID()+":")
	if plan != "" && !planPattern().MatchString(plan) {
		return ProvisionResponse{}, Invalid("plan %q is not a plan of herokuevents.", req.Plan)
	}
	id := strings.TrimSpace(req.UUID)
	switch {
	case id != "" && uuid.Validate(id) != nil:
		return ProvisionResponse{}, Invalid("uuid %q is not a UUID.", req.UUID)
	case id == "" && app == "":
		return ProvisionResponse{}, Invalid("app is required: the name of the app the add-on is installed on.")
	case id == "":
		id = uuid.NewString()
	default:
		id = strings.ToLower(id)
		if resp, err := s.reprovision(ctx, id, req); !errors.Is(err, config.ErrNotFound) {
			return resp, err
		}
	}
	resp, err := s.create(ctx, id, app, plan, req)
	if errors.Is(err, config.ErrConflict) && req.UUID != "" {
		// A concurrent repeat created it first: answer what it stored.
		if again, rerr := s.reprovision(ctx, id, req); rerr == nil {
			return again, nil
		}
	}
	if err != nil {
		return ProvisionResponse{}, err
	}
	if req.UUID != "" && app == "" {
		s.linkHeroku(ctx, id, req)
		if t, err := s.loadTenant(ctx, id); err == nil && t.App != "" {
			resp.Message = s.readyMessage(t.App) // the app it learned
		}
	}
	return resp, nil
}

func provisionApp(req ProvisionRequest) (string, error) {
	app := strings.TrimSpace(req.App)
	if app == "" {
		if v, ok := req.Options["app"]; ok {
			str, isStr := v.(string)
			if !isStr {
				return "", Invalid("options.app must be a string.")
			}
			app = strings.TrimSpace(str)
		}
	}
	if app != "" && !name.IsApp(app) {
		return "", Invalid("app %q is not a valid app name.", app)
	}
	return app, nil
}

// create stores the new tenant. ErrConflict when the id or the app is taken.
func (s *Server) create(ctx context.Context, id, app, plan string, req ProvisionRequest) (ProvisionResponse, error) {
	apiKey, err := randomKey()
	if err != nil {
		return ProvisionResponse{}, err
	}
	publishKey, err := randomKey()
	if err != nil {
		return ProvisionResponse{}, err
	}
	cfg := s.configVars(id, apiKey, publishKey)
	t := config.Tenant{
		ID: id, App: app, Created: s.timestamp(),
		APIKeyHash: HashKey(apiKey), PublishKeyHash: HashKey(publishKey),
		Plan: plan, Region: req.Region, AddonName: strings.TrimSpace(req.Name), LogInputURL: strings.TrimSpace(req.LogInputURL),
	}
	if req.UUID != "" {
		t.HerokuID = id
	}
	if s.sealer != nil {
		raw, err := json.Marshal(cfg)
		if err != nil {
			return ProvisionResponse{}, fmt.Errorf("encode config: %w", err)
		}
		if t.ConfigSealed, err = s.sealer.Seal(ctx, raw); err != nil {
			return ProvisionResponse{}, fmt.Errorf("seal config: %w", err)
		}
	}
	it := config.Item{Kind: config.KindTenant, ID: t.ID, Name: app}
	if _, err := config.Insert(ctx, s.store, it, t); err != nil {
		if errors.Is(err, config.ErrConflict) {
			if _, gerr := s.loadTenant(ctx, id); gerr == nil {
				return ProvisionResponse{}, err // the id: a concurrent repeat
			}
			return ProvisionResponse{}, edge(conflict(fmt.Sprintf("App %s already has herokuevents.", app), err))
		}
		return ProvisionResponse{}, fmt.Errorf("create tenant: %w", err)
	}
	s.log.InfoContext(ctx, "tenant provisioned", "tenant", t.ID, "kind", config.KindTenant, "name", app, "id", t.ID,
		"heroku_uuid", req.UUID, "plan", plan, "region", req.Region, "grant", req.OAuthGrant != nil && req.OAuthGrant.Code != "")
	return ProvisionResponse{ID: t.ID, Config: cfg, Message: s.readyMessage(app)}, nil
}

// reprovision answers a repeated provision of the tenant id with the config
// it was given; ErrNotFound when there is no such tenant. Without a
// sealed config (no sealer) the keys are issued again.
func (s *Server) reprovision(ctx context.Context, id string, req ProvisionRequest) (ProvisionResponse, error) {
	rec, err := config.Load[config.Tenant](ctx, s.store, "", config.KindTenant, id)
	if err == nil && rec.Item.ID != id {
		err = config.ErrNotFound
	}
	if err != nil {
		if errors.Is(err, config.ErrNotFound) {
			return ProvisionResponse{}, config.ErrNotFound
		}
		return ProvisionResponse{}, fmt.Errorf("load tenant: %w", err)
	}
	t := rec.Value
	var cfg map[string]string
	if len(t.ConfigSealed) > 0 && s.sealer != nil {
		raw, err := s.sealer.Open(ctx, t.ConfigSealed)
		if err != nil {
			return ProvisionResponse{}, fmt.Errorf("open config: %w", err)
		}
		if err := json.Unmarshal(raw, &cfg); err != nil {
			return ProvisionResponse{}, fmt.Errorf("decode config: %w", err)
		}
	} else {
		apiKey, err := randomKey()
		if err != nil {
			return ProvisionResponse{}, err
		}
		publishKey, err := randomKey()
		if err != nil {
			return ProvisionResponse{}, err
		}
		if _, err := config.Modify(ctx, s.store, "", config.KindTenant, id, 5, func(r *config.Record[config.Tenant]) (bool, error) {
			r.Value.APIKeyHash, r.Value.PublishKeyHash = HashKey(apiKey), HashKey(publishKey)
			return true, nil
		}); err != nil {
			return ProvisionResponse{}, fmt.Errorf("reissue keys: %w", err)
		}
		cfg = s.configVars(id, apiKey, publishKey)
	}
	s.log.InfoContext(ctx, "tenant provisioned again", "tenant", id, "heroku_uuid", id, "reissued", len(t.ConfigSealed) == 0 || s.sealer == nil)
	if len(t.HerokuTokenSealed) == 0 {
		s.linkHeroku(ctx, id, req) // the first try failed or never ran
	}
	return ProvisionResponse{ID: id, Config: cfg, Message: s.readyMessage(t.App)}, nil
}

// linkHeroku exchanges the grant and learns the app, within LinkTimeout.
func (s *Server) linkHeroku(ctx context.Context, id string, req ProvisionRequest) {
	if s.linkFn == nil || req.OAuthGrant == nil || req.OAuthGrant.Code == "" {
		return
	}
	if exp, ok := req.OAuthGrant.Expires(); ok && s.now().After(exp) {
		s.log.WarnContext(ctx, "heroku grant expired before its exchange", "tenant", id, "expires_at", req.OAuthGrant.ExpiresAt)
		return
	}
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), LinkTimeout)
	defer cancel()
	if err := s.linkFn(ctx, id, req.OAuthGrant.Code); err != nil {
		s.log.WarnContext(ctx, "heroku link failed", "tenant", id, "err", err)
	}
}

func (s *Server) readyMessage(app string) string {
	if app == "" {
		return "herokuevents is ready: manage it with `heroku events` commands."
	}
	return fmt.Sprintf("herokuevents is ready for %s: manage it with `heroku events` commands.", app)
}

// configVars are the tenant's config vars, named by the manifest's prefix.
func (s *Server) configVars(id, apiKey, publishKey string) map[string]string {
	n := func(suffix, def string) string {
		if s.manifest != nil {
			return s.manifest.Var(suffix)
		}
		return def
	}
	return map[string]string{
		n(addon.VarAPIURL, VarAPIURL):             urlWith(s.base, url.UserPassword("herokuevents", apiKey), "/v1/tenants/"+id),
		n(addon.VarPublishURL, VarPublishURL):     urlWith(s.publish, url.UserPassword(id, publishKey), "/publish"),
		n(addon.VarSubscribeURL, VarSubscribeURL): urlWith(s.publish, url.UserPassword(id, publishKey), "/subscribe"),
	}
}

func (s *Server) addonID() string {
	if s.manifest != nil {
		return s.manifest.ID
	}
	return "herokuevents"
}

// ChangePlan sets the tenant's plan (PUT /heroku/resources/{id}). Errors
// are *Error 404 not_found for an unknown tenant, 422 for a malformed plan,
// or store failures.
func (s *Server) ChangePlan(ctx context.Context, id, plan string) (string, error) {
	plan = strings.TrimPrefix(strings.TrimSpace(plan), s.addonID()+":")
	if !planPattern().MatchString(plan) {
		return "", Invalid("plan %q is not a plan of herokuevents.", plan)
	}
	var from string
	_, err := config.Modify(ctx, s.store, "", config.KindTenant, id, 5, func(r *config.Record[config.Tenant]) (bool, error) {
		if r.Item.ID != id {
			return false, config.ErrNotFound
		}
		from = r.Value.Plan
		if from == plan {
			return false, nil
		}
		r.Value.Plan = plan
		return true, nil
	})
	if errors.Is(err, config.ErrNotFound) {
		return "", edge(notFound("Couldn't find that add-on resource."))
	}
	if err != nil {
		return "", fmt.Errorf("change plan: %w", err)
	}
	s.log.InfoContext(ctx, "tenant plan changed", "tenant", id, "from", from, "to", plan)
	if from == "" || from == plan {
		return fmt.Sprintf("herokuevents is on plan %s.", plan), nil
	}
	return fmt.Sprintf("Successfully changed from %s to %s.", from, plan), nil
}

// Deprovision removes a tenant and all its data: Options.Forget (queued
// messages, delivery log, kept events …), its configuration and its
// sealed secrets. Errors are *Error 410 gone for an unknown or already
// removed tenant, or store failures (which Heroku retries, and a retry
// finishes the job).
func (s *Server) Deprovision(ctx context.Context, id string) error {
	rec, err := config.Load[config.Tenant](ctx, s.store, "", config.KindTenant, id)
	if errors.Is(err, config.ErrNotFound) || (err == nil && rec.Item.ID != id) {
		return httpjson.Errorf(http.StatusGone, "gone", "That add-on resource is already deprovisioned.")
	}
	if err != nil {
		return fmt.Errorf("load tenant: %w", err)
	}
	if s.forget != nil {
		if err := s.forget(ctx, id); err != nil {
			return fmt.Errorf("forget tenant data: %w", err)
		}
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

func urlWith(base *url.URL, user *url.Userinfo, path string) string {
	u := *base
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

// partnerJSON sets the media type of Partner API answers; the request's
// Accept (application/vnd.heroku-addons+json; version=3) is never refused.
func partnerJSON(w http.ResponseWriter) { w.Header().Set("Content-Type", "application/json") }

func (s *Server) provision(w http.ResponseWriter, r *http.Request) {
	partnerJSON(w)
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
	WriteJSON(w, http.StatusOK, resp)
}

func (s *Server) changePlan(w http.ResponseWriter, r *http.Request) {
	partnerJSON(w)
	body, err := ReadBody(w, r)
	if err != nil {
		WriteError(w, err)
		return
	}
	var req struct {
		Plan string `json:"plan"`
	}
	if err := decode(body, &req, false); err != nil {
		WriteError(w, err)
		return
	}
	msg, err := s.ChangePlan(r.Context(), r.PathValue("id"), req.Plan)
	if err != nil {
		s.logFailure(r, err)
		WriteError(w, err)
		return
	}
	WriteJSON(w, http.StatusOK, map[string]string{"message": msg})
}

func (s *Server) deprovision(w http.ResponseWriter, r *http.Request) {
	partnerJSON(w)
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
