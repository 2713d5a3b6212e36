// Command awslocal runs herokuevents' AWS mode on one machine with no AWS
// account: the stack of template.yaml with its queues, table and key in
// moto, every function binary under its own aws-lambda-rie on 127.0.0.1,
// the HTTP API on --addr, the SQS pollers running and the scheduled
// functions (generate, sfsubscribe) ticked every minute as EventBridge
// Scheduler would. It is infra/aws/awslocal for a person:
//
//	go run ./scripts/awslocal [--addr 127.0.0.1:5455] [--app my-app] [--allow-egress CIDR]... [--param Name=Value]...
//
// Like `herokuevents serve`, it provisions the tenant of --app and prints
// its config vars (HEROKUEVENTS_API_URL, HEROKUEVENTS_PUBLISH_URL,
// HEROKUEVENTS_SUBSCRIBE_URL, HEROKUEVENTS_PLATFORM_URL) on stdout: on a terminal a ready line and
// export lines to paste, elsewhere NAME=value lines; logs go to stderr,
// each function's lines prefixed by its role. It runs until SIGINT or
// SIGTERM, then stops the emulators and moto and exits 0. Nothing is kept:
// every run is a fresh stack.
//
// moto_server and aws-lambda-rie come pinned from scripts/setup-tools
// (`make aws-local` runs it first).
package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/signal"
	"runtime"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/google/uuid"

	"github.com/herokuevents/herokuevents"
	"github.com/herokuevents/herokuevents/infra/aws/awslocal"
	"github.com/herokuevents/herokuevents/infra/aws/motoserver"
	"github.com/herokuevents/herokuevents/infra/samtemplate"
	"github.com/herokuevents/herokuevents/shared/logjson"
	"github.com/herokuevents/herokuevents/shared/sink"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Stdout, os.Stderr, nil); err != nil {
		if errors.Is(err, flag.ErrHelp) || ctx.Err() != nil {
			return // help asked, or stopped by a signal while starting
		}
		fmt.Fprintln(os.Stderr, "awslocal:", err)
		os.Exit(1)
	}
}

// scheduleEvery is the rate of the template's schedules (rate(1 minute)).
const scheduleEvery = time.Minute

// options are the command line's.
type options struct {
	addr        string
	app         string
	allow       []string
	params      map[string]string
	motoRequest bool
}

func parse(args []string, stderr io.Writer) (options, error) {
	o := options{params: map[string]string{}}
	fs := flag.NewFlagSet("awslocal", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&o.addr, "addr", "127.0.0.1:5455", "listen address of the HTTP API (its URL is the PublicUrl parameter)")
	fs.StringVar(&o.app, "app", "my-app", "app whose tenant is provisioned at start")
	fs.Func("allow-egress", "CIDR or IP that webhooks may reach although private or loopback (repeatable; default none)", func(v string) error {
		if _, err := sink.ParseAllow(v); err != nil {
			return err
		}
		o.allow = append(o.allow, v)
		return nil
	})
	fs.Func("param", "template parameter Name=Value (repeatable), e.g. OperatorPassword=...", func(v string) error {
		name, val, ok := strings.Cut(v, "=")
		if !ok || name == "" {
			return fmt.Errorf("want Name=Value, got %q", v)
		}
		o.params[name] = val
		return nil
	})
	fs.BoolVar(&o.motoRequest, "moto-requests", false, "also log moto's successful request lines (noisy: the pollers long-poll every second)")
	if err := fs.Parse(args); err != nil {
		return o, err
	}
	if fs.NArg() > 0 {
		return o, fmt.Errorf("unexpected arguments %q", fs.Args())
	}
	if _, ok := o.params["AllowEgress"]; ok && len(o.allow) > 0 {
		return o, errors.New("give --allow-egress or --param AllowEgress=..., not both")
	}
	return o, nil
}

// started describes a running local stack (for tests).
type started struct {
	// URL is the HTTP API's base URL.
	URL string
	// Moto is moto's endpoint, and MotoPort the moto process's own port.
	Moto     string
	MotoPort int
	// Emulators are the invocation addresses of the functions' emulators.
	Emulators []string
	// BinDir holds the function binaries.
	BinDir string
}

// run runs the local stack until ctx ends. onStart, when not nil, is
// called once the config vars are printed.
func run(ctx context.Context, args []string, stdout, stderr io.Writer, onStart func(started)) (err error) {
	o, err := parse(args, stderr)
	if err != nil {
		return err
	}
	errOut := &lockedWriter{w: stderr}
	log := logjson.New(errOut, slog.LevelInfo).With("component", "awslocal")

	// Tools and the address first: fail before the minute of work.
	if _, err := motoserver.Executable(); err != nil {
		return fmt.Errorf("moto_server is missing: %w", err)
	}
	if _, err := awslocal.RIEPath(); err != nil {
		return fmt.Errorf("aws-lambda-rie is missing: %w", err)
	}
	ln, err := net.Listen("tcp", o.addr)
	if err != nil {
		return fmt.Errorf("listen on %s: %w (is another herokuevents serve or awslocal running there? choose another --addr)", o.addr, err)
	}
	defer ln.Close()
	base := "http://" + ln.Addr().String()

	tpl, err := samtemplate.Parse(herokuevents.Template)
	if err != nil {
		return err
	}
	params := maps.Clone(o.params)
	if _, ok := params["PublicUrl"]; !ok {
		params["PublicUrl"] = base
	}
	if _, ok := params["AllowEgress"]; !ok {
		params["AllowEgress"] = strings.Join(o.allow, ",")
	}

	dir, err := os.MkdirTemp("", "awslocal-")
	if err != nil {
		return fmt.Errorf("make build directory: %w", err)
	}
	defer os.RemoveAll(dir)
	roles := make([]string, 0, len(tpl.Functions()))
	for _, id := range tpl.Functions() {
		roles = append(roles, awslocal.Role(id))
	}
	log.Info("building functions", "roles", roles, "arch", runtime.GOARCH)
	bins, err := awslocal.Build(ctx, awslocal.BuildOptions{Dir: dir, Arch: runtime.GOARCH, Roles: roles})
	if err != nil {
		return err
	}

	log.Info("starting moto")
	moto, err := motoserver.Start()
	if err != nil {
		return err
	}
	defer func() {
		if cerr := moto.Close(); cerr != nil && err == nil {
			err = cerr
		}
	}()
	log.Info("deploying the stack", "moto", moto.URL)
	st, err := awslocal.Deploy(ctx, awslocal.Options{Endpoint: moto.URL, Binaries: bins, Params: params, Name: "local"})
	if err != nil {
		return fmt.Errorf("deploy the stack: %w", err)
	}
	defer func() {
		if cerr := st.Close(); cerr != nil && err == nil {
			err = cerr
		}
	}()

	// Background work ends (and its goroutines return) before the stack closes.
	bg, stopBG := context.WithCancel(ctx)
	var wg sync.WaitGroup
	defer wg.Wait()
	defer stopBG()

	srv := &http.Server{Handler: st.Handler(), ReadHeaderTimeout: 10 * time.Second}
	serveErr := make(chan error, 1)
	go func() { serveErr <- srv.Serve(ln) }()
	defer func() {
		sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
		defer cancel()
		_ = srv.Shutdown(sctx)
	}()

	for _, id := range tpl.Functions() {
		wg.Go(func() { followFunction(bg, st, id, errOut) })
	}
	wg.Go(func() { followMoto(bg, moto, o.motoRequest, errOut) })
	wg.Go(func() {
		st.RunSchedules(bg, scheduleEvery, func(id string, at time.Time, err error) {
			if err != nil {
				log.Error("scheduled tick failed", "function", id, "at", at, "err", err)
			}
		})
	})

	vars, err := provision(ctx, st, base, o.app)
	if err != nil {
		return err
	}
	names := []string{"HEROKUEVENTS_API_URL", "HEROKUEVENTS_PUBLISH_URL", "HEROKUEVENTS_SUBSCRIBE_URL", "HEROKUEVENTS_PLATFORM_URL"}
	if isTerminal(stdout) {
		fmt.Fprintf(stdout, "herokuevents (AWS mode, local) is ready at %s for app %s. In another terminal, paste:\n\n", base, o.app)
		for _, k := range names {
			fmt.Fprintf(stdout, "  export %s=%s\n", k, vars[k])
		}
		fmt.Fprintln(stdout, "\nStop with Ctrl-C; nothing is kept.")
	} else {
		for _, k := range names {
			fmt.Fprintf(stdout, "%s=%s\n", k, vars[k])
		}
	}
	log.Info("ready; stop with Ctrl-C", "url", base, "app", o.app)
	if onStart != nil {
		s := started{URL: base, Moto: moto.URL, MotoPort: moto.Port, BinDir: dir}
		for _, id := range tpl.Functions() {
			s.Emulators = append(s.Emulators, st.Emulator(id).Addr)
		}
		onStart(s)
	}

	select {
	case <-ctx.Done():
		log.Info("stopping")
	case err := <-serveErr:
		return fmt.Errorf("serve %s: %w", base, err)
	}
	return nil
}

// provision installs the add-on for app as Heroku does (POST
// /heroku/resources with the operator's credentials) and returns the
// tenant's config vars.
func provision(ctx context.Context, st *awslocal.Stack, base, app string) (map[string]string, error) {
	body, err := json.Marshal(map[string]string{
		"uuid": uuid.NewString(), "plan": "test", "region": "amazon-web-services::" + motoserver.Region, "app": app,
	})
	if err != nil {
		return nil, err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, base+"/heroku/resources", bytes.NewReader(body))
	if err != nil {
		return nil, fmt.Errorf("provision %s: %w", app, err)
	}
	req.Header.Set("Content-Type", "application/json")
	user, pass := st.Operator()
	req.SetBasicAuth(user, pass)
	client := &http.Client{Timeout: 60 * time.Second}
	resp, err := client.Do(req)
	if err != nil {
		return nil, fmt.Errorf("provision %s: %w", app, err)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, fmt.Errorf("provision %s: read answer: %w", app, err)
	}
	if resp.StatusCode != http.StatusOK && resp.StatusCode != http.StatusCreated {
		return nil, fmt.Errorf("provision %s: HTTP %d: %s", app, resp.StatusCode, bytes.TrimSpace(raw))
	}
	var out struct {
		Config map[string]string `json:"config"`
	}
	if err := json.Unmarshal(raw, &out); err != nil {
		return nil, fmt.Errorf("provision %s: decode answer: %w", app, err)
	}
	if out.Config["HEROKUEVENTS_API_URL"] == "" || out.Config["HEROKUEVENTS_PUBLISH_URL"] == "" {
		return nil, fmt.Errorf("provision %s: the answer lacks config vars: %s", app, raw)
	}
	if out.Config["HEROKUEVENTS_PLATFORM_URL"] == "" {
		u, err := url.Parse(base)
		if err != nil {
			return nil, err
		}
		u.User = url.UserPassword(user, pass)
		out.Config["HEROKUEVENTS_PLATFORM_URL"] = u.String()
	}
	return out.Config, nil
}

// followInterval is how often function and moto output is copied to stderr.
const followInterval = 200 * time.Millisecond

// followFunction copies function id's output to w line by line, each
// prefixed by the function's role, until ctx ends (then copies what is left).
func followFunction(ctx context.Context, st *awslocal.Stack, id string, w io.Writer) {
	prefix := awslocal.Role(id) + " | "
	off := 0
	flush := func(all bool) {
		text, end := st.LogsFrom(id, off)
		if !all {
			i := strings.LastIndexByte(text, '\n')
			if i < 0 {
				return
			}
			end = off + i + 1
			text = text[:i+1]
		}
		off = end
		writePrefixed(w, prefix, text)
	}
	t := time.NewTicker(followInterval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			flush(true)
			return
		case <-t.C:
			flush(false)
		}
	}
}

// followMoto copies moto's new output to w, prefixed; its successful
// request lines only when requests is set.
func followMoto(ctx context.Context, moto *motoserver.Server, requests bool, w io.Writer) {
	var seen string // the output copied so far, as moto's bounded tail held it
	t := time.NewTicker(followInterval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		cur := moto.Log()
		from := newFrom(seen, cur)
		end := strings.LastIndexByte(cur[from:], '\n')
		if end < 0 {
			continue
		}
		end += from + 1
		seen = cur[:end]
		var keep strings.Builder
		for line := range strings.Lines(cur[from:end]) {
			if !requests && strings.Contains(line, `HTTP/1.1" 200`) {
				continue
			}
			keep.WriteString(line)
		}
		writePrefixed(w, "moto | ", keep.String())
	}
}

// newFrom returns where the output not yet copied starts in cur, a tail of
// the output whose earlier tail seen was copied: after seen when cur still
// starts with it, else after the last occurrence of seen's end (the tail
// has dropped its beginning); 0 when seen's end is gone too.
func newFrom(seen, cur string) int {
	if strings.HasPrefix(cur, seen) {
		return len(seen)
	}
	for _, anchor := range []string{seen[max(0, len(seen)-256):], lastLine(seen)} {
		if i := strings.LastIndex(cur, anchor); anchor != "" && i >= 0 {
			return i + len(anchor)
		}
	}
	return 0
}

func writePrefixed(w io.Writer, prefix, text string) {
	if text == "" {
		return
	}
	var b strings.Builder
	for line := range strings.Lines(text) {
		b.WriteString(prefix)
		b.WriteString(line)
		if !strings.HasSuffix(line, "\n") {
			b.WriteByte('\n')
		}
	}
	_, _ = io.WriteString(w, b.String())
}

// lockedWriter serializes writes of several goroutines.
type lockedWriter struct {
	mu sync.Mutex
	w  io.Writer
}

func (l *lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}

// isTerminal reports whether w is an interactive terminal (a character
// device other than /dev/null): there the config vars are printed as export
// lines to paste, elsewhere as NAME=value lines.
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	fi, err := f.Stat()
	if err != nil || fi.Mode()&os.ModeCharDevice == 0 {
		return false
	}
	null, err := os.Stat(os.DevNull)
	return err != nil || !os.SameFile(fi, null)
}

// lastLine returns the last complete line of s with its newline, "" when none.
func lastLine(s string) string {
	s, ok := strings.CutSuffix(s, "\n")
	if !ok || s == "" {
		return ""
	}
	return s[strings.LastIndexByte(s, '\n')+1:] + "\n"
}
