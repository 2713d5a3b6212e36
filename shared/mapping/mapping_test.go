package mapping

import (
	"errors"
	"os"
	"runtime"
	"runtime/metrics"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestCompileRejectsHostAccess(t *testing.T) {
	for _, src := range []string{
		`root = env("AWS_SECRET_ACCESS_KEY")`,
		`root = file("/etc/passwd")`,
		`root = hostname()`,
		`root = this.`,
		``,
	} {
		t.Run(src, func(t *testing.T) {
			_, err := Compile(src)
			require.ErrorIs(t, err, ErrCompile)
		})
	}
}

func TestApply(t *testing.T) {
	const filter = `root = if this.Context__c.string == "drop" { deleted() } else { this }`
	cases := []struct {
		name, src, in, want string
		deleted             bool
	}{
		{"pass keeps bytes", filter, `{"Context__c":{"string":"x"},  "CreatedDate":1733842936000, "Big":1736877279422521345}`, `{"Context__c":{"string":"x"},  "CreatedDate":1733842936000, "Big":1736877279422521345}`, false},
		{"drop", filter, `{"Context__c":{"string":"drop"}}`, "", true},
		{"transform", `root.total = this.a + this.b`, `{"a":1,"b":2}`, `{"total":3}`, false},
		{"numbers compare", `root = if this.Order.TotalValue >= 100000 { this } else { deleted() }`, `{"Order":{"TotalValue":99999}}`, "", true},
		{"generate without input", `root = {"status": "up"}`, ``, `{"status":"up"}`, false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			m, err := Compile(c.src)
			require.NoError(t, err)
			out, deleted, err := m.Apply([]byte(c.in))
			require.NoError(t, err)
			assert.Equal(t, c.deleted, deleted)
			if !c.deleted {
				assert.Equal(t, c.want, string(out))
			}
		})
	}
}

func TestApplyMeta(t *testing.T) {
	meta := map[string]any{"subject": "/data/AccountChangeEvent", "changedfields": []any{"Name", "Industry"}}
	cases := []struct {
		name, src, in, want string
		deleted             bool
	}{
		{"filter on changed fields keeps bytes", `root = if this._herokuevents.changedfields.contains("Name") { this } else { deleted() }`,
			`{"Name": {"string":"Acme"}}`, `{"Name": {"string":"Acme"}}`, false},
		{"drop on changed fields", `root = if this._herokuevents.changedfields.contains("Phone") { this } else { deleted() }`,
			`{"Name":{"string":"Acme"}}`, "", true},
		{"meta never reaches the result", `root = this.without("Name")`, `{"Name":1,"Other":2}`, `{"Other":2}`, false},
		{"meta copied on purpose stays", `root.channel = this._herokuevents.subject`, `{"a":1}`, `{"channel":"/data/AccountChangeEvent"}`, false},
		{"a user field of that name wins", `root = this`, `{"_herokuevents":"mine"}`, `{"_herokuevents":"mine"}`, false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			m, err := Compile(c.src)
			require.NoError(t, err)
			out, deleted, err := m.ApplyMeta([]byte(c.in), meta)
			require.NoError(t, err)
			assert.Equal(t, c.deleted, deleted)
			if !c.deleted {
				assert.Equal(t, c.want, string(out))
			}
		})
	}
}

// doubling is a mapping of n lines, each doubling a string: 2^n times
// its start, through the + operator, which no builtin bound can see.
func doubling(start string, n int) string {
	return "let a = " + start + "\n" + strings.Repeat("let a = $a + $a\n", n) + "root = $a.length()"
}

// bombs are mappings that, unbounded, stall or exhaust the process.
var bombs = []struct{ name, src, limit string }{
	{"huge range at compile", `root = range(0, 100000000)`, "range of 100000000 elements exceeds the limit of 1048576 elements"},
	{"huge range mapped", `root = range(0,10000000).map_each(i -> i * 2)`, "range of 10000000 elements exceeds"},
	{"nested map_each", `root = range(0, 100000).map_each(i -> range(0, 100000).map_each(j -> j))`, "time limit of 100ms per event exceeded"},
	{"deep recursion", "map r {\n  root = this.apply(\"r\")\n}\nroot = this.apply(\"r\")", "recursion limit"},
	{"string doubling", doubling(`"xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"`, 40), "limit of"}, // time or memory, whichever first
	{"array doubling", "let a = range(0, 1000)\n" + strings.Repeat("let a = [$a, $a].flatten()\n", 40) + "root = $a.length()", "limit of"},
	{"huge repeat", `root = "x".repeat(1000000000)`, "repeat of 1 bytes 1000000000 times exceeds the limit of 8388608 bytes"},
	{"repeat of repeat", `root = "x".repeat(8000000).repeat(8000000)`, "exceeds the limit of 8388608 bytes"},
	{"regex growth", `root = "a".repeat(8000000).re_replace_all("a", "aaaaaaaa").re_replace_all("a", "aaaaaaaa").length()`, "limit"},
	{"output over the queue limit", `root = "x".repeat(2000000)`, "output of at least 2000002 bytes exceeds the limit of 1048576 bytes"},
}

// peakHeap samples the heap of this process until stop is called, and
// returns its peak then.
func peakHeap(t *testing.T) (stop func() uint64) {
	t.Helper()
	var peak atomic.Uint64
	done := make(chan struct{})
	finished := make(chan struct{})
	go func() {
		defer close(finished)
		s := []metrics.Sample{{Name: "/memory/classes/heap/objects:bytes"}}
		for {
			metrics.Read(s)
			if v := s[0].Value.Uint64(); v > peak.Load() {
				peak.Store(v)
			}
			select {
			case <-done:
				return
			case <-time.After(time.Millisecond):
			}
		}
	}()
	return func() uint64 { close(done); <-finished; return peak.Load() }
}

// TestBombsFailWithTheLimitNamed runs every bomb as a filter (on a
// document) and as a generator (no input): each fails quickly with
// ErrLimit naming the limit, this process's heap stays small, and the
// next mapping runs as usual.
// TestApplyAllMetaJSON: a job's MetaJSON is what the mapping sees at
// this._herokuevents, as its Meta would be.
func TestApplyAllMetaJSON(t *testing.T) {
	m, err := Compile(`root.channel = this._herokuevents.subject`)
	require.NoError(t, err)
	res := ApplyAll([]Job{
		{Mapping: m, Data: []byte(`{"a":1}`), MetaJSON: []byte(`{"id":"e1","subject":"/data/AccountChangeEvent"}`)},
		{Mapping: m, Data: []byte(`{"a":1}`), Meta: map[string]any{"subject": "/data/AccountChangeEvent"}},
	})
	for i, r := range res {
		require.NoError(t, r.Err, i)
		assert.JSONEq(t, `{"channel":"/data/AccountChangeEvent"}`, string(r.Out), i)
	}
}

func TestBombsFailWithTheLimitNamed(t *testing.T) {
	stop := peakHeap(t)
	for _, b := range bombs {
		for _, in := range []struct{ name, data string }{{"filter", `{"a":1}`}, {"generator", ""}} {
			t.Run(b.name+"/"+in.name, func(t *testing.T) {
				start := time.Now()
				m, err := Compile(b.src)
				if err == nil {
					_, _, err = m.Apply([]byte(in.data))
				}
				took := time.Since(start)
				require.ErrorIs(t, err, ErrLimit)
				assert.ErrorContains(t, err, b.limit)
				assert.Less(t, took, wallLimit(DefaultTime), "a limit is enforced promptly")
				ok, err := compileInWorker(`root = {"ok": true}`) // a worker runs after a bomb's
				require.NoError(t, err)
				out, _, err := ok.Apply(nil)
				require.NoError(t, err)
				assert.JSONEq(t, `{"ok":true}`, string(out))
			})
		}
	}
	peak := stop()
	t.Logf("peak heap of the test process: %d MiB", peak>>20)
	assert.Less(t, peak, uint64(64<<20), "the bombs ran in workers, not here")
}

// TestMemoryLimit gives a bomb all the time it wants: the worker's memory
// limit stops it.
func TestMemoryLimit(t *testing.T) {
	SetLimits(Limits{Time: 20 * time.Second, Memory: 64 << 20})
	t.Cleanup(func() { SetLimits(Limits{}) })
	for _, src := range []string{
		doubling(`"x".repeat(8000000)`, 10),
		"let a = range(0, 1000000)\n" + strings.Repeat("let a = [$a, $a].flatten()\n", 10) + "root = $a.length()",
	} {
		start := time.Now()
		m, err := Compile(src)
		require.NoError(t, err)
		_, _, err = m.Apply(nil)
		require.ErrorIs(t, err, ErrLimit)
		assert.ErrorContains(t, err, "memory limit of 64 MiB exceeded")
		assert.Less(t, time.Since(start), 15*time.Second)
	}
}

// TestBombDoesNotStallOthers: while one mapping runs to its time limit,
// others are answered.
func TestBombDoesNotStallOthers(t *testing.T) {
	SetLimits(Limits{Time: time.Second, Workers: 2})
	t.Cleanup(func() { SetLimits(Limits{}) })
	ok, err := Compile(`root.n = this.n + 1`)
	require.NoError(t, err)
	bomb, err := Compile(bombs[2].src)
	require.NoError(t, err)
	bombDone := make(chan error, 1)
	go func() { _, _, err := bomb.Apply(nil); bombDone <- err }()
	for i := range 20 {
		out, _, err := ok.Apply([]byte(`{"n":` + strconv.Itoa(i) + `}`))
		require.NoError(t, err)
		assert.JSONEq(t, `{"n":`+strconv.Itoa(i+1)+`}`, string(out))
	}
	select {
	case err := <-bombDone:
		t.Fatalf("the bomb ended before the others were answered: %v", err)
	default:
	}
	err = <-bombDone
	require.Error(t, err)
	assert.True(t, errors.Is(err, ErrLimit) || errors.Is(err, ErrUnavailable), "stopped by its time limit (or, on a host too busy to give it a core, the wall-clock backstop): %v", err)
}

func TestCheck(t *testing.T) {
	for _, c := range []struct {
		name, src string
		err       error
	}{
		{"fine", `root = this`, nil},
		{"fails on an empty document: allowed", `root = this.a.uppercase()`, nil},
		{"bomb", bombs[2].src, ErrLimit},
		{"compile bomb", bombs[0].src, ErrLimit},
		{"syntax", `root = this.`, ErrCompile},
	} {
		t.Run(c.name, func(t *testing.T) {
			_, err := Check(c.src, []byte(`{}`), map[string]any{"subject": "x"})
			if c.err == nil {
				require.NoError(t, err)
				return
			}
			require.ErrorIs(t, err, c.err)
		})
	}
}

// TestBusyHostDoesNotFailLightMappings: the time limit counts the
// worker's processor time, so a mapping waiting for a core on a saturated
// host is not failed (a wall-clock limit dead-lettered such events in the
// throughput benchmark).
func TestBusyHostDoesNotFailLightMappings(t *testing.T) {
	ok, err := Compile(`root = if this.n % 2 == 0 { this } else { deleted() }`)
	require.NoError(t, err)
	var stop atomic.Bool
	var hogs sync.WaitGroup
	for range 2 * runtime.NumCPU() {
		hogs.Go(func() {
			for n := 0; !stop.Load(); n++ { // keep a core busy
			}
		})
	}
	defer func() { stop.Store(true); hogs.Wait() }()
	for i := range 30 {
		_, _, err := ok.Apply([]byte(`{"n":` + strconv.Itoa(i) + `}`))
		require.NoError(t, err, "event %d", i)
	}
}

// TestApplyAllKeepsEachJobsOutcome: a batch of jobs of several mappings,
// bombs among them, runs in few requests, and each job gets the outcome it
// would get alone: the bombs fail with their limit (a time bomb stops its
// worker mid-batch, a runtime limit does not), every other job is answered
// in order, and the jobs after a bomb are run again on another worker.
func TestApplyAllKeepsEachJobsOutcome(t *testing.T) {
	inc, err := Compile(`root.n = this.n + 1`)
	require.NoError(t, err)
	drop, err := Compile(`root = if this.n % 2 == 0 { this } else { deleted() }`)
	require.NoError(t, err)
	timeBomb, err := Compile(bombs[2].src)
	require.NoError(t, err)
	outputBomb, err := Compile(bombs[9].src)
	require.NoError(t, err)
	failing, err := Compile(`root = this.missing.uppercase()`)
	require.NoError(t, err)
	doc := func(i int) []byte { return []byte(`{"n":` + strconv.Itoa(i) + `}`) }
	for _, c := range []struct {
		name  string
		bombs map[int]*Mapping // position → bomb
	}{
		{"no bomb", nil},
		{"time bomb first", map[int]*Mapping{0: timeBomb}},
		{"time bomb in the middle and last", map[int]*Mapping{7: timeBomb, 19: timeBomb}},
		{"output limit and run error", map[int]*Mapping{3: outputBomb, 4: failing}},
	} {
		t.Run(c.name, func(t *testing.T) {
			var jobs []Job
			for i := range 20 {
				m := inc
				if i%3 == 1 {
					m = drop
				}
				if b, ok := c.bombs[i]; ok {
					m = b
				}
				jobs = append(jobs, Job{Mapping: m, Data: doc(i), Meta: map[string]any{"subject": "/event/X__e"}})
			}
			res := ApplyAll(jobs)
			require.Len(t, res, len(jobs))
			for i, r := range res {
				switch b := c.bombs[i]; {
				case b == timeBomb:
					require.ErrorIs(t, r.Err, ErrLimit, "job %d", i)
					assert.ErrorContains(t, r.Err, "time limit of 100ms per event exceeded")
				case b == outputBomb:
					require.ErrorIs(t, r.Err, ErrLimit, "job %d", i)
					assert.ErrorContains(t, r.Err, "output of at least 2000002 bytes")
				case b == failing:
					require.Error(t, r.Err, "job %d", i)
					assert.NotErrorIs(t, r.Err, ErrLimit)
				case i%3 == 1 && i%2 == 1:
					require.NoError(t, r.Err, "job %d", i)
					assert.True(t, r.Deleted, "job %d", i)
				case i%3 == 1:
					require.NoError(t, r.Err, "job %d", i)
					assert.Equal(t, string(doc(i)), string(r.Out), "job %d: input bytes kept", i)
				default:
					require.NoError(t, r.Err, "job %d", i)
					assert.JSONEq(t, `{"n":`+strconv.Itoa(i+1)+`}`, string(r.Out), "job %d", i)
				}
			}
		})
	}
}

// TestApplyAllFindsTheJobThatKilledItsWorker: a job that kills its worker
// on the memory limit (the watchdog naming it, or the runtime's own fatal
// error on RLIMIT_DATA, which names nothing) fails alone, with its limit;
// the others of its batch pass.
func TestApplyAllFindsTheJobThatKilledItsWorker(t *testing.T) {
	SetLimits(Limits{Memory: 32 << 20, Time: 20 * time.Second})
	t.Cleanup(func() { SetLimits(Limits{}) })
	inc, err := Compile(`root.n = this.n + 1`)
	require.NoError(t, err)
	bomb, err := Compile(doubling(`"x".repeat(8000000)`, 10))
	require.NoError(t, err)
	var jobs []Job
	for i := range 8 {
		m := inc
		if i == 5 {
			m = bomb
		}
		jobs = append(jobs, Job{Mapping: m, Data: []byte(`{"n":` + strconv.Itoa(i) + `}`)})
	}
	for i, r := range ApplyAll(jobs) {
		if i == 5 {
			require.ErrorIs(t, r.Err, ErrLimit)
			assert.ErrorContains(t, r.Err, "memory limit of 32 MiB exceeded")
			continue
		}
		require.NoError(t, r.Err, "job %d", i)
		assert.JSONEq(t, `{"n":`+strconv.Itoa(i+1)+`}`, string(r.Out))
	}
}

// TestSlowBatchDoesNotHoldAWorker: a batch of slow evaluations hands its
// worker back once it used its quantum, so that another caller's event,
// waiting for the only worker, is answered before the batch ends.
func TestSlowBatchDoesNotHoldAWorker(t *testing.T) {
	SetLimits(Limits{Workers: 1, Time: 5 * time.Second})
	t.Cleanup(func() { SetLimits(Limits{}) })
	slow, err := Compile(`root = range(0, 20000).map_each(i -> i * 2).sum()`)
	require.NoError(t, err)
	fast, err := Compile(`root.n = this.n + 1`)
	require.NoError(t, err)
	jobs := make([]Job, 10)
	for i := range jobs {
		jobs[i] = Job{Mapping: slow}
	}
	batchDone := make(chan []Result, 1)
	go func() { batchDone <- ApplyAll(jobs) }()
	p := thePool()
	require.Eventually(t, func() bool { return len(p.idle) == 0 }, 5*time.Second, time.Millisecond, "the batch takes the worker")
	out, _, err := fast.Apply([]byte(`{"n":1}`))
	require.NoError(t, err)
	assert.JSONEq(t, `{"n":2}`, string(out))
	select {
	case <-batchDone:
		t.Fatal("the slow batch ended before the other caller was answered")
	default:
	}
	for i, r := range <-batchDone {
		require.NoError(t, r.Err, "job %d", i)
		assert.Equal(t, "399980000", string(r.Out))
	}
}

// TestSlowCompileWithinItsLimit: a compile may use CompileTime of
// processor time (parsing evaluates constant arguments), not the time of
// one event.
func TestSlowCompileWithinItsLimit(t *testing.T) {
	_, err := Compile(`root = range(0, 1048576)`)
	require.NoError(t, err)
}

// TestDefaultWorkers: one worker per processor the server may use, at
// least 2 and at most 8.
func TestDefaultWorkers(t *testing.T) {
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(0))
	for _, c := range []struct{ procs, want int }{{1, 2}, {2, 2}, {3, 3}, {8, 8}, {64, 8}} {
		runtime.GOMAXPROCS(c.procs)
		assert.Equal(t, c.want, DefaultWorkers(), "GOMAXPROCS=%d", c.procs)
		assert.Equal(t, c.want, Limits{}.withDefaults().Workers, "GOMAXPROCS=%d", c.procs)
	}
}

// TestWorkerNext: the goroutine of a request reads a worker's answers
// itself; a worker that does not answer in time is a deadline (the pool
// then discards it as too slow), one that died is another error (a
// crash), and a live one answers.
func TestWorkerNext(t *testing.T) {
	w, err := start(DefaultMemory)
	require.NoError(t, err)
	defer w.kill()
	require.NoError(t, w.send(&request{Op: opApply, CPU: int64(time.Second), Output: DefaultOutput,
		Srcs: []string{"root = this"}, Items: []item{{Data: []byte(`{"a":1}`)}}}))
	res, err := w.next(10 * time.Second)
	require.NoError(t, err)
	assert.True(t, res.Same, "root = this leaves the event as it was")

	require.NoError(t, w.proc.Signal(syscall.SIGSTOP)) // alive, silent
	require.NoError(t, w.send(&request{Op: opApply, CPU: int64(time.Second), Output: DefaultOutput,
		Srcs: []string{"root = this"}, Items: []item{{Data: []byte(`{}`)}}}))
	start := time.Now()
	_, err = w.next(100 * time.Millisecond)
	assert.ErrorIs(t, err, os.ErrDeadlineExceeded)
	assert.Less(t, time.Since(start), 5*time.Second)

	require.NoError(t, w.proc.Kill())
	_, err = w.next(10 * time.Second)
	require.Error(t, err)
	assert.NotErrorIs(t, err, os.ErrDeadlineExceeded, "a dead worker's output ends")
}

// TestTailKeepsTheFatalErrorAndTheLastWords: a worker's stderr keeps its
// beginning (a Go runtime's fatal error, printed before every goroutine's
// stack) and its end (the watchdog's line naming the item), however much
// comes between; short output is kept whole.
func TestTailKeepsTheFatalErrorAndTheLastWords(t *testing.T) {
	for _, c := range []struct {
		name   string
		writes []string
		has    []string
		hasNot []string
	}{
		{"short", []string{"a", "b"}, []string{"ab"}, []string{"…"}},
		{"fatal error then stacks", []string{"fatal error: runtime: out of memory\n", strings.Repeat("goroutine 1 [running]:\n", 2000), "last line"},
			[]string{"fatal error: runtime: out of memory", "…", "last line"}, nil},
		{"one long write", []string{"first " + strings.Repeat("x", 20<<10) + " (item 7): end"}, []string{"first ", "(item 7): end"}, nil},
	} {
		t.Run(c.name, func(t *testing.T) {
			var tl tail
			for _, w := range c.writes {
				n, err := tl.Write([]byte(w))
				require.NoError(t, err)
				require.Equal(t, len(w), n)
			}
			got := tl.String()
			assert.LessOrEqual(t, len(got), tailHead+tailKeep+8)
			for _, s := range c.has {
				assert.Contains(t, got, s)
			}
			for _, s := range c.hasNot {
				assert.NotContains(t, got, s)
			}
		})
	}
}
