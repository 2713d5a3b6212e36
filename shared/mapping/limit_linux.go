//go:build linux && !race

package mapping

import (
	"bufio"
	"os"
	"strconv"
	"strings"
	"syscall"
)

// limitData caps the worker's private writable memory (RLIMIT_DATA, which
// Go's heap counts against) at what it uses now plus mem and room for the
// collector's metadata, so that even one huge allocation fails in the
// worker. Not under the race detector, whose shadow memory counts too.
func limitData(mem int64) {
	now := vmData()
	if now <= 0 {
		return
	}
	lim := uint64(now + mem + mem/4 + 32<<20)
	var cur syscall.Rlimit
	if syscall.Getrlimit(syscall.RLIMIT_DATA, &cur) == nil && cur.Max < lim {
		lim = cur.Max
	}
	_ = syscall.Setrlimit(syscall.RLIMIT_DATA, &syscall.Rlimit{Cur: lim, Max: lim})
}

// vmData is the VmData of this process in bytes (0 when unknown).
func vmData() int64 {
	f, err := os.Open("/proc/self/status")
	if err != nil {
		return 0
	}
	defer f.Close()
	s := bufio.NewScanner(f)
	for s.Scan() {
		if v, ok := strings.CutPrefix(s.Text(), "VmData:"); ok {
			kb, err := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), 10, 64)
			if err != nil {
				return 0
			}
			return kb << 10
		}
	}
	return 0
}
