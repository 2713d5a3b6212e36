package mapping

import (
	"bufio"
	"encoding/gob"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strconv"
	"strings"
	"sync"
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
}

func newPool(l Limits) *pool {
	return &pool{limits: l, idle: make(chan *worker, l.Workers), slots: make(chan struct{}, l.Workers)}
}

// do sends req to a worker, which may use limit of processor time on it
// (the worker stops itself past it: ErrLimit, time). One that dies while
// answering is reported as the limit it hit (ErrLimit). The wall clock
// only backs this up (wallLimit): a worker that has not answered by then is
// killed and the request fails with ErrUnavailable (the host is too busy,
// not the mapping at fault, as its processor time was within its limit).
// Errors starting or reaching a worker wrap ErrUnavailable.
func (p *pool) do(req *request, limit time.Duration) (*response, error) {
	req.CPU = int64(limit)
	for try := 0; ; try++ {
		w, err := p.get()
		if err != nil {
			return nil, err
		}
		if err := w.send(req); err != nil {
			// Gone while idle: not this request's doing.
			p.discard(w, "send failed: "+err.Error())
			if try < 2 {
				continue
			}
			return nil, fmt.Errorf("%w: %v", ErrUnavailable, err)
		}
		wall := wallLimit(limit)
		t := time.NewTimer(wall)
		select {
		case res, ok := <-w.out:
			t.Stop()
			if !ok {
				reason := w.crash(p.limits.Memory, limit)
				p.discard(w, reason)
				return nil, fmt.Errorf("%w: %s", ErrLimit, reason)
			}
			p.put(w)
			return res, nil
		case <-t.C:
			reason := fmt.Sprintf("no answer within %s of wall time (the host is too busy)", wall)
			p.discard(w, reason)
			return nil, fmt.Errorf("%w: %s", ErrUnavailable, reason)
		}
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

// worker is one worker process.
type worker struct {
	proc    *os.Process
	stdin   *os.File
	bw      *bufio.Writer
	enc     *gob.Encoder
	out     chan *response // closed when the worker's output ends
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
	w := &worker{proc: proc, stdin: fds[1], out: make(chan *response, 1), stderr: &tail{},
		errDone: make(chan struct{}), exited: make(chan struct{})}
	w.bw = bufio.NewWriterSize(w.stdin, 64<<10)
	w.enc = gob.NewEncoder(w.bw)
	go w.read(fds[2])
	go func() {
		defer close(w.errDone)
		_, _ = io.Copy(w.stderr, fds[4])
		fds[4].Close()
	}()
	t := time.NewTimer(startTimeout)
	defer t.Stop()
	select {
	case _, ok := <-w.out:
		if ok {
			return w, nil
		}
		w.crash(mem, 0)
		return nil, fmt.Errorf("mapping worker exited at start: %s", w.stderr.String())
	case <-t.C:
		w.kill()
		return nil, fmt.Errorf("mapping worker not ready after %s", startTimeout)
	}
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

func (w *worker) read(r *os.File) {
	defer close(w.out)
	defer r.Close()
	dec := gob.NewDecoder(bufio.NewReaderSize(r, 64<<10))
	for {
		var res response
		if err := dec.Decode(&res); err != nil {
			return
		}
		w.out <- &res
	}
}

func (w *worker) send(req *request) error {
	if err := w.enc.Encode(req); err != nil {
		return err
	}
	return w.bw.Flush()
}

// reap closes the worker's input and waits for its exit in the background,
// killing it first when kill is set. Only the first call acts.
func (w *worker) reap(kill bool) {
	w.once.Do(func() {
		_ = w.stdin.Close()
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
// its exit and its last words.
func (w *worker) crash(mem int64, limit time.Duration) string {
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
	switch {
	case strings.Contains(said, timeExceeded):
		return fmt.Sprintf("time limit of %s per event exceeded (processor time)", limit)
	case strings.Contains(said, memoryExceeded), strings.Contains(said, "out of memory"),
		strings.Contains(said, "cannot allocate memory"):
		return fmt.Sprintf("memory limit of %d MiB exceeded", mem>>20)
	case strings.Contains(said, "stack overflow"), strings.Contains(said, "stack exceeds"):
		return fmt.Sprintf("stack limit of %d MiB exceeded (recursion too deep)", min(mem/2, 256<<20)>>20)
	}
	state := "killed"
	if w.state != nil {
		state = w.state.String()
	}
	return "the mapping stopped its worker (" + state + ")"
}

// tail keeps the last 4 KiB written to it.
type tail struct {
	mu  sync.Mutex
	buf []byte
}

func (t *tail) Write(p []byte) (int, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.buf = append(t.buf, p...)
	if over := len(t.buf) - 4<<10; over > 0 {
		t.buf = append(t.buf[:0], t.buf[over:]...)
	}
	return len(p), nil
}

func (t *tail) String() string {
	t.mu.Lock()
	defer t.mu.Unlock()
	return string(t.buf)
}
