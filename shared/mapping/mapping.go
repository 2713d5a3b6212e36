// Package mapping runs user Bloblang (stream filters, transforms, generator
// mappings) in a pure, bounded environment: no env, file, hostname or other
// access to the host, and limits on time, memory and output per event. It is
// the only importer of Bloblang in herokuevents.
//
// # Bounds
//
// Bloblang cannot be interrupted (no context), and its operators (`+` on
// strings and arrays, literal building) allocate without any hook, so no
// check inside the interpreter can bound what a mapping does: a mapping of
// thirty lines `let b = $a + $a` needs 2^30 times its input. Mappings are
// therefore compiled and run out of process, by a small pool of worker
// processes (this same executable, started with HEROKUEVENTS_MAPPING_WORKER
// set; package init serves and exits before main runs). Each worker
// evaluates one event at a time with:
//
//   - a time limit per event (Limits.Time, 100 ms by default) on the
//     worker's processor time, which the worker checks every 5 ms and exits
//     past; processor time, not wall time, so that a saturated host does not
//     fail mappings that only wait for a core (a wall-clock limit
//     dead-lettered legitimate events in the throughput benchmark). The
//     parent kills a worker that has not answered within fifty times the
//     limit plus 5 s of wall time, and that request fails with
//     ErrUnavailable (retried, not dead-lettered);
//   - a memory limit (Limits.Memory, 128 MiB by default): RLIMIT_DATA
//     caps the worker's heap, a watchdog exits when the heap passes it, and
//     the Go stack is capped; the worker dies, not the server;
//   - an output limit (Limits.Output, 1 MiB by default): results larger
//     than the queue can carry are refused;
//   - GOMAXPROCS=1, so one mapping uses at most one core, and an
//     environment without the server's variables.
//
// Exceeding a limit fails that one call with an error wrapping ErrLimit
// that names the limit; the worker is replaced and other calls are not
// affected. range() and repeat() are bounded inside Bloblang too, so the
// usual bombs fail early with a precise message. Constant arguments are
// evaluated by Bloblang at compile time (range(0, 100000000) allocates while
// parsing), so compiling happens in a worker as well.
//
// # Screened mappings
//
// The one exception is a mapping whose cost is plainly bounded by its
// input: a single `root = …` of paths, literals, comparisons, boolean
// operators, if/else, deleted(), throw() and a few methods that each cost
// at most the size of their operands (screen.go). The typical stream
// filter is one. The server compiles and evaluates such a mapping itself,
// in an environment that holds only those calls, on inputs of up to 16 KiB,
// with the same decoding, result and output limit as a worker: 7–10 µs of
// processor time instead of a round trip of 14–57 µs.
package mapping

import (
	"encoding/json"
	"errors"
	"fmt"
	"runtime"
	"strings"
	"sync"
	"time"

	"github.com/redpanda-data/benthos/v4/public/bloblang"
)

// ErrCompile wraps every compile error; the message carries line and column.
var ErrCompile = errors.New("invalid Bloblang")

// ErrLimit wraps every error of a mapping that exceeded a limit (time,
// memory, output, range, repeat); the message names the limit.
var ErrLimit = errors.New("mapping limit exceeded")

// ErrUnavailable wraps the errors of a worker that could not be started or
// reached for reasons that are not the mapping's: worth retrying.
var ErrUnavailable = errors.New("mapping worker unavailable")

// MaxSource bounds the length of a mapping.
const MaxSource = 64 << 10

// Limits bound each evaluation.
type Limits struct {
	// Time is the processor time one event may take (DefaultTime when
	// zero).
	Time time.Duration
	// Memory is the heap a worker may use (DefaultMemory when zero).
	Memory int64
	// Output is the largest result, in bytes of JSON (DefaultOutput when
	// zero).
	Output int
	// Workers is the most worker processes (DefaultWorkers() when zero).
	Workers int
}

// Default limits.
const (
	DefaultTime   = 100 * time.Millisecond
	DefaultMemory = 128 << 20
	DefaultOutput = 1 << 20
	// CompileTime is the time a compile may take (parsing evaluates
	// constant arguments).
	CompileTime = 2 * time.Second
)

// DefaultWorkers is the most worker processes by default: one per
// processor the server may use (GOMAXPROCS), at least 2 and at most 8. A
// worker evaluates on one processor (GOMAXPROCS=1), so more workers than
// processors add no evaluation, only processes (about 20 MB each) and
// round trips carrying fewer events each: on 2 processors, 2 workers
// spent 17 % less processor time per event than 4 with 50 concurrent
// callers (BenchmarkApplyConcurrentCallers). Two at least, so that one
// tenant's costly batch (a worker's quantum) never holds every worker.
func DefaultWorkers() int { return min(max(runtime.GOMAXPROCS(0), 2), 8) }

func (l Limits) withDefaults() Limits {
	if l.Time <= 0 {
		l.Time = DefaultTime
	}
	if l.Memory <= 0 {
		l.Memory = DefaultMemory
	}
	if l.Output <= 0 {
		l.Output = DefaultOutput
	}
	if l.Workers <= 0 {
		l.Workers = DefaultWorkers()
	}
	return l
}

var (
	poolMu  sync.Mutex
	current *pool
)

// SetLimits replaces the limits of every later evaluation; call it at
// start, before mappings run. Workers of the old limits are stopped.
func SetLimits(l Limits) {
	poolMu.Lock()
	defer poolMu.Unlock()
	if current != nil {
		current.close()
	}
	current = newPool(l.withDefaults())
}

// CurrentLimits returns the limits in force.
func CurrentLimits() Limits { return thePool().limits }

func thePool() *pool {
	poolMu.Lock()
	defer poolMu.Unlock()
	if current == nil {
		current = newPool(Limits{}.withDefaults())
	}
	return current
}

// Mapping is a compiled Bloblang mapping. Safe for concurrent use.
type Mapping struct {
	src string
	// exec, when set, evaluates the mapping in process: it passed the
	// screen (screen.go).
	exec *bloblang.Executor
}

// Compile parses src in the pure environment: in process when it is
// plainly bounded (screen.go), else in a worker under the limits (time:
// CompileTime). Errors wrap ErrCompile, ErrLimit or ErrUnavailable.
func Compile(src string) (*Mapping, error) {
	if strings.TrimSpace(src) == "" {
		return nil, fmt.Errorf("%w: mapping is empty", ErrCompile)
	}
	if len(src) > MaxSource {
		return nil, fmt.Errorf("%w: mapping is longer than %d bytes", ErrCompile, MaxSource)
	}
	if exec := compileScreened(src); exec != nil {
		return &Mapping{src: src, exec: exec}, nil
	}
	return compileInWorker(src)
}

// compileInWorker is Compile in a worker, whatever src is.
func compileInWorker(src string) (*Mapping, error) {
	var got *response
	_, fail := thePool().round(&request{Op: opCompile, CPU: int64(CompileTime), Srcs: []string{src}}, 1, CompileTime,
		func(_ int, r *response) { got = r })
	if fail != nil {
		return nil, fail.err
	}
	if err := got.err(); err != nil {
		return nil, err
	}
	return &Mapping{src: src}, nil
}

// Check compiles src and test-runs it once on data (nil: no input) with
// meta, under the limits: what a create request does so that a mapping
// which can only exceed a limit is refused at once. Only compile errors and
// limits fail it (a filter may well fail on an empty document); use Apply
// to see other errors.
func Check(src string, data []byte, meta map[string]any) (*Mapping, error) {
	m, err := Compile(src)
	if err != nil {
		return nil, err
	}
	if _, _, err := m.ApplyMeta(data, meta); errors.Is(err, ErrLimit) || errors.Is(err, ErrUnavailable) {
		return nil, err
	}
	return m, nil
}

// Source returns the mapping text.
func (m *Mapping) Source() string { return m.src }

// MetaKey is the root field under which ApplyMeta shows a filter the
// event's attributes (this._herokuevents.subject, .changedfields, …). It is
// removed from the result, so it never reaches a publication.
const MetaKey = "_herokuevents"

// ApplyMeta is Apply with meta visible to the mapping at this._herokuevents
// when the document is a JSON object. The key is removed from the result.
func (m *Mapping) ApplyMeta(data []byte, meta map[string]any) (out []byte, deleted bool, err error) {
	r := ApplyAll([]Job{{Mapping: m, Data: data, Meta: meta}})[0]
	return r.Out, r.Deleted, r.Err
}

// Apply runs the mapping on a JSON document, under the limits. It returns
// the resulting JSON, or deleted = true when the mapping yields deleted().
// When the mapping leaves the document unchanged, the input bytes are
// returned as they were. Errors of a mapping that exceeded a limit wrap
// ErrLimit; ErrUnavailable means no worker could run it (worth retrying).
func (m *Mapping) Apply(data []byte) (out []byte, deleted bool, err error) {
	return m.ApplyMeta(data, nil)
}

// Job is one evaluation of ApplyAll: Mapping on Data, with Meta at
// this._herokuevents (as ApplyMeta).
type Job struct {
	Mapping *Mapping
	Data    []byte
	Meta    map[string]any
	// MetaJSON, when set, is Meta as encoding/json writes it, and is
	// used instead of Meta (event.MetaJSON).
	MetaJSON []byte
	// Tenant, when set, is whose event this is: the workers are shared
	// fairly between tenants, by processor time, whatever the calls that
	// carry their jobs. Jobs without a tenant share as their call's own.
	Tenant string
}

// Result answers a Job, as ApplyMeta would.
type Result struct {
	Out     []byte
	Deleted bool
	Err     error
}

// ApplyAll runs every job as ApplyMeta would, each under the limits of one
// event, in as few round trips to the workers as it can (one per batch of
// up to 256 jobs, not one per job): the way to evaluate a queue batch.
// The jobs of concurrent calls share round trips too (whatever waits when
// a worker is free goes in its next request), so many callers of one job
// each cost about as little as one caller of many. results[i] answers
// jobs[i]; a job's failure, a limit included, is its own and never fails
// another job, nor another call's.
func ApplyAll(jobs []Job) []Result {
	out := make([]Result, len(jobs))
	var (
		srcs    []string
		index   map[*Mapping]int
		items   []item
		tenants []string
		at      []int // items[k] answers jobs[at[k]]
		output  int
	)
	for i, j := range jobs {
		mb := j.MetaJSON
		if mb == nil && len(j.Meta) > 0 {
			var err error
			if mb, err = json.Marshal(j.Meta); err != nil {
				out[i].Err = fmt.Errorf("encode meta: %w", err)
				continue
			}
		}
		if j.Mapping.exec != nil {
			if output == 0 {
				output = CurrentLimits().Output
			}
			if r, ok := evalScreened(j.Mapping.exec, &item{Data: j.Data, Meta: mb}, output); ok {
				out[i] = result{res: r}.of(j)
				continue
			}
		}
		if index == nil {
			index = map[*Mapping]int{}
			items = make([]item, 0, len(jobs)-i)
			tenants = make([]string, 0, len(jobs)-i)
			at = make([]int, 0, len(jobs)-i)
		}
		k, ok := index[j.Mapping]
		if !ok {
			k = len(srcs)
			srcs = append(srcs, j.Mapping.src)
			index[j.Mapping] = k
		}
		items = append(items, item{Src: k, Data: j.Data, Meta: mb})
		tenants = append(tenants, j.Tenant)
		at = append(at, i)
	}
	if len(items) == 0 {
		return out
	}
	for k, r := range thePool().apply(srcs, items, tenants) {
		out[at[k]] = r.of(jobs[at[k]])
	}
	return out
}

// of is the Result of job j that r answers.
func (r result) of(j Job) Result {
	switch {
	case r.err != nil:
		return Result{Err: r.err}
	case r.res.err() != nil:
		return Result{Err: r.res.err()}
	case r.res.Deleted:
		return Result{Deleted: true}
	case r.res.Same:
		return Result{Out: j.Data}
	}
	return Result{Out: r.res.Out}
}

// Cache compiles each distinct source once. Safe for concurrent use.
type Cache struct {
	mu sync.Mutex
	m  map[string]*Mapping
}

// Get returns the compiled mapping of src, compiling it on first use.
func (c *Cache) Get(src string) (*Mapping, error) {
	c.mu.Lock()
	m, ok := c.m[src]
	c.mu.Unlock()
	if ok {
		return m, nil
	}
	m, err := Compile(src)
	if err != nil {
		return nil, err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.m == nil {
		c.m = map[string]*Mapping{}
	}
	if len(c.m) > 10000 {
		clear(c.m)
	}
	c.m[src] = m
	return m, nil
}

// limitf is an error of a limit, raised inside a worker.
func limitf(format string, a ...any) error {
	return fmt.Errorf("%w: "+format, append([]any{ErrLimit}, a...)...)
}

// trimLimit drops what Bloblang wraps around a limit error raised inside a
// builtin, keeping the position ("failed assignment (line 1): ").
func trimLimit(s string) string {
	return strings.Replace(s, ErrLimit.Error()+": ", "", 1)
}

// isLimitText reports whether an error text from Bloblang carries a limit
// error of a builtin (Bloblang keeps only the text of plugin errors).
func isLimitText(s string) bool { return strings.Contains(s, ErrLimit.Error()+": ") }
