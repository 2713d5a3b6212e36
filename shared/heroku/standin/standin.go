// Package standin plays Heroku towards the add-on on one local HTTP
// listener, for `herokuevents dev:heroku` and tests: the identity service
// (OAuth grant exchange and refresh), the Platform API subset a partner
// uses (GET /addons/{id}, PATCH /addons/{id}/config,
// /addons/{id}/addon-attachments, /addons/{id}/actions/provision), the
// Logplex HTTPS input of every app (logplex.go), and the calls the Heroku
// CLI makes for a user (POST/GET/DELETE /apps/{app}/addons, GET
// /apps/{app}/config-vars, GET /apps/{app}/addons/{addon}/sso, POST
// /apps/{app}/log-sessions). Creating an add-on sends the add-on the
// Add-on Partner API v3 provision request, with its manifest's credentials,
// exactly as Heroku does (reference heroku-addon.md §1).
//
// State is in memory; apps are created on first use. Safe for concurrent
// use.
package standin

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"html"
	"io"
	"log/slog"
	"math/big"
	"net"
	"net/http"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/google/uuid"

	"github.com/herokuevents/herokuevents/shared/addon"
)

// Token lifetimes, as Heroku's.
const (
	GrantTTL  = 5 * time.Minute
	AccessTTL = 8 * time.Hour
)

// The stand-in's one user, who opens dashboards through SSO.
const (
	UserEmail = "dev@example.com"
	UserID    = "11111111-2222-3333-4444-555555555555"
)

// Options configure a stand-in.
type Options struct {
	// Addr is the listen address ("127.0.0.1:0" when empty).
	Addr string
	// Manifest is the add-on's manifest: its id, password, SSO salt and
	// endpoints. Required.
	Manifest *addon.Manifest
	// Production makes the stand-in call the manifest's production
	// endpoints; the test ones otherwise.
	Production bool
	// ClientSecret is the add-on's OAuth client secret; a random one when
	// empty.
	ClientSecret string
	// AccessTTL overrides how long access tokens last (AccessTTL when 0).
	AccessTTL time.Duration
	// LogOutput receives each line written to an app's Logplex input, as
	// `heroku logs --tail` prints it; nil for none.
	LogOutput io.Writer
	Logger    *slog.Logger
	// Client calls the add-on; a client with Heroku's 25 s timeout when nil.
	Client *http.Client
}

// Heroku is a running stand-in.
type Heroku struct {
	o      Options
	ln     net.Listener
	srv    *http.Server
	base   string
	secret string
	log    *slog.Logger

	mu       sync.Mutex
	apps     map[string]*app
	addons   map[string]*resource // by id
	grants   map[string]grant     // by code
	access   map[string]token     // by access token
	refresh  map[string]string    // refresh token → add-on id
	sessions map[string]session
	logs     *logStore
}

type app struct {
	ID, Name string
	Config   map[string]string
	LogToken string
}

type resource struct {
	ID, Name, App, Plan, State string
	Config                     map[string]string
	Message                    string
	Created                    time.Time
}

type grant struct {
	addon   string
	expires time.Time
}

type token struct {
	addon   string
	expires time.Time
}

// Start listens and serves until Close.
func Start(o Options) (*Heroku, error) {
	if o.Manifest == nil {
		return nil, errors.New("start heroku stand-in: a manifest is required")
	}
	if o.Addr == "" {
		o.Addr = "127.0.0.1:0"
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	if o.AccessTTL <= 0 {
		o.AccessTTL = AccessTTL
	}
	if o.Client == nil {
		o.Client = &http.Client{Timeout: 25 * time.Second}
	}
	h := &Heroku{
		o: o, log: o.Logger, secret: o.ClientSecret,
		apps: map[string]*app{}, addons: map[string]*resource{}, grants: map[string]grant{},
		access: map[string]token{}, refresh: map[string]string{}, sessions: map[string]session{},
		logs: newLogStore(1500),
	}
	if h.secret == "" {
		h.secret = randomHex(32)
	}
	ln, err := net.Listen("tcp", o.Addr)
	if err != nil {
		return nil, fmt.Errorf("listen on %s: %w", o.Addr, err)
	}
	h.ln = ln
	h.base = "http://" + ln.Addr().String()
	m := http.NewServeMux()
	m.HandleFunc("POST /oauth/token", h.oauthToken)
	m.HandleFunc("GET /addons/{id}", h.partner(h.getAddon))
	m.HandleFunc("PATCH /addons/{id}/config", h.partner(h.patchConfig))
	m.HandleFunc("GET /addons/{id}/config", h.partner(h.getConfig))
	m.HandleFunc("GET /addons/{id}/addon-attachments", h.partner(h.attachments))
	m.HandleFunc("POST /addons/{id}/actions/provision", h.partner(h.actionProvision))
	m.HandleFunc("POST /apps/{app}/addons", h.createAddon)
	m.HandleFunc("GET /apps/{app}/addons", h.listAddons)
	m.HandleFunc("GET /apps/{app}/addons/{addon}", h.showAddon)
	m.HandleFunc("DELETE /apps/{app}/addons/{addon}", h.destroyAddon)
	m.HandleFunc("GET /apps/{app}/addons/{addon}/sso", h.sso)
	m.HandleFunc("GET /addons-sso/{app}/{addon}", h.ssoPage)
	m.HandleFunc("GET /apps/{app}/config-vars", h.configVars)
	m.HandleFunc("POST /apps/{app}/log-sessions", h.createLogSession)
	m.HandleFunc("GET /log-sessions/{id}", h.streamLogSession)
	m.HandleFunc("POST /logs", h.logplexInput)
	h.srv = &http.Server{Handler: m, ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = h.srv.Serve(ln) }()
	return h, nil
}

// URL is the base URL of every endpoint: HEROKU_API_URL and HEROKU_ID_URL.
func (h *Heroku) URL() string { return h.base }

// ClientSecret is the add-on's OAuth client secret
// (HEROKU_OAUTH_CLIENT_SECRET of the add-on).
func (h *Heroku) ClientSecret() string { return h.secret }

// Close stops serving; tails in progress end.
func (h *Heroku) Close() error {
	h.logs.close()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	return h.srv.Shutdown(ctx)
}

// ---- identity ----

func (h *Heroku) oauthToken(w http.ResponseWriter, r *http.Request) {
	if err := r.ParseForm(); err != nil {
		writeError(w, http.StatusBadRequest, "invalid_params", "The request body is not a form.")
		return
	}
	if r.Form.Get("client_secret") != h.secret {
		writeError(w, http.StatusUnauthorized, "unauthorized", "Invalid client secret.")
		return
	}
	now := time.Now()
	h.mu.Lock()
	defer h.mu.Unlock()
	var addonID string
	switch r.Form.Get("grant_type") {
	case "authorization_code":
		g, ok := h.grants[r.Form.Get("code")]
		delete(h.grants, r.Form.Get("code")) // a code is good once
		if !ok || now.After(g.expires) {
			writeError(w, http.StatusUnauthorized, "unauthorized", "Invalid or expired grant code.")
			return
		}
		addonID = g.addon
	case "refresh_token":
		id, ok := h.refresh[r.Form.Get("refresh_token")]
		if !ok {
			writeError(w, http.StatusUnauthorized, "unauthorized", "Invalid refresh token.")
			return
		}
		addonID = id
	default:
		writeError(w, http.StatusBadRequest, "invalid_params", "Unsupported grant_type.")
		return
	}
	if _, ok := h.addons[addonID]; !ok {
		writeError(w, http.StatusUnauthorized, "unauthorized", "The add-on is gone.")
		return
	}
	access, refresh := randomHex(24), r.Form.Get("refresh_token")
	if refresh == "" {
		refresh = randomHex(24)
		h.refresh[refresh] = addonID
	}
	h.access[access] = token{addon: addonID, expires: now.Add(h.o.AccessTTL)}
	h.log.Info("heroku stand-in issued a token", "grant_type", r.Form.Get("grant_type"), "addon", addonID)
	writeJSON(w, http.StatusOK, map[string]any{
		"access_token": access, "expires_in": int(h.o.AccessTTL.Seconds()), "refresh_token": refresh,
		"token_type": "Bearer", "user_id": UserID, "session_nonce": nil,
	})
}

// partner authenticates a Platform API call with a token scoped to the
// add-on of the path.
func (h *Heroku) partner(next func(w http.ResponseWriter, r *http.Request, a *resource)) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if !strings.HasPrefix(r.Header.Get("Accept"), "application/vnd.heroku+json; version=3") {
			writeError(w, http.StatusBadRequest, "bad_request", "Accept: application/vnd.heroku+json; version=3 is required.")
			return
		}
		scheme, tok, _ := strings.Cut(r.Header.Get("Authorization"), " ")
		h.mu.Lock()
		defer h.mu.Unlock()
		t, ok := h.access[tok]
		if !strings.EqualFold(scheme, "Bearer") || !ok || time.Now().After(t.expires) {
			writeError(w, http.StatusUnauthorized, "unauthorized", "Invalid credentials provided.")
			return
		}
		a, ok := h.addons[t.addon]
		if !ok || (r.PathValue("id") != a.ID && r.PathValue("id") != a.Name) {
			writeError(w, http.StatusForbidden, "forbidden", "This token is not scoped to that add-on.")
			return
		}
		next(w, r, a)
	}
}

// ---- Platform API for partners (h.mu held) ----

func (h *Heroku) addonJSON(a *resource) map[string]any {
	ap := h.apps[a.App]
	names := make([]string, 0, len(a.Config))
	for k := range a.Config {
		names = append(names, k)
	}
	return map[string]any{
		"id": a.ID, "name": a.Name, "state": a.State, "provider_id": a.ID,
		"addon_service": map[string]string{"name": h.o.Manifest.ID},
		"app":           map[string]string{"id": ap.ID, "name": ap.Name},
		"plan":          map[string]string{"name": h.o.Manifest.ID + ":" + a.Plan},
		"config_vars":   names,
		"created_at":    a.Created.UTC().Format(time.RFC3339),
		"web_url":       h.base + "/apps/" + ap.ID + "/addons/" + a.ID,
	}
}

func (h *Heroku) getAddon(w http.ResponseWriter, _ *http.Request, a *resource) {
	writeJSON(w, http.StatusOK, h.addonJSON(a))
}

func (h *Heroku) getConfig(w http.ResponseWriter, _ *http.Request, a *resource) {
	writeJSON(w, http.StatusOK, configList(a.Config))
}

func (h *Heroku) patchConfig(w http.ResponseWriter, r *http.Request, a *resource) {
	var body struct {
		Config []struct {
			Name  string  `json:"name"`
			Value *string `json:"value"`
		} `json:"config"`
	}
	if err := json.NewDecoder(io.LimitReader(r.Body, 1<<20)).Decode(&body); err != nil {
		writeError(w, http.StatusBadRequest, "invalid_params", "The body is not JSON: "+err.Error())
		return
	}
	for _, c := range body.Config {
		if !h.o.Manifest.Declares(c.Name) {
			writeError(w, http.StatusUnprocessableEntity, "invalid_params", c.Name+" is not a config var of the manifest.")
			return
		}
	}
	ap := h.apps[a.App]
	for _, c := range body.Config {
		if c.Value == nil {
			delete(a.Config, c.Name)
			delete(ap.Config, c.Name)
			continue
		}
		a.Config[c.Name] = *c.Value
		ap.Config[c.Name] = *c.Value
	}
	h.log.Info("heroku stand-in updated config vars", "addon", a.Name, "app", a.App, "count", len(body.Config))
	writeJSON(w, http.StatusOK, configList(a.Config))
}

func (h *Heroku) attachments(w http.ResponseWriter, _ *http.Request, a *resource) {
	ap := h.apps[a.App]
	writeJSON(w, http.StatusOK, []map[string]any{{
		"id": a.ID, "name": h.o.Manifest.Prefix(),
		"addon":         map[string]any{"id": a.ID, "name": a.Name, "app": map[string]string{"id": ap.ID, "name": ap.Name}},
		"app":           map[string]string{"id": ap.ID, "name": ap.Name},
		"log_input_url": h.logInputURL(ap),
	}})
}

func (h *Heroku) actionProvision(w http.ResponseWriter, _ *http.Request, a *resource) {
	a.State = "provisioned"
	writeJSON(w, http.StatusOK, h.addonJSON(a))
}

func configList(m map[string]string) []map[string]string {
	out := []map[string]string{}
	for k, v := range m {
		out = append(out, map[string]string{"name": k, "value": v})
	}
	return out
}

// ---- the user's calls (the Heroku CLI's) ----

// appLocked returns the app, made on first use.
func (h *Heroku) appLocked(name string) *app {
	a, ok := h.apps[name]
	if !ok {
		a = &app{ID: uuid.NewString(), Name: name, Config: map[string]string{}, LogToken: "t." + uuid.NewString()}
		h.apps[name] = a
	}
	return a
}

// findLocked resolves an add-on of the app by id, name or service name.
func (h *Heroku) findLocked(appName, ref string) *resource {
	for _, a := range h.addons {
		if a.App == appName && (a.ID == ref || a.Name == ref || ref == h.o.Manifest.ID) {
			return a
		}
	}
	return nil
}

func (h *Heroku) createAddon(w http.ResponseWriter, r *http.Request) {
	var body struct {
		Plan struct {
			Name string `json:"name"`
		} `json:"plan"`
		Config map[string]any `json:"config"`
		Name   string         `json:"name"`
	}
	if err := json.NewDecoder(io.LimitReader(r.Body, 1<<20)).Decode(&body); err != nil {
		writeError(w, http.StatusBadRequest, "invalid_params", "The body is not JSON: "+err.Error())
		return
	}
	service, plan, _ := strings.Cut(body.Plan.Name, ":")
	if service != h.o.Manifest.ID {
		writeError(w, http.StatusNotFound, "not_found", "Couldn't find that add-on service: "+service+".")
		return
	}
	if plan == "" {
		plan = "test"
	}
	if body.Config == nil {
		body.Config = map[string]any{}
	}
	h.mu.Lock()
	ap := h.appLocked(r.PathValue("app"))
	if h.findLocked(ap.Name, service) != nil {
		h.mu.Unlock()
		writeError(w, http.StatusUnprocessableEntity, "invalid_params", ap.Name+" already has "+service+".")
		return
	}
	a := &resource{ID: uuid.NewString(), Name: body.Name, App: ap.Name, Plan: plan, State: "provisioning", Config: map[string]string{}, Created: time.Now()}
	if a.Name == "" {
		a.Name = service + "-" + randomWord() + "-" + randomDigits(5)
	}
	code := uuid.NewString()
	h.addons[a.ID] = a
	h.grants[code] = grant{addon: a.ID, expires: time.Now().Add(GrantTTL)}
	req := map[string]any{
		"callback_url": h.base + "/addons/" + a.ID,
		"name":         a.Name,
		"oauth_grant": map[string]string{
			"code": code, "type": "authorization_code",
			// The offset without a colon, as Heroku's documented example.
			"expires_at": time.Now().Add(GrantTTL).Format("2006-01-02T15:04:05-0700"),
		},
		"options":       body.Config,
		"plan":          plan,
		"region":        "amazon-web-services::us-east-1",
		"uuid":          a.ID,
		"log_input_url": h.logInputURL(ap),
	}
	h.mu.Unlock()

	status, ans, err := h.callAddon(r.Context(), http.MethodPost, "", req)
	h.mu.Lock()
	defer h.mu.Unlock()
	fail := func(msg string) {
		delete(h.addons, a.ID)
		h.log.Warn("heroku stand-in: provisioning failed", "addon", a.Name, "app", ap.Name, "reason", msg)
		writeError(w, http.StatusUnprocessableEntity, "addon_error",
			fmt.Sprintf("An error was encountered when contacting the add-on partner to create %s:%s: %s", service, plan, msg))
	}
	switch {
	case err != nil:
		fail(err.Error())
		return
	case status == http.StatusOK || status == http.StatusCreated:
		if msg := h.checkConfig(ans.Config); msg != "" {
			fail(msg)
			return
		}
		for k, v := range ans.Config {
			a.Config[k], ap.Config[k] = v, v
		}
		a.State = "provisioned"
	case status == http.StatusAccepted:
		// Asynchronous: PATCH …/config and …/actions/provision follow.
	default:
		if ans.Message == "" {
			ans.Message = "status " + strconv.Itoa(status)
		}
		fail(ans.Message)
		return
	}
	if ans.ID != a.ID {
		h.log.Warn("heroku stand-in: the add-on answered another id than the uuid", "uuid", a.ID, "id", ans.ID)
	}
	a.Message = ans.Message
	h.log.Info("heroku stand-in provisioned an add-on", "addon", a.Name, "app", ap.Name, "plan", plan, "status", status)
	out := h.addonJSON(a)
	out["provision_message"] = a.Message
	writeJSON(w, http.StatusCreated, out)
}

// checkConfig applies Heroku's rules to a provision answer's config (§1.3).
func (h *Heroku) checkConfig(cfg map[string]string) string {
	for k, v := range cfg {
		if !h.o.Manifest.Declares(k) {
			return fmt.Sprintf("the add-on returned config var %s, which its manifest does not declare", k)
		}
		if strings.HasSuffix(k, "_URL") && !strings.Contains(v, "://") {
			return fmt.Sprintf("the add-on returned config var %s, which is not an absolute URL", k)
		}
	}
	return ""
}

// partnerAnswer is the add-on's answer to the Partner API.
type partnerAnswer struct {
	ID      string            `json:"id"`
	Config  map[string]string `json:"config"`
	Message string            `json:"message"`
}

// callAddon sends a Partner API request to the add-on's base_url (+ "/" +
// id when id is not empty) with Heroku's headers.
func (h *Heroku) callAddon(ctx context.Context, method, id string, body any) (int, partnerAnswer, error) {
	ep := h.o.Manifest.API.Test
	if h.o.Production {
		ep = h.o.Manifest.API.Production
	}
	u := strings.TrimSuffix(ep.BaseURL, "/")
	if id != "" {
		u += "/" + id
	}
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return 0, partnerAnswer{}, err
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, u, rd)
	if err != nil {
		return 0, partnerAnswer{}, err
	}
	req.SetBasicAuth(h.o.Manifest.ID, h.o.Manifest.API.Password)
	req.Header.Set("Accept", "application/vnd.heroku-addons+json; version=3")
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	start := time.Now()
	resp, err := h.o.Client.Do(req)
	if err != nil {
		return 0, partnerAnswer{}, fmt.Errorf("call the add-on: %w", err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	var ans partnerAnswer
	if len(bytes.TrimSpace(raw)) > 0 {
		if err := json.Unmarshal(raw, &ans); err != nil {
			return resp.StatusCode, ans, fmt.Errorf("the add-on answered %d with a body that is not JSON", resp.StatusCode)
		}
	}
	h.log.Info("heroku stand-in called the add-on", "method", method, "status", resp.StatusCode,
		"duration_ms", time.Since(start).Milliseconds())
	return resp.StatusCode, ans, nil
}

func (h *Heroku) listAddons(w http.ResponseWriter, r *http.Request) {
	h.mu.Lock()
	defer h.mu.Unlock()
	out := []map[string]any{}
	for _, a := range h.addons {
		if a.App == r.PathValue("app") {
			out = append(out, h.addonJSON(a))
		}
	}
	writeJSON(w, http.StatusOK, out)
}

func (h *Heroku) showAddon(w http.ResponseWriter, r *http.Request) {
	h.mu.Lock()
	defer h.mu.Unlock()
	a := h.findLocked(r.PathValue("app"), r.PathValue("addon"))
	if a == nil {
		writeError(w, http.StatusNotFound, "not_found", "Couldn't find that add-on.")
		return
	}
	writeJSON(w, http.StatusOK, h.addonJSON(a))
}

func (h *Heroku) destroyAddon(w http.ResponseWriter, r *http.Request) {
	h.mu.Lock()
	a := h.findLocked(r.PathValue("app"), r.PathValue("addon"))
	if a == nil {
		h.mu.Unlock()
		writeError(w, http.StatusNotFound, "not_found", "Couldn't find that add-on.")
		return
	}
	out := h.addonJSON(a)
	id := a.ID
	h.mu.Unlock()
	status, ans, err := h.callAddon(r.Context(), http.MethodDelete, id, nil)
	if err == nil && status/100 != 2 && status != http.StatusGone {
		err = fmt.Errorf("the add-on answered %d: %s", status, ans.Message)
	}
	if err != nil {
		writeError(w, http.StatusUnprocessableEntity, "addon_error", "An error was encountered when contacting the add-on partner to destroy it: "+err.Error())
		return
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	if a, ok := h.addons[id]; ok {
		ap := h.apps[a.App]
		for k := range a.Config {
			delete(ap.Config, k)
		}
		delete(h.addons, id)
	}
	for k, t := range h.access { // the authorization is revoked
		if t.addon == id {
			delete(h.access, k)
		}
	}
	for k, v := range h.refresh {
		if v == id {
			delete(h.refresh, k)
		}
	}
	out["state"] = "deprovisioned"
	h.log.Info("heroku stand-in deprovisioned an add-on", "addon", out["name"], "status", status)
	writeJSON(w, http.StatusOK, out)
}

func (h *Heroku) configVars(w http.ResponseWriter, r *http.Request) {
	h.mu.Lock()
	defer h.mu.Unlock()
	ap, ok := h.apps[r.PathValue("app")]
	if !ok {
		writeError(w, http.StatusNotFound, "not_found", "Couldn't find that app.")
		return
	}
	writeJSON(w, http.StatusOK, ap.Config)
}

// sso answers the SSO request description the CLI renders as a form
// (GET /apps/{app}/addons/{addon}/sso, reference §3.1): the manifest's
// sso_url and the v3 parameters with both tokens.
func (h *Heroku) sso(w http.ResponseWriter, r *http.Request) {
	action, params, ok := h.ssoForm(r.PathValue("app"), r.PathValue("addon"))
	if !ok {
		writeError(w, http.StatusNotFound, "not_found", "Couldn't find that add-on.")
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"action": action, "method": "post", "params": params})
}

// ssoPage is what a browser opening `heroku addons:open` gets from Heroku:
// a page that posts the SSO form to the add-on at once (a button when
// scripts are off), so that the add-on's session cookie lands in that
// browser.
func (h *Heroku) ssoPage(w http.ResponseWriter, r *http.Request) {
	action, params, ok := h.ssoForm(r.PathValue("app"), r.PathValue("addon"))
	if !ok {
		http.Error(w, "Couldn't find that add-on.", http.StatusNotFound)
		return
	}
	var b strings.Builder
	b.WriteString(`<!doctype html><html><head><meta charset="utf-8"><title>Opening add-on…</title></head>` +
		`<body onload="document.forms[0].submit()"><form method="post" action="` + html.EscapeString(action) + `">`)
	keys := make([]string, 0, len(params))
	for k := range params {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		b.WriteString(`<input type="hidden" name="` + html.EscapeString(k) + `" value="` + html.EscapeString(params[k]) + `">`)
	}
	b.WriteString(`<noscript><button type="submit">Open the add-on</button></noscript></form></body></html>`)
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	_, _ = io.WriteString(w, b.String())
}

// ssoForm is the SSO form of an add-on: where to post it and its fields,
// signed now.
func (h *Heroku) ssoForm(app, addon string) (string, map[string]string, bool) {
	h.mu.Lock()
	defer h.mu.Unlock()
	a := h.findLocked(app, addon)
	if a == nil {
		return "", nil, false
	}
	ep := h.o.Manifest.API.Test
	if h.o.Production {
		ep = h.o.Manifest.API.Production
	}
	ts := strconv.FormatInt(time.Now().Unix(), 10)
	return ep.SSOURL, map[string]string{
		"resource_id":                a.ID,
		"timestamp":                  ts,
		"resource_token":             h.o.Manifest.ResourceToken(a.ID, ts),
		"user_scoped_resource_token": h.o.Manifest.UserScopedResourceToken(a.ID, ts, UserID, UserEmail),
		"user_id":                    UserID,
		"email":                      UserEmail,
		"app":                        a.App,
		"context_app":                a.App,
	}, true
}

// ---- helpers ----

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

func writeError(w http.ResponseWriter, status int, id, msg string) {
	writeJSON(w, status, map[string]string{"id": id, "message": msg})
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

var words = []string{"shaped", "curved", "silent", "amber", "rigid", "flat", "round", "sunny", "crisp", "solid"}

func randomWord() string {
	n, _ := rand.Int(rand.Reader, big.NewInt(int64(len(words))))
	return words[n.Int64()]
}

func randomDigits(n int) string {
	var b strings.Builder
	for range n {
		d, _ := rand.Int(rand.Reader, big.NewInt(10))
		b.WriteString(d.String())
	}
	return b.String()
}
