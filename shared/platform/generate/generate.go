package generate

import (
	"context"
	"strings"
	"time"

	"github.com/herokuevents/herokuevents/shared/api"
	"github.com/herokuevents/herokuevents/shared/config"
	"github.com/herokuevents/herokuevents/shared/mapping"
)

// Platform returns the api's subscription platform "generate" (reference
// §3, §4): POST /v1/tenants/T/platforms/generate/subscriptions with
// {name, interval, mapping, target?, filter?}.
//
// The interval must parse (see ParseInterval); the mapping must compile in
// the pure Bloblang environment (no env, file, hostname: a compile error
// with its line and column) and run once without input, so that a mapping
// that can never produce an event is refused up front. Both are 422
// invalid_params. The subscription is created with State.NextRun = the
// first slot, which the api turns into the item's Index. now is the clock
// (time.Now when nil).
func Platform(now func() time.Time) api.SubscriptionPlatform {
	if now == nil {
		now = time.Now
	}
	return func(_ context.Context, body []byte) (config.Subscription, error) {
		var req struct {
			api.SubscriptionFields
			Interval *string `json:"interval"`
			Mapping  *string `json:"mapping"`
		}
		if err := api.DecodeJSON(body, &req); err != nil {
			return config.Subscription{}, err
		}
		if req.Interval == nil {
			return config.Subscription{}, api.Invalid("interval is required.")
		}
		if req.Mapping == nil || *req.Mapping == "" {
			return config.Subscription{}, api.Invalid("mapping is required.")
		}
		iv, err := ParseInterval(*req.Interval)
		if err != nil {
			return config.Subscription{}, api.Invalid("%s.", message(err))
		}
		m, err := mapping.Compile(*req.Mapping)
		if err != nil {
			return config.Subscription{}, api.Invalid("mapping: %s", err.Error())
		}
		if _, _, err := m.Apply(nil); err != nil {
			return config.Subscription{}, api.Invalid("mapping fails when run without input: %s", err.Error())
		}
		return config.Subscription{
			Params: config.Params{Interval: iv.String(), Mapping: *req.Mapping},
			State:  &config.SourceState{Status: StatusActive, NextRun: iv.First(now())},
		}, nil
	}
}

// message is an interval error without the ErrInterval prefix.
func message(err error) string {
	msg, _ := strings.CutPrefix(err.Error(), ErrInterval.Error()+": ")
	return msg
}
