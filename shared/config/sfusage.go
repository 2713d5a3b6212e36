package config

import (
	"context"
	"errors"
	"strconv"
	"time"
)

// KindSalesforceUsage is the item counting the events Salesforce delivered
// to herokuevents for one org of a tenant: Item{Tenant: T, Kind:
// KindSalesforceUsage, ID: the authorization's alias}. Salesforce counts
// event deliveries per subscriber stream against the org's 24-hour
// allocation; herokuevents counts each event its streams receive once.
const KindSalesforceUsage = "salesforce_usage"

// SalesforceUsage holds hourly counts of delivered events.
type SalesforceUsage struct {
	// Hours maps the start of an hour (Unix seconds) to the events
	// delivered in it; hours older than a day are dropped.
	Hours map[string]int64 `json:"hours"`
}

// usageHour is the bucket key of t.
func usageHour(t time.Time) string { return strconv.FormatInt(t.Truncate(time.Hour).Unix(), 10) }

// Add counts n events delivered at now and drops the hours over a day old.
func (u *SalesforceUsage) Add(now time.Time, n int64) {
	if u.Hours == nil {
		u.Hours = map[string]int64{}
	}
	u.Hours[usageHour(now)] += n
	oldest := now.Add(-25 * time.Hour).Unix()
	for k := range u.Hours {
		if s, err := strconv.ParseInt(k, 10, 64); err != nil || s < oldest {
			delete(u.Hours, k)
		}
	}
}

// Last24h is the count of the 24 hours up to now (the current hour and the
// 23 before it, whole).
func (u SalesforceUsage) Last24h(now time.Time) int64 {
	from := now.Truncate(time.Hour).Add(-23 * time.Hour).Unix()
	var n int64
	for k, c := range u.Hours {
		if s, err := strconv.ParseInt(k, 10, 64); err == nil && s >= from {
			n += c
		}
	}
	return n
}

// AddSalesforceUsage counts n events delivered for a tenant's org.
func AddSalesforceUsage(ctx context.Context, s Store, tenant, org string, now time.Time, n int64) error {
	for range 5 {
		_, err := Modify(ctx, s, tenant, KindSalesforceUsage, org, 5, func(r *Record[SalesforceUsage]) (bool, error) {
			r.Value.Add(now, n)
			return true, nil
		})
		if !errors.Is(err, ErrNotFound) {
			return err
		}
		var u SalesforceUsage
		u.Add(now, n)
		_, err = Insert(ctx, s, Item{Tenant: tenant, Kind: KindSalesforceUsage, ID: org, Name: org}, u)
		if err == nil || !errors.Is(err, ErrConflict) {
			return err
		}
	}
	return ErrConflict
}

// LoadSalesforceUsage reads a tenant's org's usage (zero when none).
func LoadSalesforceUsage(ctx context.Context, s Store, tenant, org string) (SalesforceUsage, error) {
	r, err := Load[SalesforceUsage](ctx, s, tenant, KindSalesforceUsage, org)
	if errors.Is(err, ErrNotFound) {
		return SalesforceUsage{}, nil
	}
	return r.Value, err
}
