package mapping

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"reflect"
	"runtime"
	"runtime/debug"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/redpanda-data/benthos/v4/public/bloblang"
)

// Environment of a worker process.
const (
	envWorker = "HEROKUEVENTS_MAPPING_WORKER"
	envMemory = "HEROKUEVENTS_MAPPING_MEMORY"
)

// Exit codes of a worker that stopped itself.
const (
	exitMemory = 3
	exitTime   = 4
)

// The lines a worker writes to stderr when its watchdog stops it, with
// itemWord and the index of the item it was evaluating.
const (
	itemWord       = "item "
	memoryExceeded = "mapping worker: memory limit exceeded"
	timeExceeded   = "mapping worker: time limit exceeded"
)

func init() {
	if os.Getenv(envWorker) != "1" {
		return
	}
	mem, _ := strconv.ParseInt(os.Getenv(envMemory), 10, 64)
	if mem <= 0 {
		mem = DefaultMemory
	}
	os.Exit(serve(os.Stdin, os.Stdout, mem))
}

// flushEvery is how long a worker keeps the answers of a batch before
// writing them: a batch of quick evaluations is answered in one write, and
// the answers of a long batch still reach the parent as they come. A batch
// may carry the events of several callers (the pool coalesces them), so
// the watchdog also writes what is buffered on each of its ticks, while an
// evaluation runs, and before it stops the worker on a limit: an answer
// never waits for a slow evaluation after it, nor dies with it.
const flushEvery = time.Millisecond

// quantum is the processor time after which a worker hands back the rest
// of a batch (kindSkipped) instead of starting its next item: a batch of
// quick evaluations is one request, and a tenant's batch of slow ones holds
// a worker no longer than the quantum plus one evaluation before its rest
// waits for a worker like anyone else's request.
const quantum = 10 * time.Millisecond

// answers is a worker's buffered output, shared by its loop and its
// watchdog.
type answers struct {
	mu sync.Mutex
	bw *bufio.Writer
}

func (a *answers) write(res *response) {
	a.mu.Lock()
	writeResponse(a.bw, res)
	a.mu.Unlock()
}

func (a *answers) flush() error {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.bw.Flush()
}

// flushIdle writes what is buffered unless the loop is writing (the
// watchdog never waits on a pipe the parent is slow to read).
func (a *answers) flushIdle() {
	if a.mu.TryLock() {
		_ = a.bw.Flush()
		a.mu.Unlock()
	}
}

// serve is a worker's life: bound itself, then answer requests until its
// input ends.
func serve(in io.Reader, out io.Writer, mem int64) int {
	bound(mem)
	var cpuAtStart atomic.Int64 // processor time at the item's start, -1 when idle
	var cpuLimit atomic.Int64
	var current atomic.Int64 // the item being evaluated, in its request
	cpuAtStart.Store(-1)
	started := make(chan struct{}, 1)
	ans := &answers{bw: bufio.NewWriterSize(out, 64<<10)}
	go watch(mem, &cpuAtStart, &cpuLimit, &current, started, ans)
	br := bufio.NewReaderSize(in, 64<<10)
	ans.write(&response{})
	if ans.flush() != nil {
		return 1
	}
	w := &evaluator{execs: map[string]*bloblang.Executor{}}
	begin := func(i int, now time.Duration) {
		current.Store(int64(i))
		cpuAtStart.Store(int64(now))
		if i == 0 {
			select {
			case started <- struct{}{}:
			default: // the watchdog is awake
			}
		}
	}
	for {
		req, err := readRequest(br)
		if errors.Is(err, io.EOF) {
			return 0 // the parent closed our input or is gone
		}
		if err != nil {
			return 1
		}
		cpuLimit.Store(req.CPU)
		if req.Op == opCompile {
			if len(req.Srcs) != 1 {
				return 1
			}
			start := cpuTime()
			begin(0, start)
			_, res := w.compile(req.Srcs[0])
			if res == nil {
				res = &response{}
			}
			res.CPU = cpuTime() - start
			ans.write(res)
		}
		flushed := time.Now()
		first := cpuTime()
		now := first
		for i := range req.Items {
			if i > 0 && time.Since(flushed) >= flushEvery {
				if ans.flush() != nil {
					return 1
				}
				flushed = time.Now()
			}
			if now-first > quantum {
				for range req.Items[i:] {
					ans.write(&response{Kind: kindSkipped})
				}
				break
			}
			begin(i, now)
			it := &req.Items[i]
			res := w.handle(req.Srcs[it.Src], it, req.Output)
			end := cpuTime()
			res.CPU = end - now
			now = end
			ans.write(res)
		}
		cpuAtStart.Store(-1)
		if ans.flush() != nil {
			return 1
		}
	}
}

// bound applies the memory limit to this process: a soft limit for the
// garbage collector, a capped stack, and (where the platform has it) a hard
// cap on the data segment.
func bound(mem int64) {
	yieldCPU()
	debug.SetMemoryLimit(mem * 3 / 4)
	debug.SetMaxStack(int(min(mem/2, 256<<20)))
	limitData(mem)
}

// watch stops the worker when its heap passes mem, or when a request has
// used more processor time than it may (its CPU limit): processor time, not
// wall time, so that a busy host does not fail a mapping that is merely
// waiting for a core.
// It sleeps while the worker is idle (started wakes it), and most requests
// end before its first check.
func watch(mem int64, cpuAtStart, cpuLimit, current *atomic.Int64, started <-chan struct{}, ans *answers) {
	var ms runtime.MemStats
	for range started {
		for {
			time.Sleep(5 * time.Millisecond)
			start := cpuAtStart.Load()
			if start < 0 {
				break // idle again
			}
			ans.flushIdle()
			runtime.ReadMemStats(&ms)
			if ms.HeapAlloc > uint64(mem) {
				ans.flushIdle()
				fmt.Fprintf(os.Stderr, "%s (%s%d): heap of %d bytes over %d\n", memoryExceeded, itemWord, current.Load(), ms.HeapAlloc, mem)
				os.Exit(exitMemory)
			}
			if used := int64(cpuTime()) - start; used > cpuLimit.Load() {
				ans.flushIdle()
				fmt.Fprintf(os.Stderr, "%s (%s%d): %s of processor time\n", timeExceeded, itemWord, current.Load(), time.Duration(used))
				os.Exit(exitTime)
			}
		}
	}
}

// cpuTime is the processor time (user and system) this process has used.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if syscall.Getrusage(syscall.RUSAGE_SELF, &ru) != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// evaluator compiles and runs mappings inside a worker.
type evaluator struct {
	execs map[string]*bloblang.Executor
}

func (w *evaluator) handle(src string, it *item, output int) *response {
	exec, res := w.compile(src)
	if res != nil {
		return res
	}
	return respond(exec, it, output)
}

// respond evaluates exec on it (run) and classifies the outcome: what a
// worker answers, and what a screened mapping gets in process.
func respond(exec *bloblang.Executor, it *item, output int) *response {
	out, deleted, same, err := run(exec, it.Data, it.Meta, output)
	switch {
	case err != nil && isLimitText(err.Error()):
		return &response{Kind: kindLimit, Err: trimLimit(err.Error())}
	case err != nil && strings.Contains(err.Error(), "exceeded maximum allowed stacks"):
		return &response{Kind: kindLimit, Err: "recursion limit: " + err.Error()}
	case err != nil:
		return &response{Kind: kindRun, Err: err.Error()}
	case len(out) > output:
		return &response{Kind: kindLimit, Err: fmt.Sprintf("output of %d bytes exceeds the limit of %d bytes", len(out), output)}
	}
	return &response{Out: out, Deleted: deleted, Same: same}
}

func (w *evaluator) compile(src string) (*bloblang.Executor, *response) {
	if exec, ok := w.execs[src]; ok {
		return exec, nil
	}
	exec, err := env().Parse(src)
	if err != nil {
		msg := err.Error()
		var pe *bloblang.ParseError
		if errors.As(err, &pe) {
			msg = strings.TrimSpace(pe.ErrorMultiline())
		}
		if isLimitText(msg) {
			return nil, &response{Kind: kindLimit, Err: trimLimit(msg)}
		}
		return nil, &response{Kind: kindCompile, Err: msg}
	}
	if len(w.execs) >= 1000 {
		clear(w.execs)
	}
	w.execs[src] = exec
	return exec, nil
}

// run applies exec to the JSON document data with meta (a JSON object or
// nil) at this._herokuevents. same reports a result equal to the input.
func run(exec *bloblang.Executor, data, meta []byte, limit int) (out []byte, deleted, same bool, err error) {
	var in any
	if len(bytes.TrimSpace(data)) > 0 {
		if in, err = decode(data); err != nil {
			return nil, false, false, fmt.Errorf("decode input: %w", err)
		}
	}
	obj, isObj := in.(map[string]any)
	_, userHasKey := obj[MetaKey]
	withMeta := isObj && meta != nil && !userHasKey
	if withMeta {
		m, err := decode(meta)
		if err != nil {
			return nil, false, false, fmt.Errorf("decode meta: %w", err)
		}
		obj[MetaKey] = m
	}
	res, err := exec.Query(in)
	if withMeta {
		delete(obj, MetaKey)
		if r, ok := res.(map[string]any); ok {
			delete(r, MetaKey)
		}
	}
	if errors.Is(err, bloblang.ErrRootDeleted) {
		return nil, true, false, nil
	}
	if err != nil {
		return nil, false, false, err
	}
	if in != nil && equal(res, in) {
		return nil, false, true, nil
	}
	if n := leastSize(res, limit); n > limit {
		return nil, false, false, limitf("output of at least %d bytes exceeds the limit of %d bytes", n, limit)
	}
	out, err = json.Marshal(res)
	if err != nil {
		return nil, false, false, fmt.Errorf("encode result: %w", err)
	}
	return out, false, false, nil
}

// equal is reflect.DeepEqual for the values decode makes (and Bloblang
// returns), without reflection on the common kinds: the pass-through test
// of every filter result.
func equal(a, b any) bool {
	switch x := a.(type) {
	case map[string]any:
		y, ok := b.(map[string]any)
		if !ok || len(x) != len(y) || (x == nil) != (y == nil) {
			return false
		}
		for k, v := range x {
			w, ok := y[k]
			if !ok || !equal(v, w) {
				return false
			}
		}
		return true
	case []any:
		y, ok := b.([]any)
		if !ok || len(x) != len(y) || (x == nil) != (y == nil) {
			return false
		}
		for i := range x {
			if !equal(x[i], y[i]) {
				return false
			}
		}
		return true
	case string:
		y, ok := b.(string)
		return ok && x == y
	case int64:
		y, ok := b.(int64)
		return ok && x == y
	case float64:
		y, ok := b.(float64)
		return ok && x == y
	case bool:
		y, ok := b.(bool)
		return ok && x == y
	case nil:
		return b == nil
	}
	return reflect.DeepEqual(a, b)
}

// leastSize is a lower bound of the JSON size of v, counted until it
// passes limit: results far too large are refused without encoding them.
func leastSize(v any, limit int) int {
	switch t := v.(type) {
	case string:
		return len(t) + 2
	case []byte:
		return len(t) * 4 / 3
	case []any:
		n := 2
		for _, e := range t {
			if n += leastSize(e, limit) + 1; n > limit {
				return n
			}
		}
		return n
	case map[string]any:
		n := 2
		for k, e := range t {
			if n += len(k) + 4 + leastSize(e, limit); n > limit {
				return n
			}
		}
		return n
	}
	return 1
}

// decode reads a mapping's input (an event's data, its meta) as Bloblang
// sees it (normalize): by decodeFast, or by encoding/json when that cannot.
func decode(data []byte) (any, error) {
	if v, ok := decodeFast(data); ok {
		return v, nil
	}
	return decodeStd(data)
}

// decodeStd is decode by encoding/json: the first value of data.
func decodeStd(data []byte) (any, error) {
	var v any
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	if err := dec.Decode(&v); err != nil {
		return nil, err
	}
	return normalize(v), nil
}

// normalize turns json.Number into int64 where exact, else float64, which
// Bloblang compares and computes with.
func normalize(v any) any {
	switch t := v.(type) {
	case map[string]any:
		for k, e := range t {
			t[k] = normalize(e)
		}
		return t
	case []any:
		for i, e := range t {
			t[i] = normalize(e)
		}
		return t
	case json.Number:
		if i, err := t.Int64(); err == nil {
			return i
		}
		if f, err := t.Float64(); err == nil && !math.IsInf(f, 0) {
			return f
		}
		return t.String()
	}
	return v
}
