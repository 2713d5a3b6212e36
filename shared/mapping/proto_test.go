package mapping

import (
	"bufio"
	"bytes"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestProtoRoundTrip(t *testing.T) {
	req := &request{Op: opApply, CPU: 100e6, Output: 1 << 20, Srcs: []string{"root = this", "root = deleted()"},
		Items: []item{{Src: 1, Data: []byte(`{"a":1}`), Meta: []byte(`{"subject":"x"}`)}, {Src: 0}}}
	var buf bytes.Buffer
	w := bufio.NewWriter(&buf)
	writeRequest(w, req)
	for _, res := range []*response{{Out: []byte(`{}`), Same: true}, {Deleted: true}, {Kind: kindLimit, Err: "time", CPU: 101e6}} {
		writeResponse(w, res)
	}
	require.NoError(t, w.Flush())
	r := bufio.NewReader(&buf)
	got, err := readRequest(r)
	require.NoError(t, err)
	assert.Equal(t, req, got)
	for _, want := range []*response{{Out: []byte(`{}`), Same: true}, {Deleted: true}, {Kind: kindLimit, Err: "time", CPU: 101e6}} {
		res, err := readResponse(r)
		require.NoError(t, err)
		assert.Equal(t, want, res)
	}
}

// FuzzProto: the frames a worker answers (its mapping is a tenant's)
// decode or fail, never panic nor allocate past the field bound; what
// decodes encodes back to the same bytes.
func FuzzProto(f *testing.F) {
	var buf bytes.Buffer
	w := bufio.NewWriter(&buf)
	writeResponse(w, &response{Out: []byte(`{"a":1}`)})
	writeRequest(w, &request{Op: opApply, Srcs: []string{"root = this"}, Items: []item{{Data: []byte(`{}`)}}})
	_ = w.Flush()
	f.Add(buf.Bytes())
	f.Add([]byte{0, 0, 0xff, 0xff, 0xff, 0xff, 0x7f})
	f.Fuzz(func(t *testing.T, b []byte) {
		if res, err := readResponse(bufio.NewReader(bytes.NewReader(b))); err == nil {
			var out bytes.Buffer
			w := bufio.NewWriter(&out)
			writeResponse(w, res)
			require.NoError(t, w.Flush())
			again, err := readResponse(bufio.NewReader(&out))
			require.NoError(t, err)
			assert.Equal(t, res, again)
		}
		if req, err := readRequest(bufio.NewReader(bytes.NewReader(b))); err == nil {
			for _, it := range req.Items {
				require.Less(t, it.Src, len(req.Srcs))
			}
		}
	})
}
