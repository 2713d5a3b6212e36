package pubsub

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"math/big"
	"sort"
	"strconv"
	"strings"
	"sync"

	"github.com/linkedin/goavro/v2"
)

// maxBlockItems bounds the items of one array or map block that goavro
// decodes. goavro makes room for as many items as a block's count says, up
// to its MaxBlockCount (2^31 - 1 by default): an 8-byte payload could ask
// for gigabytes, which would end a 256 MB Lambda function. A Pub/Sub
// payload is at most 1 MB and each item of a Salesforce schema takes at
// least a byte, so no real block holds more.
const maxBlockItems = 1 << 20

func init() { goavro.MaxBlockCount = maxBlockItems }

// ErrInvalidPayload reports event data that does not fit the topic's Avro
// schema (unknown field, wrong type, missing required field, trailing bytes).
var ErrInvalidPayload = errors.New("invalid event payload")

// Schema is one Avro schema of a topic, identified by its Salesforce schema
// id. It decodes Pub/Sub payloads (raw Avro binary, no framing) into Avro
// JSON with wrapped unions — `{"Context__c":{"string":"x"}}`, the form the
// original product delivered — and encodes JSON for publishing.
//
// A Schema is immutable and safe for concurrent use.
type Schema struct {
	id    string
	json  string
	codec *goavro.Codec
	root  *avroType
}

// ParseSchema compiles the Avro schema JSON schemaJSON known as id.
func ParseSchema(id, schemaJSON string) (*Schema, error) {
	codec, err := goavro.NewCodec(schemaJSON)
	if err != nil {
		return nil, fmt.Errorf("parse schema %s: %w", id, err)
	}
	var raw any
	if err := json.Unmarshal([]byte(schemaJSON), &raw); err != nil {
		return nil, fmt.Errorf("parse schema %s: %w", id, err)
	}
	p := &schemaParser{names: map[string]*avroType{}}
	root, err := p.parse(raw, "")
	if err != nil {
		return nil, fmt.Errorf("parse schema %s: %w", id, err)
	}
	if root.kind != "record" {
		return nil, fmt.Errorf("parse schema %s: top-level type is %s, want record", id, root.kind)
	}
	return &Schema{id: id, json: schemaJSON, codec: codec, root: root}, nil
}

// ID returns the Salesforce schema id.
func (s *Schema) ID() string { return s.id }

// JSON returns the schema as Avro schema JSON.
func (s *Schema) JSON() string { return s.json }

// Name returns the full name of the top-level record, e.g.
// com.sforce.eventbus.AccountChangeEvent.
func (s *Schema) Name() string { return s.root.name }

// Fields returns the names of the top-level fields in schema order; the
// position of a name is its bit in change event bitmaps.
func (s *Schema) Fields() []string {
	out := make([]string, len(s.root.fields))
	for i, f := range s.root.fields {
		out[i] = f.name
	}
	return out
}

// Children returns the child field names of a compound top-level field (a
// record, possibly in a nullable union), or nil for other fields.
func (s *Schema) Children(field string) []string {
	i := s.root.fieldIndex(field)
	if i < 0 {
		return nil
	}
	rec := s.root.fields[i].typ.nonNull()
	if rec == nil || rec.kind != "record" {
		return nil
	}
	out := make([]string, len(rec.fields))
	for j, f := range rec.fields {
		out[j] = f.name
	}
	return out
}

// IsChangeEvent reports whether the schema is a Change Data Capture event:
// its first field is the ChangeEventHeader record.
func (s *Schema) IsChangeEvent() bool {
	return len(s.root.fields) > 0 && s.root.fields[0].name == "ChangeEventHeader"
}

// Decode turns an Avro binary payload into Avro JSON (unions wrapped by
// branch name, nulls plain). Longs stay exact (commitNumber may exceed 2^53).
// A NaN or infinite float or double, which JSON cannot carry, is null where
// its field is nullable and an ErrInvalidPayload anywhere else.
func (s *Schema) Decode(payload []byte) (json.RawMessage, error) {
	native, err := s.DecodeNative(payload)
	if err != nil {
		return nil, err
	}
	if _, err := finite(s.root, native); err != nil {
		return nil, fmt.Errorf("decode payload with schema %s: %w: %w", s.id, ErrInvalidPayload, err)
	}
	out, err := s.codec.TextualFromNative(nil, native)
	if err != nil {
		return nil, fmt.Errorf("decode payload with schema %s: %w", s.id, err)
	}
	return out, nil
}

// notFinite is a float or double that is NaN or infinite, at path (in
// the form of toNative's errors). The path is built as the error returns:
// Decode walks every event, and the values that are fine cost no strings.
type notFinite struct{ path string }

func (e *notFinite) Error() string {
	return fmt.Sprintf("field %s: NaN or infinite number (JSON has none)", displayPath(e.path))
}

// within returns err, a notFinite, with its path under seg: a field name,
// "[i]" or ".key", as the walk of the value holding it is.
func within(err error, seg string) error {
	e, ok := err.(*notFinite)
	if !ok {
		return err
	}
	switch {
	case e.path == "":
		e.path = seg
	case e.path[0] == '[' || e.path[0] == '.':
		e.path = seg + e.path
	default:
		e.path = seg + "." + e.path
	}
	return e
}

// finite checks the native value v of type t for NaN or infinite floats
// and doubles, which JSON cannot carry: in a nullable union such a number
// becomes null (goavro would write the union as {"double":null}, which no
// Avro JSON reader, Encode included, takes), anywhere else it is an error.
// It changes v in place; null reports that v itself (a union) is to be
// null.
func finite(t *avroType, v any) (null bool, err error) {
	switch t.kind {
	case "float", "double":
		var f float64
		switch n := v.(type) {
		case float32:
			f = float64(n)
		case float64:
			f = n
		default:
			return false, nil
		}
		if math.IsNaN(f) || math.IsInf(f, 0) {
			return false, &notFinite{}
		}
	case "union":
		m, ok := v.(map[string]any)
		if !ok || len(m) != 1 {
			return false, nil
		}
		for name, inner := range m {
			for _, b := range t.branches {
				if b.branchName() != name {
					continue
				}
				_, err := finite(b, inner)
				switch {
				case err == nil:
				case (b.kind == "float" || b.kind == "double") && t.hasNull():
					return true, nil // the number itself: the union is null
				default:
					return false, err
				}
			}
		}
	case "record":
		m, ok := v.(map[string]any)
		if !ok {
			return false, nil
		}
		for _, f := range t.fields {
			fv, ok := m[f.name]
			if !ok {
				continue
			}
			null, err := finite(f.typ, fv)
			if err != nil {
				return false, within(err, f.name)
			}
			if null {
				m[f.name] = nil
			}
		}
	case "array":
		arr, ok := v.([]any)
		if !ok {
			return false, nil
		}
		for i, e := range arr {
			null, err := finite(t.items, e)
			if err != nil {
				return false, within(err, "["+strconv.Itoa(i)+"]")
			}
			if null {
				arr[i] = nil
			}
		}
	case "map":
		m, ok := v.(map[string]any)
		if !ok {
			return false, nil
		}
		for k, e := range m {
			null, err := finite(t.items, e)
			if err != nil {
				return false, within(err, "."+k)
			}
			if null {
				m[k] = nil
			}
		}
	}
	return false, nil
}

// DecodeNative turns an Avro binary payload into goavro's native form:
// records as map[string]any, unions as map[branch]value or nil.
func (s *Schema) DecodeNative(payload []byte) (map[string]any, error) {
	native, rest, err := s.codec.NativeFromBinary(payload)
	if err != nil {
		return nil, fmt.Errorf("decode payload with schema %s: %w: %w", s.id, ErrInvalidPayload, err)
	}
	if len(rest) > 0 {
		return nil, fmt.Errorf("decode payload with schema %s: %w: %d trailing bytes", s.id, ErrInvalidPayload, len(rest))
	}
	m, ok := native.(map[string]any)
	if !ok {
		return nil, fmt.Errorf("decode payload with schema %s: %w: not a record", s.id, ErrInvalidPayload)
	}
	return m, nil
}

// Encode turns a JSON object into an Avro binary payload. Values may be
// union-wrapped (`{"string":"x"}`, as Avro JSON and the original product's
// publishers send them) or plain (`"x"`); plain values are wrapped into the
// first union branch that accepts them. Absent fields take their schema
// default, absent nullable fields null; any other absent field, an unknown
// field or a wrong type is an ErrInvalidPayload.
func (s *Schema) Encode(data []byte) ([]byte, error) {
	return s.EncodeWith(data, nil)
}

// EncodeWith is Encode with fallback values for absent top-level fields
// (plain or wrapped), used before schema defaults — e.g. CreatedDate and
// CreatedById of a platform event.
func (s *Schema) EncodeWith(data []byte, fallback map[string]any) ([]byte, error) {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return nil, fmt.Errorf("encode payload: %w: %w", ErrInvalidPayload, err)
	}
	obj, ok := v.(map[string]any)
	if !ok {
		return nil, fmt.Errorf("encode payload: %w: want a JSON object", ErrInvalidPayload)
	}
	if len(fallback) > 0 {
		merged := make(map[string]any, len(obj)+len(fallback))
		for k, fv := range fallback {
			merged[k] = normalizeJSON(fv)
		}
		for k, ov := range obj {
			merged[k] = ov
		}
		obj = merged
	}
	native, err := toNative(s.root, obj, "")
	if err != nil {
		return nil, fmt.Errorf("encode payload: %w: %w", ErrInvalidPayload, err)
	}
	out, err := s.codec.BinaryFromNative(nil, native)
	if err != nil {
		return nil, fmt.Errorf("encode payload: %w: %w", ErrInvalidPayload, err)
	}
	return out, nil
}

// normalizeJSON makes Go values look like json.Decoder output with UseNumber.
func normalizeJSON(v any) any {
	b, err := json.Marshal(v)
	if err != nil {
		return v
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	var out any
	if dec.Decode(&out) != nil {
		return v
	}
	return out
}

// ChangeFields are the decoded bitmaps of a ChangeEventHeader.
type ChangeFields struct {
	Changed []string `json:"changedFields"`
	Nulled  []string `json:"nulledFields"`
	Diff    []string `json:"diffFields"`
}

// ChangeFields decodes the changedFields, nulledFields and diffFields bitmaps
// of a change event given as Avro JSON (Decode's output; a plain header is
// accepted too) into field names, using this — the event's writer — schema.
func (s *Schema) ChangeFields(data []byte) (ChangeFields, error) {
	var ev struct {
		Header json.RawMessage `json:"ChangeEventHeader"`
	}
	if err := json.Unmarshal(data, &ev); err != nil {
		return ChangeFields{}, fmt.Errorf("decode change event: %w", err)
	}
	if len(ev.Header) == 0 || string(ev.Header) == "null" {
		return ChangeFields{}, fmt.Errorf("decode change event: no ChangeEventHeader")
	}
	var h struct {
		Changed, Nulled, Diff []string
	}
	var raw map[string]json.RawMessage
	if err := json.Unmarshal(ev.Header, &raw); err != nil {
		return ChangeFields{}, fmt.Errorf("decode change event header: %w", err)
	}
	for key, dst := range map[string]*[]string{"changedFields": &h.Changed, "nulledFields": &h.Nulled, "diffFields": &h.Diff} {
		v, ok := raw[key]
		if !ok || string(v) == "null" {
			continue
		}
		if err := json.Unmarshal(v, dst); err != nil {
			var wrapped map[string][]string
			if json.Unmarshal(v, &wrapped) != nil || len(wrapped) != 1 {
				return ChangeFields{}, fmt.Errorf("decode change event header %s: %w", key, err)
			}
			for _, arr := range wrapped {
				*dst = arr
			}
		}
	}
	var out ChangeFields
	var err error
	if out.Changed, err = s.FieldNames(h.Changed); err != nil {
		return ChangeFields{}, err
	}
	if out.Nulled, err = s.FieldNames(h.Nulled); err != nil {
		return ChangeFields{}, err
	}
	if out.Diff, err = s.FieldNames(h.Diff); err != nil {
		return ChangeFields{}, err
	}
	return out, nil
}

// FieldNames decodes change event bitmaps into field names in bitmap order.
// An element "0x…" is a big-endian hex bitmap of the top-level fields (bit 0,
// the least significant, is field 0, the header); an element "P-0x…" is a
// bitmap of the children of the compound field at top-level position P,
// named "Parent.Child". Hex digits may be upper or lower case.
func (s *Schema) FieldNames(bitmaps []string) ([]string, error) {
	names := []string{}
	for _, bm := range bitmaps {
		fields := s.root.fields
		prefix := ""
		hex := bm
		if pos, rest, ok := strings.Cut(bm, "-"); ok {
			p, err := strconv.Atoi(pos)
			if err != nil || p < 0 || p >= len(s.root.fields) {
				return nil, fmt.Errorf("decode bitmap %q: bad field position", bm)
			}
			parent := s.root.fields[p]
			rec := parent.typ.nonNull()
			if rec == nil || rec.kind != "record" {
				return nil, fmt.Errorf("decode bitmap %q: field %s is not compound", bm, parent.name)
			}
			fields = rec.fields
			prefix = parent.name + "."
			hex = rest
		}
		bits, err := parseBitmap(hex)
		if err != nil {
			return nil, fmt.Errorf("decode bitmap %q: %w", bm, err)
		}
		for i := 0; i < bits.BitLen(); i++ {
			if bits.Bit(i) == 0 {
				continue
			}
			if i >= len(fields) {
				return nil, fmt.Errorf("decode bitmap %q: bit %d beyond the %d fields of the schema", bm, i, len(fields))
			}
			names = append(names, prefix+fields[i].name)
		}
	}
	return names, nil
}

func parseBitmap(s string) (*big.Int, error) {
	if !strings.HasPrefix(s, "0x") && !strings.HasPrefix(s, "0X") {
		return nil, errors.New("want 0x prefix")
	}
	n, ok := new(big.Int).SetString(s[2:], 16)
	if !ok {
		return nil, errors.New("bad hex")
	}
	return n, nil
}

// Bitmap encodes field positions (bit i = field i) as an uppercase,
// byte-padded hex bitmap "0x…" as Salesforce writes them.
func Bitmap(positions []int) string {
	n := new(big.Int)
	for _, p := range positions {
		n.SetBit(n, p, 1)
	}
	h := strings.ToUpper(n.Text(16))
	if len(h)%2 == 1 {
		h = "0" + h
	}
	return "0x" + h
}

// ChangeBitmaps builds changedFields-style bitmaps for the given field names
// ("Name" or "Parent.Child"): one top-level element for plain fields, then
// one "P-0x…" element per compound parent, in position order.
func (s *Schema) ChangeBitmaps(names []string) ([]string, error) {
	var top []int
	nested := map[int][]int{}
	for _, n := range names {
		parent, child, compound := strings.Cut(n, ".")
		p := s.root.fieldIndex(parent)
		if p < 0 {
			return nil, fmt.Errorf("build bitmap: unknown field %s", parent)
		}
		if !compound {
			top = append(top, p)
			continue
		}
		rec := s.root.fields[p].typ.nonNull()
		if rec == nil || rec.kind != "record" || rec.fieldIndex(child) < 0 {
			return nil, fmt.Errorf("build bitmap: unknown field %s", n)
		}
		nested[p] = append(nested[p], rec.fieldIndex(child))
	}
	out := []string{}
	if len(top) > 0 {
		out = append(out, Bitmap(top))
	}
	parents := make([]int, 0, len(nested))
	for p := range nested {
		parents = append(parents, p)
	}
	sort.Ints(parents)
	for _, p := range parents {
		out = append(out, strconv.Itoa(p)+"-"+Bitmap(nested[p]))
	}
	return out, nil
}

// SchemaFetcher returns the schema JSON of a schema id.
type SchemaFetcher func(ctx context.Context, schemaID string) (string, error)

// SchemaCache caches parsed schemas by schema id (ids name immutable
// schemas). It is safe for concurrent use; concurrent misses of one id may
// fetch it more than once.
type SchemaCache struct {
	fetch SchemaFetcher
	mu    sync.RWMutex
	m     map[string]*Schema
}

// NewSchemaCache returns a cache that loads misses with fetch.
func NewSchemaCache(fetch SchemaFetcher) *SchemaCache {
	return &SchemaCache{fetch: fetch, m: map[string]*Schema{}}
}

// Get returns the schema of id, fetching and parsing it on a miss. Fetch
// errors are returned as they are and not cached.
func (c *SchemaCache) Get(ctx context.Context, id string) (*Schema, error) {
	c.mu.RLock()
	s, ok := c.m[id]
	c.mu.RUnlock()
	if ok {
		return s, nil
	}
	js, err := c.fetch(ctx, id)
	if err != nil {
		return nil, err
	}
	s, err = ParseSchema(id, js)
	if err != nil {
		return nil, err
	}
	c.mu.Lock()
	c.m[id] = s
	c.mu.Unlock()
	return s, nil
}

// Put adds an already parsed schema.
func (c *SchemaCache) Put(s *Schema) {
	c.mu.Lock()
	c.m[s.id] = s
	c.mu.Unlock()
}

// --- schema model used for plain-JSON encoding and bitmaps ---

type avroType struct {
	kind     string // primitive name, record, enum, array, map, fixed, union
	name     string // full name of named types
	fields   []avroField
	symbols  []string
	items    *avroType // array items, map values
	branches []*avroType
}

type avroField struct {
	name       string
	typ        *avroType
	hasDefault bool
	def        any
}

func (t *avroType) fieldIndex(name string) int {
	for i, f := range t.fields {
		if f.name == name {
			return i
		}
	}
	return -1
}

// nonNull unwraps ["null", T] to T; other types are returned as they are.
func (t *avroType) nonNull() *avroType {
	if t.kind != "union" {
		return t
	}
	var found *avroType
	for _, b := range t.branches {
		if b.kind == "null" {
			continue
		}
		if found != nil {
			return nil
		}
		found = b
	}
	return found
}

// branchName is the key goavro and Avro JSON use for a union branch.
func (t *avroType) branchName() string {
	if t.name != "" {
		return t.name
	}
	return t.kind
}

var primitives = map[string]bool{"null": true, "boolean": true, "int": true, "long": true, "float": true, "double": true, "bytes": true, "string": true}

type schemaParser struct{ names map[string]*avroType }

func fullName(name, namespace string) string {
	if strings.Contains(name, ".") || namespace == "" {
		return name
	}
	return namespace + "." + name
}

func (p *schemaParser) parse(raw any, ns string) (*avroType, error) {
	switch v := raw.(type) {
	case string:
		if primitives[v] {
			return &avroType{kind: v}, nil
		}
		if t, ok := p.names[fullName(v, ns)]; ok {
			return t, nil
		}
		if t, ok := p.names[v]; ok {
			return t, nil
		}
		return nil, fmt.Errorf("unknown type %q", v)
	case []any:
		u := &avroType{kind: "union"}
		for _, b := range v {
			bt, err := p.parse(b, ns)
			if err != nil {
				return nil, err
			}
			u.branches = append(u.branches, bt)
		}
		return u, nil
	case map[string]any:
		typ, _ := v["type"].(string)
		switch typ {
		case "record", "error", "enum", "fixed":
			name, _ := v["name"].(string)
			if nsv, ok := v["namespace"].(string); ok && !strings.Contains(name, ".") {
				ns = nsv
			}
			full := fullName(name, ns)
			if i := strings.LastIndex(full, "."); i >= 0 {
				ns = full[:i]
			}
			t := &avroType{kind: typ, name: full}
			if typ == "error" {
				t.kind = "record"
			}
			p.names[full] = t
			switch typ {
			case "enum":
				for _, s := range v["symbols"].([]any) {
					t.symbols = append(t.symbols, fmt.Sprint(s))
				}
			case "record", "error":
				fs, _ := v["fields"].([]any)
				for _, fr := range fs {
					fm, ok := fr.(map[string]any)
					if !ok {
						return nil, fmt.Errorf("record %s: bad field", full)
					}
					ft, err := p.parse(fm["type"], ns)
					if err != nil {
						return nil, fmt.Errorf("record %s: %w", full, err)
					}
					def, hasDef := fm["default"]
					t.fields = append(t.fields, avroField{name: fmt.Sprint(fm["name"]), typ: ft, hasDefault: hasDef, def: def})
				}
			}
			return t, nil
		case "array":
			it, err := p.parse(v["items"], ns)
			if err != nil {
				return nil, err
			}
			return &avroType{kind: "array", items: it}, nil
		case "map":
			it, err := p.parse(v["values"], ns)
			if err != nil {
				return nil, err
			}
			return &avroType{kind: "map", items: it}, nil
		default:
			// {"type":"long","logicalType":…} and the like.
			return p.parse(v["type"], ns)
		}
	}
	return nil, fmt.Errorf("bad schema element %T", raw)
}

// toNative converts decoded JSON (numbers as json.Number) into goavro's
// native form for t, accepting plain or union-wrapped values.
func toNative(t *avroType, v any, path string) (any, error) {
	fail := func(want string) error {
		return fmt.Errorf("field %s: want %s, got %s", displayPath(path), want, describe(v))
	}
	switch t.kind {
	case "null":
		if v != nil {
			return nil, fail("null")
		}
		return nil, nil
	case "boolean":
		b, ok := v.(bool)
		if !ok {
			return nil, fail("boolean")
		}
		return b, nil
	case "int", "long":
		n, ok := v.(json.Number)
		if !ok {
			return nil, fail(t.kind)
		}
		i, err := strconv.ParseInt(n.String(), 10, 64)
		if err != nil {
			f, ferr := n.Float64()
			if ferr != nil || f != float64(int64(f)) {
				return nil, fail(t.kind)
			}
			i = int64(f)
		}
		if t.kind == "int" {
			if int64(int32(i)) != i {
				return nil, fail("int")
			}
			return int32(i), nil
		}
		return i, nil
	case "float", "double":
		n, ok := v.(json.Number)
		if !ok {
			return nil, fail(t.kind)
		}
		f, err := n.Float64()
		if err != nil {
			return nil, fail(t.kind)
		}
		if t.kind == "float" {
			return float32(f), nil
		}
		return f, nil
	case "string":
		s, ok := v.(string)
		if !ok {
			return nil, fail("string")
		}
		return s, nil
	case "bytes", "fixed":
		s, ok := v.(string)
		if !ok {
			return nil, fail(t.kind)
		}
		b := make([]byte, 0, len(s))
		for _, r := range s {
			if r > 255 {
				return nil, fail(t.kind)
			}
			b = append(b, byte(r))
		}
		return b, nil
	case "enum":
		s, ok := v.(string)
		if !ok {
			return nil, fail("enum " + t.name)
		}
		for _, sym := range t.symbols {
			if sym == s {
				return s, nil
			}
		}
		return nil, fmt.Errorf("field %s: %q is not a symbol of %s", displayPath(path), s, t.name)
	case "array":
		arr, ok := v.([]any)
		if !ok {
			return nil, fail("array")
		}
		out := make([]any, len(arr))
		for i, e := range arr {
			n, err := toNative(t.items, e, path+"["+strconv.Itoa(i)+"]")
			if err != nil {
				return nil, err
			}
			out[i] = n
		}
		return out, nil
	case "map":
		m, ok := v.(map[string]any)
		if !ok {
			return nil, fail("map")
		}
		out := make(map[string]any, len(m))
		for k, e := range m {
			n, err := toNative(t.items, e, path+"."+k)
			if err != nil {
				return nil, err
			}
			out[k] = n
		}
		return out, nil
	case "record":
		m, ok := v.(map[string]any)
		if !ok {
			return nil, fail("record " + t.name)
		}
		out := make(map[string]any, len(t.fields))
		for _, f := range t.fields {
			fp := joinPath(path, f.name)
			fv, present := m[f.name]
			switch {
			case present:
			case f.hasDefault:
				fv = normalizeJSON(f.def)
				if f.typ.kind == "union" && fv != nil && len(f.typ.branches) > 0 {
					// A union default belongs to the first branch.
					fv = map[string]any{f.typ.branches[0].branchName(): fv}
				}
			case f.typ.kind == "union" && f.typ.hasNull():
				fv = nil
			default:
				return nil, fmt.Errorf("field %s: required", fp)
			}
			n, err := toNative(f.typ, fv, fp)
			if err != nil {
				return nil, err
			}
			out[f.name] = n
		}
		for k := range m {
			if t.fieldIndex(k) < 0 {
				return nil, fmt.Errorf("field %s: not in schema %s", joinPath(path, k), t.name)
			}
		}
		return out, nil
	case "union":
		if v == nil {
			if t.hasNull() {
				return nil, nil
			}
			return nil, fail("non-null value")
		}
		if m, ok := v.(map[string]any); ok && len(m) == 1 {
			for k, inner := range m {
				for _, b := range t.branches {
					if b.branchName() == k || (b.name != "" && shortName(b.name) == k) {
						n, err := toNative(b, inner, path)
						if err != nil {
							return nil, err
						}
						return goavro.Union(b.branchName(), n), nil
					}
				}
			}
		}
		var firstErr error
		for _, b := range t.branches {
			if b.kind == "null" {
				continue
			}
			n, err := toNative(b, v, path)
			if err == nil {
				return goavro.Union(b.branchName(), n), nil
			}
			if firstErr == nil {
				firstErr = err
			}
		}
		if firstErr == nil {
			firstErr = fail("a union branch")
		}
		return nil, firstErr
	}
	return nil, fmt.Errorf("field %s: unsupported type %s", displayPath(path), t.kind)
}

func (t *avroType) hasNull() bool {
	for _, b := range t.branches {
		if b.kind == "null" {
			return true
		}
	}
	return false
}

func shortName(full string) string {
	if i := strings.LastIndex(full, "."); i >= 0 {
		return full[i+1:]
	}
	return full
}

func joinPath(path, name string) string {
	if path == "" {
		return name
	}
	return path + "." + name
}

func displayPath(path string) string {
	if path == "" {
		return "(root)"
	}
	return path
}

func describe(v any) string {
	switch v.(type) {
	case nil:
		return "null"
	case bool:
		return "boolean"
	case json.Number:
		return "number"
	case string:
		return "string"
	case []any:
		return "array"
	case map[string]any:
		return "object"
	}
	return fmt.Sprintf("%T", v)
}
