// Package dashboard is the tenant's dashboard, opened from Heroku through
// add-on single sign-on (reference heroku-addon.md §3): POST /sso/login
// checks the form Heroku has the browser send (resource_token, or the
// newer user_scoped_resource_token, within five minutes) and starts a
// session scoped to that tenant in a signed cookie; GET /dashboard renders
// its subscriptions, streams and publications as a graph, each
// publication's health, recent deliveries with their attempts, dead
// letters with a redrive button (a POST carrying the session's CSRF token)
// and the last hour's deliveries as a chart.
//
// Pages are server-rendered with html/template from templates embedded in
// the binary, charts are inline SVG, and there is no script at all. The
// dashboard reads the configuration store, the delivery log
// (shared/journal) and the dead letters (queue.DeadLetters); both modes
// mount it beside the API. A Dashboard is safe for concurrent use.
package dashboard

import (
	"cmp"
	"crypto/subtle"
	"embed"
	"errors"
	"fmt"
	"html/template"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/herokuevents/herokuevents/shared/config"
	"github.com/herokuevents/herokuevents/shared/journal"
	"github.com/herokuevents/herokuevents/shared/queue"
)

// Routes.
const (
	// LoginPath is the manifest's sso_url path.
	LoginPath = "/sso/login"
	// Path is the dashboard; the session cookie is scoped to it.
	Path        = "/dashboard"
	redrivePath = Path + "/dead-letters/redrive"
)

// Defaults and limits.
const (
	// Window is how far the SSO timestamp may be from now, either way.
	Window = 5 * time.Minute
	// DefaultSession is how long a session lasts.
	DefaultSession = 2 * time.Hour
	// recentDeliveries bounds the deliveries listed; deadLetterLimit the
	// dead letters.
	recentDeliveries = 30
	deadLetterLimit  = 50
	maxForm          = 64 << 10
)

// Tokens computes the SSO tokens Heroku signs the login form with
// (*addon.Manifest does, from its sso_salt).
type Tokens interface {
	ResourceToken(resourceID, timestamp string) string
	UserScopedResourceToken(resourceID, timestamp, userID, email string) string
}

// Options configure a Dashboard.
type Options struct {
	// Store is the configuration. Required.
	Store config.Store
	// Tokens checks the SSO form. Required.
	Tokens Tokens
	// Key signs the session cookies (KeyFrom). At least 32 bytes.
	Key []byte
	// Journal, when set, gives the health, deliveries and chart.
	Journal journal.Reader
	// DeadLetters, when set, lists dead letters and redrives them.
	DeadLetters queue.DeadLetters
	// Session is how long a session lasts (DefaultSession when 0).
	Session time.Duration
	// Logger gets one line per login, refusal and redrive; slog.Default
	// when nil.
	Logger *slog.Logger
	// Now is the clock; time.Now when nil.
	Now func() time.Time
}

// Dashboard serves SSO and the dashboard.
type Dashboard struct {
	o    Options
	page *template.Template
}

//go:embed templates/*.html
var templates embed.FS

// New returns a Dashboard, or an error when a required option is missing.
func New(o Options) (*Dashboard, error) {
	if o.Store == nil || o.Tokens == nil || len(o.Key) < 32 {
		return nil, errors.New("new dashboard: Options.Store, Options.Tokens and a 32-byte Options.Key are required")
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	o.Session = cmp.Or(o.Session, DefaultSession)
	t, err := template.New("").Funcs(funcs).ParseFS(templates, "templates/*.html")
	if err != nil {
		return nil, fmt.Errorf("parse dashboard templates: %w", err)
	}
	return &Dashboard{o: o, page: t}, nil
}

// Mount adds the routes to mux.
func (d *Dashboard) Mount(mux *http.ServeMux) {
	mux.HandleFunc("POST "+LoginPath, d.login)
	mux.HandleFunc("GET "+Path, d.dashboard)
	mux.HandleFunc("POST "+redrivePath, d.redrive)
}

// Handler is the routes alone.
func (d *Dashboard) Handler() http.Handler {
	m := http.NewServeMux()
	d.Mount(m)
	return m
}

// headers are sent with every page: no caching, no framing, no script.
func headers(w http.ResponseWriter) {
	h := w.Header()
	h.Set("Content-Type", "text/html; charset=utf-8")
	h.Set("Cache-Control", "no-store")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Referrer-Policy", "same-origin")
	h.Set("Content-Security-Policy", "default-src 'none'; style-src 'unsafe-inline'; img-src data:; form-action 'self'; frame-ancestors 'none'; base-uri 'none'")
}

// deny answers 403 with a page that says what to do.
func (d *Dashboard) deny(w http.ResponseWriter, r *http.Request, reason, tenant string) {
	d.o.Logger.InfoContext(r.Context(), "sso login refused", "reason", reason, "resource_id", tenant)
	headers(w)
	w.WriteHeader(http.StatusForbidden)
	_ = d.page.ExecuteTemplate(w, "denied.html", map[string]string{"Reason": reason})
}

// login is POST /sso/login: Heroku's SSO form.
func (d *Dashboard) login(w http.ResponseWriter, r *http.Request) {
	r.Body = http.MaxBytesReader(w, r.Body, maxForm)
	if err := r.ParseForm(); err != nil {
		d.deny(w, r, "The sign-in form could not be read.", "")
		return
	}
	id, ts := r.PostForm.Get("resource_id"), r.PostForm.Get("timestamp")
	rt, ut := r.PostForm.Get("resource_token"), r.PostForm.Get("user_scoped_resource_token")
	if len(id) > 256 {
		id = id[:256]
	}
	if id == "" || ts == "" || (rt == "" && ut == "") {
		d.deny(w, r, "The sign-in form misses resource_id, timestamp or a token.", id)
		return
	}
	sec, err := strconv.ParseInt(ts, 10, 64)
	if err != nil {
		d.deny(w, r, "The sign-in timestamp is not a number.", id)
		return
	}
	if age := d.o.Now().Sub(time.Unix(sec, 0)); age > Window || age < -Window {
		d.deny(w, r, "The sign-in link has expired: open the dashboard from Heroku again.", id)
		return
	}
	user, email := r.PostForm.Get("user_id"), r.PostForm.Get("email")
	ok := ut != "" && equal(ut, d.o.Tokens.UserScopedResourceToken(id, ts, user, email))
	ok = ok || (rt != "" && equal(rt, d.o.Tokens.ResourceToken(id, ts)))
	if !ok {
		d.deny(w, r, "The sign-in token is not valid.", id)
		return
	}
	t, err := config.Load[config.Tenant](r.Context(), d.o.Store, "", config.KindTenant, id)
	if err != nil || (t.Value.HerokuID != "" && t.Value.HerokuID != id && t.Value.ID != id) {
		if err != nil && !errors.Is(err, config.ErrNotFound) {
			d.o.Logger.ErrorContext(r.Context(), "sso load tenant", "resource_id", id, "err", err)
		}
		d.deny(w, r, "This add-on is not provisioned (any more).", id)
		return
	}
	s := d.newSession(t.Value.ID, email)
	d.setCookie(w, r, s)
	d.o.Logger.InfoContext(r.Context(), "sso login", "tenant", t.Value.ID, "app", t.Value.App, "user_scoped", ut != "")
	http.Redirect(w, r, Path, http.StatusSeeOther)
}

// equal compares hex tokens in constant time, case-insensitively.
func equal(got, want string) bool {
	return subtle.ConstantTimeCompare([]byte(strings.ToLower(strings.TrimSpace(got))), []byte(want)) == 1
}

// dashboard is GET /dashboard.
func (d *Dashboard) dashboard(w http.ResponseWriter, r *http.Request) {
	s, err := d.current(r)
	if err != nil {
		d.deny(w, r, "Open the dashboard from Heroku: heroku addons:open herokuevents.", "")
		return
	}
	v, err := d.view(r.Context(), s)
	if errors.Is(err, config.ErrNotFound) {
		d.deny(w, r, "This add-on is not provisioned (any more).", s.Tenant)
		return
	}
	if err != nil {
		d.o.Logger.ErrorContext(r.Context(), "render dashboard", "tenant", s.Tenant, "err", err)
		headers(w)
		w.WriteHeader(http.StatusInternalServerError)
		_ = d.page.ExecuteTemplate(w, "denied.html", map[string]string{"Reason": "The dashboard could not be read; try again."})
		return
	}
	v.Notice = noticeOf(r.URL.Query())
	headers(w)
	if err := d.page.ExecuteTemplate(w, "dashboard.html", v); err != nil {
		d.o.Logger.ErrorContext(r.Context(), "render dashboard", "tenant", s.Tenant, "err", err)
	}
}

// redrive is POST /dashboard/dead-letters/redrive: one dead letter (id)
// back to its queue.
func (d *Dashboard) redrive(w http.ResponseWriter, r *http.Request) {
	s, err := d.current(r)
	if err != nil {
		d.deny(w, r, "Open the dashboard from Heroku: heroku addons:open herokuevents.", "")
		return
	}
	r.Body = http.MaxBytesReader(w, r.Body, maxForm)
	if err := r.ParseForm(); err != nil || !csrfOK(s, r.PostForm.Get("csrf")) {
		d.o.Logger.InfoContext(r.Context(), "dashboard request refused", "tenant", s.Tenant, "reason", "bad csrf token")
		headers(w)
		w.WriteHeader(http.StatusForbidden)
		_ = d.page.ExecuteTemplate(w, "denied.html", map[string]string{"Reason": "The form has expired: reload the dashboard and try again."})
		return
	}
	id := r.PostForm.Get("id")
	if d.o.DeadLetters == nil || id == "" {
		http.Redirect(w, r, Path+"?notice=missing", http.StatusSeeOther)
		return
	}
	n, err := d.o.DeadLetters.Redrive(r.Context(), s.Tenant, id)
	switch {
	case errors.Is(err, queue.ErrNotFound):
		http.Redirect(w, r, Path+"?notice=missing", http.StatusSeeOther)
	case err != nil:
		d.o.Logger.ErrorContext(r.Context(), "dashboard redrive", "tenant", s.Tenant, "err", err)
		http.Redirect(w, r, Path+"?notice=failed", http.StatusSeeOther)
	default:
		d.o.Logger.InfoContext(r.Context(), "dead letter redriven", "tenant", s.Tenant, "id", id, "count", n, "via", "dashboard")
		http.Redirect(w, r, Path+"?notice=redriven", http.StatusSeeOther)
	}
}

func noticeOf(q map[string][]string) string {
	switch first(q["notice"]) {
	case "redriven":
		return "The dead letter was redriven: it is being delivered again."
	case "missing":
		return "That dead letter is no longer there (already redriven or purged)."
	case "failed":
		return "The dead letter could not be redriven; try again."
	}
	return ""
}

func first(v []string) string {
	if len(v) == 0 {
		return ""
	}
	return v[0]
}
