package sqsqueue

import (
	"context"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/aws/aws-sdk-go-v2/service/sqs/types"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/herokuevents/herokuevents/shared/queue"
)

// flaky fails entries by body: the number of times each body fails on the
// service's side before succeeding, or forever as the sender's fault.
type flaky struct {
	failures    map[string]int
	senderFault map[string]bool
	calls       int
	sent        []string
}

func (f *flaky) SendMessageBatch(_ context.Context, in *sqs.SendMessageBatchInput, _ ...func(*sqs.Options)) (*sqs.SendMessageBatchOutput, error) {
	f.calls++
	out := &sqs.SendMessageBatchOutput{}
	for _, e := range in.Entries {
		body := aws.ToString(e.MessageBody)
		switch {
		case f.senderFault[body]:
			out.Failed = append(out.Failed, types.BatchResultErrorEntry{Id: e.Id, Code: aws.String("InvalidParameterValue"), Message: aws.String("refused"), SenderFault: true})
		case f.failures[body] > 0:
			f.failures[body]--
			out.Failed = append(out.Failed, types.BatchResultErrorEntry{Id: e.Id, Code: aws.String("InternalError"), Message: aws.String("try again")})
		default:
			f.sent = append(f.sent, body)
			out.Successful = append(out.Successful, types.SendMessageBatchResultEntry{Id: e.Id})
		}
	}
	return out, nil
}

func TestSendRetriesFailedEntries(t *testing.T) {
	old := backoff
	backoff = func(int) time.Duration { return time.Millisecond }
	t.Cleanup(func() { backoff = old })
	msgs := []queue.Message{{Body: []byte("a")}, {Body: []byte("b")}, {Body: []byte("c")}, {Body: []byte("d")}}
	tests := []struct {
		name        string
		failures    map[string]int
		senderFault map[string]bool
		wantSent    []string
		wantCalls   int
		wantErr     []string
	}{
		{name: "no failures", wantSent: []string{"a", "b", "c", "d"}, wantCalls: 1},
		{
			name:      "transient failures retried",
			failures:  map[string]int{"b": 1, "d": 3},
			wantSent:  []string{"a", "c", "b", "d"},
			wantCalls: 4,
		},
		{
			name:      "persistent failure named",
			failures:  map[string]int{"c": 100},
			wantSent:  []string{"a", "b", "d"},
			wantCalls: attempts,
			wantErr:   []string{"1 of 4 messages failed", "message 2: InternalError: try again"},
		},
		{
			name:        "sender fault not retried",
			senderFault: map[string]bool{"a": true},
			wantSent:    []string{"b", "c", "d"},
			wantCalls:   1,
			wantErr:     []string{"message 0: InvalidParameterValue: refused"},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f := &flaky{failures: tc.failures, senderFault: tc.senderFault}
			q := &Queue{client: f, url: "https://sqs.example/q"}
			err := q.Send(t.Context(), msgs...)
			assert.Equal(t, tc.wantSent, f.sent)
			assert.Equal(t, tc.wantCalls, f.calls)
			if tc.wantErr == nil {
				require.NoError(t, err)
				return
			}
			require.Error(t, err)
			for _, s := range tc.wantErr {
				assert.Contains(t, err.Error(), s)
			}
		})
	}
}

func TestSendStopsRetryingWhenCancelled(t *testing.T) {
	old := backoff
	backoff = func(int) time.Duration { return time.Hour }
	t.Cleanup(func() { backoff = old })
	ctx, cancel := context.WithTimeout(t.Context(), 50*time.Millisecond)
	defer cancel()
	q := &Queue{client: &flaky{failures: map[string]int{"a": 1}}, url: "u"}
	err := q.Send(ctx, queue.Message{Body: []byte("a")})
	require.ErrorIs(t, err, context.DeadlineExceeded)
}

func TestDelaySeconds(t *testing.T) {
	tests := []struct {
		in   time.Duration
		want int32
	}{
		{0, 0}, {-time.Second, 0}, {time.Millisecond, 1}, {time.Second, 1}, {1500 * time.Millisecond, 2}, {time.Hour, 900},
	}
	for _, tc := range tests {
		assert.Equal(t, tc.want, delaySeconds(tc.in), "%v", tc.in)
	}
}
