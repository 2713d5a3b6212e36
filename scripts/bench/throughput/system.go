package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log"
	"log/slog"
	"net/http"
	"net/netip"
	"net/url"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"runtime/debug"
	"runtime/pprof"
	"runtime/trace"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/herokuevents/herokuevents/infra/embedded"
	journallog "github.com/herokuevents/herokuevents/shared/journal"
)

// The systems under test run as child processes of this program (the
// same binary, BENCH_ROLE set; Benthos built in a scratch directory), so
// that the CPU time and memory of each are its own, apart from the load
// driver and the sink.
const roleEnv = "BENCH_ROLE"

// child runs the role named by BENCH_ROLE and reports whether it did.
func child() bool {
	switch os.Getenv(roleEnv) {
	case "relay":
		serveRelay()
	case "serve":
		serveEmbedded()
	default:
		return false
	}
	return true
}

// serveRelay is the ceiling: POST in → synchronous POST of the same body
// to BENCH_SINK → 202. It prints its address on stdout.
func serveRelay() {
	sinkURL := os.Getenv("BENCH_SINK")
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 1024}}
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		res, err := client.Post(sinkURL+r.URL.Path, "application/json", bytes.NewReader(b))
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadGateway)
			return
		}
		_, _ = io.Copy(io.Discard, res.Body)
		res.Body.Close()
		w.WriteHeader(http.StatusAccepted)
	})}
	ln := listen()
	go func() { _ = srv.Serve(ln) }()
	fmt.Printf("{\"addr\":%q}\n", ln.Addr().String())
	waitSignal()
}

// serveEmbedded runs herokuevents embedded (delivery log on unless
// BENCH_JOURNAL=off) in BENCH_DIR and prints the app's config vars as one
// JSON line. BENCH_CPUPROFILE names a CPU profile written at SIGTERM,
// BENCH_TRACE an execution trace.
func serveEmbedded() {
	if p := os.Getenv("BENCH_CPUPROFILE"); p != "" {
		f, err := os.Create(p)
		if err != nil {
			log.Fatal(err)
		}
		if err := pprof.StartCPUProfile(f); err != nil {
			log.Fatal(err)
		}
		defer pprof.StopCPUProfile()
	}
	if p := os.Getenv("BENCH_TRACE"); p != "" {
		f, err := os.Create(p)
		if err != nil {
			log.Fatal(err)
		}
		if err := trace.Start(f); err != nil {
			log.Fatal(err)
		}
		defer trace.Stop()
	}
	embedded.TuneGC(os.Getenv, embedded.GCFloor) // as serve does
	ctx := context.Background()
	maxBacklog, _ := strconv.ParseInt(os.Getenv("BENCH_MAX_BACKLOG"), 10, 64) // 0: the default bound
	srv, err := embedded.Start(ctx, embedded.Options{
		Addr: "127.0.0.1:0", DataDir: os.Getenv("BENCH_DIR"), App: "bench-app",
		AllowEgress: []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")},
		Logger:      slog.New(slog.NewJSONHandler(io.Discard, nil)), // formatted as by serve, not kept
		NoJournal:   os.Getenv("BENCH_JOURNAL") == "off",
		Journal:     journallog.Retention{PerPublication: 100_000},
		MaxBacklog:  maxBacklog,
	})
	if err != nil {
		log.Fatal(err)
	}
	vars := map[string]string{}
	for _, k := range []string{"HEROKUEVENTS_API_URL", "HEROKUEVENTS_PUBLISH_URL", "HEROKUEVENTS_PLATFORM_URL"} {
		vars[k] = srv.Var(k)
	}
	b, _ := json.Marshal(vars)
	fmt.Println(string(b))
	waitSignal()
	if err := srv.Close(); err != nil {
		log.Print(err)
	}
}

func waitSignal() {
	c := make(chan os.Signal, 1)
	signal.Notify(c, syscall.SIGTERM, syscall.SIGINT)
	<-c
}

// proc is a system under test: a child process and what it printed first.
type proc struct {
	name  string
	cmd   *exec.Cmd
	pid   int // the measured process (strace's child when traced)
	dir   string
	first map[string]string
	// strace, when set, is the file strace -c writes its summary to.
	strace string
}

// start runs cmd, reads its first stdout line as JSON into p.first.
func start(name string, cmd *exec.Cmd, dir string) *proc {
	cmd.Stderr = os.Stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		log.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		log.Fatalf("start %s: %v", name, err)
	}
	p := &proc{name: name, cmd: cmd, pid: cmd.Process.Pid, dir: dir, first: map[string]string{}}
	line, err := bufio.NewReader(out).ReadBytes('\n')
	if err != nil {
		log.Fatalf("start %s: %v", name, err)
	}
	if err := json.Unmarshal(line, &p.first); err != nil {
		log.Fatalf("start %s: first line %q: %v", name, line, err)
	}
	go func() { _, _ = io.Copy(io.Discard, out) }()
	return p
}

func self(role string, env ...string) *exec.Cmd {
	exe, err := os.Executable()
	if err != nil {
		log.Fatal(err)
	}
	cmd := exec.Command(exe)
	cmd.Env = append(os.Environ(), append([]string{roleEnv + "=" + role}, env...)...)
	return cmd
}

func startRelay(sinkURL string) *proc {
	p := start("relay", self("relay", "BENCH_SINK="+sinkURL), "")
	p.first["url"] = "http://" + p.first["addr"]
	return p
}

// embeddedOpts are how a herokuevents child runs.
type embeddedOpts struct {
	journal    bool
	cpuprofile string
	trace      string // runtime/trace output (go tool trace)
	strace     bool
	maxBacklog int64 // embedded.Options.MaxBacklog (0: its default, -1: none)
}

func startEmbedded(o embeddedOpts) *proc {
	dir, err := os.MkdirTemp("", "herokuevents-bench")
	if err != nil {
		log.Fatal(err)
	}
	env := []string{"BENCH_DIR=" + dir, "BENCH_CPUPROFILE=" + o.cpuprofile, "BENCH_TRACE=" + o.trace, "BENCH_JOURNAL=" + map[bool]string{true: "on", false: "off"}[o.journal],
		"BENCH_MAX_BACKLOG=" + strconv.FormatInt(o.maxBacklog, 10)}
	cmd := self("serve", env...)
	var trace string
	if o.strace {
		trace = filepath.Join(os.TempDir(), fmt.Sprintf("herokuevents-bench-strace-%d", time.Now().UnixNano()))
		cmd = exec.Command("strace", append([]string{"-f", "-c", "-e", "trace=fsync,fdatasync", "-o", trace, cmd.Path}, cmd.Args[1:]...)...)
		cmd.Env = append(os.Environ(), append([]string{roleEnv + "=serve"}, env...)...)
	}
	p := start("herokuevents", cmd, dir)
	p.strace = trace
	if o.strace {
		p.pid = childOf(p.pid)
	}
	return p
}

// childOf returns the first child of pid (the traced process under strace).
func childOf(pid int) int {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/task/%d/children", pid, pid))
	if err != nil {
		log.Fatal(err)
	}
	f := strings.Fields(string(b))
	if len(f) == 0 {
		log.Fatalf("no child of %d", pid)
	}
	c, _ := strconv.Atoi(f[0])
	return c
}

// stop ends the process (SIGTERM, then kill after 20 s) and removes its
// data dir. With strace it returns the fsync+fdatasync calls counted.
func (p *proc) stop() (syncs int64) {
	_ = syscall.Kill(p.pid, syscall.SIGTERM) // the traced process, not strace: strace then writes its summary
	done := make(chan struct{})
	go func() { _ = p.cmd.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(20 * time.Second):
		_ = p.cmd.Process.Kill()
		<-done
	}
	if p.dir != "" {
		os.RemoveAll(p.dir)
	}
	if p.strace != "" {
		syncs = straceCalls(p.strace)
		os.Remove(p.strace)
	}
	return syncs
}

// straceCalls sums the calls column of an strace -c summary.
func straceCalls(path string) int64 {
	b, err := os.ReadFile(path)
	if err != nil {
		return -1
	}
	var n int64
	for _, line := range strings.Split(string(b), "\n") {
		f := strings.Fields(line)
		if len(f) >= 5 && (f[len(f)-1] == "fsync" || f[len(f)-1] == "fdatasync") {
			c, _ := strconv.ParseInt(f[3], 10, 64)
			n += c
		}
	}
	return n
}

// usage is a process's CPU time and memory at one moment, and the host's
// steal time so far.
type usage struct {
	cpu     time.Duration
	rss, hw int64 // bytes: resident now, and its peak
	steal   time.Duration
}

// hostSteal is the time the hypervisor ran something else while this
// host's virtual processors had work (/proc/stat's steal, all processors
// together): a run that lost much of it was measured on a slower machine.
// 0 where /proc/stat has none.
func hostSteal() time.Duration {
	b, err := os.ReadFile("/proc/stat")
	if err != nil {
		return 0
	}
	line, _, _ := strings.Cut(string(b), "\n")
	f := strings.Fields(line) // cpu user nice system idle iowait irq softirq steal …
	if len(f) < 9 || f[0] != "cpu" {
		return 0
	}
	n, _ := strconv.ParseInt(f[8], 10, 64)
	return time.Duration(n) * time.Second / clockTick
}

const clockTick = 100 // USER_HZ on Linux

// usage is the CPU time of the process and of its descendants (live ones,
// and the children it waited for: the mapping workers of herokuevents are
// its own work), and its memory.
func (p *proc) usage() usage {
	u := usage{steal: hostSteal()}
	stats := map[int][]string{} // pid → the stat fields after the command
	entries, _ := os.ReadDir("/proc")
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		if b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid)); err == nil {
			// the fields after the command (which may hold spaces) in parentheses
			stats[pid] = strings.Fields(string(b[bytes.LastIndexByte(b, ')')+2:]))
		}
	}
	tree := map[int]bool{p.pid: true}
	for grew := true; grew; {
		grew = false
		for pid, f := range stats {
			ppid, _ := strconv.Atoi(f[1])
			if !tree[pid] && tree[ppid] {
				tree[pid], grew = true, true
			}
		}
	}
	var ticks int64
	for pid := range tree {
		f, ok := stats[pid]
		if !ok {
			continue
		}
		for _, i := range []int{11, 12, 13, 14} { // utime, stime, cutime, cstime
			n, _ := strconv.ParseInt(f[i], 10, 64)
			ticks += n
		}
	}
	u.cpu = time.Duration(ticks) * time.Second / clockTick
	for pid := range tree { // RSS of the tree; the peak is the main process's
		b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
		if err != nil {
			continue
		}
		for _, line := range strings.Split(string(b), "\n") {
			k, v, _ := strings.Cut(line, ":")
			kb, _ := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
			switch {
			case k == "VmRSS":
				u.rss += kb << 10
			case k == "VmHWM" && pid == p.pid:
				u.hw = kb << 10
			}
		}
	}
	return u
}

// dataSize is the bytes of every file under the data dir.
func (p *proc) dataSize() int64 {
	if p.dir == "" {
		return 0
	}
	var n int64
	_ = filepath.WalkDir(p.dir, func(_ string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			if info, err := d.Info(); err == nil {
				n += info.Size()
			}
		}
		return nil
	})
	return n
}

// benthosMain is the whole of the Benthos core binary: the http_server and
// http_client (io) and the mapping processor (pure) components.
const benthosMain = `package main

import (
	"context"

	_ "github.com/redpanda-data/benthos/v4/public/components/io"
	_ "github.com/redpanda-data/benthos/v4/public/components/pure"
	"github.com/redpanda-data/benthos/v4/public/service"
)

func main() { service.RunCLI(context.Background()) }
`

const benthosModule = "github.com/redpanda-data/benthos/v4"

// buildBenthos builds Benthos core, at the version this module requires,
// from the Go module proxy in a scratch directory (kept across runs, per
// version) and returns the binary's path.
func buildBenthos() (string, error) {
	version := ""
	if bi, ok := debug.ReadBuildInfo(); ok {
		for _, d := range bi.Deps {
			if d.Path == benthosModule {
				version = d.Version
			}
		}
	}
	if version == "" {
		return "", errors.New("build benthos: no version of " + benthosModule + " in this binary's build info")
	}
	dir := filepath.Join(os.TempDir(), "herokuevents-bench-benthos-"+version)
	bin := filepath.Join(dir, "benthos")
	if _, err := os.Stat(bin); err == nil {
		return bin, nil
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", err
	}
	mod := fmt.Sprintf("module benchbenthos\n\ngo 1.26\n\nrequire %s %s\n", benthosModule, version)
	if err := os.WriteFile(filepath.Join(dir, "go.mod"), []byte(mod), 0o644); err != nil {
		return "", err
	}
	if err := os.WriteFile(filepath.Join(dir, "main.go"), []byte(benthosMain), 0o644); err != nil {
		return "", err
	}
	fmt.Fprintf(os.Stderr, "building Benthos %s from the module proxy in %s…\n", version, dir)
	for _, args := range [][]string{{"mod", "tidy"}, {"build", "-o", bin + ".tmp", "."}} {
		cmd := exec.Command("go", args...)
		cmd.Dir = dir
		cmd.Env = append(os.Environ(), "GOWORK=off", "GOFLAGS=-mod=mod")
		if out, err := cmd.CombinedOutput(); err != nil {
			return "", fmt.Errorf("build benthos: go %s: %v\n%s", strings.Join(args, " "), err, out)
		}
	}
	return bin, os.Rename(bin+".tmp", bin)
}

// benthosConfig is http_server → Bloblang mapping (the bench stream's
// filter) → http_client, answering each request once the output acked.
const benthosConfig = `http:
  enabled: false
logger:
  level: NONE
metrics:
  none: {}
input:
  http_server:
    address: %s
    path: /post
    allowed_verbs: [POST]
pipeline:
  threads: -1
  processors:
    - mapping: 'root = if this.Context__c.string == "drop" { deleted() } else { this }'
output:
  http_client:
    url: %s/hook
    verb: POST
    max_in_flight: %d
`

func startBenthos(bin, sinkURL string, inFlight int) *proc {
	ln := listen()
	addr := ln.Addr().String()
	ln.Close()
	dir, err := os.MkdirTemp("", "herokuevents-bench-benthos")
	if err != nil {
		log.Fatal(err)
	}
	cfg := filepath.Join(dir, "benthos.yaml")
	if err := os.WriteFile(cfg, fmt.Appendf(nil, benthosConfig, addr, sinkURL, inFlight), 0o644); err != nil {
		log.Fatal(err)
	}
	cmd := exec.Command(bin, "-c", cfg)
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		log.Fatal(err)
	}
	p := &proc{name: "benthos", cmd: cmd, pid: cmd.Process.Pid, first: map[string]string{"url": "http://" + addr}}
	p.dir = dir
	deadline := time.Now().Add(30 * time.Second)
	for {
		res, err := http.Get("http://" + addr + "/post")
		if err == nil {
			res.Body.Close()
			return p
		}
		if time.Now().After(deadline) {
			log.Fatalf("benthos did not listen on %s: %v", addr, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// tenant is one app of a herokuevents child: its API (with key) and publish
// credentials.
type tenant struct {
	api, key   string
	publish    string
	user, pass string
}

func tenantOf(vars map[string]string) tenant {
	api, err := url.Parse(vars["HEROKUEVENTS_API_URL"])
	if err != nil {
		log.Fatal(err)
	}
	key, _ := api.User.Password()
	api.User = nil
	pub, _ := url.Parse(vars["HEROKUEVENTS_PUBLISH_URL"])
	user := pub.User.Username()
	pass, _ := pub.User.Password()
	pub.User = nil
	return tenant{api: api.String(), key: key, publish: strings.TrimSuffix(pub.String(), "/"), user: user, pass: pass}
}
