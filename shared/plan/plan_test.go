package plan_test

import (
	"testing"
	"time"

	"github.com/herokuevents/herokuevents/shared/plan"
)

func TestFor(t *testing.T) {
	def := plan.For(plan.Default)
	for _, tc := range []struct {
		name, plan string
		want       string
	}{
		{"bare name", "basic", "basic"},
		{"heroku slug", "herokuevents:premium", "premium"},
		{"empty is the default", "", plan.Default},
		{"unknown is the default", "herokuevents:gold", plan.Default},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := plan.For(tc.plan); got.Name != tc.want {
				t.Errorf("For(%q) = %s, want %s", tc.plan, got.Name, tc.want)
			}
		})
	}
	if def.Rate <= 0 || def.Burst <= 0 || def.Backlog <= 0 {
		t.Errorf("default plan %+v has a zero limit", def)
	}
}

func TestPlansAreUsable(t *testing.T) {
	for _, l := range plan.All() {
		t.Run(l.Name, func(t *testing.T) {
			if l.Rate <= 0 || l.Backlog <= 0 || float64(l.Burst) < l.Rate {
				t.Errorf("%+v: every limit positive, a burst of at least one second of the rate", l)
			}
			if got := plan.For("herokuevents:" + l.Name); got != l {
				t.Errorf("For(herokuevents:%s) = %+v", l.Name, got)
			}
		})
	}
	if got := plan.For("basic").Interval(); got != 20*time.Millisecond {
		t.Errorf("basic plan interval = %s, want 20ms", got)
	}
	if plan.For("test").Rate < plan.For("premium").Rate {
		t.Error("the test plan (alpha, serve --app) is bounded by capacity, not below premium")
	}
}
