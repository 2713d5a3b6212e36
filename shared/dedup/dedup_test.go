package dedup_test

import (
	"strings"
	"testing"
	"unicode"
	"unicode/utf8"

	"github.com/stretchr/testify/assert"

	"github.com/herokuevents/herokuevents/shared/dedup"
)

func TestCheckKey(t *testing.T) {
	tests := []struct {
		name, key string
		ok        bool
	}{
		{"uuid", "4f1c2b1e-8d7a-4c9e-9b1a-2f4e6d8c0a1b", true},
		{"printable ascii", `order-42/retry #1 "x"`, true},
		{"unicode", "commande-été-42", true},
		{"255 bytes", strings.Repeat("k", dedup.MaxKeyLength), true},
		{"256 bytes", strings.Repeat("k", dedup.MaxKeyLength+1), false},
		{"empty", "", false},
		{"newline", "a\nb", false},
		{"tab", "a\tb", false},
		{"nul", "a\x00b", false},
		{"del", "a\x7fb", false},
		{"c1 control", "a\u0085b", false},
		{"not utf-8", "a\xffb", false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := dedup.CheckKey(tc.key)
			if tc.ok {
				assert.NoError(t, err)
				return
			}
			assert.ErrorIs(t, err, dedup.ErrInvalidKey)
		})
	}
}

func TestKeyIsScoped(t *testing.T) {
	k := dedup.Key("pub-1", dedup.KindHeader, "a")
	assert.Len(t, k, 64)
	assert.Equal(t, k, dedup.Key("pub-1", dedup.KindHeader, "a"), "stable")
	for _, other := range []string{
		dedup.Key("pub-2", dedup.KindHeader, "a"),
		dedup.Key("pub-1", dedup.KindCloudEvent, "a"),
		dedup.Key("pub-1", dedup.KindHeader, "b"),
		dedup.Key("pub-1a", dedup.KindHeader, ""), // no ambiguity at the joins
	} {
		assert.NotEqual(t, k, other)
	}
	assert.NotEqual(t, dedup.CloudEventKey("/a", "bc"), dedup.CloudEventKey("/ab", "c"))
}

// FuzzCheckKey: the check of an untrusted header never panics, and what
// it accepts is bounded, UTF-8 and free of control characters.
func FuzzCheckKey(f *testing.F) {
	for _, s := range []string{"", "abc", "a\nb", strings.Repeat("x", 300), "\xff", "é"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if dedup.CheckKey(s) != nil {
			return
		}
		if s == "" || len(s) > dedup.MaxKeyLength || !utf8.ValidString(s) || strings.ContainsFunc(s, unicode.IsControl) {
			t.Fatalf("accepted %q", s)
		}
		if len(dedup.Key("scope", dedup.KindHeader, s)) != 64 {
			t.Fatal("key length")
		}
	})
}
