package mapping

import (
	"math"
	"reflect"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
)

// TestEqualIsDeepEqual: equal answers as reflect.DeepEqual does, on the
// values decode makes and on those Bloblang may return.
func TestEqualIsDeepEqual(t *testing.T) {
	values := []any{
		nil, true, false, int64(1), int64(2), float64(1), math.NaN(), "1", "", []byte("1"), int(1), uint64(1),
		time.Unix(0, 0).UTC(), map[string]any(nil), map[string]any{}, map[string]any{"a": int64(1)},
		map[string]any{"a": float64(1)}, map[string]any{"b": int64(1)}, []any(nil), []any{}, []any{int64(1)},
		[]any{"1"}, map[string]any{"a": []any{map[string]any{"b": nil}}}, map[string]any{"a": []any{map[string]any{"b": false}}},
	}
	for _, a := range values {
		for _, b := range values {
			assert.Equal(t, reflect.DeepEqual(a, b), equal(a, b), "%#v and %#v", a, b)
		}
	}
}

// FuzzEqual: on any two JSON documents, equal answers as
// reflect.DeepEqual.
func FuzzEqual(f *testing.F) {
	f.Add([]byte(`{"a":1,"b":[1,2.5,"x",null,true]}`), []byte(`{"b":[1,2.5,"x",null,true],"a":1}`))
	f.Add([]byte(`{"a":1}`), []byte(`{"a":1.0}`))
	f.Add([]byte(`[]`), []byte(`{}`))
	f.Fuzz(func(t *testing.T, x, y []byte) {
		a, err := decode(x)
		if err != nil {
			return
		}
		b, err := decode(y)
		if err != nil {
			return
		}
		if reflect.DeepEqual(a, b) != equal(a, b) {
			t.Fatalf("equal(%s, %s) = %v", x, y, equal(a, b))
		}
	})
}
