package deliver

import (
	"slices"
	"sync"
	"time"
)

// workers runs the deliveries of HandleBatch on goroutines that outlive
// them. A delivery goes deep (decoding, signing, HTTP): a new goroutine's
// stack is grown, and copied, several times on the way, every time;
// a worker that delivered before has it grown already. Idle workers wait
// for the next delivery, the most recently busy first, and exit after
// workerIdle without one. The zero value is ready.
type workers struct {
	mu   sync.Mutex
	idle []*worker
}

type worker struct{ work chan func() }

// workerIdle is how long an idle worker waits for work before it exits.
const workerIdle = 10 * time.Second

// Go runs f on an idle worker, or on a new one.
func (p *workers) Go(f func()) {
	p.mu.Lock()
	if n := len(p.idle); n > 0 {
		w := p.idle[n-1]
		p.idle = p.idle[:n-1]
		p.mu.Unlock()
		w.work <- f // buffered: the worker is waiting for it
		return
	}
	p.mu.Unlock()
	go p.run(&worker{work: make(chan func(), 1)}, f)
}

func (p *workers) run(w *worker, f func()) {
	t := time.NewTimer(workerIdle)
	defer t.Stop()
	for {
		f()
		p.mu.Lock()
		p.idle = append(p.idle, w)
		p.mu.Unlock()
		t.Reset(workerIdle)
		select {
		case f = <-w.work:
			continue
		case <-t.C:
		}
		p.mu.Lock()
		if i := slices.Index(p.idle, w); i >= 0 {
			p.idle = slices.Delete(p.idle, i, i+1)
			p.mu.Unlock()
			return
		}
		p.mu.Unlock()
		f = <-w.work // Go took it as the timer fired: its work is on the way
	}
}
