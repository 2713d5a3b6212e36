package api

import (
	"context"
	"errors"
	"time"

	"github.com/herokuevents/herokuevents/shared/config"
)

// salesforceUsageView is the org's Salesforce event deliveries to
// herokuevents in the last 24 h (counted by shared/sfsub once per event a
// Subscribe stream receives, however many subscriptions share it).
type salesforceUsageView struct {
	Org          string `json:"org"`
	Delivered24h int64  `json:"delivered_24h"`
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
	v.SalesforceUsage = &salesforceUsageView{Org: sub.Params.OrgName, Delivered24h: r.Value.Last24h(time.Now())}
}
