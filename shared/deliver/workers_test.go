package deliver

import (
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"
)

// TestWorkers: every function runs; idle workers are reused, the most
// recently busy first, and exit after workerIdle without work, also when
// work comes just as they give up.
func TestWorkers(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var (
			p   workers
			ran atomic.Int64
			wg  sync.WaitGroup
		)
		batch := func(n int) {
			for range n {
				wg.Add(1)
				p.Go(func() { defer wg.Done(); ran.Add(1) })
			}
			wg.Wait()
			synctest.Wait() // every worker back in idle
		}
		idle := func() int {
			p.mu.Lock()
			defer p.mu.Unlock()
			return len(p.idle)
		}
		batch(10)
		if n := idle(); n == 0 || n > 10 {
			t.Fatalf("%d idle workers after 10 functions", n)
		}
		before := idle()
		batch(1)
		if idle() != before {
			t.Fatalf("%d idle workers, want %d: a new worker started beside idle ones", idle(), before)
		}
		time.Sleep(workerIdle + time.Millisecond)
		synctest.Wait()
		if n := idle(); n != 0 {
			t.Fatalf("%d idle workers after %v without work", n, workerIdle)
		}
		for range 20 { // work arriving as the idle time ends
			batch(3)
			time.Sleep(workerIdle)
		}
		if got := ran.Load(); got != 10+1+60 {
			t.Fatalf("%d functions ran, want %d", got, 10+1+60)
		}
		time.Sleep(workerIdle + time.Millisecond)
		synctest.Wait()
		if n := idle(); n != 0 {
			t.Fatalf("%d idle workers left", n)
		}
	})
}
