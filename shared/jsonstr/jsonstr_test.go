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

// FuzzCut: what Cut reads is what json.Unmarshal makes of the string it
// consumed, and it refuses (so its callers decode otherwise) exactly the
// strings that are not what their bytes say.
func FuzzCut(f *testing.F) {
	for _, s := range []string{`"plain",rest`, `""`, `"é€𝄞"x`, `"esc\"aped"`, "\"ctl\x01\"", "\"bad \xff\"", `"unclosed`, `plain`, ``} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		v, rest, ok := jsonstr.Cut(s)
		bv, brest, bok := jsonstr.Cut([]byte(s))
		require.Equal(t, ok, bok, "string and []byte agree")
		if !ok {
			return
		}
		require.Equal(t, v, string(bv))
		require.Equal(t, rest, string(brest))
		token := s[:len(s)-len(rest)]
		var want string
		require.NoError(t, json.Unmarshal([]byte(token), &want), "%q", token)
		require.Equal(t, want, v)
		require.Equal(t, `"`+v+`"`, token, "the bytes between the quotes are the string")
	})
}

func TestCut(t *testing.T) {
	for _, c := range []struct {
		in, v, rest string
		ok          bool
	}{
		{`"a":1`, "a", ":1", true},
		{`""`, "", "", true},
		{`"é"`, "é", "", true},
		{`"a\"b"`, "", "", false},
		{"\"a\nb\"", "", "", false},
		{"\"\xff\"", "", "", false},
		{`"open`, "", "", false},
		{`x"a"`, "", "", false},
	} {
		v, rest, ok := jsonstr.Cut(c.in)
		require.Equal(t, c.ok, ok, c.in)
		if ok {
			require.Equal(t, c.v, v, c.in)
			require.Equal(t, c.rest, rest, c.in)
		}
	}
}
