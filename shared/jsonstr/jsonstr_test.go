package jsonstr_test

import (
	"encoding/json"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/herokuevents/herokuevents/shared/jsonstr"
)

// FuzzAppend: Append writes what json.Marshal writes for the same string.
func FuzzAppend(f *testing.F) {
	for _, s := range []string{"", "plain", `quote " backslash \ slash /`, "\x00\x1f\b\f\n\r\t", "<a href='x'>&amp;</a>", "\u2028\u2029", "é€𝄞", "\xff\xfe bad \xc3", "\x7f"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		want, err := json.Marshal(s)
		require.NoError(t, err)
		require.Equal(t, string(want), string(jsonstr.Append([]byte("x"), s))[1:])
	})
}
