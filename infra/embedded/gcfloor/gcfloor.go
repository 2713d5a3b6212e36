// Package gcfloor keeps the garbage collector's heap goal at a floor. A
// process whose live heap is small (the embedded mode's is a few MB under
// load) collects very often at any GOGC: its goal is a multiple of a small
// number. After each collection Keep raises the GC percent just enough
// for the next goal to reach the floor, and lowers it back to the base
// once the live heap is large enough for the base to reach it alone: the
// heap may grow to the larger of the floor and what the base allows.
package gcfloor

import (
	"runtime"
	"runtime/debug"
	"runtime/metrics"
	"sync"
	"sync/atomic"
)

// MaxPercent bounds the percent Keep sets, whatever the live heap.
const MaxPercent = 10_000

// Percent returns the GC percent whose goal for a live heap of live bytes
// is floor bytes, or base when base's goal reaches floor already.
func Percent(live, floor uint64, base int) int {
	if base < 0 || live == 0 || live*uint64(100+base)/100 >= floor {
		return base
	}
	p := floor*100/live - 100
	if p > MaxPercent {
		return MaxPercent
	}
	return max(int(p), base)
}

// Keep keeps the heap goal at floor bytes or more, from the GC percent in
// force (the base) until stop, which sets the base back.
func Keep(floor uint64) (stop func()) {
	base := []metrics.Sample{{Name: "/gc/gogc:percent"}}
	metrics.Read(base)
	k := &keeper{floor: floor, base: int(base[0].Value.Uint64()), samples: []metrics.Sample{{Name: "/gc/heap/live:bytes"}}}
	k.arm()
	var once sync.Once
	return func() {
		once.Do(func() {
			k.mu.Lock()
			defer k.mu.Unlock()
			k.stopped.Store(true)
			debug.SetGCPercent(k.base)
		})
	}
}

type keeper struct {
	floor   uint64
	base    int
	stopped atomic.Bool

	mu      sync.Mutex // adjust and stop
	samples []metrics.Sample
	set     int // the percent last set; 0 before the first
}

// sentinel is an object whose finalizer runs once a collection has found
// it unreachable: once a cycle, as each arms the next. Its pointer keeps
// it out of the tiny allocator, whose blocks outlive their objects.
type sentinel struct{ _ *int }

func (k *keeper) arm() {
	runtime.SetFinalizer(&sentinel{}, func(*sentinel) { k.collected() })
}

func (k *keeper) collected() {
	if k.stopped.Load() {
		return
	}
	k.adjust()
	k.arm()
}

// adjust sets the percent for the live heap the last collection left.
func (k *keeper) adjust() {
	k.mu.Lock()
	defer k.mu.Unlock()
	if k.stopped.Load() {
		return
	}
	metrics.Read(k.samples)
	if k.samples[0].Value.Kind() != metrics.KindUint64 {
		return
	}
	p := Percent(k.samples[0].Value.Uint64(), k.floor, k.base)
	if p != k.set {
		debug.SetGCPercent(p)
		k.set = p
	}
}
