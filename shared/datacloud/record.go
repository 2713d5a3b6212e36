package datacloud

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
)

// MaxBody is the largest Ingestion API request body Data Cloud accepts.
const MaxBody = 200 << 10

// ErrRecord reports event data that cannot be sent as a Data Cloud record.
var ErrRecord = errors.New("event data is not a Data Cloud record")

// unionKeys are the branch names of Avro JSON unions that are not named
// types: primitives and the unnamed complex types.
var unionKeys = map[string]bool{
	"null": true, "boolean": true, "int": true, "long": true, "float": true, "double": true,
	"bytes": true, "string": true, "array": true, "map": true,
}

// Unwrap returns v with Avro JSON union wrappers removed at every depth:
// {"string":"x"} → "x", {"long":1} → 1, and a named branch such as
// {"com.sforce.eventbus.Address":{…}} → {…}. A wrapper is an object with
// exactly one key that is an Avro primitive type, "array", "map", or a
// namespaced (dotted) type name; plain JSON passes unchanged.
func Unwrap(v any) any {
	switch t := v.(type) {
	case map[string]any:
		if len(t) == 1 {
			for k, inner := range t {
				if unionKeys[k] || strings.Contains(k, ".") {
					return Unwrap(inner)
				}
			}
		}
		out := make(map[string]any, len(t))
		for k, inner := range t {
			out[k] = Unwrap(inner)
		}
		return out
	case []any:
		out := make([]any, len(t))
		for i, inner := range t {
			out[i] = Unwrap(inner)
		}
		return out
	}
	return v
}

// Body returns the Ingestion API body {"data":[record]} of event data: a
// JSON object, unwrapped of Avro unions. Numbers keep their exact text.
// Errors wrap ErrRecord: data that is not a JSON object, or a body over
// MaxBody.
func Body(data []byte) ([]byte, error) {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrRecord, err)
	}
	rec, ok := Unwrap(v).(map[string]any)
	if !ok {
		return nil, fmt.Errorf("%w: event data must be a JSON object", ErrRecord)
	}
	b, err := json.Marshal(map[string]any{"data": []any{rec}})
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrRecord, err)
	}
	if len(b) > MaxBody {
		return nil, fmt.Errorf("%w: %d bytes is over the %d byte limit of the Ingestion API", ErrRecord, len(b), MaxBody)
	}
	return b, nil
}
