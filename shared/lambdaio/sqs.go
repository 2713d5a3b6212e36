package lambdaio

import (
	"context"
	"log/slog"
	"strconv"
	"strings"

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
		for _, r := range ev.Records {
			msgs = append(msgs, message(r))
		}
		res := h.HandleBatch(ctx, msgs)
		failures, err := queue.Settle(ctx, msgs, res, s, dlq)
		if err != nil {
			slog.ErrorContext(ctx, "settle batch: failures left for redelivery", "error", err, "failures", len(failures))
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
}

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
