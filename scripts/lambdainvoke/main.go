// Command lambdainvoke invokes one function binary on a sample event under
// the AWS Lambda runtime interface emulator, without Docker: what
// `sam local invoke` does inside its container. Run it through
// scripts/invoke, which builds the binary first.
//
//	lambdainvoke [-rie .bin/aws-lambda-rie] [-bootstrap dist/<arch>/<role>/bootstrap] [-seed FILE] FUNCTION EVENT.json
//
// FUNCTION is a role (filter) or a template logical id (FilterFunction).
// The emulator listens on 127.0.0.1 only, on free ports (invocation and
// runtime API). The function gets the environment template.yaml declares
// for it (Globals merged with the function; a Ref to a parameter becomes its
// default), overridden by the caller's environment.
//
// Variables whose value only a deployment knows (Ref to a table, a
// queue...) come from the caller's environment when it sets them all
// (e.g. AWS_ENDPOINT_URL and the resources of a deployed or local stack).
// Otherwise the call gets its own local AWS: a moto server (or the one at
// $INVOKE_MOTO_URL) holding template.yaml's queues, table and KMS key,
// created as `make aws-local` does, the function's environment resolved
// from them, and the tenants of the seed file (default
// fixtures/seed.json next to the event: the tenant, subscription and
// publication the samples reference; publications without a url deliver to
// a receiver that runs for the call). After the call it prints what the
// queues hold and what the receiver got; moto stops with the call.
//
// It prints the response on stdout, the emulator and function logs on
// stderr, and exits 1 when the invocation fails (function error, timeout,
// crash), 2 on bad usage.
package main

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"maps"
	"net"
	"net/http"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/herokuevents/herokuevents"
	"github.com/herokuevents/herokuevents/infra/samtemplate"
)

func main() {
	rie := flag.String("rie", ".bin/aws-lambda-rie", "path of the aws-lambda-rie binary (scripts/setup-tools installs it)")
	bootstrap := flag.String("bootstrap", "", "function binary (default dist/<host arch>/<role>/bootstrap)")
	flag.StringVar(&seedOverride, "seed", "", "tenants to store in the local AWS (default fixtures/seed.json next to the event)")
	flag.Usage = func() {
		fmt.Fprintln(os.Stderr, "usage: lambdainvoke [-rie PATH] [-bootstrap PATH] [-seed FILE] FUNCTION EVENT.json")
		flag.PrintDefaults()
	}
	flag.Parse()
	if flag.NArg() != 2 {
		flag.Usage()
		os.Exit(2)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, *rie, *bootstrap, flag.Arg(0), flag.Arg(1), os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

// seedOverride is the -seed flag.
var seedOverride string

func run(ctx context.Context, rie, bootstrap, function, eventFile string, stdout, stderr io.Writer) int {
	fail := func(code int, format string, args ...any) int {
		fmt.Fprintf(stderr, "lambdainvoke: "+format+"\n", args...)
		return code
	}
	tpl, err := samtemplate.Parse(herokuevents.Template)
	if err != nil {
		return fail(2, "read template: %v", err)
	}
	role := strings.ToLower(strings.TrimSuffix(function, "Function"))
	if role == "" {
		return fail(2, "empty function name")
	}
	id := strings.ToUpper(role[:1]) + role[1:] + "Function"
	fn, err := tpl.Function(id)
	if err != nil {
		return fail(2, "%s: %v (functions: %s)", function, err, strings.Join(tpl.Functions(), ", "))
	}
	event, err := os.ReadFile(eventFile)
	if err != nil {
		return fail(2, "read event: %v", err)
	}
	if !json.Valid(event) {
		return fail(2, "%s is not JSON", eventFile)
	}
	if bootstrap == "" {
		bootstrap = filepath.Join("dist", runtime.GOARCH, role, "bootstrap")
	}
	if bootstrap, err = filepath.Abs(bootstrap); err != nil {
		return fail(2, "bootstrap path: %v", err)
	}
	if _, err := os.Stat(bootstrap); err != nil {
		return fail(2, "%v (build it with scripts/build-functions %s)", err, role)
	}
	if rie, err = filepath.Abs(rie); err != nil {
		return fail(2, "emulator path: %v", err)
	}
	if _, err := os.Stat(rie); err != nil {
		return fail(2, "%v (install it with scripts/setup-tools)", err)
	}

	env, missing := environment(fn)
	if len(missing) > 0 {
		fmt.Fprintf(stderr, "lambdainvoke: not set, only a deployment knows them: %s\n", strings.Join(slices.Sorted(maps.Keys(missing)), ", "))
		seed := seedOverride
		if seed == "" {
			seed = seedPath(eventFile)
		}
		local, err := startLocal(ctx, seed)
		if err != nil {
			return fail(1, "local AWS: %v (export every variable above to use your own)", err)
		}
		defer func() { // after the logs (deferred below)
			local.report(context.WithoutCancel(ctx), stderr)
			if err := local.close(); err != nil {
				fmt.Fprintf(stderr, "lambdainvoke: stop the local AWS: %v\n", err)
			}
		}()
		local.describe(stderr)
		env = local.environment(fn)
	}
	invokeAddr, err := freeAddr()
	if err != nil {
		return fail(1, "pick a port: %v", err)
	}
	runtimeAddr, err := freeAddr()
	if err != nil {
		return fail(1, "pick a port: %v", err)
	}

	var logs syncBuffer
	cmd := exec.Command(rie,
		"--runtime-interface-emulator-address", invokeAddr,
		"--runtime-api-address", runtimeAddr,
		"--log-level", envOr("RIE_LOG_LEVEL", "warn"),
		bootstrap)
	cmd.Dir = filepath.Dir(bootstrap) // as /var/task on Lambda
	cmd.Env = env
	cmd.Stdout, cmd.Stderr = &logs, &logs
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true} // the function runs in the emulator's group
	if err := cmd.Start(); err != nil {
		return fail(1, "start emulator: %v", err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	defer func() {
		_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGTERM)
		select {
		case <-exited:
		case <-time.After(5 * time.Second):
			_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
			<-exited
		}
		fmt.Fprintf(stderr, "--- logs (%s under aws-lambda-rie on %s) ---\n%s", id, invokeAddr, logs.String())
	}()

	if err := waitListening(ctx, invokeAddr, exited, 15*time.Second); err != nil {
		return fail(1, "emulator not ready: %v", err)
	}
	status, body, fnErr, err := invoke(ctx, invokeAddr, event, fn.Timeout+15*time.Second)
	if err != nil {
		return fail(1, "invoke: %v", err)
	}
	stdout.Write(pretty(body))
	fmt.Fprintln(stdout)
	if problem := failure(status, fnErr, body); problem != "" {
		return fail(1, "%s failed: %s", id, problem)
	}
	fmt.Fprintf(stderr, "lambdainvoke: %s ok%s\n", id, summary(body))
	return 0
}

// environment is the caller's environment plus the template's variables of
// fn that the caller does not set, plus the Lambda function settings.
func environment(fn samtemplate.Function) ([]string, map[string]string) {
	env := os.Environ()
	set := map[string]bool{}
	for _, kv := range env {
		k, _, _ := strings.Cut(kv, "=")
		set[k] = true
	}
	add := func(k, v string) {
		if !set[k] {
			env = append(env, k+"="+v)
			set[k] = true
		}
	}
	for _, k := range slices.Sorted(maps.Keys(fn.Env)) {
		add(k, fn.Env[k])
	}
	add("AWS_LAMBDA_FUNCTION_NAME", fn.ID)
	add("AWS_LAMBDA_FUNCTION_TIMEOUT", strconv.Itoa(int(fn.Timeout/time.Second)))
	add("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", strconv.Itoa(fn.MemoryMB))
	add("AWS_REGION", "us-east-1")
	add("AWS_DEFAULT_REGION", "us-east-1")
	missing := map[string]string{}
	for k, v := range fn.Unresolved {
		// a conditional variable (!If [Cond, x, !Ref AWS::NoValue]) is
		// optional: a deployment may well not have it
		if !set[k] && v != "If" {
			missing[k] = v
		}
	}
	return env, missing
}

// freeAddr returns a loopback address with a port free right now.
func freeAddr() (string, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	defer l.Close()
	return l.Addr().String(), nil
}

func waitListening(ctx context.Context, addr string, exited <-chan error, limit time.Duration) error {
	deadline := time.Now().Add(limit)
	for {
		c, err := net.DialTimeout("tcp", addr, 200*time.Millisecond)
		if err == nil {
			return c.Close()
		}
		select {
		case werr := <-exited:
			return fmt.Errorf("emulator exited: %v", werr)
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(50 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("nothing listens on %s after %s", addr, limit)
		}
	}
}

func invoke(ctx context.Context, addr string, event []byte, timeout time.Duration) (int, []byte, string, error) {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	url := "http://" + addr + "/2015-03-31/functions/function/invocations"
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(event))
	if err != nil {
		return 0, nil, "", err
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, nil, "", err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	return resp.StatusCode, body, resp.Header.Get("X-Amz-Function-Error"), err
}

// failure describes why an invocation failed, "" when it did not.
func failure(status int, fnErr string, body []byte) string {
	if status < 200 || status > 299 {
		return fmt.Sprintf("emulator answered HTTP %d", status)
	}
	if fnErr != "" {
		return "function error " + fnErr
	}
	if bytes.HasPrefix(body, []byte("Task timed out")) {
		return string(body)
	}
	var e struct {
		ErrorType    string `json:"errorType"`
		ErrorMessage string `json:"errorMessage"`
	}
	if json.Unmarshal(body, &e) == nil && (e.ErrorType != "" || e.ErrorMessage != "") {
		return strings.TrimSpace(e.ErrorType + ": " + e.ErrorMessage)
	}
	return ""
}

// summary notes the outcome inside a successful response.
func summary(body []byte) string {
	var r struct {
		StatusCode        *int              `json:"statusCode"`
		BatchItemFailures []json.RawMessage `json:"batchItemFailures"`
	}
	if json.Unmarshal(body, &r) != nil {
		return ""
	}
	switch {
	case r.StatusCode != nil:
		return fmt.Sprintf(" (HTTP %d)", *r.StatusCode)
	case r.BatchItemFailures != nil:
		return fmt.Sprintf(" (%d batch item failures)", len(r.BatchItemFailures))
	}
	return ""
}

func pretty(body []byte) []byte {
	var out bytes.Buffer
	if json.Indent(&out, body, "", "  ") != nil {
		return body
	}
	return out.Bytes()
}

func envOr(name, fallback string) string {
	if v := os.Getenv(name); v != "" {
		return v
	}
	return fallback
}

// syncBuffer collects the emulator's output from its two pipes.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}
