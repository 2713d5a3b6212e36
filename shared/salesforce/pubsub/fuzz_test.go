package pubsub_test

import (
	"encoding/json"
	"slices"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/herokuevents/herokuevents/shared/salesforce/pubsub"
)

// The Pub/Sub API hands the subscriber Avro payloads, change event
// bitmaps and schema JSON: the fuzz targets below hold their decoders to
// clean errors (ErrInvalidPayload for payloads), no panic, and round trips.

func fuzzSchemas(f *testing.F) []*pubsub.Schema {
	f.Helper()
	var out []*pubsub.Schema
	for id, js := range map[string]string{"pe": peSchema, "cdc": cdcSchema} {
		s, err := pubsub.ParseSchema(id, js)
		require.NoError(f, err)
		out = append(out, s)
	}
	slices.SortFunc(out, func(a, b *pubsub.Schema) int { return strings.Compare(a.ID(), b.ID()) })
	return out
}

// FuzzDecodePayload: any bytes decode to Avro JSON or fail with
// ErrInvalidPayload; what decodes encodes back to a payload that decodes
// to the same JSON.
func FuzzDecodePayload(f *testing.F) {
	schemas := fuzzSchemas(f)
	for _, s := range schemas {
		for _, js := range []string{
			`{"CreatedDate":1700000000000,"CreatedById":"005xx","Context__c":{"string":"x"},"Amount__c":{"double":1.5}}`,
			`{"ChangeEventHeader":{"entityName":"Contact","changeType":"UPDATE","changedFields":["0x0C"],"nulledFields":[],"diffFields":[]},"Phone":{"string":"1"}}`,
		} {
			if b, err := s.Encode([]byte(js)); err == nil {
				f.Add(b)
			}
		}
	}
	f.Add([]byte{})
	f.Add([]byte{0xff, 0xff, 0xff, 0xff, 0x0f})
	f.Fuzz(func(t *testing.T, payload []byte) {
		for _, s := range schemas {
			js, err := s.Decode(payload)
			if err != nil {
				require.ErrorIs(t, err, pubsub.ErrInvalidPayload)
				continue
			}
			require.True(t, json.Valid(js), "%s", js)
			again, err := s.Encode(js)
			require.NoError(t, err, "Encode(Decode(p)) for %s: %s", s.ID(), js)
			back, err := s.Decode(again)
			require.NoError(t, err)
			require.JSONEq(t, string(js), string(back))
		}
	})
}

// FuzzEncodeJSON: any JSON to publish encodes to a payload or fails with
// ErrInvalidPayload; what encodes decodes.
func FuzzEncodeJSON(f *testing.F) {
	schemas := fuzzSchemas(f)
	for _, s := range []string{
		`{"CreatedDate":1,"CreatedById":"x","Context__c":"plain"}`,
		`{"CreatedDate":1,"CreatedById":"x","Context__c":{"string":"wrapped"},"Amount__c":2}`,
		`{"CreatedDate":1e400}`, `{"Unknown":1}`, `[]`, `null`, `{"CreatedDate":"x"}`,
		`{"ChangeEventHeader":{"entityName":"Contact","changeType":"NOPE","changedFields":[],"nulledFields":[],"diffFields":[]}}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		for _, s := range schemas {
			b, err := s.Encode(data)
			if err != nil {
				require.ErrorIs(t, err, pubsub.ErrInvalidPayload)
				continue
			}
			_, err = s.Decode(b)
			require.NoError(t, err, "Decode(Encode(%s))", data)
		}
	})
}

// FuzzChangeBitmaps: change event bitmaps ("0x…", "P-0x…") decode to field
// names of the schema or to an error, and the names encode back to bitmaps
// naming the same fields.
func FuzzChangeBitmaps(f *testing.F) {
	s, err := pubsub.ParseSchema("cdc", cdcSchema)
	require.NoError(f, err)
	for _, seed := range []string{"0x0C", "1-0x06", "0x0C,1-0x06,4-0x01", "0x", "0X1", "x", "-1-0x1", "9-0x1", "0x" + strings.Repeat("0", 64) + "1", "2-0x1", "1-1-0x1"} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, list string) {
		names, err := s.FieldNames(strings.Split(list, ","))
		if err != nil {
			require.Contains(t, err.Error(), "decode bitmap")
			return
		}
		fields := s.Fields()
		for _, n := range names {
			parent, child, nested := strings.Cut(n, ".")
			require.Contains(t, fields, parent)
			if nested {
				require.Contains(t, s.Children(parent), child)
			}
		}
		bitmaps, err := s.ChangeBitmaps(names)
		require.NoError(t, err)
		again, err := s.FieldNames(bitmaps)
		require.NoError(t, err)
		require.ElementsMatch(t, dedupe(names), dedupe(again))
	})
}

func dedupe(s []string) []string {
	s = slices.Clone(s)
	slices.Sort(s)
	return slices.Compact(s)
}

// FuzzParseSchema: any schema JSON (the Pub/Sub API's GetSchema answer)
// parses or fails cleanly; a parsed schema is a record whose fields are
// named.
func FuzzParseSchema(f *testing.F) {
	f.Add(peSchema)
	f.Add(cdcSchema)
	f.Add(`{"type":"record","name":"R","fields":[{"name":"a","type":["null","R"]}]}`)
	f.Add(`"string"`)
	f.Add(`{"type":"record","name":"R","fields":[]}`)
	f.Fuzz(func(t *testing.T, js string) {
		s, err := pubsub.ParseSchema("fuzz", js)
		if err != nil {
			require.Contains(t, err.Error(), "parse schema fuzz")
			return
		}
		for _, name := range s.Fields() {
			require.NotEmpty(t, name)
		}
		_, _ = s.Decode(nil)
	})
}
