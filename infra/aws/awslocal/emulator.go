package awslocal

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Emulator is one function binary running under aws-lambda-rie (the AWS
// Lambda runtime interface emulator) on loopback: the Lambda service for
// one function instance. Like one Lambda execution environment it runs one
// invocation at a time: Invoke serializes the callers. Its methods are safe
// for concurrent use.
type Emulator struct {
	// Addr is the invocation endpoint, 127.0.0.1:port.
	Addr string

	cmd    *exec.Cmd
	exited chan struct{}
	logs   *logBuffer
	mu     sync.Mutex // one invocation at a time
	once   sync.Once
	err    error
}

// EmulatorOptions configure StartEmulator.
type EmulatorOptions struct {
	// RIE is the path of aws-lambda-rie; default RIEPath().
	RIE string
	// Bootstrap is the function binary.
	Bootstrap string
	// Env is the whole environment of the emulator and the function
	// (nothing is inherited), "K=V" entries.
	Env []string
	// LogLevel is the emulator's own log level (default "warn"); "info"
	// adds the INIT REPORT lines with the init duration.
	LogLevel string
	// Log, when set, also receives the emulator's and function's output.
	Log io.Writer
}

// RIEPath returns .bin/aws-lambda-rie in the module root, installed pinned
// by scripts/setup-tools; $AWS_LAMBDA_RIE overrides it.
func RIEPath() (string, error) {
	const hint = "run scripts/setup-tools to install the pinned test tools"
	p := os.Getenv("AWS_LAMBDA_RIE")
	if p == "" {
		root, err := moduleRoot()
		if err != nil {
			return "", err
		}
		p = filepath.Join(root, ".bin", "aws-lambda-rie")
	}
	if _, err := os.Stat(p); err != nil {
		return "", fmt.Errorf("find aws-lambda-rie: %w (%s)", err, hint)
	}
	return p, nil
}

// StartEmulator starts the emulator on two free loopback ports (invocation
// and runtime API) and waits until it listens. The function's init runs on
// the first invocation, as a cold start does. The caller must Close it.
func StartEmulator(ctx context.Context, o EmulatorOptions) (*Emulator, error) {
	if o.RIE == "" {
		var err error
		if o.RIE, err = RIEPath(); err != nil {
			return nil, err
		}
	}
	if o.LogLevel == "" {
		o.LogLevel = "warn"
	}
	if _, err := os.Stat(o.Bootstrap); err != nil {
		return nil, fmt.Errorf("start emulator: %w", err)
	}
	var errs []error
	for range 3 { // a probed port can be taken before the emulator binds it
		e, err := startEmulator(ctx, o)
		if err == nil {
			return e, nil
		}
		errs = append(errs, err)
	}
	return nil, fmt.Errorf("start emulator for %s: %w", o.Bootstrap, errors.Join(errs...))
}

func startEmulator(ctx context.Context, o EmulatorOptions) (*Emulator, error) {
	invokeAddr, err := freeAddr()
	if err != nil {
		return nil, err
	}
	runtimeAddr, err := freeAddr()
	if err != nil {
		return nil, err
	}
	e := &Emulator{Addr: invokeAddr, exited: make(chan struct{}), logs: &logBuffer{}}
	var out io.Writer = e.logs
	if o.Log != nil {
		out = io.MultiWriter(e.logs, o.Log)
	}
	e.cmd = exec.Command(o.RIE,
		"--runtime-interface-emulator-address", invokeAddr,
		"--runtime-api-address", runtimeAddr,
		"--log-level", o.LogLevel,
		o.Bootstrap)
	e.cmd.Dir = filepath.Dir(o.Bootstrap) // /var/task on Lambda
	e.cmd.Env = o.Env
	e.cmd.Stdout, e.cmd.Stderr = out, out
	ownGroup(e.cmd)
	if err := e.cmd.Start(); err != nil {
		return nil, fmt.Errorf("run %s: %w", o.RIE, err)
	}
	go func() {
		_ = e.cmd.Wait()
		close(e.exited)
	}()
	deadline := time.Now().Add(15 * time.Second)
	for {
		c, err := net.DialTimeout("tcp", invokeAddr, 200*time.Millisecond)
		if err == nil {
			c.Close()
			if e.bound(invokeAddr, runtimeAddr) {
				return e, nil
			}
			// Another process took a probed port: the emulator dies on
			// its bind, and StartEmulator tries other ports.
		}
		select {
		case <-e.exited:
			return nil, fmt.Errorf("emulator exited early; output:\n%s", e.logs.String())
		case <-ctx.Done():
			_ = e.Close()
			return nil, ctx.Err()
		case <-time.After(20 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			_ = e.Close()
			return nil, fmt.Errorf("emulator not listening on %s after 15s; output:\n%s", invokeAddr, e.logs.String())
		}
	}
}

// bound reports whether the emulator itself listens on addrs, or cannot
// tell (see listens).
func (e *Emulator) bound(addrs ...string) bool {
	for _, a := range addrs {
		if owns, known := listens(e.cmd.Process.Pid, a); known && !owns {
			return false
		}
	}
	return true
}

// Result is the outcome of one invocation.
type Result struct {
	// Payload is the function's response (or error document).
	Payload []byte
	// FunctionError describes a failed invocation (function error, crash,
	// timeout) as Lambda would report it; "" on success.
	FunctionError string
	// Took is the wall time of the invocation seen by the caller.
	Took time.Duration
}

// Invoke runs one invocation with payload and returns its result. It waits
// for an invocation in progress to end first. The error is for failures to
// reach the emulator; function failures are in Result.FunctionError.
func (e *Emulator) Invoke(ctx context.Context, payload []byte) (Result, error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	select {
	case <-e.exited:
		return Result{}, fmt.Errorf("invoke %s: emulator has exited; output:\n%s", e.Addr, e.logs.String())
	default:
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost,
		"http://"+e.Addr+"/2015-03-31/functions/function/invocations", bytes.NewReader(payload))
	if err != nil {
		return Result{}, fmt.Errorf("invoke %s: %w", e.Addr, err)
	}
	req.Header.Set("Content-Type", "application/json")
	start := time.Now()
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return Result{}, fmt.Errorf("invoke %s: %w", e.Addr, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return Result{}, fmt.Errorf("invoke %s: read response: %w", e.Addr, err)
	}
	r := Result{Payload: body, Took: time.Since(start)}
	r.FunctionError = failure(resp.StatusCode, resp.Header.Get("X-Amz-Function-Error"), body)
	return r, nil
}

// failure describes why an invocation failed, "" when it did not.
func failure(status int, fnErr string, body []byte) string {
	if status < 200 || status > 299 {
		return fmt.Sprintf("emulator answered HTTP %d: %s", status, bytes.TrimSpace(body))
	}
	if fnErr != "" {
		return "function error " + fnErr + ": " + string(bytes.TrimSpace(body))
	}
	if bytes.HasPrefix(body, []byte("Task timed out")) {
		return string(body)
	}
	var doc struct {
		ErrorType    string `json:"errorType"`
		ErrorMessage string `json:"errorMessage"`
	}
	if json.Unmarshal(body, &doc) == nil && (doc.ErrorType != "" || doc.ErrorMessage != "") {
		return strings.TrimSpace(doc.ErrorType + ": " + doc.ErrorMessage)
	}
	return ""
}

// Logs returns the emulator's and function's output so far.
func (e *Emulator) Logs() string { return e.logs.String() }

var (
	initReport = regexp.MustCompile(`INIT REPORT\(durationMs: ([0-9.]+)\)`)
	report     = regexp.MustCompile(`REPORT RequestId: \S+\s+(?:Init Duration: ([0-9.]+) ms\s+)?Duration: ([0-9.]+) ms`)
)

// Reports returns the REPORT lines' durations so far, in order: the init
// duration (0 when the line has none) and the invocation duration. The
// emulator writes "Init Duration" on the first REPORT only.
func (e *Emulator) Reports() (inits, durations []time.Duration) {
	for _, m := range report.FindAllStringSubmatch(e.logs.String(), -1) {
		inits = append(inits, ms(m[1]))
		durations = append(durations, ms(m[2]))
	}
	return inits, durations
}

// InitReports returns the durations of the INIT REPORT lines so far (log
// level info): the time from the runtime's start to its first request for
// an event, which Lambda bills and reports as Init Duration.
func (e *Emulator) InitReports() []time.Duration {
	var out []time.Duration
	for _, m := range initReport.FindAllStringSubmatch(e.logs.String(), -1) {
		out = append(out, ms(m[1]))
	}
	return out
}

func ms(s string) time.Duration {
	f, err := strconv.ParseFloat(s, 64)
	if err != nil {
		return 0
	}
	return time.Duration(f * float64(time.Millisecond))
}

// Close stops the emulator and its function (SIGTERM to the process group,
// SIGKILL after 5s). Closing twice is fine.
func (e *Emulator) Close() error {
	e.once.Do(func() {
		select {
		case <-e.exited:
			return
		default:
		}
		terminate(e.cmd)
		select {
		case <-e.exited:
		case <-time.After(5 * time.Second):
			kill(e.cmd)
			select {
			case <-e.exited:
			case <-time.After(5 * time.Second):
				e.err = fmt.Errorf("stop emulator %s: still running", e.Addr)
			}
		}
	})
	return e.err
}

// freeAddr returns a loopback address whose port is free right now.
func freeAddr() (string, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", fmt.Errorf("find a free port: %w", err)
	}
	defer l.Close()
	return l.Addr().String(), nil
}

// logBuffer collects output from several writers.
type logBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *logBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *logBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}
