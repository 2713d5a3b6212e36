package archtest

import (
	"bytes"
	"encoding/json"
	"fmt"
	"go/ast"
	"go/parser"
	"go/printer"
	"go/token"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/herokuevents/herokuevents/shared/metric"
)

// metricCall is one call of a metric.Recorder in the module's code.
type metricCall struct {
	at   string   // file:line
	name string   // the metric name's expression: metric.Failed, sfsub.ReplayFallback
	dims []string // its dimension names, sorted, labels left out
	err  string   // why its dimensions cannot be read
}

// TestMetricDimensions: every metric name is recorded with one dimension
// set (labels aside) in the whole module, and the names of shared/metric
// with the set of metric.Dimensions. CloudWatch makes a separate metric of
// each dimension set: a name recorded with two would be two metrics.
func TestMetricDimensions(t *testing.T) {
	calls := metricCalls(t)
	if len(calls) < 15 {
		t.Fatalf("found only %d metric calls: is the scan broken?", len(calls))
	}
	byName := map[string][]metricCall{}
	for _, c := range calls {
		if c.err != "" {
			t.Errorf("%s: %s: %s", c.at, c.name, c.err)
			continue
		}
		byName[c.name] = append(byName[c.name], c)
	}
	for name, cs := range byName {
		want := cs[0].dims
		if d, ok := metric.Dimensions[strings.TrimPrefix(name, "metric.")]; ok && strings.HasPrefix(name, "metric.") {
			want = slices.Sorted(slices.Values(d))
		}
		for _, c := range cs {
			if !slices.Equal(c.dims, want) {
				t.Errorf("%s: %s recorded with dimensions %v, want %v (its one set)", c.at, name, c.dims, want)
			}
		}
	}
	for name := range metric.Dimensions {
		if _, ok := byName["metric."+name]; !ok {
			t.Errorf("metric.%s is never recorded", name)
		}
	}
}

// TestMetricDimensionsScan: the scan reads literal and constant dimension
// names, leaves labels out and refuses what it cannot read.
func TestMetricDimensionsScan(t *testing.T) {
	src := `package p
func f() {
	h.o.Metrics.Count(ctx, metric.Delivered, 1, "Platform", p, metric.LabelTenant, t)
	h.metrics().Duration(ctx, metric.DeliveryLatency, d, metric.DimPlatform, p)
	o.metrics.Count(ctx, metric.DeadLettered, n, dims...)
	r.Metrics.Count(ctx, ReplayFallback, 1, "Platform")
	strings.Count(s, "x")
}`
	got := scanFile(t, "p/p.go", "p", []byte(src))
	want := []metricCall{
		{at: "p/p.go:3", name: "metric.Delivered", dims: []string{"Platform"}},
		{at: "p/p.go:4", name: "metric.DeliveryLatency", dims: []string{"Platform"}},
		{at: "p/p.go:5", name: "metric.DeadLettered", err: "dimensions passed as a slice: pass literal name/value pairs"},
		{at: "p/p.go:6", name: "p.ReplayFallback", err: "an odd number of dimension arguments"},
	}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("scan:\n got %v\nwant %v", got, want)
	}
}

// metricCalls scans the non-test Go files of every package of the module.
func metricCalls(t *testing.T) []metricCall {
	t.Helper()
	cmd := exec.CommandContext(t.Context(), "go", "list", "-e", "-json=Dir,Name,GoFiles", module+"/...")
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	var calls []metricCall
	dec := json.NewDecoder(bytes.NewReader(out))
	for dec.More() {
		var p struct {
			Dir, Name string
			GoFiles   []string
		}
		if err := dec.Decode(&p); err != nil {
			t.Fatal(err)
		}
		for _, f := range p.GoFiles {
			path := filepath.Join(p.Dir, f)
			calls = append(calls, scanFile(t, path, p.Name, nil)...)
		}
	}
	return calls
}

// scanFile finds the calls Count(ctx, NAME, n, dims...) and Duration(…) on
// a receiver whose expression names metrics (h.o.Metrics, h.metrics(),
// o.metrics): the roles' recorders.
func scanFile(t *testing.T, path, pkg string, src []byte) []metricCall {
	t.Helper()
	fset := token.NewFileSet()
	var s any
	if src != nil {
		s = src
	}
	file, err := parser.ParseFile(fset, path, s, 0)
	if err != nil {
		t.Fatalf("parse %s: %v", path, err)
	}
	var calls []metricCall
	ast.Inspect(file, func(n ast.Node) bool {
		call, ok := n.(*ast.CallExpr)
		if !ok || len(call.Args) < 3 {
			return true
		}
		sel, ok := call.Fun.(*ast.SelectorExpr)
		if !ok || (sel.Sel.Name != "Count" && sel.Sel.Name != "Duration") || !strings.Contains(strings.ToLower(text(fset, sel.X)), "metrics") {
			return true
		}
		c := metricCall{at: fmt.Sprintf("%s:%d", path, fset.Position(call.Pos()).Line)}
		switch name := call.Args[1].(type) {
		case *ast.SelectorExpr:
			c.name = text(fset, name)
		case *ast.Ident:
			c.name = pkg + "." + name.Name
		default:
			return true // a name computed at run time: a driver passing it on
		}
		dims := call.Args[3:]
		switch {
		case call.Ellipsis.IsValid():
			c.err = "dimensions passed as a slice: pass literal name/value pairs"
		case len(dims)%2 != 0:
			c.err = "an odd number of dimension arguments"
		}
		for i := 0; c.err == "" && i < len(dims); i += 2 {
			k, ok := constString(dims[i])
			if !ok {
				c.err = fmt.Sprintf("dimension name %s is not a string constant", text(fset, dims[i]))
				break
			}
			if !metric.IsLabel(k) {
				c.dims = append(c.dims, k)
			}
		}
		slices.Sort(c.dims)
		if c.err != "" {
			c.dims = nil
		}
		calls = append(calls, c)
		return true
	})
	return calls
}

// constString reads a string literal or a dimension or label constant of
// shared/metric.
func constString(e ast.Expr) (string, bool) {
	switch v := e.(type) {
	case *ast.BasicLit:
		if v.Kind == token.STRING {
			s, err := strconv.Unquote(v.Value)
			return s, err == nil
		}
	case *ast.SelectorExpr:
		if x, ok := v.X.(*ast.Ident); ok && x.Name == "metric" {
			s, ok := map[string]string{
				"DimPlatform": metric.DimPlatform, "DimReason": metric.DimReason,
				"LabelTenant": metric.LabelTenant, "LabelPublication": metric.LabelPublication, "LabelSubscription": metric.LabelSubscription,
			}[v.Sel.Name]
			return s, ok
		}
	}
	return "", false
}

func text(fset *token.FileSet, e ast.Expr) string {
	var b bytes.Buffer
	_ = printer.Fprint(&b, fset, e)
	return b.String()
}
