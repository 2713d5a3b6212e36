package embedded_test

import (
	"runtime/debug"
	"testing"

	"github.com/stretchr/testify/assert"

	"github.com/herokuevents/herokuevents/infra/embedded"
)

// TuneGC sets GCPercent unless GOGC is set, which it leaves in force.
func TestTuneGC(t *testing.T) {
	orig := debug.SetGCPercent(100)
	t.Cleanup(func() { debug.SetGCPercent(orig) })
	for _, tc := range []struct {
		name string
		gogc string
		want int
		set  bool
	}{
		{"unset", "", embedded.GCPercent, true},
		{"set by the operator", "150", 150, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			debug.SetGCPercent(150) // as the runtime would from GOGC=150
			got := embedded.TuneGC(func(k string) string {
				if k == "GOGC" {
					return tc.gogc
				}
				return ""
			}, 0)
			assert.Equal(t, tc.set, got)
			assert.Equal(t, tc.want, debug.SetGCPercent(tc.want), "the target in force")
		})
	}
}
