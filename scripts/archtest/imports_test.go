package archtest

import (
	"bytes"
	"encoding/json"
	"os/exec"
	"slices"
	"strings"
	"testing"
)

// module is the path of this repository's module.
const module = "github.com/herokuevents/herokuevents"

// roles are the role packages (with their subpackages): none imports another.
var roles = []string{"shared/api", "shared/ingest", "shared/filter", "shared/deliver", "shared/generate", "shared/sfsub", "shared/partner"}

// pkg is one package of `go list -json`.
type pkg struct {
	ImportPath   string
	Name         string
	Imports      []string
	TestImports  []string
	XTestImports []string
	Error        *struct{ Err string }
}

// rule is one import rule: violates reports whether the non-test code of
// package from (a path inside the module, "" for its root) may not import
// imp (a full import path).
type rule struct {
	name     string
	violates func(from *pkg, imp string) bool
}

var rules = []rule{
	{"only shared/lambdaio imports aws-lambda-go in shared/", func(from *pkg, imp string) bool {
		return under(imp, "github.com/aws/aws-lambda-go") && under(local(from), "shared") && !under(local(from), "shared/lambdaio")
	}},
	{"only infra/aws imports AWS SDK service clients", func(from *pkg, imp string) bool {
		return under(imp, "github.com/aws/aws-sdk-go-v2/service") && !under(local(from), "infra/aws")
	}},
	{"only shared/mapping imports Bloblang", func(from *pkg, imp string) bool {
		return under(imp, "github.com/redpanda-data/benthos") && !under(local(from), "shared/mapping")
	}},
	{"only shared/salesforce speaks gRPC", func(from *pkg, imp string) bool {
		return under(imp, "google.golang.org/grpc") && !under(local(from), "shared/salesforce")
	}},
	{"shared/mapping is a leaf", func(from *pkg, imp string) bool {
		return under(local(from), "shared/mapping") && under(imp, module) && !under(imp, module+"/shared/mapping")
	}},
	{"roles do not import roles", func(from *pkg, imp string) bool {
		a, b := role(local(from)), role(strings.TrimPrefix(imp, module+"/"))
		return a != "" && b != "" && a != b && under(imp, module)
	}},
	{"the domain imports no wiring, adapter, command or script", func(from *pkg, imp string) bool {
		if !under(local(from), "shared") || !under(imp, module) {
			return false
		}
		to := strings.TrimPrefix(imp, module+"/")
		return under(to, "infra") || under(to, "cmd") || under(to, "functions") || under(to, "scripts")
	}},
	{"only test helper packages (named *test) import testing", func(from *pkg, imp string) bool {
		return imp == "testing" && !strings.HasSuffix(from.Name, "test")
	}},
}

// TestImports enforces the import rules of shared/DESIGN.md §4 on the
// non-test code of every package of the module.
func TestImports(t *testing.T) {
	pkgs := list(t)
	for _, r := range rules {
		t.Run(r.name, func(t *testing.T) {
			for _, p := range pkgs {
				for _, imp := range p.Imports {
					if r.violates(p, imp) {
						t.Errorf("%s imports %s", short(p.ImportPath), short(imp))
					}
				}
			}
		})
	}
}

// TestDomainTestsUseMemstore: the unit tests of the domain get a config.Store
// from shared/config/memstore, not from the embedded mode's SQLite adapter.
func TestDomainTestsUseMemstore(t *testing.T) {
	for _, p := range list(t) {
		if !under(local(p), "shared") {
			continue
		}
		for _, imp := range append(slices.Clone(p.TestImports), p.XTestImports...) {
			if under(imp, module+"/infra/embedded/sqlitestore") {
				t.Errorf("tests of %s import %s", short(p.ImportPath), short(imp))
			}
		}
	}
}

// TestBinariesLinkNoTestCode: the CLI and the Lambda functions link neither
// package testing nor a test helper package of the module (named *test).
func TestBinariesLinkNoTestCode(t *testing.T) {
	pkgs := list(t)
	byPath := map[string]*pkg{}
	for _, p := range pkgs {
		byPath[p.ImportPath] = p
	}
	for _, p := range pkgs {
		if p.Name != "main" || !(under(local(p), "cmd") || under(local(p), "functions")) {
			continue
		}
		// breadth first through the module's packages, so the chain is short
		from := map[string]string{p.ImportPath: ""}
		queue := []string{p.ImportPath}
		for len(queue) > 0 {
			cur := byPath[queue[0]]
			queue = queue[1:]
			for _, imp := range cur.Imports {
				if _, seen := from[imp]; seen {
					continue
				}
				from[imp] = cur.ImportPath
				dep := byPath[imp]
				if imp == "testing" || (dep != nil && strings.HasSuffix(dep.Name, "test")) {
					var chain []string
					for c := imp; c != ""; c = from[c] {
						chain = append(chain, short(c))
					}
					slices.Reverse(chain)
					t.Errorf("%s links test code: %s", short(p.ImportPath), strings.Join(chain, " → "))
					continue
				}
				if dep != nil {
					queue = append(queue, imp)
				}
			}
		}
	}
}

func TestRules(t *testing.T) {
	p := func(path, name string) *pkg { return &pkg{ImportPath: module + "/" + path, Name: name} }
	cases := []struct {
		rule string
		from *pkg
		imp  string
		want bool
	}{
		{"roles do not import roles", p("shared/partner", "partner"), module + "/shared/api", true},
		{"roles do not import roles", p("shared/generate/generatetest", "generatetest"), module + "/shared/generate", false},
		{"roles do not import roles", p("shared/apifoo", "apifoo"), module + "/shared/api", false},
		{"roles do not import roles", p("shared/sfsub", "sfsub"), module + "/shared/platform", false},
		{"only shared/salesforce speaks gRPC", p("shared/salesforce/pubsubpb", "pubsubpb"), "google.golang.org/grpc/codes", false},
		{"only shared/salesforce speaks gRPC", p("shared/sfsub", "sfsub"), "google.golang.org/grpc", true},
		{"only shared/salesforce speaks gRPC", p("shared/salesforcex", "salesforcex"), "google.golang.org/grpc", true},
		{"shared/mapping is a leaf", p("shared/mapping", "mapping"), module + "/shared/event", true},
		{"shared/mapping is a leaf", p("shared/mapping", "mapping"), "github.com/redpanda-data/benthos/v4/public/bloblang", false},
		{"only test helper packages (named *test) import testing", p("shared/config/storetest", "storetest"), "testing", false},
		{"only test helper packages (named *test) import testing", p("shared/salesforce/standin", "standin"), "testing", true},
		{"the domain imports no wiring, adapter, command or script", p("shared/api", "api"), module + "/infra/embedded/sqlitestore", true},
		{"the domain imports no wiring, adapter, command or script", p("infra/embedded", "embedded"), module + "/infra/embedded/sqlitestore", false},
		{"only shared/lambdaio imports aws-lambda-go in shared/", p("shared/lambdaio", "lambdaio"), "github.com/aws/aws-lambda-go/events", false},
		{"only shared/lambdaio imports aws-lambda-go in shared/", p("shared/ingest", "ingest"), "github.com/aws/aws-lambda-go/events", true},
		{"only infra/aws imports AWS SDK service clients", p("infra/aws/sqsqueue", "sqsqueue"), "github.com/aws/aws-sdk-go-v2/service/sqs", false},
		{"only infra/aws imports AWS SDK service clients", p("shared/secret", "secret"), "github.com/aws/aws-sdk-go-v2/service/kms", true},
	}
	for _, c := range cases {
		i := slices.IndexFunc(rules, func(r rule) bool { return r.name == c.rule })
		if i < 0 {
			t.Fatalf("no rule %q", c.rule)
		}
		if got := rules[i].violates(c.from, c.imp); got != c.want {
			t.Errorf("%s: %s importing %s violates = %v, want %v", c.rule, c.from.ImportPath, c.imp, got, c.want)
		}
	}
}

// list returns every package of the module, from go list run at its root.
func list(t *testing.T) []*pkg {
	t.Helper()
	cmd := exec.CommandContext(t.Context(), "go", "list", "-e", "-json=ImportPath,Name,Imports,TestImports,XTestImports,Error", module+"/...")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("go list: %v\n%s", err, stderr.Bytes())
	}
	var pkgs []*pkg
	dec := json.NewDecoder(bytes.NewReader(out))
	for dec.More() {
		p := new(pkg)
		if err := dec.Decode(p); err != nil {
			t.Fatalf("go list: %v", err)
		}
		if p.Error != nil {
			t.Errorf("go list %s: %s", p.ImportPath, p.Error.Err)
		}
		pkgs = append(pkgs, p)
	}
	if len(pkgs) == 0 {
		t.Fatal("go list listed no package")
	}
	return pkgs
}

// local returns p's path inside the module ("" for its root, the full path
// for a package of another module).
func local(p *pkg) string {
	if p.ImportPath == module {
		return ""
	}
	return strings.TrimPrefix(p.ImportPath, module+"/")
}

// role returns the role package that path (inside the module) is or is
// under, or "".
func role(path string) string {
	for _, r := range roles {
		if under(path, r) {
			return r
		}
	}
	return ""
}

// short returns an import path without the module's prefix.
func short(path string) string {
	return strings.TrimPrefix(path, module+"/")
}

// under reports whether path is prefix or a package under it.
func under(path, prefix string) bool {
	return path == prefix || strings.HasPrefix(path, prefix+"/")
}
