package awslocal

import (
	"fmt"
	"os"
	"runtime"
	"sort"
	"strings"
	"sync"
	"testing"

	"github.com/herokuevents/herokuevents"
	"github.com/herokuevents/herokuevents/infra/aws/awstest"
	"github.com/herokuevents/herokuevents/infra/samtemplate"
)

// shared is the state of a test binary: one moto server and one build of
// the function binaries, made on first use and removed by Main.
var shared struct {
	main bool

	motoOnce sync.Once
	moto     *awstest.Server
	motoErr  error

	buildOnce sync.Once
	dir       string
	binaries  map[string]string
	buildErr  error
}

// Main runs a test package whose tests use New: it runs the tests, then
// stops the package's moto server and deletes the built binaries. Call it
// from TestMain:
//
//	func TestMain(m *testing.M) { awslocal.Main(m) }
func Main(m *testing.M) {
	shared.main = true
	code := m.Run()
	if shared.moto != nil {
		if err := shared.moto.Close(); err != nil {
			fmt.Fprintln(os.Stderr, "awslocal:", err)
		}
	}
	if shared.dir != "" {
		_ = os.RemoveAll(shared.dir)
	}
	os.Exit(code)
}

// Moto returns the package's moto server, started on first use. It fails
// t when the server cannot start (scripts/setup-tools installs it).
func Moto(t testing.TB) *awstest.Server {
	t.Helper()
	if !shared.main {
		t.Fatal("awslocal: call awslocal.Main(m) from the package's TestMain")
	}
	shared.motoOnce.Do(func() { shared.moto, shared.motoErr = awstest.Start() })
	if shared.motoErr != nil {
		t.Fatalf("awslocal: %v", shared.motoErr)
	}
	return shared.moto
}

// Binaries returns every function of template.yaml built for the host
// architecture (see Build), by role; built once per test binary.
func Binaries(t testing.TB) map[string]string {
	t.Helper()
	if !shared.main {
		t.Fatal("awslocal: call awslocal.Main(m) from the package's TestMain")
	}
	shared.buildOnce.Do(func() {
		tpl, err := samtemplate.Parse(herokuevents.Template)
		if err != nil {
			shared.buildErr = err
			return
		}
		var roles []string
		for _, id := range tpl.Functions() {
			roles = append(roles, Role(id))
		}
		if shared.dir, err = os.MkdirTemp("", "awslocal-bin-"); err != nil {
			shared.buildErr = err
			return
		}
		shared.binaries, shared.buildErr = Build(t.Context(), BuildOptions{Dir: shared.dir, Arch: runtime.GOARCH, Roles: roles})
	})
	if shared.buildErr != nil {
		t.Fatalf("awslocal: %v", shared.buildErr)
	}
	return shared.binaries
}

// New deploys a stack for the test t on the package's moto server with the
// package's binaries (o.Endpoint and o.Binaries are filled in) and tears it
// down when t ends. It fails t, never skips, when a tool is missing. When t
// has failed, the cleanup logs every function's output and the pollers'
// trace.
func New(t testing.TB, o Options) *Stack {
	t.Helper()
	if _, err := RIEPath(); err != nil {
		t.Fatalf("awslocal: %v", err)
	}
	o.Endpoint = Moto(t).URL
	o.Binaries = Binaries(t)
	s, err := Deploy(t.Context(), o)
	if err != nil {
		t.Fatalf("awslocal: deploy: %v", err)
	}
	t.Cleanup(func() {
		if err := s.Close(); err != nil {
			t.Errorf("awslocal: %v", err)
		}
		if t.Failed() {
			ids := make([]string, 0, len(s.fns))
			for id := range s.fns {
				ids = append(ids, id)
			}
			sort.Strings(ids)
			var b strings.Builder
			for _, id := range ids {
				fmt.Fprintf(&b, "--- %s ---\n%s\n", id, s.Logs(id))
			}
			t.Logf("stack %s:\n%s--- pollers ---\n%s", s.Name, b.String(), s.Trace())
		}
	})
	return s
}
