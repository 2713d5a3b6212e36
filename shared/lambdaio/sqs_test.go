package lambdaio

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/herokuevents/herokuevents/shared/metric"
	"github.com/herokuevents/herokuevents/shared/queue"
)

type memDLQ struct {
	mu   sync.Mutex
	err  error
	sent []queue.Message
}

func (d *memDLQ) Send(_ context.Context, msgs ...queue.Message) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.err != nil {
		return d.err
	}
	d.sent = append(d.sent, msgs...)
	return nil
}

func str(s string) *string { return &s }

func record(id, body string, receives string, attrs map[string]string) events.SQSMessage {
	r := events.SQSMessage{
		MessageId: id, Body: body, EventSource: "aws:sqs",
		Attributes:        map[string]string{"ApproximateReceiveCount": receives},
		MessageAttributes: map[string]events.SQSMessageAttribute{},
	}
	for k, v := range attrs {
		r.MessageAttributes[k] = events.SQSMessageAttribute{StringValue: str(v), DataType: "String"}
	}
	return r
}

var settings = queue.Settings{BatchSize: 10, BatchWindow: time.Second, VisibilityTimeout: time.Minute, MaxReceives: 5, Concurrency: 2}

func TestSQSRecordsBecomeMessages(t *testing.T) {
	var got []queue.Message
	h := queue.BatchHandlerFunc(func(_ context.Context, msgs []queue.Message) queue.BatchResult {
		got = msgs
		return queue.BatchResult{}
	})
	ev := events.SQSEvent{Records: []events.SQSMessage{
		record("m1", `{"a":1}`, "3", map[string]string{"tenant": "t1", "attempt": "2"}),
		record("m2", "x", "", nil),
	}}
	ev.Records[1].MessageAttributes["blob"] = events.SQSMessageAttribute{BinaryValue: []byte{1}, DataType: "Binary"}
	ev.Records[1].MessageAttributes["n"] = events.SQSMessageAttribute{StringValue: str("7"), DataType: "Number"}
	resp, err := SQS(h, settings, &memDLQ{})(t.Context(), ev)
	require.NoError(t, err)
	assert.Empty(t, resp.BatchItemFailures)
	assert.Equal(t, []queue.Message{
		{ID: "m1", Body: []byte(`{"a":1}`), Receives: 3, Attributes: map[string]string{"tenant": "t1", "attempt": "2"}},
		{ID: "m2", Body: []byte("x"), Receives: 1, Attributes: map[string]string{"n": "7"}},
	}, got)
}

func TestSQSSettlesFailures(t *testing.T) {
	errBoom := errors.New("boom")
	tests := []struct {
		name        string
		dlqErr      error
		wantFailed  []string
		wantDead    []string
		wantReasons []string
		// wantCounted is the DeadLettered count of max receives (the role
		// counts its permanent failures itself).
		wantCounted int
	}{
		{
			name:        "retryable reported, permanent and exhausted dead-lettered",
			wantFailed:  []string{"retry"},
			wantDead:    []string{"body-perm", "body-exhausted"},
			wantReasons: []string{"bad payload", "max receives (5) reached: boom"},
			wantCounted: 1,
		},
		{
			name:       "dead-letter send failure reports them for redelivery",
			dlqErr:     errors.New("dlq down"),
			wantFailed: []string{"retry", "perm", "exhausted"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := queue.BatchHandlerFunc(func(_ context.Context, msgs []queue.Message) queue.BatchResult {
				var res queue.BatchResult
				for _, m := range msgs {
					switch m.ID {
					case "retry", "exhausted":
						res.Fail(m.ID, errBoom)
					case "perm":
						res.Fail(m.ID, queue.Permanent(errors.New("bad payload")))
					}
				}
				return res
			})
			dlq := &memDLQ{err: tt.dlqErr}
			ev := events.SQSEvent{Records: []events.SQSMessage{
				record("ok", "body-ok", "1", nil),
				record("retry", "body-retry", "4", nil),
				record("perm", "body-perm", "1", map[string]string{"tenant": "t1"}),
				record("exhausted", "body-exhausted", "5", map[string]string{"tenant": "t2"}),
			}}
			counts := &countRecorder{n: map[string]int{}}
			resp, err := SQS(h, settings, dlq, WithMetrics(counts))(t.Context(), ev)
			require.NoError(t, err, "batch errors never become Lambda errors")
			var failed []string
			for _, f := range resp.BatchItemFailures {
				failed = append(failed, f.ItemIdentifier)
			}
			assert.ElementsMatch(t, tt.wantFailed, failed)
			var dead, reasons []string
			for _, m := range dlq.sent {
				dead = append(dead, string(m.Body))
				reasons = append(reasons, m.Attributes[queue.AttrReason])
			}
			assert.ElementsMatch(t, tt.wantDead, dead)
			assert.ElementsMatch(t, tt.wantReasons, reasons)
			for _, m := range dlq.sent {
				assert.NotEmpty(t, m.Attributes[queue.AttrTenant], "original attributes kept")
			}
			assert.Equal(t, tt.wantCounted, counts.n[metric.DeadLettered])
		})
	}
}

type countRecorder struct {
	mu sync.Mutex
	n  map[string]int
}

func (c *countRecorder) Count(_ context.Context, name string, n int, _ ...string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.n[name] += n
}

func (c *countRecorder) Duration(context.Context, string, time.Duration, ...string) {}

func TestSQSResponseJSONHasEmptyList(t *testing.T) {
	h := queue.BatchHandlerFunc(func(context.Context, []queue.Message) queue.BatchResult { return queue.BatchResult{} })
	resp, err := SQS(h, settings, nil)(t.Context(), events.SQSEvent{})
	require.NoError(t, err)
	assert.NotNil(t, resp.BatchItemFailures, `marshals as "batchItemFailures":[]`)
}
