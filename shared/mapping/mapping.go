// Package mapping runs user Bloblang (stream filters, generator mappings) in a
// pure environment: no env, file, hostname or other access to the host. It is
// the only importer of Bloblang in herokuevents.
package mapping

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"reflect"
	"strings"
	"sync"

	"github.com/redpanda-data/benthos/v4/public/bloblang"
)

// ErrCompile wraps every compile error; the message carries line and column.
var ErrCompile = errors.New("invalid Bloblang")

// MaxSource bounds the length of a mapping.
const MaxSource = 64 << 10

var env = bloblang.NewEnvironment().OnlyPure().WithDisabledImports().
	WithoutFunctions("env", "file", "file_rel", "hostname").
	WithMaxMapRecursion(100)

// Mapping is a compiled Bloblang mapping. Safe for concurrent use.
type Mapping struct {
	src  string
	exec *bloblang.Executor
}

// Compile parses src in the pure environment.
func Compile(src string) (*Mapping, error) {
	if strings.TrimSpace(src) == "" {
		return nil, fmt.Errorf("%w: mapping is empty", ErrCompile)
	}
	if len(src) > MaxSource {
		return nil, fmt.Errorf("%w: mapping is longer than %d bytes", ErrCompile, MaxSource)
	}
	exec, err := env.Parse(src)
	if err != nil {
		var pe *bloblang.ParseError
		if errors.As(err, &pe) {
			return nil, fmt.Errorf("%w: %s", ErrCompile, strings.TrimSpace(pe.ErrorMultiline()))
		}
		return nil, fmt.Errorf("%w: %v", ErrCompile, err)
	}
	return &Mapping{src: src, exec: exec}, nil
}

// Source returns the mapping text.
func (m *Mapping) Source() string { return m.src }

// MetaKey is the root field under which ApplyMeta shows a filter the
// event's attributes (this._herokuevents.subject, .changedfields, …). It is
// removed from the result, so it never reaches a publication.
const MetaKey = "_herokuevents"

// ApplyMeta is Apply with meta visible to the mapping at this._herokuevents
// when the document is a JSON object. The key is removed from the result.
func (m *Mapping) ApplyMeta(data []byte, meta map[string]any) (out []byte, deleted bool, err error) {
	if len(meta) == 0 {
		return m.Apply(data)
	}
	return m.apply(data, meta)
}

// Apply runs the mapping on a JSON document. It returns the resulting JSON,
// or deleted = true when the mapping yields deleted(). When the mapping
// leaves the document unchanged, the input bytes are returned as they were.
func (m *Mapping) Apply(data []byte) (out []byte, deleted bool, err error) {
	return m.apply(data, nil)
}

func (m *Mapping) apply(data []byte, meta map[string]any) (out []byte, deleted bool, err error) {
	var in any
	if len(bytes.TrimSpace(data)) > 0 {
		dec := json.NewDecoder(bytes.NewReader(data))
		dec.UseNumber()
		if err := dec.Decode(&in); err != nil {
			return nil, false, fmt.Errorf("decode input: %w", err)
		}
		in = normalize(in)
	}
	obj, isObj := in.(map[string]any)
	_, userHasKey := obj[MetaKey]
	withMeta := isObj && meta != nil && !userHasKey
	if withMeta {
		obj[MetaKey] = meta
	}
	res, err := m.exec.Query(in)
	if withMeta {
		delete(obj, MetaKey)
		if r, ok := res.(map[string]any); ok {
			delete(r, MetaKey)
		}
	}
	if errors.Is(err, bloblang.ErrRootDeleted) {
		return nil, true, nil
	}
	if err != nil {
		return nil, false, fmt.Errorf("run mapping: %w", err)
	}
	if in != nil && reflect.DeepEqual(res, in) {
		return data, false, nil
	}
	out, err = json.Marshal(res)
	if err != nil {
		return nil, false, fmt.Errorf("encode result: %w", err)
	}
	return out, false, nil
}

// normalize turns json.Number into int64 where exact, else float64, which
// Bloblang compares and computes with.
func normalize(v any) any {
	switch t := v.(type) {
	case map[string]any:
		for k, e := range t {
			t[k] = normalize(e)
		}
		return t
	case []any:
		for i, e := range t {
			t[i] = normalize(e)
		}
		return t
	case json.Number:
		if i, err := t.Int64(); err == nil {
			return i
		}
		if f, err := t.Float64(); err == nil && !math.IsInf(f, 0) {
			return f
		}
		return t.String()
	}
	return v
}

// Cache compiles each distinct source once. Safe for concurrent use.
type Cache struct {
	mu sync.Mutex
	m  map[string]*Mapping
}

// Get returns the compiled mapping of src, compiling it on first use.
func (c *Cache) Get(src string) (*Mapping, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if m, ok := c.m[src]; ok {
		return m, nil
	}
	m, err := Compile(src)
	if err != nil {
		return nil, err
	}
	if c.m == nil {
		c.m = map[string]*Mapping{}
	}
	if len(c.m) > 10000 {
		clear(c.m)
	}
	c.m[src] = m
	return m, nil
}
