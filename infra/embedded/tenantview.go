package embedded

import (
	"context"
	"errors"
	"io/fs"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"time"

	"github.com/herokuevents/herokuevents/infra/embedded/sqlitequeue"
	"github.com/herokuevents/herokuevents/shared/addon"
	"github.com/herokuevents/herokuevents/shared/config"
	"github.com/herokuevents/herokuevents/shared/dashboard"
	"github.com/herokuevents/herokuevents/shared/tenantlog"
)

// What each tenant sees of the embedded mode: its lines in its app's log
// stream (and `herokuevents logs`) and its dashboard through add-on SSO.

// tenantViews are the parts behind them.
type tenantViews struct {
	logs *tenantlog.Shipper
	stop context.CancelFunc
	done chan struct{}
}

// openTenantLog makes the shipper of the tenants' lines: the journal
// writer and the logger feed it (see openJournal and Start), and
// serveTenantViews runs it.
func (s *Server) openTenantLog(o Options) {
	if s.views.logs != nil {
		return
	}
	s.views.logs = tenantlog.New(tenantlog.Options{
		Target: s.logInputURL,
		Name:   s.resourceName,
		Addon:  s.addonName,
		Logger: o.Logger.With("role", "tenantlog"),
	})
}

// tenantLogger is l with the tenants' decisions (subscriptions and
// authorizations connected, stalled, failing, expiring) also recorded as
// their lines.
func (s *Server) tenantLogger(l *slog.Logger) *slog.Logger {
	if s.views.logs == nil {
		return l
	}
	return slog.New(s.views.logs.Handler(l.Handler()))
}

// logInputURL is the tenant's Logplex input, "" for none.
func (s *Server) logInputURL(ctx context.Context, tenant string) (string, error) {
	t, err := config.Load[config.Tenant](ctx, s.cached, "", config.KindTenant, tenant)
	if errors.Is(err, config.ErrNotFound) {
		return "", nil
	}
	if err != nil {
		return "", err
	}
	return t.Value.LogInputURL, nil
}

// addonName is the tenant's add-on resource name on Heroku, "" for none.
func (s *Server) addonName(ctx context.Context, tenant string) string {
	if s.cached == nil {
		return ""
	}
	t, err := config.Load[config.Tenant](ctx, s.cached, "", config.KindTenant, tenant)
	if err != nil {
		return ""
	}
	return t.Value.AddonName
}

// resourceName names a subscription or publication by id ("" when gone).
func (s *Server) resourceName(ctx context.Context, tenant, kind, id string) string {
	if s.cached == nil {
		return ""
	}
	it, err := s.cached.Get(ctx, tenant, kind, id)
	if err != nil {
		return ""
	}
	return it.Name
}

// serveTenantViews mounts the tenants' lines (GET /v1/tenants/{T}/logs),
// SSO and the dashboard on mux, and starts shipping the lines.
func (s *Server) serveTenantViews(mux *http.ServeMux, op operator) error {
	s.openTenantLog(s.o)
	tokens := s.o.Addon // its api.sso_salt (serve --addon-manifest)
	if tokens == nil {
		salt, err := s.ssoSalt()
		if err != nil {
			return err
		}
		tokens = &addon.Manifest{ID: op.ID, API: addon.API{SSOSalt: salt}}
	}
	d, err := dashboard.New(dashboard.Options{
		Store: s.cached, Tokens: tokens, Key: dashboard.KeyFrom(op.Password),
		Journal: s.journalReader(),
		DeadLetters: sqlitequeue.NewDeadLetters(
			sqlitequeue.Pair{DLQ: s.queues.Queue(IngestQueue + "-dlq"), Source: s.queues.Queue(IngestQueue)},
			sqlitequeue.Pair{DLQ: s.queues.Queue(DeliveryQueue + "-dlq"), Source: s.queues.Queue(DeliveryQueue)},
		),
		Logger: s.o.Logger.With("role", "dashboard"),
	})
	if err != nil {
		return err
	}
	d.Mount(mux)
	mux.Handle(tenantlog.LinesPattern, s.views.logs.LinesHandler(s.cached))
	ctx, stop := context.WithCancel(context.Background())
	s.views.stop, s.views.done = stop, make(chan struct{})
	go func() {
		defer close(s.views.done)
		_ = s.views.logs.Run(ctx)
	}()
	return nil
}

// ssoSalt is the SSO salt without an add-on manifest: $HEROKU_SSO_SALT
// (what dev:heroku prints), else one made up once and kept in the data dir.
func (s *Server) ssoSalt() (string, error) {
	getenv := s.o.Getenv
	if getenv == nil {
		getenv = os.Getenv
	}
	if v := getenv(addon.EnvSSOSalt); v != "" {
		return v, nil
	}
	path := filepath.Join(s.o.DataDir, "sso.json")
	var kept struct {
		Salt string `json:"salt"`
	}
	err := readPrivateJSON(path, &kept)
	if err == nil && kept.Salt != "" {
		return kept.Salt, nil
	}
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return "", err
	}
	kept.Salt = randomHex(16)
	return kept.Salt, writePrivateJSON(path, kept)
}

// closeTenantLog ships what is left (after the journal's last entries),
// for at most a few seconds.
func (s *Server) closeTenantLog() {
	if s.views.stop == nil {
		return
	}
	s.views.stop()
	select {
	case <-s.views.done:
	case <-time.After(3 * time.Second):
	}
	s.views.stop = nil
}

// TenantLog returns the shipper of the tenants' lines (tests read it).
func (s *Server) TenantLog() *tenantlog.Shipper { return s.views.logs }
