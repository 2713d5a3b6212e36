package mapping

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// startTimeout bounds a worker's start (exec and runtime init).
const startTimeout = 30 * time.Second

// pool runs requests on worker processes, one request per worker at a time.
type pool struct {
	limits Limits
	idle   chan *worker
	slots  chan struct{} // one token per live worker

	mu     sync.Mutex
	closed bool
	q      sched // the items waiting for a worker (fair.go)

	rounds atomic.Int64 // apply requests sent, for tests
	// onBatch, when set (tests), sees each request's items before it is
	// sent.
	onBatch func([]*task)
}

func newPool(l Limits) *pool {
	return &pool{limits: l, idle: make(chan *worker, l.Workers), slots: make(chan struct{}, l.Workers)}
}

// Bounds of one request: a longer batch is sent in several.
const (
	maxBatch      = 256
	maxBatchBytes = 8 << 20
)

// result answers one item: a response, or the error of the worker that
// died on it (ErrLimit) or could not run it (ErrUnavailable).
type result struct {
	res *response
	err error
}

// apply evaluates items (of the mappings srcs; tenants[i] is the tenant
// of items[i], "" when unknown) on workers, each under the pool's limit of
// processor time, and returns their results. The items join the pool's
// queue, and every request takes all that waits there (fair.go): the
// items of concurrent calls share round trips. An item that stops its
// worker fails alone with the limit it hit; the others of its request are
// run again on another worker (the worker names the item its watchdog
// stopped on; when it cannot, the rest of the request runs one item per
// request, so that the item at fault is found and only it fails).
func (p *pool) apply(srcs []string, items []item, tenants []string) []result {
	c := &call{srcs: srcs, items: items, tenants: tenants, out: make([]result, len(items)), left: len(items), done: make(chan struct{})}
	if len(items) == 0 {
		return c.out
	}
	tasks := make([]task, len(items))
	p.mu.Lock()
	for i := range tasks {
		tasks[i] = task{c: c, i: i}
		p.q.push(&tasks[i])
	}
	run := p.q.runners < p.limits.Workers
	if run {
		p.q.runners++
	}
	p.mu.Unlock()
	if run {
		p.run(c)
	}
	<-c.done
	return c.out
}

// run sends requests, each of everything waiting, until nothing waits or,
// when mine is set, mine is answered (then another goroutine carries on if
// items still wait: a caller is never kept for others' items).
func (p *pool) run(mine *call) {
	for {
		p.mu.Lock()
		if mine != nil && mine.left == 0 && !p.q.idle() {
			p.mu.Unlock()
			go p.run(nil)
			return
		}
		batch := p.q.take()
		if batch == nil {
			p.q.runners--
			p.mu.Unlock()
			return
		}
		p.mu.Unlock()
		p.send(batch)
	}
}

// send runs one request of batch and settles each item: answered, handed
// back (queued again), failed, or suspect.
func (p *pool) send(batch []*task) {
	limit := p.limits.Time
	req := &request{Op: opApply, CPU: int64(limit), Output: p.limits.Output, Items: make([]item, len(batch))}
	index := make(map[string]int, 1)
	for j, t := range batch {
		it := t.c.items[t.i]
		src := t.c.srcs[it.Src]
		k, ok := index[src]
		if !ok {
			k = len(req.Srcs)
			req.Srcs = append(req.Srcs, src)
			index[src] = k
		}
		it.Src = k
		req.Items[j] = it
	}
	if p.onBatch != nil {
		p.onBatch(batch)
	}
	var back []*task // handed back (the worker's quantum was used)
	answered, fail := p.round(req, len(batch), limit, func(j int, r *response) {
		if r.Kind == kindSkipped {
			back = append(back, batch[j])
			return
		}
		p.mu.Lock()
		p.q.answer(batch[j], result{res: r}, r.CPU)
		p.mu.Unlock()
	})
	p.rounds.Add(1)
	rest := batch[answered:]
	p.mu.Lock()
	defer p.mu.Unlock()
	switch {
	case fail == nil:
	case fail.unavailable:
		for _, t := range rest {
			p.q.answer(t, result{err: fail.err}, 0)
		}
	case fail.item >= answered && fail.item < len(batch):
		bad := batch[fail.item]
		p.q.answer(bad, result{err: fail.err}, limit)
		back = append(back, slices.DeleteFunc(slices.Clone(rest), func(t *task) bool { return t == bad })...)
	case len(rest) == 1:
		p.q.answer(rest[0], result{err: fail.err}, limit)
	default:
		p.q.suspect(rest)
	}
	p.q.giveBack(back)
}

// failure is why a round ended before its last answer.
type failure struct {
	err error
	// item is the index, in the request, of the item the worker died on
	// (-1: unknown).
	item int
	// unavailable: no worker could run the request (ErrUnavailable), not
	// an item's fault.
	unavailable bool
}

// round sends req to a worker and hands each of its answers (want of
// them) to answer, with its index in the request, as it arrives; it
// returns how many arrived. Each item may use limit of processor time (the
// worker stops itself past it: ErrLimit, time). A worker that dies while
// answering is reported as the limit it hit (ErrLimit). The wall clock
// only backs this up (wallLimit, between two answers): a worker that has
// not answered by then is killed and the rest fails with ErrUnavailable
// (the host is too busy, not the mapping at fault, as its processor time
// was within its limit). Errors starting or reaching a worker are
// ErrUnavailable.
func (p *pool) round(req *request, want int, limit time.Duration, answer func(int, *response)) (int, *failure) {
	for try := 0; ; try++ {
		w, err := p.get()
		if err != nil {
			return 0, &failure{err: err, item: -1, unavailable: true}
		}
		if err := w.send(req); err != nil {
			// Gone while idle: not this request's doing.
			p.discard(w, "send failed: "+err.Error())
			if try < 2 {
				continue
			}
			return 0, &failure{err: fmt.Errorf("%w: %v", ErrUnavailable, err), item: -1, unavailable: true}
		}
		got := 0
		wall := wallLimit(limit)
		for got < want {
			res, err := w.next(wall)
			switch {
			case errors.Is(err, os.ErrDeadlineExceeded):
				reason := fmt.Sprintf("no answer within %s of wall time (the host is too busy)", wall)
				p.discard(w, reason)
				return got, &failure{err: fmt.Errorf("%w: %s", ErrUnavailable, reason), item: -1, unavailable: true}
			case err != nil:
				reason, item := w.crash(p.limits.Memory, limit)
				p.discard(w, reason)
				return got, &failure{err: fmt.Errorf("%w: %s", ErrLimit, reason), item: item}
			}
			answer(got, res)
			got++
		}
		p.put(w)
		return got, nil
	}
}

// wallLimit is how long the parent waits for a request that may use limit
// of processor time.
func wallLimit(limit time.Duration) time.Duration { return 50*limit + 5*time.Second }

// get returns an idle worker, starting one when fewer than Workers live,
// else waits for one (each busy worker answers or is killed within its
// request's limit).
func (p *pool) get() (*worker, error) {
	select {
	case w := <-p.idle:
		return w, nil
	default:
	}
	select {
	case w := <-p.idle:
		return w, nil
	case p.slots <- struct{}{}:
		w, err := start(p.limits.Memory)
		if err != nil {
			<-p.slots
			slog.Error("mapping worker start failed", "err", err)
			return nil, fmt.Errorf("%w: %v", ErrUnavailable, err)
		}
		return w, nil
	}
}

func (p *pool) put(w *worker) {
	p.mu.Lock()
	closed := p.closed
	p.mu.Unlock()
	if closed {
		p.discard(w, "")
		return
	}
	p.idle <- w
}

// discard stops w and frees its slot; reason, when set, is logged.
func (p *pool) discard(w *worker, reason string) {
	w.kill()
	<-p.slots
	if reason != "" {
		slog.Warn("mapping worker stopped", "pid", w.pid(), "reason", reason)
	}
}

// close stops the idle workers; busy ones stop when they are put back.
func (p *pool) close() {
	p.mu.Lock()
	p.closed = true
	p.mu.Unlock()
	for {
		select {
		case w := <-p.idle:
			p.discard(w, "")
		default:
			return
		}
	}
}

// worker is one worker process. The goroutine that sent it a request
// reads the answers itself (next): no goroutine stands between the pipe
// and the caller.
type worker struct {
	proc    *os.Process
	stdin   *os.File
	bw      *bufio.Writer
	stdout  *os.File // the answers
	br      *bufio.Reader
	stderr  *tail
	errDone chan struct{} // closed when the worker's stderr ends
	exited  chan struct{} // closed once the process is reaped; state is set then
	state   *os.ProcessState
	once    sync.Once
}

// start runs this executable as a worker with a memory limit of mem bytes
// and waits until it is ready.
func start(mem int64) (*worker, error) {
	exe, err := os.Executable()
	if err != nil {
		return nil, fmt.Errorf("find executable: %w", err)
	}
	var fds [6]*os.File // stdin r/w, stdout r/w, stderr r/w
	for i := 0; i < len(fds); i += 2 {
		if fds[i], fds[i+1], err = os.Pipe(); err != nil {
			for _, f := range fds[:i] {
				f.Close()
			}
			return nil, fmt.Errorf("start mapping worker: %w", err)
		}
	}
	proc, err := os.StartProcess(exe, []string{exe}, &os.ProcAttr{
		Env:   workerEnv(mem),
		Files: []*os.File{fds[0], fds[3], fds[5]},
		Sys:   workerAttr(),
	})
	fds[0].Close()
	fds[3].Close()
	fds[5].Close()
	if err != nil {
		fds[1].Close()
		fds[2].Close()
		fds[4].Close()
		return nil, fmt.Errorf("start mapping worker: %w", err)
	}
	w := &worker{proc: proc, stdin: fds[1], stdout: fds[2], stderr: &tail{},
		errDone: make(chan struct{}), exited: make(chan struct{})}
	w.bw = bufio.NewWriterSize(w.stdin, 64<<10)
	w.br = bufio.NewReaderSize(w.stdout, 64<<10)
	go func() {
		defer close(w.errDone)
		_, _ = io.Copy(w.stderr, fds[4])
		fds[4].Close()
	}()
	switch _, err := w.next(startTimeout); {
	case errors.Is(err, os.ErrDeadlineExceeded):
		w.kill()
		return nil, fmt.Errorf("mapping worker not ready after %s", startTimeout)
	case err != nil:
		_, _ = w.crash(mem, 0)
		return nil, fmt.Errorf("mapping worker exited at start: %s", w.stderr.String())
	}
	return w, nil
}

// workerEnv is a worker's whole environment: none of the server's
// variables (secrets among them) reach it.
func workerEnv(mem int64) []string {
	env := []string{envWorker + "=1", envMemory + "=" + strconv.FormatInt(mem, 10), "GOMAXPROCS=1", "GOTRACEBACK=none"}
	for _, k := range []string{"GOCOVERDIR", "GORACE", "TMPDIR"} {
		if v, ok := os.LookupEnv(k); ok {
			env = append(env, k+"="+v)
		}
	}
	return env
}

// next reads the worker's next answer, waiting for it at most wait
// (os.ErrDeadlineExceeded then). Any other error means that the worker's
// output ended or made no sense: it is dead, or to be killed.
func (w *worker) next(wait time.Duration) (*response, error) {
	if err := w.stdout.SetReadDeadline(time.Now().Add(wait)); err != nil {
		return nil, err
	}
	return readResponse(w.br)
}

func (w *worker) send(req *request) error {
	writeRequest(w.bw, req)
	return w.bw.Flush()
}

// reap closes the worker's input and waits for its exit in the background,
// killing it first when kill is set. Only the first call acts.
func (w *worker) reap(kill bool) {
	w.once.Do(func() {
		_ = w.stdin.Close()
		_ = w.stdout.Close()
		if kill {
			_ = w.proc.Kill()
		}
		go func() {
			st, _ := w.proc.Wait()
			w.state = st
			close(w.exited)
		}()
	})
}

// kill stops the process and reaps it in the background.
func (w *worker) kill() { w.reap(true) }

func (w *worker) pid() int { return w.proc.Pid }

// crash names the limit a worker that died during a request hit, from
// its exit and its last words, and the item it was evaluating when its
// watchdog named it (-1 otherwise).
func (w *worker) crash(mem int64, limit time.Duration) (string, int) {
	w.reap(false)
	select {
	case <-w.exited:
	case <-time.After(2 * time.Second):
		_ = w.proc.Kill()
		<-w.exited
	}
	select {
	case <-w.errDone:
	case <-time.After(time.Second):
	}
	said := w.stderr.String()
	item := -1
	if _, after, ok := strings.Cut(said, "("+itemWord); ok {
		if n, err := strconv.Atoi(after[:max(strings.IndexByte(after, ')'), 0)]); err == nil {
			item = n
		}
	}
	switch {
	case strings.Contains(said, timeExceeded):
		return fmt.Sprintf("time limit of %s per event exceeded (processor time)", limit), item
	case strings.Contains(said, memoryExceeded), strings.Contains(said, "out of memory"),
		strings.Contains(said, "cannot allocate memory"):
		return fmt.Sprintf("memory limit of %d MiB exceeded", mem>>20), item
	case strings.Contains(said, "stack overflow"), strings.Contains(said, "stack exceeds"):
		return fmt.Sprintf("stack limit of %d MiB exceeded (recursion too deep)", min(mem/2, 256<<20)>>20), item
	}
	state := "killed"
	if w.state != nil {
		state = w.state.String()
	}
	return "the mapping stopped its worker (" + state + ")", item
}

// tail keeps the first 1 KiB and the last 4 KiB written to it: a
// worker's last words are at its end (the watchdog's line), except a Go
// runtime's fatal error ("fatal error: runtime: out of memory"), which
// comes first and is followed by every goroutine's stack, whatever
// GOTRACEBACK says.
type tail struct {
	mu   sync.Mutex
	head []byte
	buf  []byte
	cut  bool // bytes between head and buf were dropped
}

const (
	tailHead = 1 << 10
	tailKeep = 4 << 10
)

func (t *tail) Write(p []byte) (int, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	n := len(p)
	if room := tailHead - len(t.head); room > 0 {
		k := min(room, len(p))
		t.head = append(t.head, p[:k]...)
		p = p[k:]
	}
	t.buf = append(t.buf, p...)
	if over := len(t.buf) - tailKeep; over > 0 {
		t.buf = append(t.buf[:0], t.buf[over:]...)
		t.cut = true
	}
	return n, nil
}

func (t *tail) String() string {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.cut {
		return string(t.head) + "\n…\n" + string(t.buf)
	}
	return string(t.head) + string(t.buf)
}
