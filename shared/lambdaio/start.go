package lambdaio

import (
	"context"
	"net/http"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-lambda-go/lambda"

	"github.com/herokuevents/herokuevents/shared/queue"
)

// StartHTTP runs h as an API Gateway HTTP API Lambda function. It does not
// return.
func StartHTTP(h http.Handler) { lambda.Start(HTTP(h)) }

// StartSQS runs h as an SQS-triggered Lambda function (see SQS). It does not
// return.
func StartSQS(h queue.BatchHandler, s queue.Settings, dlq queue.Sender, opts ...Option) {
	lambda.Start(SQS(h, s, dlq, opts...))
}

// StartSchedule runs tick as a Lambda function triggered by an EventBridge
// schedule (see Schedule). It does not return.
func StartSchedule(tick func(ctx context.Context, at time.Time) error) { lambda.Start(Schedule(tick)) }

// Schedule adapts tick to an EventBridge (Scheduler or rule) event: tick
// receives the scheduled time (the event's time, or now when absent). An
// error from tick fails the invocation, so EventBridge retries it per the
// schedule's retry policy.
func Schedule(tick func(ctx context.Context, at time.Time) error) func(context.Context, events.EventBridgeEvent) error {
	return func(ctx context.Context, ev events.EventBridgeEvent) error {
		at := ev.Time
		if at.IsZero() {
			at = time.Now().UTC()
		}
		return tick(ctx, at)
	}
}
