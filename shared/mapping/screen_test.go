package mapping

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/redpanda-data/benthos/v4/public/bloblang"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestScreen: the filters users write run in process; everything that
// could grow beyond its input, or that the screen does not know, goes to a
// worker.
func TestScreen(t *testing.T) {
	inProcess := []string{
		`root = if this.Context__c.string == "drop" { deleted() } else { this }`,
		`root = if ChangeEventHeader.ChangeType == "CREATE" { this } else { deleted() }`,
		`root = if Order.TotalValue >= 100000 { this } else { deleted() }`,
		`root = if this._herokuevents.changedfields.contains("Name") { this } else { deleted() }`,
		`root = if this._herokuevents.subject.has_prefix("/data/") && !this.Name.string().lowercase().contains("test") { this } else { deleted() }`,
		"# drop test orders\nroot = if this.Status == \"test\" || this.Status == null { deleted() } else { this }",
		`root = this`,
		`root = {"ok": true, "id": this.id, "tags": [this.a, "b"]}`,
		`root = this.missing.uppercase()`,
		`root = this.a.or(this.b).catch("none").not_null()`,
		`root = this."field with spaces".string()`,
		`root = if this.n > 1 { this } else if this.n == 1 { throw("one") } else { deleted() }`,
		`root = this.(a | b)`,
		`root = if (this.a == "x") { this } else { deleted() }`,
	}
	worker := []string{
		`root.n = this.n + 1`,                                   // an assignment to a field: not one root =
		`root = this.a + this.b`,                                // + builds values
		`root = if this.n % 2 == 0 { this } else { deleted() }`, // arithmetic
		`root = -1`,
		`root = this.without("Name")`, // a method off the list
		`root = "%s".format(this)`,
		`root = "x".repeat(10)`,
		`root = range(0, 3)`,
		`root = now()`,
		`root = env("HOME")`,
		`root = this.map_each(x -> x)`,
		`root = this.keys().map_each(k -> k.length())`,
		"let a = this\nroot = $a",
		`root = $a`,
		`root = @`,
		`root = meta("x")`,
		"meta x = this\nroot = this",
		"map f { root = this }\nroot = this.apply(\"f\")",
		`root = match this.a { "x" => this, _ => deleted() }`,
		`root = root`,
		"root = this\nroot.a = 1",
		`root = """x"""`,
		`root = this.a; root = this.b`,
		`root = "x` + "\n" + `"`,
		`root = this.é`,
		`root = this.` + strings.Repeat("a", maxScreenedSource),
		`root = this.a` + strings.Repeat(".string()", maxScreenedOps+1),
		`root = [` + strings.Repeat("this, ", maxScreenedOps) + `this]`, // the input copied 33 times
		`root = [` + strings.Repeat("a, ", maxScreenedOps) + `a]`,       // the same through bare paths
		`root = ` + strings.Repeat("(", maxScreenedDepth+1) + "this" + strings.Repeat(")", maxScreenedDepth+1),
		`root = this.`, // does not compile: the worker says why
		`root = this.a.uppercase(`,
	}
	for _, b := range bombs {
		worker = append(worker, b.src)
	}
	for _, src := range inProcess {
		t.Run("in process/"+src, func(t *testing.T) {
			m, err := Compile(src)
			require.NoError(t, err)
			assert.NotNil(t, m.exec, "screened")
		})
	}
	for _, src := range worker {
		t.Run("worker/"+src, func(t *testing.T) {
			assert.Nil(t, compileScreened(src), "not screened")
		})
	}
}

// TestScreenedEnvHasOnlyTheListedCalls: the restricted environment is the
// second guard: it holds the listed functions and methods (each still in
// Bloblang, so that a rename upstream shows here) and refuses any other,
// whatever the token screen let through.
func TestScreenedEnvHasOnlyTheListedCalls(t *testing.T) {
	var fns, ms []string
	screenedEnv().WalkFunctions(func(name string, _ *bloblang.FunctionView) { fns = append(fns, name) })
	screenedEnv().WalkMethods(func(name string, _ *bloblang.MethodView) { ms = append(ms, name) })
	slices.Sort(fns)
	slices.Sort(ms)
	assert.Equal(t, slices.Sorted(slices.Values(screenedFunctions)), fns)
	assert.Equal(t, slices.Sorted(slices.Values(screenedMethods)), ms)
	for _, src := range []string{`root = this.without("a")`, `root = uuid_v4()`, `root = "x".repeat(2)`, `root = this.format("%s")`} {
		_, err := screenedEnv().Parse(src)
		assert.Error(t, err, src)
		_, err = env().Parse(src)
		assert.NoError(t, err, "the full environment has it: %s", src)
	}
}

// TestScreenedMatchesWorker: a screened mapping gives in process what a
// worker gives, byte for byte: output, deletion, error text; inputs too
// large for the in-process path go to a worker.
func TestScreenedMatchesWorker(t *testing.T) {
	srcs := []string{
		`root = if this.Context__c.string == "drop" { deleted() } else { this }`,
		`root = if this._herokuevents.changedfields.contains("Name") { this } else { deleted() }`,
		`root = {"id": this.id, "kind": this.kind.type(), "n": this.n.number().catch(0), "u": this.kind.uppercase()}`,
		`root = this.missing.uppercase()`,
		`root = if this.n > 1 { this } else if this.n == 1 { throw("one") } else { deleted() }`,
		`root = this.id.string().length()`,
	}
	big := `{"id":"` + strings.Repeat("x", maxScreenedInput) + `","n":2}`
	docs := []string{
		`{"Context__c":{"string":"drop"},"id":"a","n":0}`,
		`{"Context__c":{"string":"keep"},"id":"b","n":1,"kind":"x"}`,
		`{"id":7,"n":"2.5","kind":{"a":[1,2]},"big":1736877279422521345}`,
		`[1,2,3]`,
		`"text"`,
		``,
		big,
	}
	meta := map[string]any{"subject": "/data/AccountChangeEvent", "changedfields": []any{"Name"}}
	for _, src := range srcs {
		fast, err := Compile(src)
		require.NoError(t, err)
		require.NotNil(t, fast.exec, "screened: %s", src)
		slow, err := compileInWorker(src)
		require.NoError(t, err)
		for i, doc := range docs {
			t.Run(fmt.Sprintf("%s/%d", src, i), func(t *testing.T) {
				want := ApplyAll([]Job{{Mapping: slow, Data: []byte(doc), Meta: meta}})[0]
				got := ApplyAll([]Job{{Mapping: fast, Data: []byte(doc), Meta: meta}})[0]
				assert.Equal(t, string(want.Out), string(got.Out))
				assert.Equal(t, want.Deleted, got.Deleted)
				if want.Err == nil {
					assert.NoError(t, got.Err)
				} else {
					assert.EqualError(t, got.Err, want.Err.Error())
				}
			})
		}
	}
}

// TestScreenedConcurrently: one screened mapping evaluated by many
// goroutines at once (the publish path) gives each its own answer.
func TestScreenedConcurrently(t *testing.T) {
	m, err := Compile(`root = if this.n.number() > 50 { deleted() } else { {"n": this.n, "s": this.s.uppercase()} }`)
	require.NoError(t, err)
	require.NotNil(t, m.exec)
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Go(func() {
			for i := range 100 {
				out, deleted, err := m.ApplyMeta(fmt.Appendf(nil, `{"n":%d,"s":"g%d"}`, i, g), map[string]any{"subject": "x"})
				if !assert.NoError(t, err) {
					return
				}
				assert.Equal(t, i > 50, deleted)
				if i <= 50 {
					assert.JSONEq(t, fmt.Sprintf(`{"n":%d,"s":"G%d"}`, i, g), string(out))
				}
			}
		})
	}
	wg.Wait()
}

// FuzzScreen: the screen reads any text without failing, and whatever it
// passes (and compiles in the restricted environment) gives in process
// what a worker gives.
func FuzzScreen(f *testing.F) {
	for _, s := range []string{
		`root = if this.Context__c.string == "drop" { deleted() } else { this }`, `root = this.a.or(this.b).uppercase()`,
		`root = {"a": [this.x, 1.5, null, true]}`, `root = this."q\"x".string()`, "root = this # c\n", `root = this.(a | b)`,
		`root = this.a + this.b`, `root = """x"""`, `root = ((((this))))`, `root = !this.a.contains("b") && this.n >= 2_000`,
	} {
		f.Add(s, []byte(`{"Context__c":{"string":"drop"},"a":"x","b":{"c":[1,2]},"n":3000,"x":"y","q\"x":1}`))
	}
	f.Fuzz(func(t *testing.T, src string, data []byte) {
		exec := compileScreened(src)
		if exec == nil {
			return
		}
		slow, err := compileInWorker(src)
		if errors.Is(err, ErrUnavailable) {
			return
		}
		require.NoError(t, err, "compiles in process, so in a worker: %q", src)
		fast := &Mapping{src: src, exec: exec}
		want := ApplyAll([]Job{{Mapping: slow, Data: data}})[0]
		if errors.Is(want.Err, ErrUnavailable) {
			return
		}
		start := time.Now()
		got := ApplyAll([]Job{{Mapping: fast, Data: data}})[0]
		require.Less(t, time.Since(start), time.Second, "in process: %q on %q", src, data)
		assert.Equal(t, string(want.Out), string(got.Out), "%q", src)
		assert.Equal(t, want.Deleted, got.Deleted, "%q", src)
		assert.Equal(t, fmt.Sprint(want.Err), fmt.Sprint(got.Err), "%q", src)
	})
}

// TestScreenedNeedsNoWorker: a screened filter is compiled and evaluated
// without a worker process (no request, no worker started); the same
// mapping on an input past maxScreenedInput, and a mapping the screen does
// not pass, go to a worker.
func TestScreenedNeedsNoWorker(t *testing.T) {
	SetLimits(Limits{})
	t.Cleanup(func() { SetLimits(Limits{}) })
	p := thePool()
	m, err := Compile(`root = if this.kind == "drop" { deleted() } else { this }`)
	require.NoError(t, err)
	for i := range 10 {
		_, deleted, err := m.ApplyMeta(fmt.Appendf(nil, `{"kind":%q}`, []string{"keep", "drop"}[i%2]), map[string]any{"subject": "x"})
		require.NoError(t, err)
		assert.Equal(t, i%2 == 1, deleted)
	}
	assert.Zero(t, p.rounds.Load(), "no request to a worker")
	assert.Zero(t, len(p.slots), "no worker started")

	_, _, err = m.Apply([]byte(`{"kind":"` + strings.Repeat("k", maxScreenedInput) + `"}`))
	require.NoError(t, err)
	assert.Equal(t, int64(1), p.rounds.Load(), "an input past the bound goes to a worker")

	inc, err := Compile(`root.n = this.n + 1`)
	require.NoError(t, err)
	_, _, err = inc.Apply([]byte(`{"n":1}`))
	require.NoError(t, err)
	assert.Equal(t, int64(2), p.rounds.Load(), "an unscreened mapping goes to a worker")
}
