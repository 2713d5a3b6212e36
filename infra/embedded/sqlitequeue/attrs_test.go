package sqlitequeue

import (
	"encoding/json"
	"fmt"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/herokuevents/herokuevents/shared/queue"
)

func TestAttrsRoundTrip(t *testing.T) {
	cases := []map[string]string{
		{"tenant": "t1"},
		{"tenant": "t1", "attempt": "0", "held": "pub-1"},
		{"quote": `a"b`, "backslash": `a\b`, "ctl": "a\n\t\r\x00\x1fb", "html": "<a&b>", "uni": "é€😀\u2028"},
		{"": ""},
		{"bad utf8": "a\xffb"},
	}
	for i, m := range cases {
		t.Run(fmt.Sprint(i), func(t *testing.T) {
			enc, err := encodeAttrs(m)
			require.NoError(t, err)
			var want map[string]string
			require.NoError(t, json.Unmarshal([]byte(enc.(string)), &want), "valid JSON")
			got, err := decodeAttrs(enc.(string))
			require.NoError(t, err)
			assert.Equal(t, want, got)
		})
	}
	enc, err := encodeAttrs(nil)
	require.NoError(t, err)
	assert.Nil(t, enc)
}

func TestIDsJSON(t *testing.T) {
	for _, c := range []struct {
		ids  []string
		want string
	}{{nil, "[]"}, {[]string{"1"}, "[1]"}, {[]string{"1", "x", "-3", "99999999999"}, "[1,-3,99999999999]"}} {
		got, err := idsJSON(c.ids)
		require.NoError(t, err)
		assert.Equal(t, c.want, got)
	}
}

// FuzzDecodeAttrs: decodeAttrs reads what encoding/json reads, the same
// way, and fails where it fails; encodeAttrs' output decodes back.
func FuzzDecodeAttrs(f *testing.F) {
	for _, s := range []string{`{}`, `{"a":"b"}`, `{"a":"b","c":"d"}`, `{"a":"b\"c"}`, `{ "a" : "b" }`, `{"a":1}`, `null`, `{"a":"\xff"}`, `{"a":"b",}`, `{"a":"b"}}`, `{"a""b"}`} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		var want map[string]string
		wantErr := json.Unmarshal([]byte(s), &want)
		got, err := decodeAttrs(s)
		if wantErr != nil {
			if err == nil {
				t.Fatalf("decodeAttrs(%q) = %v, json: %v", s, got, wantErr)
			}
			return
		}
		if err != nil {
			t.Fatalf("decodeAttrs(%q): %v", s, err)
		}
		assert.Equal(t, want, got)
		if len(want) > 0 {
			enc, err := encodeAttrs(want)
			require.NoError(t, err)
			back, err := decodeAttrs(enc.(string))
			require.NoError(t, err)
			assert.Equal(t, want, back)
		}
	})
}

// TestSendManyKeepsOrder: a Send of more messages than one INSERT holds
// keeps their order, bodies, attributes, tenants and delays.
func TestSendManyKeepsOrder(t *testing.T) {
	db, err := Open(filepath.Join(t.TempDir(), "queues.db"))
	require.NoError(t, err)
	t.Cleanup(func() { assert.NoError(t, db.Close()) })
	q := db.Queue("q")
	const n = 2*sendRows + 3
	msgs := make([]queue.Message, n)
	for i := range msgs {
		msgs[i] = queue.Message{Body: []byte(fmt.Sprint(i)), Attributes: map[string]string{queue.AttrTenant: "t", "n": fmt.Sprint(i)}}
	}
	msgs[5].Delay = time.Hour
	msgs[7].Body = nil
	msgs[8].Attributes = nil
	require.NoError(t, q.Send(t.Context(), msgs...))
	all, err := q.List(t.Context(), 100)
	require.NoError(t, err)
	require.Len(t, all, n)
	for i, m := range all {
		assert.Equal(t, string(msgs[i].Body), string(m.Body), "message %d", i)
		assert.Equal(t, msgs[i].Attributes, m.Attributes, "message %d", i)
		if i > 0 {
			assert.Equal(t, -1, compareIDs(all[i-1].ID, m.ID))
		}
	}
	var got []queue.Message
	for {
		batch, err := q.Receive(t.Context(), 10, time.Minute)
		require.NoError(t, err)
		if len(batch) == 0 {
			break
		}
		got = append(got, batch...)
	}
	assert.Len(t, got, n-1, "all but the delayed message")
	s, err := q.Stats(t.Context())
	require.NoError(t, err)
	assert.Equal(t, 1, s.Delayed)
}

// TestConcurrentSendsShareStatements: sends running at once (their rows
// inserted together by the writer) each land whole, once, their messages
// in order and next to each other.
func TestConcurrentSendsShareStatements(t *testing.T) {
	db, err := Open(filepath.Join(t.TempDir(), "queues.db"))
	require.NoError(t, err)
	t.Cleanup(func() { assert.NoError(t, db.Close()) })
	const senders, sends = 16, 40
	var wg sync.WaitGroup
	for s := range senders {
		q := db.Queue(fmt.Sprint("q", s%2))
		wg.Go(func() {
			for i := range sends {
				msgs := make([]queue.Message, 3)
				for j := range msgs {
					msgs[j] = queue.Message{Body: fmt.Appendf(nil, "%d/%d/%d", s, i, j), Attributes: map[string]string{queue.AttrTenant: fmt.Sprint("t", s)}}
				}
				assert.NoError(t, q.Send(t.Context(), msgs...))
			}
		})
	}
	wg.Wait()
	for _, name := range []string{"q0", "q1"} {
		all, err := db.Queue(name).List(t.Context(), 10000)
		require.NoError(t, err)
		require.Len(t, all, senders/2*sends*3)
		for k := 0; k < len(all); k += 3 {
			var s, i int
			_, err := fmt.Sscanf(string(all[k].Body), "%d/%d/0", &s, &i)
			require.NoError(t, err)
			for j := range 3 {
				m := all[k+j]
				assert.Equal(t, fmt.Sprintf("%d/%d/%d", s, i, j), string(m.Body))
				assert.Equal(t, fmt.Sprint("t", s), m.Attributes[queue.AttrTenant])
				if j > 0 {
					assert.Equal(t, -1, compareIDs(all[k+j-1].ID, m.ID))
				}
			}
		}
	}
}
