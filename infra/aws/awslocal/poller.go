package awslocal

import (
	"context"
	"crypto/md5"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	sqstypes "github.com/aws/aws-sdk-go-v2/service/sqs/types"

	"github.com/herokuevents/herokuevents/infra/samtemplate"
	"github.com/herokuevents/herokuevents/shared/queue"
)

// poller is what Lambda's SQS event source mapping does for one function:
// receive up to BatchSize messages (waiting up to the batching window to
// fill the batch), invoke the function with an SQS event, delete the
// messages it did not report in batchItemFailures and leave the others to
// reappear after the visibility timeout; the queue's redrive policy moves a
// message received maxReceiveCount times to its dead-letter queue. One
// batch at a time (one emulator per function).
type poller struct {
	s        *Stack
	fn       samtemplate.Function
	queue    string // the logical id of the queue it polls
	settings queue.Settings
	url, arn string
	active   atomic.Bool
	batches  atomic.Int64
}

func (s *Stack) newPoller(fn samtemplate.Function, queueID string) (*poller, error) {
	set, err := s.Template.QueueSettings(fn.ID, queueID)
	if err != nil {
		return nil, fmt.Errorf("event source of %s: %w", fn.ID, err)
	}
	return &poller{s: s, fn: fn, queue: queueID, settings: set, url: s.Ref(queueID), arn: s.Attr(queueID, "Arn")}, nil
}

func (p *poller) run(ctx context.Context) {
	for ctx.Err() == nil {
		msgs, err := p.receive(ctx)
		if err != nil {
			if ctx.Err() == nil {
				p.s.tracef("%s: receive from %s: %v", p.fn.ID, p.queue, err)
				time.Sleep(100 * time.Millisecond)
			}
			continue
		}
		if len(msgs) == 0 {
			continue
		}
		p.active.Store(true)
		p.handle(ctx, msgs)
		p.active.Store(false)
	}
}

func (p *poller) receiveOnce(ctx context.Context, max int, wait int32) ([]sqstypes.Message, error) {
	out, err := p.s.sqs.ReceiveMessage(ctx, &sqs.ReceiveMessageInput{
		QueueUrl:                    aws.String(p.url),
		MaxNumberOfMessages:         int32(min(max, 10)),
		WaitTimeSeconds:             wait,
		MessageAttributeNames:       []string{"All"},
		MessageSystemAttributeNames: []sqstypes.MessageSystemAttributeName{sqstypes.MessageSystemAttributeNameAll},
	})
	if err != nil {
		return nil, err
	}
	return out.Messages, nil
}

// receive long-polls for a first message, then keeps receiving until the
// batch is full or the batching window has passed.
func (p *poller) receive(ctx context.Context) ([]sqstypes.Message, error) {
	msgs, err := p.receiveOnce(ctx, p.settings.BatchSize, 1)
	if err != nil || len(msgs) == 0 {
		return msgs, err
	}
	deadline := time.Now().Add(p.settings.BatchWindow)
	for len(msgs) < p.settings.BatchSize && time.Now().Before(deadline) {
		more, err := p.receiveOnce(ctx, p.settings.BatchSize-len(msgs), 0)
		if err != nil {
			break // invoke with what was received; the rest stays queued
		}
		msgs = append(msgs, more...)
		if len(more) == 0 {
			select {
			case <-ctx.Done():
			case <-time.After(min(50*time.Millisecond, time.Until(deadline))):
			}
		}
	}
	return msgs, nil
}

// sqsRecord and sqsAttribute are the SQS event's JSON, as Lambda sends it.
type sqsRecord struct {
	MessageID              string                  `json:"messageId"`
	ReceiptHandle          string                  `json:"receiptHandle"`
	Body                   string                  `json:"body"`
	Attributes             map[string]string       `json:"attributes"`
	MessageAttributes      map[string]sqsAttribute `json:"messageAttributes"`
	MD5OfBody              string                  `json:"md5OfBody"`
	MD5OfMessageAttributes *string                 `json:"md5OfMessageAttributes"`
	EventSource            string                  `json:"eventSource"`
	EventSourceARN         string                  `json:"eventSourceARN"`
	AWSRegion              string                  `json:"awsRegion"`
}

type sqsAttribute struct {
	StringValue      *string  `json:"stringValue,omitempty"`
	BinaryValue      []byte   `json:"binaryValue,omitempty"`
	StringListValues []string `json:"stringListValues"`
	BinaryListValues [][]byte `json:"binaryListValues"`
	DataType         string   `json:"dataType"`
}

// SQSEvent returns the Lambda SQS event of msgs received from the queue
// whose ARN is arn.
func SQSEvent(arn string, msgs []sqstypes.Message) ([]byte, error) {
	recs := make([]sqsRecord, 0, len(msgs))
	for _, m := range msgs {
		r := sqsRecord{
			MessageID: aws.ToString(m.MessageId), ReceiptHandle: aws.ToString(m.ReceiptHandle),
			Body: aws.ToString(m.Body), Attributes: m.Attributes, MessageAttributes: map[string]sqsAttribute{},
			MD5OfBody: aws.ToString(m.MD5OfBody), MD5OfMessageAttributes: m.MD5OfMessageAttributes,
			EventSource: "aws:sqs", EventSourceARN: arn, AWSRegion: region,
		}
		if r.Attributes == nil {
			r.Attributes = map[string]string{}
		}
		if r.MD5OfBody == "" {
			sum := md5.Sum([]byte(r.Body))
			r.MD5OfBody = hex.EncodeToString(sum[:])
		}
		for k, a := range m.MessageAttributes {
			r.MessageAttributes[k] = sqsAttribute{
				StringValue: a.StringValue, BinaryValue: a.BinaryValue,
				StringListValues: orEmpty(a.StringListValues), BinaryListValues: orEmpty(a.BinaryListValues),
				DataType: aws.ToString(a.DataType),
			}
		}
		recs = append(recs, r)
	}
	return json.Marshal(map[string]any{"Records": recs})
}

func orEmpty[T any](s []T) []T {
	if s == nil {
		return []T{}
	}
	return s
}

// handle invokes the function on one batch and deletes what succeeded.
func (p *poller) handle(ctx context.Context, msgs []sqstypes.Message) {
	n := p.batches.Add(1)
	payload, err := SQSEvent(p.arn, msgs)
	if err != nil {
		p.s.tracef("%s: batch %d: encode event: %v", p.fn.ID, n, err)
		return
	}
	res, err := p.s.Invoke(ctx, p.fn.ID, payload)
	if err != nil || res.FunctionError != "" {
		// Lambda treats the whole batch as failed: every message reappears
		// after the visibility timeout.
		p.s.tracef("%s: batch %d of %d: invocation failed, all left: %v%s", p.fn.ID, n, len(msgs), err, res.FunctionError)
		return
	}
	var out struct {
		BatchItemFailures []struct {
			ItemIdentifier string `json:"itemIdentifier"`
		} `json:"batchItemFailures"`
	}
	if err := json.Unmarshal(res.Payload, &out); err != nil {
		p.s.tracef("%s: batch %d: response %q is not a batch response, all left", p.fn.ID, n, res.Payload)
		return
	}
	ids := map[string]bool{}
	for _, m := range msgs {
		ids[aws.ToString(m.MessageId)] = true
	}
	failed := map[string]bool{}
	for _, f := range out.BatchItemFailures {
		if !ids[f.ItemIdentifier] {
			// An empty or unknown identifier fails the whole batch.
			p.s.tracef("%s: batch %d: invalid itemIdentifier %q, all left", p.fn.ID, n, f.ItemIdentifier)
			return
		}
		failed[f.ItemIdentifier] = true
	}
	var entries []sqstypes.DeleteMessageBatchRequestEntry
	for i, m := range msgs {
		if failed[aws.ToString(m.MessageId)] {
			continue
		}
		entries = append(entries, sqstypes.DeleteMessageBatchRequestEntry{Id: aws.String(strconv.Itoa(i)), ReceiptHandle: m.ReceiptHandle})
	}
	for chunk := range slices.Chunk(entries, 10) {
		// The deletes must happen even when the test is ending.
		dctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
		out, err := p.s.sqs.DeleteMessageBatch(dctx, &sqs.DeleteMessageBatchInput{QueueUrl: aws.String(p.url), Entries: chunk})
		cancel()
		if err != nil {
			p.s.tracef("%s: batch %d: delete: %v", p.fn.ID, n, err)
		} else if len(out.Failed) > 0 {
			p.s.tracef("%s: batch %d: %d deletes failed", p.fn.ID, n, len(out.Failed))
		}
	}
	p.s.tracef("%s: batch %d: %d messages, %d left for redelivery", p.fn.ID, n, len(msgs), len(failed))
}

// Schedules returns the functions with an EventBridge schedule (Schedule
// or ScheduleV2 event) and their schedule expressions.
func (s *Stack) Schedules() map[string]string {
	out := map[string]string{}
	for _, id := range s.Template.Functions() {
		events, _ := s.Template.Resources[id].Properties["Events"].(map[string]any)
		for _, name := range slices.Sorted(maps.Keys(events)) {
			ev, _ := events[name].(map[string]any)
			if ev["Type"] == "Schedule" || ev["Type"] == "ScheduleV2" {
				props, _ := ev["Properties"].(map[string]any)
				out[id] = fmt.Sprint(props["ScheduleExpression"], props["Schedule"])
			}
		}
	}
	return out
}

// Tick invokes the scheduled function id as its EventBridge schedule
// would at time at: with the event's Input when the template sets one,
// else a "Scheduled Event". A function error is returned as an error (the
// scheduler would retry), with the result.
func (s *Stack) Tick(ctx context.Context, id string, at time.Time) (Result, error) {
	events, _ := s.Template.Resources[id].Properties["Events"].(map[string]any)
	var payload []byte
	found := false
	for _, name := range slices.Sorted(maps.Keys(events)) {
		ev, _ := events[name].(map[string]any)
		kind, _ := ev["Type"].(string)
		if kind != "Schedule" && kind != "ScheduleV2" {
			continue
		}
		found = true
		props, _ := ev["Properties"].(map[string]any)
		uid := make([]byte, 16)
		_, _ = rand.Read(uid)
		execID := hex.EncodeToString(uid)
		arn := fmt.Sprintf("arn:aws:scheduler:%s:%s:schedule/default/%s-%s-%s", region, account, s.Name, id, name)
		if kind == "Schedule" {
			arn = fmt.Sprintf("arn:aws:events:%s:%s:rule/%s-%s-%s", region, account, s.Name, id, name)
		}
		if in, ok := props["Input"].(string); ok {
			// EventBridge Scheduler's context attributes.
			payload = []byte(strings.NewReplacer(
				"<aws.scheduler.execution-id>", execID,
				"<aws.scheduler.scheduled-time>", at.UTC().Format(time.RFC3339),
				"<aws.scheduler.schedule-arn>", arn,
				"<aws.scheduler.attempt-number>", "1",
			).Replace(in))
			break
		}
		source := "aws.events"
		if kind == "ScheduleV2" {
			source = "aws.scheduler"
		}
		var err error
		payload, err = json.Marshal(map[string]any{
			"version": "0", "id": execID, "detail-type": "Scheduled Event", "source": source,
			"account": account, "time": at.UTC().Format(time.RFC3339), "region": region,
			"resources": []string{arn}, "detail": map[string]any{},
		})
		if err != nil {
			return Result{}, err
		}
		break
	}
	if !found {
		return Result{}, fmt.Errorf("tick %s: the function has no Schedule or ScheduleV2 event", id)
	}
	res, err := s.Invoke(ctx, id, payload)
	if err != nil {
		return res, fmt.Errorf("tick %s: %w", id, err)
	}
	if res.FunctionError != "" {
		return res, fmt.Errorf("tick %s: %s", id, res.FunctionError)
	}
	return res, nil
}

// ReceiveEvent receives up to n messages from the queue (logical id),
// trying for up to wait to gather them, and returns the Lambda SQS event
// carrying them (and how many it holds): what a poller would invoke the
// consumer with. The messages stay in flight until their visibility
// timeout; nothing deletes them. For tests and benchmarks that invoke
// consumers themselves (Options.NoPollers).
func (s *Stack) ReceiveEvent(ctx context.Context, queue string, n int, wait time.Duration) ([]byte, int, error) {
	var msgs []sqstypes.Message
	deadline := time.Now().Add(wait)
	for len(msgs) < n {
		out, err := s.sqs.ReceiveMessage(ctx, &sqs.ReceiveMessageInput{
			QueueUrl: aws.String(s.Ref(queue)), MaxNumberOfMessages: int32(min(n-len(msgs), 10)),
			MessageAttributeNames:       []string{"All"},
			MessageSystemAttributeNames: []sqstypes.MessageSystemAttributeName{sqstypes.MessageSystemAttributeNameAll},
		})
		if err != nil {
			return nil, 0, fmt.Errorf("receive from %s: %w", queue, err)
		}
		msgs = append(msgs, out.Messages...)
		if len(out.Messages) == 0 {
			if time.Now().After(deadline) {
				break
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
	payload, err := SQSEvent(s.Attr(queue, "Arn"), msgs)
	return payload, len(msgs), err
}
