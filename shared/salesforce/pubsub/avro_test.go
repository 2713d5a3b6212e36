package pubsub_test

import (
	"context"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"math"
	"runtime"
	"sync/atomic"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/herokuevents/herokuevents/shared/salesforce/pubsub"
)

const peSchema = `{"name":"Sample__e","namespace":"com.sforce.eventbus","type":"record","fields":[
 {"name":"CreatedDate","type":"long","doc":"CreatedDate:DateTime"},
 {"name":"CreatedById","type":"string","doc":"CreatedBy:EntityId"},
 {"name":"Context__c","type":["null","string"],"default":null},
 {"name":"Amount__c","type":["null","double"],"default":null}]}`

const cdcSchema = `{"name":"ContactChangeEvent","namespace":"com.sforce.eventbus","type":"record","fields":[
 {"name":"ChangeEventHeader","type":{"name":"ChangeEventHeader","type":"record","fields":[
   {"name":"entityName","type":"string"},
   {"name":"changeType","type":{"name":"ChangeType","type":"enum","symbols":["CREATE","UPDATE","DELETE"]}},
   {"name":"changedFields","type":{"type":"array","items":"string"}},
   {"name":"nulledFields","type":{"type":"array","items":"string"}},
   {"name":"diffFields","type":{"type":"array","items":"string"}}]}},
 {"name":"Name","type":["null",{"name":"Name","namespace":"com.sforce.eventbus","type":"record","fields":[
   {"name":"Salutation","type":["null","string"],"default":null},
   {"name":"FirstName","type":["null","string"],"default":null},
   {"name":"LastName","type":["null","string"],"default":null}]}],"default":null},
 {"name":"Phone","type":["null","string"],"default":null},
 {"name":"Email","type":["null","string"],"default":null},
 {"name":"MailingAddress","type":["null",{"name":"Address","type":"record","fields":[
   {"name":"Street","type":["null","string"],"default":null},
   {"name":"City","type":["null","string"],"default":null},
   {"name":"Latitude","type":["null","double"],"default":null}]}],"default":null},
 {"name":"Description","type":["null","string"],"default":null}]}`

func TestEncodeMatchesReferenceBinary(t *testing.T) {
	s, err := pubsub.ParseSchema("id1", peSchema)
	require.NoError(t, err)
	want := "80a0abfef962" + "1e" + hex.EncodeToString([]byte("005xx000001X8Uz")) + "020278" + "00"
	for name, in := range map[string]string{
		"plain":   `{"CreatedDate":1700000000000,"CreatedById":"005xx000001X8Uz","Context__c":"x","Amount__c":null}`,
		"wrapped": `{"CreatedDate":1700000000000,"CreatedById":"005xx000001X8Uz","Context__c":{"string":"x"}}`,
	} {
		t.Run(name, func(t *testing.T) {
			b, err := s.Encode([]byte(in))
			require.NoError(t, err)
			assert.Equal(t, want, hex.EncodeToString(b))
			out, err := s.Decode(b)
			require.NoError(t, err)
			assert.JSONEq(t, `{"CreatedDate":1700000000000,"CreatedById":"005xx000001X8Uz","Context__c":{"string":"x"},"Amount__c":null}`, string(out))
		})
	}
}

func TestEncodeRejectsBadPayloads(t *testing.T) {
	s, err := pubsub.ParseSchema("id1", peSchema)
	require.NoError(t, err)
	for name, in := range map[string]string{
		"unknown field":    `{"CreatedDate":1,"CreatedById":"005","Nope__c":"x"}`,
		"missing required": `{"CreatedById":"005"}`,
		"wrong type":       `{"CreatedDate":1,"CreatedById":"005","Amount__c":"many"}`,
		"wrong branch":     `{"CreatedDate":1,"CreatedById":"005","Amount__c":{"string":"x"}}`,
		"not an object":    `[1,2]`,
		"not json":         `{`,
	} {
		t.Run(name, func(t *testing.T) {
			_, err := s.Encode([]byte(in))
			require.ErrorIs(t, err, pubsub.ErrInvalidPayload)
		})
	}
	t.Run("trailing bytes", func(t *testing.T) {
		b, err := s.Encode([]byte(`{"CreatedDate":1,"CreatedById":"005"}`))
		require.NoError(t, err)
		_, err = s.Decode(append(b, 0))
		require.ErrorIs(t, err, pubsub.ErrInvalidPayload)
	})
}

func TestEncodeWithFallback(t *testing.T) {
	s, err := pubsub.ParseSchema("id1", peSchema)
	require.NoError(t, err)
	b, err := s.EncodeWith([]byte(`{"Amount__c":2.5,"CreatedById":"005given"}`), map[string]any{"CreatedDate": int64(42), "CreatedById": "005fallback"})
	require.NoError(t, err)
	out, err := s.Decode(b)
	require.NoError(t, err)
	assert.JSONEq(t, `{"CreatedDate":42,"CreatedById":"005given","Context__c":null,"Amount__c":{"double":2.5}}`, string(out))
}

func TestCompoundFieldsRoundTrip(t *testing.T) {
	s, err := pubsub.ParseSchema("cdc", cdcSchema)
	require.NoError(t, err)
	assert.True(t, s.IsChangeEvent())
	in := `{"ChangeEventHeader":{"entityName":"Contact","changeType":"UPDATE","changedFields":[],"nulledFields":[],"diffFields":[]},
		"Name":{"FirstName":"Ada","LastName":{"string":"Lovelace"}},
		"MailingAddress":{"com.sforce.eventbus.Address":{"City":{"string":"London"},"Latitude":51.5}}}`
	b, err := s.Encode([]byte(in))
	require.NoError(t, err)
	out, err := s.Decode(b)
	require.NoError(t, err)
	assert.JSONEq(t, `{"ChangeEventHeader":{"entityName":"Contact","changeType":"UPDATE","changedFields":[],"nulledFields":[],"diffFields":[]},
		"Name":{"com.sforce.eventbus.Name":{"Salutation":null,"FirstName":{"string":"Ada"},"LastName":{"string":"Lovelace"}}},
		"Phone":null,"Email":null,
		"MailingAddress":{"com.sforce.eventbus.Address":{"Street":null,"City":{"string":"London"},"Latitude":{"double":51.5}}},
		"Description":null}`, string(out))
}

func TestFieldNames(t *testing.T) {
	s, err := pubsub.ParseSchema("cdc", cdcSchema)
	require.NoError(t, err)
	tests := []struct {
		name    string
		bitmaps []string
		want    []string
		wantErr bool
	}{
		{name: "empty", bitmaps: nil, want: []string{}},
		{name: "top level", bitmaps: []string{"0x0C"}, want: []string{"Phone", "Email"}},
		{name: "lower case", bitmaps: []string{"0x2a"}, want: []string{"Name", "Email", "Description"}},
		{name: "nested", bitmaps: []string{"0x08", "1-0x06", "4-0x02"}, want: []string{"Email", "Name.FirstName", "Name.LastName", "MailingAddress.City"}},
		{name: "bit beyond fields", bitmaps: []string{"0x0100"}, wantErr: true},
		{name: "not compound", bitmaps: []string{"2-0x01"}, wantErr: true},
		{name: "bad hex", bitmaps: []string{"0xZZ"}, wantErr: true},
		{name: "no prefix", bitmaps: []string{"12"}, wantErr: true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := s.FieldNames(tc.bitmaps)
			if tc.wantErr {
				require.Error(t, err)
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tc.want, got)
		})
	}
}

func TestChangeBitmapsAndChangeFields(t *testing.T) {
	s, err := pubsub.ParseSchema("cdc", cdcSchema)
	require.NoError(t, err)
	bm, err := s.ChangeBitmaps([]string{"Phone", "Description", "Name.LastName", "MailingAddress.Street"})
	require.NoError(t, err)
	assert.Equal(t, []string{"0x24", "1-0x04", "4-0x01"}, bm)
	assert.Equal(t, "0x650004E0", pubsub.Bitmap([]int{5, 6, 7, 10, 24, 26, 29, 30}))

	data := `{"ChangeEventHeader":{"entityName":"Contact","changeType":"UPDATE",
		"changedFields":["0x24","1-0x04"],"nulledFields":["0x08"],"diffFields":[]}}`
	cf, err := s.ChangeFields([]byte(data))
	require.NoError(t, err)
	assert.Equal(t, pubsub.ChangeFields{Changed: []string{"Phone", "Description", "Name.LastName"}, Nulled: []string{"Email"}, Diff: []string{}}, cf)

	_, err = s.ChangeBitmaps([]string{"Nope"})
	require.Error(t, err)
	_, err = s.ChangeFields([]byte(`{"Phone":null}`))
	require.Error(t, err)
}

func TestSchemaCache(t *testing.T) {
	var calls atomic.Int32
	c := pubsub.NewSchemaCache(func(_ context.Context, id string) (string, error) {
		calls.Add(1)
		if id == "missing" {
			return "", errors.New("no such schema")
		}
		return peSchema, nil
	})
	for range 3 {
		s, err := c.Get(t.Context(), "a")
		require.NoError(t, err)
		assert.Equal(t, "a", s.ID())
		assert.Equal(t, "com.sforce.eventbus.Sample__e", s.Name())
	}
	assert.Equal(t, int32(1), calls.Load())
	_, err := c.Get(t.Context(), "missing")
	require.Error(t, err)
	_, err = c.Get(t.Context(), "missing")
	require.Error(t, err)
	assert.Equal(t, int32(3), calls.Load())
}

// TestDecodeNonFiniteNumbers: JSON has no NaN or infinity. A nullable
// double holding one decodes to null (and encodes back); a double that
// cannot be null fails with ErrInvalidPayload.
func TestDecodeNonFiniteNumbers(t *testing.T) {
	const strict = `{"name":"Strict__e","type":"record","fields":[{"name":"Amount__c","type":"double"},{"name":"Ratio__c","type":["null","float"],"default":null}]}`
	pe, err := pubsub.ParseSchema("pe", peSchema)
	require.NoError(t, err)
	st, err := pubsub.ParseSchema("strict", strict)
	require.NoError(t, err)
	double := func(f float64) []byte { return binary.LittleEndian.AppendUint64(nil, math.Float64bits(f)) }
	float := func(f float32) []byte { return binary.LittleEndian.AppendUint32(nil, math.Float32bits(f)) }
	// peSchema: CreatedDate (long 1 = zigzag 0x02), CreatedById ("x"),
	// Context__c (null: branch 0), Amount__c (double: branch 1).
	peWith := func(amount []byte) []byte { return append([]byte{0x02, 0x02, 'x', 0x00, 0x02}, amount...) }
	cases := []struct {
		name    string
		schema  *pubsub.Schema
		payload []byte
		want    string // JSON, or "" for ErrInvalidPayload
	}{
		{"finite double", pe, peWith(double(1.5)), `{"CreatedDate":1,"CreatedById":"x","Context__c":null,"Amount__c":{"double":1.5}}`},
		{"NaN in a nullable double", pe, peWith(double(math.NaN())), `{"CreatedDate":1,"CreatedById":"x","Context__c":null,"Amount__c":null}`},
		{"infinity in a nullable double", pe, peWith(double(math.Inf(-1))), `{"CreatedDate":1,"CreatedById":"x","Context__c":null,"Amount__c":null}`},
		{"NaN in a nullable float", st, append(append(double(2), 0x02), float(float32(math.NaN()))...), `{"Amount__c":2,"Ratio__c":null}`},
		{"NaN in a double that cannot be null", st, append(double(math.NaN()), 0x00), ""},
		{"infinity in a double that cannot be null", st, append(double(math.Inf(1)), 0x00), ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got, err := c.schema.Decode(c.payload)
			if c.want == "" {
				require.ErrorIs(t, err, pubsub.ErrInvalidPayload)
				assert.ErrorContains(t, err, "Amount__c")
				return
			}
			require.NoError(t, err)
			assert.JSONEq(t, c.want, string(got))
			again, err := c.schema.Encode(got)
			require.NoError(t, err, "what decodes encodes back")
			back, err := c.schema.Decode(again)
			require.NoError(t, err)
			assert.JSONEq(t, c.want, string(back))
		})
	}
}

// TestDecodeHugeBlockCount: a payload whose array block claims hundreds of
// millions of items fails with ErrInvalidPayload without allocating for
// them (goavro makes room for a block's count up front).
func TestDecodeHugeBlockCount(t *testing.T) {
	s, err := pubsub.ParseSchema("cdc", cdcSchema)
	require.NoError(t, err)
	for _, payload := range [][]byte{
		[]byte("\x00\x00\xee\xee\xee\xee\x02\x00"), // changedFields: 366,000,000 items, then too few bytes
		[]byte("\x00\x00\xfe\xff\xff\xff\x0f\x00"), // 2^31 - 1 items
	} {
		var before, after runtime.MemStats
		runtime.ReadMemStats(&before)
		_, err := s.Decode(payload)
		runtime.ReadMemStats(&after)
		require.ErrorIs(t, err, pubsub.ErrInvalidPayload)
		assert.Less(t, after.TotalAlloc-before.TotalAlloc, uint64(64<<20), "bytes allocated for %q", payload)
	}
}

// BenchmarkDecode is what a Salesforce subscription pays per event to turn
// a change event's payload into Avro JSON.
func BenchmarkDecode(b *testing.B) {
	s, err := pubsub.ParseSchema("cdc", cdcSchema)
	require.NoError(b, err)
	payload, err := s.Encode([]byte(`{"ChangeEventHeader":{"entityName":"Contact","changeType":"UPDATE","changedFields":["Phone","MailingAddress.City"],"nulledFields":[],"diffFields":[]},
		"Name":{"FirstName":"Ada","LastName":{"string":"Lovelace"}},"Phone":{"string":"+44 20 7946 0000"},
		"MailingAddress":{"com.sforce.eventbus.Address":{"City":{"string":"London"},"Latitude":51.5}}}`))
	require.NoError(b, err)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := s.Decode(payload); err != nil {
			b.Fatal(err)
		}
	}
}
