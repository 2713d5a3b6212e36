package queue_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/herokuevents/herokuevents/shared/queue"
)

type recorder struct {
	sent []queue.Message
	err  error
}

func (r *recorder) Send(_ context.Context, msgs ...queue.Message) error {
	if r.err != nil {
		return r.err
	}
	r.sent = append(r.sent, msgs...)
	return nil
}

func TestSettle(t *testing.T) {
	settings := queue.Settings{BatchSize: 10, VisibilityTimeout: 1, MaxReceives: 3, Concurrency: 1}
	msgs := []queue.Message{
		{ID: "a", Body: []byte("A"), Receives: 1, Attributes: map[string]string{queue.AttrTenant: "t1", queue.AttrAttempt: "0"}},
		{ID: "b", Body: []byte("B"), Receives: 2, Attributes: map[string]string{queue.AttrTenant: "t1"}},
		{ID: "c", Body: []byte("C"), Receives: 3},
		{ID: "d", Body: []byte("D"), Receives: 5},
	}
	boom := errors.New("boom")
	tests := []struct {
		name      string
		failures  []queue.Failure
		dlqErr    error
		nilDLQ    bool
		wantRetry []string
		wantDead  map[string]string // body -> reason
		wantErr   bool
	}{
		{name: "no failures"},
		{
			name:      "retryable below max receives",
			failures:  []queue.Failure{{ID: "a", Err: boom}, {ID: "b", Err: boom}},
			wantRetry: []string{"a", "b"},
		},
		{
			name:     "permanent dead-letters at once",
			failures: []queue.Failure{{ID: "a", Err: queue.Permanent(errors.New("bad payload"))}},
			wantDead: map[string]string{"A": "bad payload"},
		},
		{
			name:     "max receives reached",
			failures: []queue.Failure{{ID: "c", Err: boom}, {ID: "d", Err: boom}},
			wantDead: map[string]string{"C": "max receives (3) reached: boom", "D": "max receives (3) reached: boom"},
		},
		{
			name:      "unknown ids ignored and duplicates counted once",
			failures:  []queue.Failure{{ID: "zz", Err: boom}, {ID: "b", Err: boom}, {ID: "b", Err: queue.Permanent(boom)}},
			wantRetry: []string{"b"},
		},
		{
			name:      "nil error is retryable",
			failures:  []queue.Failure{{ID: "a"}},
			wantRetry: []string{"a"},
		},
		{
			name:      "mixed batch",
			failures:  []queue.Failure{{ID: "a", Err: boom}, {ID: "b", Err: queue.Permanent(boom)}, {ID: "c", Err: boom}},
			wantRetry: []string{"a"},
			wantDead:  map[string]string{"B": "boom", "C": "max receives (3) reached: boom"},
		},
		{
			name:      "dlq failure keeps messages for redelivery",
			failures:  []queue.Failure{{ID: "a", Err: boom}, {ID: "b", Err: queue.Permanent(boom)}},
			dlqErr:    errors.New("dlq down"),
			wantRetry: []string{"a", "b"},
			wantErr:   true,
		},
		{
			name:      "nil dlq keeps messages for redelivery",
			failures:  []queue.Failure{{ID: "c", Err: boom}},
			nilDLQ:    true,
			wantRetry: []string{"c"},
			wantErr:   true,
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			rec := &recorder{err: tc.dlqErr}
			var dlq queue.Sender = rec
			if tc.nilDLQ {
				dlq = nil
			}
			retry, err := queue.Settle(t.Context(), msgs, queue.BatchResult{Failures: tc.failures}, settings, dlq)
			if tc.wantErr {
				require.Error(t, err)
			} else {
				require.NoError(t, err)
			}
			var ids []string
			for _, f := range retry {
				ids = append(ids, f.ID)
			}
			assert.Equal(t, tc.wantRetry, ids)
			dead := map[string]string{}
			for _, m := range rec.sent {
				dead[string(m.Body)] = m.Attributes[queue.AttrReason]
				assert.Empty(t, m.ID)
				assert.Zero(t, m.Delay)
			}
			if tc.wantDead == nil {
				tc.wantDead = map[string]string{}
			}
			assert.Equal(t, tc.wantDead, dead)
		})
	}
}

func TestSettleKeepsAttributes(t *testing.T) {
	orig := map[string]string{queue.AttrTenant: "t1", queue.AttrAttempt: "4"}
	msgs := []queue.Message{{ID: "1", Body: []byte("x"), Receives: 1, Attributes: orig}}
	rec := &recorder{}
	res := queue.BatchResult{}
	res.Fail("1", queue.Permanent(errors.New("410 gone")))
	retry, err := queue.Settle(t.Context(), msgs, res, queue.Settings{MaxReceives: 5}, rec)
	require.NoError(t, err)
	assert.Empty(t, retry)
	require.Len(t, rec.sent, 1)
	assert.Equal(t, map[string]string{queue.AttrTenant: "t1", queue.AttrAttempt: "4", queue.AttrReason: "410 gone"}, rec.sent[0].Attributes)
	assert.Len(t, orig, 2, "original attributes untouched")
}

func TestReason(t *testing.T) {
	long := strings.Repeat("é", queue.MaxReason) // 2 bytes each
	tests := []struct {
		name string
		err  error
		want func(t *testing.T, got string)
	}{
		{"nil", nil, func(t *testing.T, got string) { assert.Equal(t, "unknown error", got) }},
		{"short", errors.New("x"), func(t *testing.T, got string) { assert.Equal(t, "x", got) }},
		{"permanent unwraps text", queue.Permanent(errors.New("bad")), func(t *testing.T, got string) { assert.Equal(t, "bad", got) }},
		{"long is cut at a rune boundary", errors.New(long), func(t *testing.T, got string) {
			assert.LessOrEqual(t, len(got), queue.MaxReason)
			assert.True(t, utf8.ValidString(got))
			assert.True(t, strings.HasSuffix(got, "…"))
			assert.True(t, strings.HasPrefix(long, strings.TrimSuffix(got, "…")))
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) { tc.want(t, queue.Reason(tc.err)) })
	}
}

func TestCheck(t *testing.T) {
	tooMany := map[string]string{}
	for i := range queue.MaxAttributes + 1 {
		tooMany[strings.Repeat("a", i+1)] = "v"
	}
	tests := []struct {
		name string
		msg  queue.Message
		want error
	}{
		{"ok", queue.Message{Body: []byte("{}"), Attributes: map[string]string{"tenant": "t", "a.b-c_1": "x"}}, nil},
		{"max body ok", queue.Message{Body: make([]byte, queue.MaxBody)}, nil},
		{"body too large", queue.Message{Body: make([]byte, queue.MaxBody+1)}, queue.ErrTooLarge},
		{"too many attributes", queue.Message{Attributes: tooMany}, queue.ErrInvalid},
		{"empty attribute name", queue.Message{Attributes: map[string]string{"": "x"}}, queue.ErrInvalid},
		{"bad attribute name", queue.Message{Attributes: map[string]string{"a b": "x"}}, queue.ErrInvalid},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := queue.Check(queue.Message{}, tc.msg)
			if tc.want == nil {
				require.NoError(t, err)
				return
			}
			require.ErrorIs(t, err, tc.want)
			assert.Contains(t, err.Error(), "message 1")
		})
	}
}

func TestClampDelay(t *testing.T) {
	assert.Equal(t, time.Duration(0), queue.ClampDelay(-time.Second))
	assert.Equal(t, time.Second, queue.ClampDelay(time.Second))
	assert.Equal(t, queue.MaxDelay, queue.ClampDelay(time.Hour))
}
