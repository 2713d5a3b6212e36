package embedded

import (
	"runtime/debug"

	"github.com/herokuevents/herokuevents/infra/embedded/gcfloor"
)

// GCPercent is the garbage collector's target of the embedded process
// unless GOGC is set: the heap may grow to three times what is live before
// a collection. At saturation the collector at Go's default (100) took
// about a tenth of the process's CPU; at 200 CPU per delivery fell by
// 5–12 % for a few MB more resident memory (scripts/bench/throughput).
const GCPercent = 200

// GCFloor is the least heap goal of the embedded process unless GOGC is
// set (gcfloor): its live heap is a few MB under load, so that three
// times it was reached, and a collection run, several times a second.
const GCFloor = 64 << 20

// TuneGC sets the process's GC target to GCPercent, and keeps its heap
// goal at floor bytes or more (none when 0), unless the operator set GOGC
// (getenv reads the environment); it reports whether it did.
func TuneGC(getenv func(string) string, floor uint64) (set bool) {
	if getenv("GOGC") != "" {
		return false
	}
	debug.SetGCPercent(GCPercent)
	if floor > 0 {
		gcfloor.Keep(floor)
	}
	return true
}
