// Package plan maps an add-on plan to the limits of a tenant on it: how
// fast it may publish and how many of its events may wait in the queues.
// Heroku names a plan "herokuevents:<plan>" (config.Tenant.Plan); For
// accepts that form and the bare name, and answers the default plan for an
// empty or unknown one.
package plan

import (
	"slices"
	"strings"
	"time"
)

// Limits bound what one tenant may put into the data plane.
type Limits struct {
	// Name is the plan's bare name ("standard").
	Name string `json:"name"`
	// Rate is the sustained publish rate, in events per second, and Burst
	// how many events above it may come at once (a token bucket).
	Rate  float64 `json:"rate"`
	Burst int     `json:"burst"`
	// Backlog is how many of the tenant's messages may wait in the queues
	// (accepted but not yet delivered, retries and held deliveries
	// included); publishes beyond it are refused until it drains.
	Backlog int64 `json:"backlog"`
}

// Interval is the time one event of the rate takes.
func (l Limits) Interval() time.Duration {
	if l.Rate <= 0 {
		return 0
	}
	return time.Duration(float64(time.Second) / l.Rate)
}

// Default is the plan of a tenant whose plan is empty or unknown.
const Default = "standard"

// plans are the plans of the add-on. "test" is the plan of an add-on in
// alpha (its only plan) and of the embedded mode's own app (serve --app):
// bounded by the system's capacity (the embedded MaxBacklog) rather than
// by a price.
var plans = []Limits{
	{Name: "basic", Rate: 50, Burst: 100, Backlog: 10_000},
	{Name: "standard", Rate: 500, Burst: 1_000, Backlog: 50_000},
	{Name: "premium", Rate: 5_000, Burst: 10_000, Backlog: 250_000},
	{Name: "test", Rate: 20_000, Burst: 40_000, Backlog: 250_000},
}

// For returns the limits of a plan ("herokuevents:test" or "test"): the
// Default plan's when name is empty or not a known plan.
func For(name string) Limits {
	if _, bare, ok := strings.Cut(name, ":"); ok {
		name = bare
	}
	if i := slices.IndexFunc(plans, func(l Limits) bool { return l.Name == name }); i >= 0 {
		return plans[i]
	}
	return For(Default)
}

// All returns every plan.
func All() []Limits { return slices.Clone(plans) }
