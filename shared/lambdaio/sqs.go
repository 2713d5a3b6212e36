package lambdaio

import (
	"context"
	"errors"
	"log/slog"
	"strconv"
	"strings"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"github.com/herokuevents/herokuevents/shared/metric"
	"github.com/herokuevents/herokuevents/shared/queue"
)

// SQS adapts h to a Lambda SQS event source mapping configured with
// FunctionResponseTypes [ReportBatchItemFailures]. Records become
// queue.Messages (ID = messageId, Receives = ApproximateReceiveCount,
// Attributes = the String and Number message attributes); h handles the
// batch; queue.Settle sends permanent failures and failures of messages
// received s.MaxReceives times to dlq with a reason; every other failure is
// reported in batchItemFailures so SQS redelivers it after the visibility
// timeout. When the dead-letter send fails, those messages are reported as
// failures too: no message is ever deleted without being handled or
// dead-lettered.
//
// The returned function never returns an error (that would redeliver the
// whole batch, including the messages already handled).
//
// With WithMetrics, messages dead-lettered because they reached
// s.MaxReceives are counted as DeadLettered (the roles count the permanent
// failures they return themselves).
func SQS(h queue.BatchHandler, s queue.Settings, dlq queue.Sender, opts ...Option) func(context.Context, events.SQSEvent) (events.SQSEventResponse, error) {
	var o options
	for _, opt := range opts {
		opt(&o)
	}
	return func(ctx context.Context, ev events.SQSEvent) (events.SQSEventResponse, error) {
		msgs := make([]queue.Message, 0, len(ev.Records))
		receipts := make(map[string]string, len(ev.Records))
		fifo := false
		for _, r := range ev.Records {
			msgs = append(msgs, message(r))
			receipts[r.MessageId] = r.ReceiptHandle
			fifo = fifo || strings.HasSuffix(r.EventSourceARN, ".fifo")
		}
		s := s
		if fifo && o.ordered != nil {
			s = o.ordered.settings
		}
		res := h.HandleBatch(ctx, msgs)
		failures, err := queue.Settle(ctx, msgs, res, s, dlq)
		if err != nil {
			slog.ErrorContext(ctx, "settle batch: failures left for redelivery", "error", err, "failures", len(failures))
		}
		if fifo {
			failures = behindFailures(msgs, failures)
			o.retime(ctx, failures, receipts)
		}
		if n := exhausted(msgs, res, failures); n > 0 && o.metrics != nil {
			o.metrics.Count(ctx, metric.DeadLettered, n, "Reason", "MaxReceives")
		}
		out := events.SQSEventResponse{BatchItemFailures: []events.SQSBatchItemFailure{}}
		for _, f := range failures {
			out.BatchItemFailures = append(out.BatchItemFailures, events.SQSBatchItemFailure{ItemIdentifier: f.ID})
		}
		if len(failures) > 0 {
			slog.InfoContext(ctx, "batch handled with failures", "messages", len(msgs), "redeliver", len(failures))
		}
		return out, nil
	}
}

// Option configures SQS.
type Option func(*options)

type options struct {
	metrics metric.Recorder
	ordered *ordered
}

// ordered is the FIFO event source of WithOrdered.
type ordered struct {
	settings   queue.Settings
	visibility func(ctx context.Context, receipt string, d time.Duration) error
}

// WithOrdered handles the batches of a second event source, a FIFO queue
// (an eventSourceARN ending in ".fifo": the ordered delivery lanes), with
// its own settings s, and applies queue.Later failures with visibility
// (ChangeMessageVisibility of the message received with receipt): a
// message retried in place stays the head of its group. As Lambda asks of
// FIFO consumers, once a message of a group fails, the messages after it
// in the batch are reported failed too.
func WithOrdered(s queue.Settings, visibility func(ctx context.Context, receipt string, d time.Duration) error) Option {
	return func(o *options) { o.ordered = &ordered{settings: s, visibility: visibility} }
}

// retime changes the visibility of the failures marked queue.Later; one
// that cannot be changed comes back after the visibility timeout.
func (o *options) retime(ctx context.Context, failures []queue.Failure, receipts map[string]string) {
	if o.ordered == nil || o.ordered.visibility == nil {
		return
	}
	for _, f := range failures {
		d, ok := queue.RetryAfter(f.Err)
		if !ok {
			continue
		}
		if err := o.ordered.visibility(ctx, receipts[f.ID], d); err != nil {
			slog.ErrorContext(ctx, "retry in place: the message comes back after the visibility timeout", "message_id", f.ID, "error", err)
		}
	}
}

// behindFailures adds to the failures of a FIFO batch every message after
// a failed one of its group.
func behindFailures(msgs []queue.Message, failures []queue.Failure) []queue.Failure {
	failed := make(map[string]bool, len(failures))
	for _, f := range failures {
		failed[f.ID] = true
	}
	stopped := map[string]bool{}
	for _, m := range msgs {
		switch {
		case failed[m.ID]:
			stopped[m.Group] = true
		case stopped[m.Group]:
			failures = append(failures, queue.Failure{ID: m.ID, Err: queue.Later(errBehind, 0)})
		}
	}
	return failures
}

var errBehind = errors.New("after a failed message of its FIFO group")

// WithMetrics records DeadLettered for messages dead-lettered at max receives.
func WithMetrics(r metric.Recorder) Option { return func(o *options) { o.metrics = r } }

// exhausted counts the failures that were not permanent and are not left for
// redelivery: Settle dead-lettered them at max receives.
func exhausted(msgs []queue.Message, res queue.BatchResult, retry []queue.Failure) int {
	known := make(map[string]bool, len(msgs))
	for _, m := range msgs {
		known[m.ID] = true
	}
	left := make(map[string]bool, len(retry))
	for _, f := range retry {
		left[f.ID] = true
	}
	n := 0
	for _, f := range res.Failures {
		if known[f.ID] && !left[f.ID] && !queue.IsPermanent(f.Err) {
			n++
			left[f.ID] = true // count a message once
		}
	}
	return n
}

func message(r events.SQSMessage) queue.Message {
	m := queue.Message{ID: r.MessageId, Body: []byte(r.Body), Receives: 1}
	if n, err := strconv.Atoi(r.Attributes["ApproximateReceiveCount"]); err == nil && n > 0 {
		m.Receives = n
	}
	if ms, err := strconv.ParseInt(r.Attributes["ApproximateFirstReceiveTimestamp"], 10, 64); err == nil && ms > 0 {
		m.FirstReceived = time.UnixMilli(ms)
	}
	if ms, err := strconv.ParseInt(r.Attributes["SentTimestamp"], 10, 64); err == nil && ms > 0 {
		m.SentAt = time.UnixMilli(ms)
	}
	if strings.HasSuffix(r.EventSourceARN, ".fifo") {
		// On a standard queue MessageGroupId is the tenant (fair queues),
		// not an ordered group.
		m.Group = r.Attributes["MessageGroupId"]
	}
	for k, a := range r.MessageAttributes {
		if a.StringValue == nil || !(strings.HasPrefix(a.DataType, "String") || strings.HasPrefix(a.DataType, "Number")) {
			continue
		}
		if m.Attributes == nil {
			m.Attributes = make(map[string]string, len(r.MessageAttributes))
		}
		m.Attributes[k] = *a.StringValue
	}
	return m
}
