package mapping_test

import (
	"encoding/json"
	"errors"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/herokuevents/herokuevents/shared/mapping"
)

// FuzzCompile: any mapping a tenant writes compiles or fails with
// ErrCompile (or a named limit), never anything else; what compiles runs
// on an event under the limits and answers JSON, a deletion or an error.
func FuzzCompile(f *testing.F) {
	for _, s := range []string{
		`root = this`, `root = if this.n > 1 { this } else { deleted() }`, `root.x = this.a.b.c.or("d").uppercase()`,
		`root = range(0, 100000000)`, `root = "x".repeat(100000000)`, `root = env("HOME")`, `root = file("/etc/passwd")`,
		`map f { root = this.apply("f") } root = this.apply("f")`, `root = `, `root = this.(`, `meta x = "y"`,
		`root = this.keys().map_each(k -> k.length())`, `root = now()`, `root = uuid_v4()`, "root = \"\\u0000\"",
	} {
		f.Add(s, []byte(`{"a":{"b":{"c":"v"}},"n":2}`))
	}
	f.Fuzz(func(t *testing.T, src string, data []byte) {
		m, err := mapping.Compile(src)
		if err != nil {
			if errors.Is(err, mapping.ErrUnavailable) {
				return // the worker pool is saturated by the fuzzer: no verdict on src
			}
			require.True(t, errors.Is(err, mapping.ErrCompile) || errors.Is(err, mapping.ErrLimit), "Compile(%q): %v", src, err)
			require.NotEmpty(t, err.Error())
			return
		}
		require.Equal(t, src, m.Source())
		if !json.Valid(data) {
			data = []byte(`{}`)
		}
		out, deleted, err := m.Apply(data)
		if err != nil || deleted {
			return
		}
		require.LessOrEqual(t, len(out), 1<<20, "output bounded")
	})
}
