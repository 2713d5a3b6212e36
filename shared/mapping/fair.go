package mapping

import (
	"cmp"
	"slices"
	"time"
)

// Coalescing. Every evaluation waits in the pool's queue; whenever a worker
// is free, a runner takes everything waiting (up to maxBatch items and
// maxBatchBytes) as one request. At low load a call finds a free worker and
// its items go at once, with no timer; under load the calls of many
// goroutines (publish requests, each with one event) share round trips.
//
// Fairness. Items wait in one queue per tenant (a call without a tenant is
// its own), and a request takes one item per tenant in turn, the tenants
// that used the least processor time first (start-time fair queuing: each
// tenant's clock advances by the processor time its items used, as the
// worker reports it; a tenant that was idle starts at the clock of the
// least-served waiting tenant, with no credit for its idleness). A worker
// hands back the rest of a request after its quantum (worker.go), so a
// tenant of slow mappings delays another tenant's item by at most the
// quantum plus one evaluation of the request in flight: the other's item
// is then at the head of the next request.

// call is one apply: its items and their results.
type call struct {
	srcs    []string
	items   []item
	tenants []string // of each item; "" when unknown
	out     []result
	left    int           // items not yet answered (under pool.mu)
	done    chan struct{} // closed when left reaches 0
}

// task is one item of a call, waiting or in a request.
type task struct {
	c *call
	i int
	f *flow
}

func (t *task) size() int {
	it := &t.c.items[t.i]
	return len(it.Data) + len(it.Meta)
}

// flowKey names a flow: a tenant, or a call without one.
type flowKey struct {
	tenant string
	c      *call
}

// flow is the waiting items of one tenant.
type flow struct {
	key   flowKey
	tasks []*task // waiting, oldest first
	// used is the tenant's virtual clock: the processor time its items
	// used since it last started waiting.
	used time.Duration
	// served is the request that last took one of its items.
	served uint64
	// busy counts its items in requests or among the suspects.
	busy   int
	listed bool // in sched.ready
}

// sched is the pool's queue (under pool.mu).
type sched struct {
	flows map[flowKey]*flow
	ready []*flow // flows with waiting items
	// suspects were in a request whose worker died without naming the
	// item it died on: each goes alone, so that only the item at fault
	// fails.
	suspects []*task
	waiting  int // items in ready flows
	runners  int // goroutines running requests (at most Workers)
	clock    time.Duration
	requests uint64

	// observe, when set (tests), sees each answer as it is given.
	observe func(tenant string, r result, cpu time.Duration)
}

// push queues t at the back of its tenant's items.
func (s *sched) push(t *task) {
	k := flowKey{tenant: t.c.tenants[t.i]}
	if k.tenant == "" {
		k.c = t.c
	}
	f := s.flows[k]
	if f == nil {
		if s.flows == nil {
			s.flows = map[flowKey]*flow{}
		}
		f = &flow{key: k}
		s.flows[k] = f
	}
	t.f = f
	f.tasks = append(f.tasks, t)
	s.list(f)
	s.waiting++
}

// list makes f ready; a flow that waits again starts at the clock.
func (s *sched) list(f *flow) {
	if f.listed {
		return
	}
	s.tick()
	f.listed = true
	f.used = max(f.used, s.clock)
	s.ready = append(s.ready, f)
}

// tick advances the clock to the least used of the ready flows.
func (s *sched) tick() {
	if len(s.ready) == 0 {
		return
	}
	least := s.ready[0].used
	for _, f := range s.ready[1:] {
		least = min(least, f.used)
	}
	s.clock = max(s.clock, least)
}

// giveBack queues the items a worker handed back (its quantum was used)
// ahead of their tenants' other items.
func (s *sched) giveBack(ts []*task) {
	for _, t := range slices.Backward(ts) {
		t.f.busy--
		t.f.tasks = slices.Insert(t.f.tasks, 0, t)
		s.list(t.f)
		s.waiting++
	}
}

// suspect queues items to run one per request.
func (s *sched) suspect(ts []*task) { s.suspects = append(s.suspects, ts...) }

// answer gives t its result and charges its tenant the processor time it
// used.
func (s *sched) answer(t *task, r result, cpu time.Duration) {
	f := t.f
	f.busy--
	f.used += cpu
	if f.busy == 0 && !f.listed {
		delete(s.flows, f.key)
	}
	if s.observe != nil {
		s.observe(f.key.tenant, r, cpu)
	}
	c := t.c
	c.out[t.i] = r
	if c.left--; c.left == 0 {
		close(c.done)
	}
}

// idle reports whether nothing waits.
func (s *sched) idle() bool { return s.waiting == 0 && len(s.suspects) == 0 }

// take removes the items of the next request from the queue: a suspect
// alone, else one item per ready tenant in turn, least served first,
// within the bounds of a request. nil when nothing waits.
func (s *sched) take() []*task {
	if len(s.suspects) > 0 {
		t := s.suspects[0]
		s.suspects[0] = nil
		s.suspects = s.suspects[1:]
		return []*task{t}
	}
	if s.waiting == 0 {
		return nil
	}
	slices.SortStableFunc(s.ready, func(a, b *flow) int {
		return cmp.Or(cmp.Compare(a.used, b.used), cmp.Compare(a.served, b.served))
	})
	s.clock = max(s.clock, s.ready[0].used)
	s.requests++
	var batch []*task
	size := 0
full:
	for took := true; took; {
		took = false
		for _, f := range s.ready {
			if len(f.tasks) == 0 {
				continue
			}
			t := f.tasks[0]
			n := t.size()
			if len(batch) > 0 && (len(batch) == maxBatch || size+n > maxBatchBytes) {
				break full
			}
			f.tasks[0] = nil
			f.tasks = f.tasks[1:]
			f.busy++
			f.served = s.requests
			s.waiting--
			batch = append(batch, t)
			size += n
			took = true
		}
	}
	s.ready = slices.DeleteFunc(s.ready, func(f *flow) bool {
		if len(f.tasks) > 0 {
			return false
		}
		f.listed = false
		f.tasks = nil
		return true
	})
	return batch
}
