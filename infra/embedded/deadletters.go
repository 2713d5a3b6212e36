package embedded

import (
	"context"
	"strings"

	"github.com/herokuevents/herokuevents/shared/metric"
	"github.com/herokuevents/herokuevents/shared/queue"
)

// maxReceivesReason starts the reason queue.Settle gives a message
// dead-lettered because it was received MaxReceives times.
const maxReceivesReason = "max receives ("

// countingDLQ is a dead-letter queue that counts the messages dead-lettered
// at max receives (DeadLettered, reason MaxReceives), as lambdaio does on
// AWS: the roles count the permanent failures they return themselves.
type countingDLQ struct {
	queue.Sender
	metrics metric.Recorder
}

func (c countingDLQ) Send(ctx context.Context, msgs ...queue.Message) error {
	if err := c.Sender.Send(ctx, msgs...); err != nil {
		return err
	}
	for _, m := range msgs {
		if strings.HasPrefix(m.Attributes[queue.AttrReason], maxReceivesReason) {
			c.metrics.Count(ctx, metric.DeadLettered, 1, metric.DimReason, metric.ReasonMaxReceives,
				metric.LabelTenant, m.Attributes[queue.AttrTenant])
		}
	}
	return nil
}
