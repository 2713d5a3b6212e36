package embedded

import "runtime/debug"

// GCPercent is the garbage collector's target of the embedded process
// unless GOGC is set: the heap may grow to three times what is live before
// a collection. At saturation the collector at Go's default (100) took
// about a tenth of the process's CPU; at 200 CPU per delivery fell by
// 5–12 % for a few MB more resident memory (scripts/bench/throughput).
const GCPercent = 200

// TuneGC sets the process's GC target to GCPercent unless the operator
// set GOGC (getenv reads the environment), and reports whether it did.
func TuneGC(getenv func(string) string) (set bool) {
	if getenv("GOGC") != "" {
		return false
	}
	debug.SetGCPercent(GCPercent)
	return true
}
