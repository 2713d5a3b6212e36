package main

import (
	"fmt"
	"slices"
	"strings"
	"testing"
)

// linkRules are the dependency budget of the functions (../shared/DESIGN.md
// §4: each function links only what its role uses). A rule names heavy
// dependencies (by their name in heavy) and either the roles that must not
// link them (notIn) or the only roles that may (onlyIn; a new function falls
// under the rule).
var linkRules = []struct {
	heavy  []string
	notIn  []string
	onlyIn []string
	why    string
}{
	{
		heavy: []string{"grpc", "goavro", "jwt", "oauth2", "cron"},
		notIn: []string{"ingest", "filter"},
		why:   "the data plane's hot path neither talks to Salesforce nor schedules",
	},
	{
		heavy:  []string{"salesforce"},
		onlyIn: []string{"api", "deliver", "sfsubscribe"},
		why:    "only the functions that talk to Salesforce link its client",
	},
	{
		heavy:  []string{"bloblang"},
		onlyIn: []string{"api", "filter", "generate"},
		why:    "Bloblang only where mappings run (api checks them at create, filter runs filters, generate runs mappings)",
	},
}

// maxMB are the stripped arm64 bootstrap sizes (MB = 2^20 bytes) allowed per
// function; a function not named here gets defaultMaxMB.
var (
	maxMB        = map[string]float64{"ingest": 14}
	defaultMaxMB = 20.0
)

// TestBudget holds every function to its dependency budget: the heavy
// dependencies it may link (from go list -deps for linux/arm64, -tags
// lambda.norpc) and the size of its stripped bootstrap, built like
// scripts/build-functions. A failure names the import chains that pull the
// dependency in (one per package the function imports that leads to it).
func TestBudget(t *testing.T) {
	ctx := t.Context()
	root, err := moduleRoot(ctx)
	if err != nil {
		t.Fatal(err)
	}
	roles, err := functionRoles(root)
	if err != nil {
		t.Fatal(err)
	}
	fns, err := listFunctions(ctx, root, roles)
	if err != nil {
		t.Fatal(err)
	}
	prefixes := map[string]string{}
	for _, h := range heavy {
		prefixes[h.Name] = h.Prefix
	}

	t.Run("links", func(t *testing.T) {
		for _, rule := range linkRules {
			for _, role := range roles {
				forbidden := slices.Contains(rule.notIn, role)
				if rule.onlyIn != nil {
					forbidden = !slices.Contains(rule.onlyIn, role)
				}
				if !forbidden {
					continue
				}
				for _, name := range rule.heavy {
					prefix, ok := prefixes[name]
					if !ok {
						t.Fatalf("a rule names %q, which heavy does not define", name)
					}
					if chain := routes(fns[role], prefix); chain != "" {
						t.Errorf("%s links %s (%s): %s\n\t%s", role, name, prefix, rule.why, chain)
					}
				}
			}
		}
	})

	t.Run("size", func(t *testing.T) {
		sizes, err := buildFunctions(ctx, root, t.TempDir(), roles, 2)
		if err != nil {
			t.Fatal(err)
		}
		for _, role := range roles {
			limit, ok := maxMB[role]
			if !ok {
				limit = defaultMaxMB
			}
			mb := float64(sizes[role]) / (1 << 20)
			t.Logf("%s: %.1f MB (budget %.0f MB), %d non-standard packages, %d modules",
				role, mb, limit, len(fns[role].NonStandard()), len(fns[role].Modules()))
			if mb > limit {
				t.Errorf("%s bootstrap is %.1f MB (%d bytes), over its budget of %.0f MB", role, mb, sizes[role], limit)
			}
		}
	})
}

// routes returns the import chains from f to packages at or under prefix
// (one per package f imports that leads there), written with this module's
// paths shortened, one per line, or "" when f links none.
func routes(f *function, prefix string) string {
	var lines []string
	for _, r := range f.Routes(prefix) {
		short := make([]string, len(r))
		for i, p := range r {
			short[i] = strings.TrimPrefix(p, module+"/")
		}
		lines = append(lines, strings.Join(short, " → "))
	}
	return strings.Join(lines, "\n\t")
}

func TestChain(t *testing.T) {
	f := &function{Path: "m/a", deps: map[string]*pkg{
		"m/a":       {ImportPath: "m/a", Imports: []string{"m/b", "m/c"}},
		"m/b":       {ImportPath: "m/b", Imports: []string{"x.org/d"}},
		"m/c":       {ImportPath: "m/c", Imports: []string{"m/b", "x.org/d/e"}},
		"x.org/d":   {ImportPath: "x.org/d", Imports: []string{"fmt"}},
		"x.org/d/e": {ImportPath: "x.org/d/e"},
		"fmt":       {ImportPath: "fmt", Standard: true},
	}}
	if got, want := fmt.Sprint(f.Chain("x.org/d/e")), "[m/a m/c x.org/d/e]"; got != want {
		t.Errorf("Chain = %s, want %s", got, want)
	}
	if got := f.Chain("x.org/none"); got != nil {
		t.Errorf("Chain of an unlinked package = %v, want nil", got)
	}
	if got, want := f.Linked("x.org/d"), []string{"x.org/d", "x.org/d/e"}; !slices.Equal(got, want) {
		t.Errorf("Linked = %v, want %v", got, want)
	}
	if got, want := routes(f, "x.org/d"), "m/a → m/b → x.org/d\n\tm/a → m/c → x.org/d/e"; got != want {
		t.Errorf("routes = %q, want %q", got, want)
	}
	if got := routes(f, "x.org/none"); got != "" {
		t.Errorf("routes to an unlinked package = %q, want none", got)
	}
	if got := len(f.NonStandard()); got != 5 {
		t.Errorf("NonStandard = %d packages, want 5", got)
	}
}
