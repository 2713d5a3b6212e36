package api

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/herokuevents/herokuevents/shared/config"
)

// salesforceUsageView is the org's Salesforce event deliveries to
// herokuevents in the last 24 h (counted by shared/sfsub once per event a
// Subscribe stream receives, however many subscriptions share it).
type salesforceUsageView struct {
	Org          string `json:"org"`
	Delivered24h int64  `json:"delivered_24h"`
	// Allocation is the org's allocation (authorization --allocation),
	// 0 when unknown; Warning is set from 80 % of it.
	Allocation int64  `json:"allocation,omitempty"`
	Warning    string `json:"warning,omitempty"`
}

// addSalesforceUsage sets the usage of a Salesforce subscription's org. It
// is shown only: a failure to read it is logged, not answered.
func (s *Server) addSalesforceUsage(ctx context.Context, tenant string, sub config.Subscription, v *subscriptionView) {
	if sub.Platform != config.PlatformSalesforce || sub.Params.OrgName == "" {
		return
	}
	r, err := config.Load[config.SalesforceUsage](ctx, s.store, tenant, config.KindSalesforceUsage, sub.Params.OrgName)
	if errors.Is(err, config.ErrNotFound) {
		return // nothing delivered yet
	}
	if err != nil {
		s.log.WarnContext(ctx, "read salesforce usage", "tenant", tenant, "subscription", sub.Name, "err", err)
		return
	}
	u := &salesforceUsageView{Org: sub.Params.OrgName, Delivered24h: r.Value.Last24h(time.Now())}
	if a, err := config.Load[config.Authorization](ctx, s.store, tenant, config.KindAuthorization, sub.Params.OrgName); err == nil && a.Value.Allocation > 0 {
		u.Allocation = a.Value.Allocation
		if u.Delivered24h*100 >= a.Value.Allocation*80 {
			u.Warning = fmt.Sprintf("org %s used %d%% of its allocation of %d event deliveries per 24 h: Salesforce stops delivering at 100%%",
				u.Org, u.Delivered24h*100/a.Value.Allocation, a.Value.Allocation)
			s.log.WarnContext(ctx, "salesforce allocation nearly used", "tenant", tenant, "org", u.Org, "delivered_24h", u.Delivered24h, "allocation", u.Allocation)
		}
	}
	v.SalesforceUsage = u
}
