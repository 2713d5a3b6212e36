package mapping

import (
	"slices"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// newCall is a call of n items of tenant (each of size bytes of data),
// not yet queued.
func newCall(tenant string, n, size int) *call {
	c := &call{srcs: []string{"root = this"}, items: make([]item, n), tenants: make([]string, n),
		out: make([]result, n), left: n, done: make(chan struct{})}
	for i := range c.items {
		c.items[i].Data = make([]byte, size)
		c.tenants[i] = tenant
	}
	return c
}

func pushAll(s *sched, c *call) {
	for i := range c.items {
		s.push(&task{c: c, i: i})
	}
}

// names are the tenants of a request's items, with each item's index in
// its call: "a0 b0 a1".
func names(batch []*task) []string {
	var out []string
	for _, t := range batch {
		out = append(out, t.c.tenants[t.i]+strconv.Itoa(t.i))
	}
	return out
}

// TestTakeIsFairBetweenTenants: a request takes one item per tenant in
// turn, least served tenant first, within the bounds of a request; a
// tenant that was idle gets no credit for it; a suspect goes alone.
func TestTakeIsFairBetweenTenants(t *testing.T) {
	answerAll := func(s *sched, batch []*task, cpu time.Duration) {
		for _, t := range batch {
			s.answer(t, result{}, cpu)
		}
	}
	t.Run("one item per tenant in turn, in order of arrival", func(t *testing.T) {
		var s sched
		pushAll(&s, newCall("a", 3, 10))
		pushAll(&s, newCall("b", 1, 10))
		pushAll(&s, newCall("c", 2, 10))
		assert.Equal(t, []string{"a0", "b0", "c0", "a1", "c1", "a2"}, names(s.take()))
		assert.Nil(t, s.take())
		assert.True(t, s.idle())
	})
	t.Run("the tenant that used less processor time goes first", func(t *testing.T) {
		var s sched
		pushAll(&s, newCall("slow", 4, 10))
		first := s.take()
		answerAll(&s, first[:1], 20*time.Millisecond) // 20 ms used, the rest handed back
		s.giveBack(first[1:])
		pushAll(&s, newCall("fast", 2, 10))
		assert.Equal(t, []string{"fast0", "slow1", "fast1", "slow2", "slow3"}, names(s.take()))
	})
	t.Run("a tenant that comes late starts at the clock, not at zero", func(t *testing.T) {
		var s sched
		pushAll(&s, newCall("a", 6, 10))
		batch := s.take()
		answerAll(&s, batch[:1], 100*time.Millisecond)
		s.giveBack(batch[1:])
		pushAll(&s, newCall("b", 3, 10)) // does not get the 100 ms a used before it came
		batch = s.take()
		require.Equal(t, []string{"b0", "a1", "b1", "a2", "b2", "a3", "a4", "a5"}, names(batch), "a tie: b was never served")
		answerAll(&s, batch[:1], 5*time.Millisecond) // b: 105 ms, a: 100 ms
		s.giveBack(batch[1:])
		assert.Equal(t, []string{"a1", "b1", "a2", "b2", "a3", "a4", "a5"}, names(s.take()))
	})
	t.Run("tenants with nothing waiting or running are forgotten", func(t *testing.T) {
		var s sched
		pushAll(&s, newCall("a", 1, 10))
		pushAll(&s, newCall("", 2, 10))
		answerAll(&s, s.take(), time.Millisecond)
		assert.Empty(t, s.flows)
		assert.Empty(t, s.ready)
	})
	t.Run("a request holds at most maxBatch items", func(t *testing.T) {
		var s sched
		pushAll(&s, newCall("a", maxBatch+10, 1))
		assert.Len(t, s.take(), maxBatch)
		assert.Len(t, s.take(), 10)
	})
	t.Run("a request holds at most maxBatchBytes, and at least one item", func(t *testing.T) {
		var s sched
		pushAll(&s, newCall("a", 3, maxBatchBytes/2))
		pushAll(&s, newCall("b", 1, maxBatchBytes+1))
		assert.Equal(t, []string{"a0"}, names(s.take()))
		assert.Equal(t, []string{"b0"}, names(s.take()), "alone, as it is larger than a request")
		assert.Equal(t, []string{"a1", "a2"}, names(s.take()))
	})
	t.Run("suspects go one per request, first", func(t *testing.T) {
		var s sched
		pushAll(&s, newCall("a", 3, 1))
		batch := s.take()
		s.suspect(batch)
		pushAll(&s, newCall("b", 1, 1))
		for _, want := range []string{"a0", "a1", "a2"} {
			got := s.take()
			assert.Equal(t, []string{want}, names(got))
			answerAll(&s, got, 0)
		}
		assert.Equal(t, []string{"b0"}, names(s.take()))
	})
}

// hold keeps every caller of p from sending requests, so that their items
// wait in its queue; the release it returns sends them, all waiting
// items in one request while they fit.
func hold(t *testing.T, p *pool, waiting int) (release func()) {
	t.Helper()
	p.mu.Lock()
	require.Zero(t, p.q.runners, "the pool is idle")
	p.q.runners = p.limits.Workers
	p.mu.Unlock()
	return func() {
		require.Eventually(t, func() bool {
			p.mu.Lock()
			defer p.mu.Unlock()
			return p.q.waiting == waiting
		}, 10*time.Second, time.Millisecond)
		p.mu.Lock()
		p.q.runners = 1
		p.mu.Unlock()
		go p.run(nil)
	}
}

func doc(i int) []byte { return []byte(`{"n":` + strconv.Itoa(i) + `}`) }

// TestConcurrentCallsShareRequests: the events of concurrent callers, one
// each, go to the workers together (what the embedded publish path does),
// while a lone caller's event goes at once, alone.
func TestConcurrentCallsShareRequests(t *testing.T) {
	SetLimits(Limits{Workers: 2})
	t.Cleanup(func() { SetLimits(Limits{}) })
	inc, err := Compile(`root.n = this.n + 1`)
	require.NoError(t, err)
	p := thePool()
	check := func(i int) {
		out, _, err := inc.Apply(doc(i))
		if assert.NoError(t, err) {
			assert.JSONEq(t, `{"n":`+strconv.Itoa(i+1)+`}`, string(out))
		}
	}
	t.Run("a lone caller", func(t *testing.T) {
		before := p.rounds.Load()
		for i := range 10 {
			check(i)
		}
		assert.Equal(t, int64(10), p.rounds.Load()-before, "one request per call")
	})
	t.Run("callers waiting for a worker", func(t *testing.T) {
		const callers = 50
		var sizes []int
		p.onBatch = func(b []*task) { sizes = append(sizes, len(b)) }
		t.Cleanup(func() { p.onBatch = nil })
		release := hold(t, p, callers)
		var wg sync.WaitGroup
		for i := range callers {
			wg.Go(func() { check(i) })
		}
		release()
		wg.Wait()
		require.NotEmpty(t, sizes)
		assert.Equal(t, callers, sizes[0], "every waiting event in the first request")
	})
	t.Run("callers at once", func(t *testing.T) {
		const callers, each = 50, 20
		before := p.rounds.Load()
		var wg sync.WaitGroup
		for c := range callers {
			wg.Go(func() {
				for i := range each {
					check(c*each + i)
				}
			})
		}
		wg.Wait()
		rounds := p.rounds.Load() - before
		t.Logf("%d calls in %d requests", callers*each, rounds)
		assert.Less(t, rounds, int64(callers*each/2), "calls share requests")
	})
}

// TestBombInASharedRequestFailsAlone: a call whose mapping stops its
// worker (named by the watchdog, or not: the runtime's own fatal error on
// RLIMIT_DATA) fails with its limit, alone; the calls that shared its
// request are run again and answered.
func TestBombInASharedRequestFailsAlone(t *testing.T) {
	for _, c := range []struct {
		name   string
		limits Limits
		src    string
		limit  string
	}{
		{"time", Limits{Workers: 1}, bombs[2].src, "time limit of 100ms per event exceeded"},
		{"memory", Limits{Workers: 1, Memory: 32 << 20, Time: 20 * time.Second}, doubling(`"x".repeat(8000000)`, 10), "memory limit of 32 MiB exceeded"},
	} {
		t.Run(c.name, func(t *testing.T) {
			SetLimits(c.limits)
			t.Cleanup(func() { SetLimits(Limits{}) })
			inc, err := Compile(`root.n = this.n + 1`)
			require.NoError(t, err)
			bomb, err := Compile(c.src)
			require.NoError(t, err)
			p := thePool()
			var first []*task
			p.onBatch = func(b []*task) {
				if first == nil {
					first = slices.Clone(b)
				}
			}
			const callers = 20
			release := hold(t, p, callers+1)
			var wg sync.WaitGroup
			for i := range callers {
				wg.Go(func() {
					out, _, err := inc.Apply(doc(i))
					if assert.NoError(t, err, "caller %d", i) {
						assert.JSONEq(t, `{"n":`+strconv.Itoa(i+1)+`}`, string(out))
					}
				})
			}
			var bombErr error
			wg.Go(func() { _, _, bombErr = bomb.Apply(doc(0)) })
			release()
			wg.Wait()
			require.ErrorIs(t, bombErr, ErrLimit)
			assert.ErrorContains(t, bombErr, c.limit)
			assert.Len(t, first, callers+1, "the bomb shared its request with every other caller")
		})
	}
}

// TestSlowTenantDelaysAnotherByAQuantumAtMost: while a tenant's batch of
// slow evaluations holds the only worker, another tenant's event waits
// for the request in flight (at most the quantum plus one evaluation of
// processor time) and then goes first, not after the slow batch; counted
// in the processor time the worker reports, not in wall time.
func TestSlowTenantDelaysAnotherByAQuantumAtMost(t *testing.T) {
	SetLimits(Limits{Workers: 1, Time: 5 * time.Second})
	t.Cleanup(func() { SetLimits(Limits{}) })
	slow, err := Compile(`root = range(0, 20000).map_each(i -> i * 2).sum()`)
	require.NoError(t, err)
	fast, err := Compile(`root.n = this.n + 1`)
	require.NoError(t, err)
	type answer struct {
		tenant string
		cpu    time.Duration
	}
	var log []answer // under p.mu
	p := thePool()
	p.mu.Lock()
	p.q.observe = func(tenant string, _ result, cpu time.Duration) { log = append(log, answer{tenant, cpu}) }
	p.mu.Unlock()
	jobs := make([]Job, 40)
	for i := range jobs {
		jobs[i] = Job{Mapping: slow, Tenant: "slow"}
	}
	slowDone := make(chan []Result, 1)
	go func() { slowDone <- ApplyAll(jobs) }()
	require.Eventually(t, func() bool {
		p.mu.Lock()
		defer p.mu.Unlock()
		return len(log) > 0
	}, 10*time.Second, time.Millisecond, "the slow batch runs")
	p.mu.Lock()
	mark := len(log)
	p.mu.Unlock()
	got := ApplyAll([]Job{{Mapping: fast, Data: doc(1), Tenant: "fast"}})
	require.NoError(t, got[0].Err)
	assert.JSONEq(t, `{"n":2}`, string(got[0].Out))
	select {
	case <-slowDone:
		t.Fatal("the slow batch ended before the other tenant's event was answered")
	default:
	}
	for i, r := range <-slowDone {
		require.NoError(t, r.Err, "job %d", i)
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	var before, most, all time.Duration // slow's processor time after mark and before fast's answer
	fastAt := slices.IndexFunc(log, func(a answer) bool { return a.tenant == "fast" })
	require.GreaterOrEqual(t, fastAt, mark)
	for i, a := range log {
		if a.tenant != "slow" {
			continue
		}
		most = max(most, a.cpu)
		all += a.cpu
		if i >= mark && i < fastAt {
			before += a.cpu
		}
	}
	t.Logf("slow evaluations: %d, %s each at most, %s in all; %s of them ran between the fast event's arrival and its answer", len(jobs), most, all, before)
	assert.LessOrEqual(t, before, quantum+2*most, "the fast event waited for the request in flight at most")
}
