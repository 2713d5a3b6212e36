package lambdaio_test

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/herokuevents/herokuevents/shared/lambdaio"
	"github.com/herokuevents/herokuevents/shared/queue"
)

// TestSQSOrdered: a batch of the FIFO event source uses its own settings,
// retries queue.Later failures in place (a visibility change of their
// receipt) and fails the messages after a failed one of the same group;
// the standard queue's MessageGroupId (the tenant) is no group.
func TestSQSOrdered(t *testing.T) {
	rec := func(id, group, arn string) events.SQSMessage {
		return events.SQSMessage{MessageId: id, ReceiptHandle: "r-" + id, Body: `{}`, EventSourceARN: arn,
			Attributes: map[string]string{"ApproximateReceiveCount": "1", "MessageGroupId": group, "ApproximateFirstReceiveTimestamp": "1700000000000"}}
	}
	const fifo, std = "arn:aws:sqs:us-east-1:1:x-OrderedDeliveryQueue.fifo", "arn:aws:sqs:us-east-1:1:x-DeliveryQueue"
	tests := []struct {
		name      string
		records   []events.SQSMessage
		fail      map[string]error
		wantFail  []string
		wantRetry map[string]time.Duration
		wantGroup map[string]string
	}{
		{"fifo: a failed head fails the rest of its group only",
			[]events.SQSMessage{rec("a1", "A", fifo), rec("b1", "B", fifo), rec("a2", "A", fifo), rec("b2", "B", fifo)},
			map[string]error{"a1": queue.Later(errors.New("503"), 5*time.Second)},
			[]string{"a1", "a2"}, map[string]time.Duration{"r-a1": 5 * time.Second, "r-a2": 0},
			map[string]string{"a1": "A", "b1": "B"}},
		{"fifo: a dead-lettered head lets its group go on",
			[]events.SQSMessage{rec("a1", "A", fifo), rec("a2", "A", fifo)},
			map[string]error{"a1": queue.Permanent(errors.New("400"))},
			nil, map[string]time.Duration{}, map[string]string{"a2": "A"}},
		{"standard queue: MessageGroupId is no group",
			[]events.SQSMessage{rec("t1", "tenant", std), rec("t2", "tenant", std)},
			map[string]error{"t1": errors.New("503")},
			[]string{"t1"}, map[string]time.Duration{}, map[string]string{"t1": "", "t2": ""}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var mu sync.Mutex
			retimed := map[string]time.Duration{}
			groups := map[string]string{}
			h := queue.BatchHandlerFunc(func(_ context.Context, msgs []queue.Message) queue.BatchResult {
				var res queue.BatchResult
				for _, m := range msgs {
					groups[m.ID] = m.Group
					assert.False(t, m.FirstReceived.IsZero())
					if err := tc.fail[m.ID]; err != nil {
						res.Fail(m.ID, err)
					}
				}
				return res
			})
			dlq := queue.SenderFunc(func(context.Context, ...queue.Message) error { return nil })
			std := queue.Settings{BatchSize: 10, VisibilityTimeout: time.Minute, MaxReceives: 10, Concurrency: 1}
			ord := std
			ord.MaxReceives = 1000
			fn := lambdaio.SQS(h, std, dlq, lambdaio.WithOrdered(ord, func(_ context.Context, receipt string, d time.Duration) error {
				mu.Lock()
				defer mu.Unlock()
				retimed[receipt] = d
				return nil
			}))
			out, err := fn(t.Context(), events.SQSEvent{Records: tc.records})
			require.NoError(t, err)
			var failed []string
			for _, f := range out.BatchItemFailures {
				failed = append(failed, f.ItemIdentifier)
			}
			assert.ElementsMatch(t, tc.wantFail, failed)
			assert.Equal(t, tc.wantRetry, retimed)
			for id, g := range tc.wantGroup {
				assert.Equal(t, g, groups[id], "group of %s", id)
			}
		})
	}
}
