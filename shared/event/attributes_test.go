package event_test

import (
	"encoding/json"
	"math"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/herokuevents/herokuevents/shared/event"
)

func TestEncodeHeader(t *testing.T) {
	for _, tt := range []struct{ in, want string }{
		{"plain", "plain"},
		{`café "x" 100%`, `caf%C3%A9%20%22x%22%20100%25`},
		{"Euro € 😀", "Euro%20%E2%82%AC%20%F0%9F%98%80"}, // the binding's own example
		{"/tenants/t/subscriptions/a?b=c&d=e#f", "/tenants/t/subscriptions/a?b=c&d=e#f"},
		{"tab\there\x7f", "tab%09here%7F"},
		{"", ""},
	} {
		t.Run(tt.in, func(t *testing.T) {
			assert.Equal(t, tt.want, event.EncodeHeader(tt.in))
			back, err := event.DecodeHeader(tt.want)
			require.NoError(t, err)
			assert.Equal(t, tt.in, back)
		})
	}
}

func TestDecodeHeader(t *testing.T) {
	for _, tt := range []struct {
		name, in, want, err string
	}{
		{name: "lower-case hex", in: "caf%c3%a9", want: "café"},
		{name: "unnecessarily encoded", in: "%41%42c", want: "ABc"},
		{name: "one round only", in: "100%2525", want: "100%25"},
		{name: "stray percent kept", in: "100%", want: "100%"},
		{name: "bad escape kept", in: "%zz%4", want: "%zz%4"},
		{name: "raw UTF-8 kept", in: "café", want: "café"},
		{name: "quoted string", in: `"a b \"c\" \\d"`, want: `a b "c" \d`},
		{name: "quoted then decoded", in: `"caf%C3%A9 x"`, want: "café x"},
		{name: "quoted part", in: `x "y z" w`, want: "x y z w"},
		{name: "overlong space", in: "%C0%A0", err: "UTF-8"},
		{name: "lone continuation byte", in: "a%80", err: "UTF-8"},
		{name: "unterminated quote", in: `"abc`, err: "unterminated"},
		{name: "escape at the end", in: `"abc\`, err: "quoted string"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			got, err := event.DecodeHeader(tt.in)
			if tt.err != "" {
				require.ErrorIs(t, err, event.ErrInvalid)
				assert.ErrorContains(t, err, tt.err)
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tt.want, got)
		})
	}
}

// FuzzDecodeHeader: decoding never panics and yields valid UTF-8 or an
// ErrInvalid error; encoding any valid string gives a printable-ASCII
// header value without space or quote that decodes back to it.
func FuzzDecodeHeader(f *testing.F) {
	for _, s := range []string{"", "caf%C3%A9%20%22x%22%20100%25", `"quoted \" x"`, "%C0%A0", "100%", "%", "%%41", `"`, `\`, "café"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		got, err := event.DecodeHeader(s)
		if err != nil {
			require.ErrorIs(t, err, event.ErrInvalid)
		} else {
			require.True(t, utf8.ValidString(got))
		}
		if !utf8.ValidString(s) {
			return
		}
		enc := event.EncodeHeader(s)
		for i := 0; i < len(enc); i++ {
			require.True(t, enc[i] > ' ' && enc[i] < 0x7f && enc[i] != '"', "byte %q in %q", enc[i], enc)
		}
		back, err := event.DecodeHeader(enc)
		require.NoError(t, err)
		require.Equal(t, s, back)
	})
}

func TestCheckExtension(t *testing.T) {
	for _, tt := range []struct {
		name  string
		ext   string
		value any
		want  any
		err   string
	}{
		{name: "string", ext: "traceparent", value: "00-abc-01", want: "00-abc-01"},
		{name: "non-ASCII string", ext: "region", value: `café "x" 100%`, want: `café "x" 100%`},
		{name: "bool", ext: "sampled", value: true, want: true},
		{name: "int", ext: "priority", value: 5, want: int32(5)},
		{name: "float from JSON", ext: "priority", value: float64(-7), want: int32(-7)},
		{name: "json number", ext: "priority", value: json.Number("42"), want: int32(42)},
		{name: "int32 bounds", ext: "n", value: int64(math.MaxInt32), want: int32(math.MaxInt32)},
		{name: "too large", ext: "n", value: int64(math.MaxInt32) + 1, err: "32-bit"},
		{name: "huge float", ext: "n", value: 1e300, err: "32-bit"},
		{name: "fraction", ext: "n", value: 1.5, err: "not an integer"},
		{name: "object", ext: "n", value: map[string]any{}, err: "not a CloudEvents"},
		{name: "null", ext: "n", value: nil, err: "no value"},
		{name: "control character", ext: "n", value: "a\nb", err: "control character"},
		{name: "upper-case name", ext: "Bad", value: "x", err: "lower-case"},
		{name: "dash", ext: "bad-name", value: "x", err: "lower-case"},
		{name: "empty name", ext: "", value: "x", err: "lower-case"},
		{name: "long name", ext: strings.Repeat("a", event.MaxExtensionName+1), value: "x", err: "lower-case"},
		{name: "context attribute", ext: "subject", value: "x", err: "reserved"},
		{name: "data", ext: "data", value: "x", err: "reserved"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			got, err := event.CheckExtension(tt.ext, tt.value)
			if tt.err != "" {
				require.ErrorIs(t, err, event.ErrInvalid)
				assert.ErrorContains(t, err, tt.err)
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tt.want, got)
		})
	}
}

func TestCheckAttributes(t *testing.T) {
	valid := func() event.Event {
		ev := event.New("/src", "com.example.t", json.RawMessage(`{}`))
		ev.Subject = `café "x" 100%`
		ev.DataSchema = "https://example.com/schema.json"
		ev.Extensions = map[string]any{"region": "eu", "priority": float64(3)}
		return ev
	}
	ev := valid()
	require.NoError(t, ev.CheckAttributes())
	assert.Equal(t, int32(3), ev.Extensions["priority"], "canonical integer")

	many := map[string]any{}
	for i := range event.MaxExtensions + 1 {
		many["e"+strings.Repeat("x", i)] = "v"
	}
	for _, tt := range []struct {
		name string
		edit func(*event.Event)
		err  string
	}{
		{"no id", func(e *event.Event) { e.ID = "" }, "id is empty"},
		{"control character in subject", func(e *event.Event) { e.Subject = "a\x00b" }, "subject contains"},
		{"C1 control in type", func(e *event.Event) { e.Type = "a\u0085" }, "type contains"},
		{"invalid UTF-8 in id", func(e *event.Event) { e.ID = "a\xffb" }, "id is not valid UTF-8"},
		{"relative dataschema", func(e *event.Event) { e.DataSchema = "/schema.json" }, "not an absolute URI"},
		{"bad extension", func(e *event.Event) { e.Extensions["Bad"] = "x" }, "lower-case"},
		{"too many extensions", func(e *event.Event) { e.Extensions = many }, "at most"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			ev := valid()
			tt.edit(&ev)
			err := ev.CheckAttributes()
			require.ErrorIs(t, err, event.ErrInvalid)
			assert.ErrorContains(t, err, tt.err)
		})
	}
}

// TestEventJSON: the queue envelope keeps dataschema and extensions (a
// number comes back as a float64 that CheckExtension accepts as the same
// integer).
func TestEventJSON(t *testing.T) {
	ev := event.Event{
		ID: "1", Source: "/s", Type: "t", Subject: `café "x" 100%`, Time: time.Date(2026, 1, 2, 3, 4, 5, 6, time.UTC),
		DataContentType: "application/json", DataSchema: "https://example.com/s", Data: json.RawMessage(`{"a":1}`),
		Extensions: map[string]any{"region": "eu", "sampled": true, "priority": int32(3)},
	}
	b, err := json.Marshal(event.Delivery{Tenant: "t", Publication: "p", Event: ev})
	require.NoError(t, err)
	var back event.Delivery
	require.NoError(t, json.Unmarshal(b, &back))
	assert.Equal(t, "https://example.com/s", back.Event.DataSchema)
	assert.Equal(t, map[string]any{"region": "eu", "sampled": true, "priority": float64(3)}, back.Event.Extensions)
	require.NoError(t, back.Event.CheckAttributes())
	assert.Equal(t, ev.Extensions, back.Event.Extensions)
	back.Event.Extensions = ev.Extensions
	assert.Equal(t, ev, back.Event)
}
