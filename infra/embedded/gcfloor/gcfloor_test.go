package gcfloor_test

import (
	"runtime"
	"runtime/debug"
	"runtime/metrics"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/herokuevents/herokuevents/infra/embedded/gcfloor"
)

func TestPercent(t *testing.T) {
	const mb = 1 << 20
	for _, tc := range []struct {
		name        string
		live, floor uint64
		base, want  int
	}{
		{"a small heap is raised to the floor", 8 * mb, 64 * mb, 200, 700},
		{"a heap whose base goal reaches the floor keeps the base", 30 * mb, 64 * mb, 200, 200},
		{"exactly at the floor", 16 * mb, 64 * mb, 300, 300},
		{"a tiny heap is capped", 1024, 64 * mb, 200, gcfloor.MaxPercent},
		{"nothing known", 0, 64 * mb, 200, 200},
		{"collection off stays off", 8 * mb, 64 * mb, -1, -1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			assert.Equal(t, tc.want, gcfloor.Percent(tc.live, tc.floor, tc.base))
		})
	}
}

// TestKeep: while the live heap is small the percent in force is raised
// for the floor; when it grows the base is back; stop restores the base.
func TestKeep(t *testing.T) {
	orig := debug.SetGCPercent(200)
	t.Cleanup(func() { debug.SetGCPercent(orig) })
	const floor = 256 << 20
	stop := gcfloor.Keep(floor)
	t.Cleanup(stop)
	inForce := func() int {
		s := []metrics.Sample{{Name: "/gc/gogc:percent"}}
		metrics.Read(s)
		return int(s[0].Value.Uint64())
	}
	collect := func(want func(int) bool) bool {
		runtime.GC() // the keeper adjusts after it, in the finalizer goroutine
		return want(inForce())
	}
	require.Eventually(t, func() bool { return collect(func(p int) bool { return p > 200 }) }, 10*time.Second, 10*time.Millisecond,
		"a small heap raises the percent")

	big := make([][]byte, 0, 128) // 128 MB live: its goal at 200 is over the floor
	for range cap(big) {
		big = append(big, make([]byte, 1<<20))
	}
	require.Eventually(t, func() bool { return collect(func(p int) bool { return p == 200 }) }, 10*time.Second, 10*time.Millisecond,
		"a large heap has the base")
	runtime.KeepAlive(big)

	stop()
	assert.Equal(t, 200, inForce(), "stop restores the base")
	big = nil
	runtime.GC()
	runtime.GC()
	assert.Equal(t, 200, inForce(), "a stopped keeper adjusts no more")
}
