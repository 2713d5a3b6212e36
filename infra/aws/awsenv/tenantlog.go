package awsenv

import (
	"context"
	"errors"
	"net/http"
	"slices"
	"time"

	"github.com/herokuevents/herokuevents/shared/config"
	"github.com/herokuevents/herokuevents/shared/journal"
	"github.com/herokuevents/herokuevents/shared/tenantlog"
)

// shippingRoles are the functions that ship their tenants' lines to the
// apps' log streams: the SQS batch functions, whose journal writer is
// flushed after each batch. ingest does not (shipping would delay the
// answer to every publish), nor do the other functions.
var shippingRoles = []string{"filter", "deliver"}

// TenantLog returns the shipper of the tenants' lines of this function
// (tenantlog.Options.Sync: the lines of a journal write are shipped within
// it, to the tenant's log_input_url read through the cached store), or nil
// for a function that ships none. Not safe for concurrent use: functions
// call it (through JournalWriter) at init.
func (e *Env) TenantLog() *tenantlog.Shipper {
	if !slices.Contains(shippingRoles, e.Role) {
		return nil
	}
	if e.logs != nil {
		return e.logs
	}
	store := e.DataStore()
	s := tenantlog.New(tenantlog.Options{
		Sync: true, Retries: 2, Logger: e.Logger,
		// Heroku's Logplex endpoint, not tenant input: no egress guard.
		Client: &http.Client{Timeout: time.Second},
		Target: func(ctx context.Context, tenant string) (string, error) {
			t, err := config.Load[config.Tenant](ctx, store, "", config.KindTenant, tenant)
			if errors.Is(err, config.ErrNotFound) {
				return "", nil
			}
			return t.Value.LogInputURL, err
		},
		Name: func(ctx context.Context, tenant, kind, id string) string {
			it, err := store.Get(ctx, tenant, kind, id)
			if err != nil {
				return ""
			}
			return it.Name
		},
	})
	e.logs = s
	return s
}

// withTenantLog is w with the tenants' lines recorded and shipped from its
// entries, in the functions that ship them.
func (e *Env) withTenantLog(w journal.Writer) journal.Writer {
	if s := e.TenantLog(); s != nil {
		return s.Journal(w)
	}
	return w
}
