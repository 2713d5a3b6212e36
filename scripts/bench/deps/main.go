// Command deps prints what each Lambda function (functions/<role>) links as
// it is deployed: linux/arm64, CGO off, -tags lambda.norpc,grpcnotrace (no RPC server in the
// runtime, no x/net/trace and html/template in gRPC).
//
//	go run ./scripts/bench/deps [-build=false] [-v] [role...]
//
// Per function: the packages outside the standard library (the module's own
// included), the third-party ones, the modules, which heavy dependencies are
// linked (gRPC, Avro, JWT, OAuth2, cron, the Salesforce client, Bloblang),
// and the size of the stripped bootstrap built exactly like
// scripts/build-functions (MB = 2^20 bytes, as scripts/bench/lambda prints
// them). The table is Markdown. -v also prints every module per function.
//
// budget_test.go holds every function to its dependency budget with the same
// measurements.
package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"slices"
	"strings"
)

// module is the path of this repository's module.
const module = "github.com/herokuevents/herokuevents"

// lambdaEnv is the target environment of the deployed functions.
var lambdaEnv = []string{"GOOS=linux", "GOARCH=arm64", "CGO_ENABLED=0"}

// lambdaTags are the build tags of the deployed functions.
const lambdaTags = "lambda.norpc,grpcnotrace"

// heavy are the dependencies a function should link only when its role uses
// them, by name and import-path prefix.
var heavy = []struct{ Name, Prefix string }{
	{"grpc", "google.golang.org/grpc"},
	{"goavro", "github.com/linkedin/goavro"},
	{"jwt", "github.com/golang-jwt"},
	{"oauth2", "golang.org/x/oauth2"},
	{"cron", "github.com/robfig/cron"},
	{"salesforce", module + "/shared/salesforce"},
	{"bloblang", "github.com/redpanda-data/benthos"},
}

func main() {
	build := flag.Bool("build", true, "build the stripped arm64 bootstraps to report their sizes")
	verbose := flag.Bool("v", false, "list the modules each function links")
	flag.Parse()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	if err := run(ctx, os.Stdout, flag.Args(), *build, *verbose); err != nil {
		fmt.Fprintln(os.Stderr, "bench deps:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, out io.Writer, roles []string, build, verbose bool) error {
	root, err := moduleRoot(ctx)
	if err != nil {
		return err
	}
	if len(roles) == 0 {
		if roles, err = functionRoles(root); err != nil {
			return err
		}
	}
	fns, err := listFunctions(ctx, root, roles)
	if err != nil {
		return err
	}
	var sizes map[string]int64
	if build {
		dir, err := os.MkdirTemp("", "bench-deps-")
		if err != nil {
			return err
		}
		defer os.RemoveAll(dir)
		fmt.Fprintf(os.Stderr, "building %d functions (linux/arm64, stripped)...\n", len(roles))
		if sizes, err = buildFunctions(ctx, root, dir, roles, 0); err != nil {
			return err
		}
	}
	fmt.Fprintln(out, "| function | non-std pkgs | third-party pkgs | modules | arm64 bytes | arm64 MB | heavy dependencies linked |")
	fmt.Fprintln(out, "|---|---:|---:|---:|---:|---:|---|")
	for _, role := range roles {
		f := fns[role]
		bytes, mb := "-", "-"
		if n, ok := sizes[role]; ok {
			bytes, mb = fmt.Sprint(n), fmt.Sprintf("%.1f", float64(n)/(1<<20))
		}
		var links []string
		for _, h := range heavy {
			if len(f.Linked(h.Prefix)) > 0 {
				links = append(links, h.Name)
			}
		}
		fmt.Fprintf(out, "| %s | %d | %d | %d | %s | %s | %s |\n", role, len(f.NonStandard()), len(f.ThirdParty()),
			len(f.Modules()), bytes, mb, strings.Join(links, " "))
	}
	if verbose {
		for _, role := range roles {
			fmt.Fprintf(out, "\n%s modules:\n", role)
			for _, m := range fns[role].Modules() {
				fmt.Fprintln(out, "  "+m)
			}
		}
	}
	return nil
}

// goCmd returns a go command run in dir for the Lambda target.
func goCmd(ctx context.Context, dir string, args ...string) *exec.Cmd {
	cmd := exec.CommandContext(ctx, "go", args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), lambdaEnv...)
	return cmd
}

// output runs cmd and returns its standard output, or an error with its
// standard error.
func output(cmd *exec.Cmd) ([]byte, error) {
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return nil, fmt.Errorf("%s: %w\n%s", strings.Join(cmd.Args, " "), err, stderr.Bytes())
	}
	return out, nil
}

// moduleRoot returns the directory of this repository's go.mod.
func moduleRoot(ctx context.Context) (string, error) {
	out, err := output(exec.CommandContext(ctx, "go", "env", "GOMOD"))
	if err != nil {
		return "", err
	}
	gomod := strings.TrimSpace(string(out))
	if gomod == "" || gomod == os.DevNull {
		return "", errors.New("not inside the herokuevents module")
	}
	return filepath.Dir(gomod), nil
}

// functionRoles returns the roles of functions/<role>/main.go, sorted.
func functionRoles(root string) ([]string, error) {
	mains, err := filepath.Glob(filepath.Join(root, "functions", "*", "main.go"))
	if err != nil {
		return nil, err
	}
	var roles []string
	for _, m := range mains {
		roles = append(roles, filepath.Base(filepath.Dir(m)))
	}
	if len(roles) == 0 {
		return nil, fmt.Errorf("no functions/<role>/main.go under %s", root)
	}
	slices.Sort(roles)
	return roles, nil
}

// pkg is one package of `go list -json`.
type pkg struct {
	ImportPath string
	Standard   bool
	Imports    []string
	Deps       []string
	Module     *struct{ Path string }
	Error      *struct{ Err string }
}

// function is what one functions/<role> links.
type function struct {
	Path string
	// deps are the function's package and everything it links, by path.
	deps map[string]*pkg
}

// listFunctions lists the packages each role's function links, for the
// Lambda target, with one go list.
func listFunctions(ctx context.Context, root string, roles []string) (map[string]*function, error) {
	args := []string{"list", "-e", "-deps", "-tags", lambdaTags, "-json=ImportPath,Standard,Imports,Deps,Module,Error"}
	for _, role := range roles {
		args = append(args, "./functions/"+role)
	}
	out, err := output(goCmd(ctx, root, args...))
	if err != nil {
		return nil, err
	}
	all := map[string]*pkg{}
	dec := json.NewDecoder(bytes.NewReader(out))
	for dec.More() {
		var p pkg
		if err := dec.Decode(&p); err != nil {
			return nil, fmt.Errorf("go list: %w", err)
		}
		if p.Error != nil {
			return nil, fmt.Errorf("go list %s: %s", p.ImportPath, p.Error.Err)
		}
		all[p.ImportPath] = &p
	}
	fns := map[string]*function{}
	for _, role := range roles {
		path := module + "/functions/" + role
		main, ok := all[path]
		if !ok {
			return nil, fmt.Errorf("go list did not list %s", path)
		}
		f := &function{Path: path, deps: map[string]*pkg{path: main}}
		for _, d := range main.Deps {
			if all[d] == nil {
				return nil, fmt.Errorf("go list did not list %s, a dependency of %s", d, path)
			}
			f.deps[d] = all[d]
		}
		fns[role] = f
	}
	return fns, nil
}

// NonStandard returns the linked packages outside the standard library,
// this module's included, sorted.
func (f *function) NonStandard() []string {
	var out []string
	for path, p := range f.deps {
		if !p.Standard {
			out = append(out, path)
		}
	}
	slices.Sort(out)
	return out
}

// ThirdParty returns the linked packages of other modules, sorted.
func (f *function) ThirdParty() []string {
	var out []string
	for _, path := range f.NonStandard() {
		if !under(path, module) {
			out = append(out, path)
		}
	}
	return out
}

// Modules returns the other modules the function links, sorted.
func (f *function) Modules() []string {
	seen := map[string]bool{}
	for _, p := range f.deps {
		if p.Module != nil && p.Module.Path != module {
			seen[p.Module.Path] = true
		}
	}
	out := make([]string, 0, len(seen))
	for m := range seen {
		out = append(out, m)
	}
	slices.Sort(out)
	return out
}

// Linked returns the linked packages at or under the import path prefix.
func (f *function) Linked(prefix string) []string {
	var out []string
	for _, path := range f.NonStandard() {
		if under(path, prefix) {
			out = append(out, path)
		}
	}
	return out
}

// Chain returns one shortest import chain from the function to target,
// both included, or nil when the function does not link target.
func (f *function) Chain(target string) []string {
	return f.chain(f.Path, target)
}

// chain returns one shortest import chain from the linked package from to
// target, both included, or nil when from does not lead to target.
func (f *function) chain(from, target string) []string {
	if f.deps[from] == nil || f.deps[target] == nil {
		return nil
	}
	prev := map[string]string{from: ""}
	queue := []string{from}
	for len(queue) > 0 {
		cur := queue[0]
		queue = queue[1:]
		if cur == target {
			var chain []string
			for p := cur; p != ""; p = prev[p] {
				chain = append(chain, p)
			}
			slices.Reverse(chain)
			return chain
		}
		for _, next := range f.deps[cur].Imports {
			if _, seen := prev[next]; !seen && f.deps[next] != nil {
				prev[next] = cur
				queue = append(queue, next)
			}
		}
	}
	return nil
}

// Routes returns, for each package the function imports directly that
// leads to a package at or under prefix, one shortest chain from the
// function to such a package; shortest first.
func (f *function) Routes(prefix string) [][]string {
	targets := f.Linked(prefix)
	var routes [][]string
	for _, first := range f.deps[f.Path].Imports {
		var best []string
		for _, t := range targets {
			if c := f.chain(first, t); c != nil && (best == nil || len(c) < len(best)) {
				best = c
			}
		}
		if best != nil {
			routes = append(routes, append([]string{f.Path}, best...))
		}
	}
	slices.SortStableFunc(routes, func(a, b []string) int { return len(a) - len(b) })
	return routes
}

// under reports whether path is prefix or a package under it.
func under(path, prefix string) bool {
	return path == prefix || strings.HasPrefix(path, prefix+"/")
}

// buildFunctions builds each role's stripped bootstrap into dir (dir/<role>)
// like scripts/build-functions, with one go build of at most parallel
// concurrent steps (0: go's default), and returns their sizes in bytes.
func buildFunctions(ctx context.Context, root, dir string, roles []string, parallel int) (map[string]int64, error) {
	args := []string{"build", "-tags", lambdaTags, "-trimpath", "-ldflags=-s -w"}
	if parallel > 0 {
		args = append(args, fmt.Sprintf("-p=%d", parallel))
	}
	args = append(args, "-o", dir+string(filepath.Separator))
	for _, role := range roles {
		args = append(args, "./functions/"+role)
	}
	cmd := goCmd(ctx, root, args...)
	var combined bytes.Buffer
	cmd.Stdout, cmd.Stderr = &combined, &combined
	if err := cmd.Run(); err != nil {
		return nil, fmt.Errorf("go %s: %w\n%s", strings.Join(args, " "), err, firstLines(combined.String(), 40))
	}
	sizes := map[string]int64{}
	for _, role := range roles {
		fi, err := os.Stat(filepath.Join(dir, role))
		if err != nil {
			return nil, err
		}
		sizes[role] = fi.Size()
	}
	return sizes, nil
}

// firstLines returns at most n lines of s.
func firstLines(s string, n int) string {
	var b strings.Builder
	sc := bufio.NewScanner(strings.NewReader(s))
	for i := 0; i < n && sc.Scan(); i++ {
		b.WriteString(sc.Text() + "\n")
	}
	return b.String()
}
