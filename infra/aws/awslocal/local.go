package awslocal

import (
	"context"
	"maps"
	"net/http"
	"slices"
	"sync"
	"time"
)

// What a long-running local stack (scripts/awslocal) needs beyond tests:
// the HTTP API on an address of its choosing, function output as it comes,
// and the schedules running on their own.

// Handler returns the HTTP API (the handler behind Stack.URL), to serve it
// on another listener as well, e.g. a fixed address given as the PublicUrl
// parameter.
func (s *Stack) Handler() http.Handler { return s.front.Config.Handler }

// LogsFrom returns function id's output from byte offset off on and the
// offset of its end, to follow the output as it grows: pass the returned
// offset to the next call. Unknown functions have no output.
func (s *Stack) LogsFrom(id string, off int) (string, int) {
	em, ok := s.fns[id]
	if !ok {
		return "", off
	}
	em.logs.mu.Lock()
	defer em.logs.mu.Unlock()
	b := em.logs.buf.Bytes()
	if off < 0 || off > len(b) {
		off = len(b)
	}
	return string(b[off:]), len(b)
}

// RunSchedules ticks every running scheduled function (Schedules) as its
// rate schedule would, at once and then every interval, until ctx ends:
// tick k of a function is scheduled at start + k×interval. Each function
// ticks in its own goroutine, one tick at a time and every tick in order: a
// slow tick delays the next ones, which then run late rather than being
// skipped (a generator's windows stay contiguous). report, when not nil,
// is called after every tick with its scheduled time and Tick's error; it
// may be called concurrently. RunSchedules returns when ctx ends and every
// tick in progress has returned.
func (s *Stack) RunSchedules(ctx context.Context, interval time.Duration, report func(id string, at time.Time, err error)) {
	var wg sync.WaitGroup
	start := time.Now()
	for _, id := range slices.Sorted(maps.Keys(s.Schedules())) {
		if _, ok := s.fns[id]; !ok {
			continue
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			for k := 0; ; k++ {
				at := start.Add(time.Duration(k) * interval)
				select {
				case <-ctx.Done():
					return
				case <-time.After(time.Until(at)):
				}
				_, err := s.Tick(ctx, id, at)
				if ctx.Err() != nil {
					return
				}
				if report != nil {
					report(id, at, err)
				}
			}
		}()
	}
	wg.Wait()
}
