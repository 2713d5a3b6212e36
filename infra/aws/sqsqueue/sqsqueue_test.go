package sqsqueue_test

import (
	"context"
	"fmt"
	"math"
	"net/http"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/aws/aws-sdk-go-v2/service/sqs/types"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/herokuevents/herokuevents/infra/aws/awstest"
	"github.com/herokuevents/herokuevents/infra/aws/sqsqueue"
	"github.com/herokuevents/herokuevents/shared/queue"
	"github.com/herokuevents/herokuevents/shared/queue/queuetest"
)

var moto *awstest.Server

func TestMain(m *testing.M) {
	var err error
	if moto, err = awstest.Start(); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	code := m.Run()
	if err := moto.Close(); err != nil {
		fmt.Fprintln(os.Stderr, err)
	}
	os.Exit(code)
}

// counter counts SendMessageBatch requests going through the SDK.
type counter struct {
	batches atomic.Int32
}

func (c *counter) Do(r *http.Request) (*http.Response, error) {
	if strings.HasSuffix(r.Header.Get("X-Amz-Target"), ".SendMessageBatch") {
		c.batches.Add(1)
	}
	return http.DefaultClient.Do(r)
}

func client(t *testing.T) (*sqs.Client, *counter) {
	t.Helper()
	cfg := moto.Config()
	c := &counter{}
	cfg.HTTPClient = c
	return sqs.NewFromConfig(cfg), c
}

var seq atomic.Int64

func createQueue(t *testing.T, c *sqs.Client) string {
	t.Helper()
	name := "q" + strconv.FormatInt(seq.Add(1), 10) + "-" + strconv.FormatInt(time.Now().UnixNano(), 36)
	out, err := c.CreateQueue(t.Context(), &sqs.CreateQueueInput{QueueName: aws.String(name)})
	require.NoError(t, err)
	return aws.ToString(out.QueueUrl)
}

// testQueue adds to sqsqueue.Queue what the event source mapping does in
// AWS: ReceiveMessage and DeleteMessageBatch through the API.
type testQueue struct {
	*sqsqueue.Queue
	client *sqs.Client
	url    string

	mu       sync.Mutex
	receipts map[string]string // message id -> receipt handle of its last receive
}

func newTestQueue(t *testing.T, c *sqs.Client) *testQueue {
	url := createQueue(t, c)
	return &testQueue{Queue: sqsqueue.New(c, url), client: c, url: url, receipts: map[string]string{}}
}

// newFIFOQueue creates a FIFO queue in high-throughput mode, as
// OrderedDeliveryQueue.fifo in template.yaml.
func newFIFOQueue(t *testing.T, c *sqs.Client) *testQueue {
	t.Helper()
	name := "q" + strconv.FormatInt(seq.Add(1), 10) + "-" + strconv.FormatInt(time.Now().UnixNano(), 36) + ".fifo"
	out, err := c.CreateQueue(t.Context(), &sqs.CreateQueueInput{QueueName: aws.String(name), Attributes: map[string]string{
		"FifoQueue": "true", "DeduplicationScope": "messageGroup", "FifoThroughputLimit": "perMessageGroupId"}})
	require.NoError(t, err)
	url := aws.ToString(out.QueueUrl)
	return &testQueue{Queue: sqsqueue.New(c, url), client: c, url: url, receipts: map[string]string{}}
}

// ChangeVisibility is what the Lambda adapter does for queue.Later.
func (q *testQueue) ChangeVisibility(ctx context.Context, id string, d time.Duration) error {
	q.mu.Lock()
	receipt := q.receipts[id]
	q.mu.Unlock()
	return q.Queue.ChangeVisibility(ctx, receipt, d)
}

func (q *testQueue) Receive(ctx context.Context, max int, visibility time.Duration) ([]queue.Message, error) {
	out, err := q.client.ReceiveMessage(ctx, &sqs.ReceiveMessageInput{
		QueueUrl:                    &q.url,
		MaxNumberOfMessages:         int32(max),
		VisibilityTimeout:           int32(math.Ceil(visibility.Seconds())),
		MessageAttributeNames:       []string{"All"},
		MessageSystemAttributeNames: []types.MessageSystemAttributeName{types.MessageSystemAttributeNameAll},
	})
	if err != nil {
		return nil, err
	}
	q.mu.Lock()
	defer q.mu.Unlock()
	msgs := make([]queue.Message, 0, len(out.Messages))
	for _, m := range out.Messages {
		id := aws.ToString(m.MessageId)
		q.receipts[id] = aws.ToString(m.ReceiptHandle)
		qm := queue.Message{ID: id, Body: []byte(aws.ToString(m.Body))}
		if n, err := strconv.Atoi(m.Attributes[string(types.MessageSystemAttributeNameApproximateReceiveCount)]); err == nil {
			qm.Receives = n
		}
		if ms, err := strconv.ParseInt(m.Attributes[string(types.MessageSystemAttributeNameSentTimestamp)], 10, 64); err == nil {
			qm.SentAt = time.UnixMilli(ms)
		}
		if ms, err := strconv.ParseInt(m.Attributes[string(types.MessageSystemAttributeNameApproximateFirstReceiveTimestamp)], 10, 64); err == nil {
			qm.FirstReceived = time.UnixMilli(ms)
		}
		qm.Group = m.Attributes[string(types.MessageSystemAttributeNameMessageGroupId)]
		for k, v := range m.MessageAttributes {
			if qm.Attributes == nil {
				qm.Attributes = map[string]string{}
			}
			qm.Attributes[k] = aws.ToString(v.StringValue)
		}
		msgs = append(msgs, qm)
	}
	return msgs, nil
}

func (q *testQueue) Delete(ctx context.Context, ids ...string) error {
	for start := 0; start < len(ids); start += 10 {
		var entries []types.DeleteMessageBatchRequestEntry
		q.mu.Lock()
		for i, id := range ids[start:min(start+10, len(ids))] {
			entries = append(entries, types.DeleteMessageBatchRequestEntry{Id: aws.String("d" + strconv.Itoa(i)), ReceiptHandle: aws.String(q.receipts[id])})
		}
		q.mu.Unlock()
		out, err := q.client.DeleteMessageBatch(ctx, &sqs.DeleteMessageBatchInput{QueueUrl: &q.url, Entries: entries})
		if err != nil {
			return err
		}
		if len(out.Failed) > 0 {
			return fmt.Errorf("delete: %d failed: %s", len(out.Failed), aws.ToString(out.Failed[0].Message))
		}
	}
	return nil
}

func TestConformance(t *testing.T) {
	queuetest.Run(t, queuetest.Harness{
		Open: func(t *testing.T) (q, dlq queuetest.Queue) {
			c, _ := client(t)
			return newTestQueue(t, c), newTestQueue(t, c)
		},
		Ordered: func(t *testing.T) queuetest.Queue {
			c, _ := client(t)
			return newFIFOQueue(t, c)
		},
		// Lambda's event source mapping receives, settles (via the Lambda
		// adapter's queue.Settle) and deletes; SQS itself redelivers and
		// redrives; delays and visibility timeouts are whole seconds.
		Capabilities: queuetest.Capabilities{Consume: false, ReleaseInFlight: false, Redrive: false, Tick: time.Second, Duplicates: true},
	})
}

func TestSendChunks(t *testing.T) {
	t.Parallel()
	big := strings.Repeat("x", 400<<10)
	tests := []struct {
		name        string
		msgs        []queue.Message
		wantBatches int32
	}{
		{"one", []queue.Message{{Body: []byte("1")}}, 1},
		{"25 small in 3 requests of ≤ 10", small(25), 3},
		{"5 of 400 KiB in 3 requests of ≤ 1 MiB", repeat(queue.Message{Body: []byte(big)}, 5), 3},
		{"a whole MiB alone", []queue.Message{{Body: []byte("a")}, {Body: []byte(strings.Repeat("y", queue.MaxBody))}, {Body: []byte("b")}}, 3},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c, count := client(t)
			q := newTestQueue(t, c)
			require.NoError(t, q.Send(t.Context(), tc.msgs...))
			assert.Equal(t, tc.wantBatches, count.batches.Load())
			var got []queue.Message
			for deadline := time.Now().Add(10 * time.Second); len(got) < len(tc.msgs) && time.Now().Before(deadline); {
				m, err := q.Receive(t.Context(), 10, time.Minute)
				require.NoError(t, err)
				got = append(got, m...)
			}
			require.Len(t, got, len(tc.msgs))
			want := map[string]int{}
			for _, m := range tc.msgs {
				want[string(m.Body)]++
			}
			have := map[string]int{}
			for _, m := range got {
				have[string(m.Body)]++
			}
			assert.Equal(t, want, have)
		})
	}
}

func small(n int) []queue.Message {
	out := make([]queue.Message, n)
	for i := range out {
		out[i] = queue.Message{Body: fmt.Appendf(nil, `{"i":%d}`, i), Attributes: map[string]string{queue.AttrTenant: "t", queue.AttrAttempt: strconv.Itoa(i)}}
	}
	return out
}

func repeat(m queue.Message, n int) []queue.Message {
	out := make([]queue.Message, n)
	for i := range out {
		out[i] = m
	}
	return out
}

func TestSendRejects(t *testing.T) {
	t.Parallel()
	c, count := client(t)
	q := newTestQueue(t, c)
	withAttrs := queue.Message{Body: []byte(strings.Repeat("z", queue.MaxBody-10)), Attributes: map[string]string{queue.AttrTenant: "tenant-with-a-long-id"}}
	tests := []struct {
		name string
		msg  queue.Message
		want error
	}{
		{"body over MaxBody", queue.Message{Body: make([]byte, queue.MaxBody+1)}, queue.ErrTooLarge},
		{"body plus attributes over 1 MiB", withAttrs, queue.ErrTooLarge},
		{"not UTF-8", queue.Message{Body: []byte{0xff, 0xfe}}, queue.ErrInvalid},
		{"control character", queue.Message{Body: []byte("a\x00b")}, queue.ErrInvalid},
		{"too many attributes", queue.Message{Body: []byte("x"), Attributes: map[string]string{
			"a": "1", "b": "1", "c": "1", "d": "1", "e": "1", "f": "1", "g": "1", "h": "1", "i": "1", "j": "1", "k": "1"}}, queue.ErrInvalid},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := q.Send(t.Context(), queue.Message{Body: []byte("ok")}, tc.msg)
			require.ErrorIs(t, err, tc.want)
			assert.Contains(t, err.Error(), "message 1")
		})
	}
	assert.Zero(t, count.batches.Load(), "rejected before any request")
}

// Delay is sent as DelaySeconds, rounded up and capped at 900; attributes
// with empty values are left out.
func TestSendDelayAndAttributes(t *testing.T) {
	t.Parallel()
	c, _ := client(t)
	q := newTestQueue(t, c)
	require.NoError(t, q.Send(t.Context(),
		queue.Message{Body: []byte("capped"), Delay: time.Hour},
		queue.Message{Body: []byte("rounded"), Delay: 10 * time.Millisecond, Attributes: map[string]string{queue.AttrTenant: "t", "empty": ""}}))
	got := receiveWithin(t, q, 1, 3*time.Second)
	require.Len(t, got, 1, "the rounded-up delay has passed")
	assert.Equal(t, "rounded", string(got[0].Body))
	assert.Equal(t, map[string]string{queue.AttrTenant: "t"}, got[0].Attributes)
	attrs, err := c.GetQueueAttributes(t.Context(), &sqs.GetQueueAttributesInput{
		QueueUrl: aws.String(q.URL()), AttributeNames: []types.QueueAttributeName{types.QueueAttributeNameApproximateNumberOfMessagesDelayed}})
	require.NoError(t, err)
	assert.Equal(t, "1", attrs.Attributes[string(types.QueueAttributeNameApproximateNumberOfMessagesDelayed)], "the capped one is delayed (a delay over 900s would have been refused)")
}

func receiveWithin(t *testing.T, q *testQueue, n int, within time.Duration) []queue.Message {
	t.Helper()
	var got []queue.Message
	for deadline := time.Now().Add(within); len(got) < n && time.Now().Before(deadline); {
		m, err := q.Receive(t.Context(), 10, time.Minute)
		require.NoError(t, err)
		got = append(got, m...)
		if len(m) == 0 {
			time.Sleep(50 * time.Millisecond)
		}
	}
	return got
}

func TestSendToMissingQueue(t *testing.T) {
	t.Parallel()
	c, _ := client(t)
	q := sqsqueue.New(c, moto.URL+"/"+awstest.AccountID+"/does-not-exist")
	err := q.Send(t.Context(), queue.Message{Body: []byte("x")})
	require.Error(t, err)
	assert.Contains(t, err.Error(), "does-not-exist")
}
