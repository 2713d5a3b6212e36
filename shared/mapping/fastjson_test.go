package mapping

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestDecodeFast(t *testing.T) {
	cases := []struct {
		name string
		doc  string
		fast bool // read by decodeFast, not encoding/json
	}{
		{"event", `{"Context__c":{"string":"keep"},"CreatedById":"005Ws000001eUtGIAU","CreatedDate":1733842936000,"Order":{"TotalValue":1234.5,"Lines":[1,2,3]}}`, true},
		{"white space", " {\n\t\"a\" : [ 1 , true , false , null , \"\" ] ,\r\"b\":{ } } ", true},
		{"numbers", `[0,-0,1.0,-1.5e3,12345678901234567890,1e400,-1e400,1E-400,9223372036854775807,-9223372036854775808]`, true},
		{"empty array and object", `{"a":[],"b":{}}`, true},
		{"duplicate keys", `{"a":1,"a":2}`, true},
		{"unicode", "{\"é\":\"\u2028 ☃ 𝄞\"}", true},
		{"top-level scalar", `"text"`, true},
		{"escape", `{"a":"line\nbreak"}`, false},
		{"invalid UTF-8", "{\"a\":\"\xff\"}", false},
		{"trailing value", `{} {}`, false},
		{"trailing garbage", `{"a":1}x`, false},
		{"leading zero", `[01]`, false},
		{"bad fraction", `[1.]`, false},
		{"unclosed", `{"a":1`, false},
		{"deep", repeat("[", maxFastDepth+1) + repeat("]", maxFastDepth+1), false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, ok := decodeFast([]byte(c.doc))
			assert.Equal(t, c.fast, ok)
			sameAsStd(t, []byte(c.doc))
		})
	}
}

func repeat(s string, n int) string {
	b := make([]byte, 0, len(s)*n)
	for range n {
		b = append(b, s...)
	}
	return string(b)
}

// sameAsStd asserts that decode makes of data what encoding/json makes.
func sameAsStd(t *testing.T, data []byte) {
	t.Helper()
	want, wantErr := decodeStd(data)
	got, err := decode(data)
	if wantErr != nil {
		require.Error(t, err)
		assert.Equal(t, wantErr.Error(), err.Error())
		return
	}
	require.NoError(t, err)
	assert.Equal(t, want, got)
}

// FuzzDecodeFast holds decode (decodeFast where it can) to encoding/json
// on any input: the same value, or the same error.
func FuzzDecodeFast(f *testing.F) {
	for _, s := range []string{
		`{"Context__c":{"string":"keep"},"CreatedDate":1733842936000,"Order":{"TotalValue":1234.5,"Lines":[1,2,3]}}`,
		` [0,-0,1.0,-1.5e3,12345678901234567890,1e400,{"a":null,"b":[true,false]}] `,
		`{"a":"\u00e9\n"}`, `{} {}`, `1x`, `"\xff"`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		sameAsStd(t, data)
	})
}

// BenchmarkDecode compares decode with encoding/json on an event's data.
func BenchmarkDecode(b *testing.B) {
	b.Run("decode", func(b *testing.B) {
		for b.Loop() {
			if _, err := decode(benchDoc); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("encoding/json", func(b *testing.B) {
		for b.Loop() {
			if _, err := decodeStd(benchDoc); err != nil {
				b.Fatal(err)
			}
		}
	})
}
