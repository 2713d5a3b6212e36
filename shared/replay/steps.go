package replay

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/herokuevents/herokuevents/shared/queue"
)

// AttrStep marks a step message on the ingest queue (its value is "1").
const AttrStep = "replay_step"

// step is the body of a step message.
type step struct {
	Tenant string `json:"tenant"`
	ID     string `json:"id"`
}

// Kicker starts (or continues) the steps of a job.
type Kicker interface {
	Kick(ctx context.Context, tenant, id string) error
}

// QueueKicker kicks by sending a step message to the queue the filter
// function consumes (the AWS driver of the steps).
type QueueKicker struct{ Queue queue.Sender }

// Kick implements Kicker.
func (k QueueKicker) Kick(ctx context.Context, tenant, id string) error {
	body, err := json.Marshal(step{Tenant: tenant, ID: id})
	if err != nil {
		return err
	}
	if err := k.Queue.Send(ctx, queue.Message{Body: body, Attributes: map[string]string{queue.AttrTenant: tenant, AttrStep: "1"}}); err != nil {
		return fmt.Errorf("queue replay step: %w", err)
	}
	return nil
}

// Steps returns next with the step messages of its batches taken out and
// run by r: each runs one Step and, when the job has more, queues the next
// step with kick before it is acknowledged. The other messages go to next
// first, so a step never holds them back. A step that fails (or whose next
// step could not be queued) is retried by the queue.
func Steps(next queue.BatchHandler, r *Runner, kick Kicker) queue.BatchHandler {
	return queue.BatchHandlerFunc(func(ctx context.Context, msgs []queue.Message) queue.BatchResult {
		var rest, steps []queue.Message
		for _, m := range msgs {
			if m.Attributes[AttrStep] != "" {
				steps = append(steps, m)
			} else {
				rest = append(rest, m)
			}
		}
		var res queue.BatchResult
		if len(rest) > 0 {
			res = next.HandleBatch(ctx, rest)
		}
		for _, m := range steps {
			var s step
			if err := json.Unmarshal(m.Body, &s); err != nil || s.Tenant == "" || s.ID == "" {
				res.Fail(m.ID, queue.Permanent(errors.Join(errors.New("decode replay step"), err)))
				continue
			}
			more, err := r.Step(ctx, s.Tenant, s.ID)
			if err == nil && more {
				err = kick.Kick(ctx, s.Tenant, s.ID)
			}
			if err != nil {
				r.Logger.WarnContext(ctx, "replay step failed: retrying", "tenant", s.Tenant, "replay", s.ID, "err", err)
				res.Fail(m.ID, err)
			}
		}
		return res
	})
}
