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
		{"bare name", "test", "test"},
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

func TestPlansGrow(t *testing.T) {
	all := plan.All()
	for i := 1; i < len(all); i++ {
		a, b := all[i-1], all[i]
		if b.Rate <= a.Rate || b.Burst <= a.Burst || b.Backlog <= a.Backlog {
			t.Errorf("plan %s (%+v) is not above %s (%+v)", b.Name, b, a.Name, a)
		}
		if float64(a.Burst) < a.Rate {
			t.Errorf("plan %s: burst %d below one second of its rate %v", a.Name, a.Burst, a.Rate)
		}
	}
	if got := plan.For("test").Interval(); got != 10*time.Millisecond {
		t.Errorf("test plan interval = %s, want 10ms", got)
	}
}
