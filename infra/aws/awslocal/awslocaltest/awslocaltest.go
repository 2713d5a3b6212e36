// Package awslocaltest runs herokuevents' AWS mode (infra/aws/awslocal) in
// tests: one moto server and one build of the function binaries per test
// binary, a fresh stack per test torn down with it, and the clients a test
// needs (the HTTP API as Heroku, an app and the CLI call it; webhook
// receivers).
//
//	func TestMain(m *testing.M) { awslocaltest.Main(m) }
//
//	func TestSomething(t *testing.T) {
//		st := awslocaltest.New(t, awslocal.Options{})  // Params, FunctionEnv (e.g. RUN_FOR) as needed
//		hook := awslocaltest.NewHook(t)                  // a webhook / partner API on loopback
//		tn := st.Provision(t, "my-app")                   // POST /heroku/resources as the operator
//		tn.MustCall(t, 201, "POST", "/platforms/webhook/publications", map[string]any{"name": "out", "url": hook.URL}, nil)
//		id := tn.Publish(t, "out", `{"a":1}`)            // through the ingest function
//		hook.Wait(t, id, 1, 30*time.Second)
//		require.NoError(t, st.Drain(t.Context()))
//		dead, _ := st.Peek(t.Context(), "DeliveryDLQ")
//		metrics := st.Metrics("DeliverFunction")         // EMF lines the function printed
//		...
//	}
//
// Tools (moto_server, aws-lambda-rie) come pinned from scripts/setup-tools;
// a missing tool fails the test, never skips it.
package awslocaltest

import (
	"fmt"
	"os"
	"runtime"
	"strings"
	"sync"
	"testing"

	"github.com/herokuevents/herokuevents"
	"github.com/herokuevents/herokuevents/infra/aws/awslocal"
	"github.com/herokuevents/herokuevents/infra/aws/motoserver"
	"github.com/herokuevents/herokuevents/infra/samtemplate"
)

// shared is the state of a test binary: one moto server and one build of
// the function binaries, made on first use and removed by Main.
var shared struct {
	main bool

	motoOnce sync.Once
	moto     *motoserver.Server
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
//	func TestMain(m *testing.M) { awslocaltest.Main(m) }
func Main(m *testing.M) {
	shared.main = true
	code := m.Run()
	if shared.moto != nil {
		if err := shared.moto.Close(); err != nil {
			fmt.Fprintln(os.Stderr, "awslocaltest:", err)
		}
	}
	if shared.dir != "" {
		_ = os.RemoveAll(shared.dir)
	}
	os.Exit(code)
}

// Moto returns the package's moto server, started on first use. It fails
// t when the server cannot start (scripts/setup-tools installs it).
func Moto(t testing.TB) *motoserver.Server {
	t.Helper()
	if !shared.main {
		t.Fatal("awslocal: call awslocaltest.Main(m) from the package's TestMain")
	}
	shared.motoOnce.Do(func() { shared.moto, shared.motoErr = motoserver.Start() })
	if shared.motoErr != nil {
		t.Fatalf("awslocaltest: %v", shared.motoErr)
	}
	return shared.moto
}

// Binaries returns every function of template.yaml built for the host
// architecture (see Build), by role; built once per test binary.
func Binaries(t testing.TB) map[string]string {
	t.Helper()
	if !shared.main {
		t.Fatal("awslocal: call awslocaltest.Main(m) from the package's TestMain")
	}
	shared.buildOnce.Do(func() {
		tpl, err := samtemplate.Parse(herokuevents.Template)
		if err != nil {
			shared.buildErr = err
			return
		}
		var roles []string
		for _, id := range tpl.Functions() {
			roles = append(roles, awslocal.Role(id))
		}
		if shared.dir, err = os.MkdirTemp("", "awslocal-bin-"); err != nil {
			shared.buildErr = err
			return
		}
		shared.binaries, shared.buildErr = awslocal.Build(t.Context(), awslocal.BuildOptions{Dir: shared.dir, Arch: runtime.GOARCH, Roles: roles})
	})
	if shared.buildErr != nil {
		t.Fatalf("awslocaltest: %v", shared.buildErr)
	}
	return shared.binaries
}

// New deploys a stack for the test t on the package's moto server with the
// package's binaries (o.Endpoint and o.Binaries are filled in) and tears it
// down when t ends. It fails t, never skips, when a tool is missing. When t
// has failed, the cleanup logs every function's output and the pollers'
// trace.
func New(t testing.TB, o awslocal.Options) *Stack {
	t.Helper()
	if _, err := awslocal.RIEPath(); err != nil {
		t.Fatalf("awslocaltest: %v", err)
	}
	o.Endpoint = Moto(t).URL
	o.Binaries = Binaries(t)
	s, err := awslocal.Deploy(t.Context(), o)
	if err != nil {
		t.Fatalf("awslocaltest: deploy: %v", err)
	}
	t.Cleanup(func() {
		if err := s.Close(); err != nil {
			t.Errorf("awslocaltest: %v", err)
		}
		if t.Failed() {
			var b strings.Builder
			for _, id := range s.Template.Functions() {
				if s.Emulator(id) != nil {
					fmt.Fprintf(&b, "--- %s ---\n%s\n", id, s.Logs(id))
				}
			}
			t.Logf("stack %s:\n%s--- pollers ---\n%s", s.Name, b.String(), s.Trace())
		}
	})
	return &Stack{Stack: s}
}
