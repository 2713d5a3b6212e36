package queue_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/herokuevents/herokuevents/shared/queue"
)

// memQueue is a tiny in-memory queue.Sender: what a unit test hands a role
// that sends (the drivers are infra/embedded/sqlitequeue and
// infra/aws/sqsqueue).
type memQueue struct {
	mu   sync.Mutex
	msgs []queue.Message
}

// Send implements queue.Sender: all or nothing, like the drivers.
func (q *memQueue) Send(_ context.Context, msgs ...queue.Message) error {
	if err := queue.Check(msgs...); err != nil {
		return err
	}
	q.mu.Lock()
	defer q.mu.Unlock()
	q.msgs = append(q.msgs, msgs...)
	return nil
}

// A role sends through the Sender port; it never knows which queue is behind
// it. Send returns nil only when every message is queued; a message the
// queue cannot carry fails the call (ErrTooLarge, ErrInvalid) and is not
// worth retrying.
func ExampleSender() {
	ctx := context.Background()
	q := &memQueue{}
	var s queue.Sender = q

	err := s.Send(ctx,
		queue.Message{Body: []byte(`{"n":1}`), Attributes: map[string]string{queue.AttrTenant: "t-1"}},
		queue.Message{Body: []byte(`{"n":2}`), Attributes: map[string]string{queue.AttrTenant: "t-1"}, Delay: time.Minute},
	)
	fmt.Println("sent:", err, len(q.msgs))

	err = s.Send(ctx, queue.Message{Body: make([]byte, queue.MaxBody+1)})
	fmt.Println("too large:", errors.Is(err, queue.ErrTooLarge), len(q.msgs))

	// Output:
	// sent: <nil> 2
	// too large: true 2
}

// A BatchHandler reports the messages of a batch that failed; Settle then
// decides their fate the same way in both modes: a Permanent failure, or
// one whose message was received MaxReceives times, goes to the dead-letter
// queue with its reason; any other failure stays on the queue and comes
// back after the visibility timeout. One message's failure never fails
// another of its batch.
func ExampleSettle() {
	ctx := context.Background()
	settings := queue.Settings{BatchSize: 10, VisibilityTimeout: 30 * time.Second, MaxReceives: 3, Concurrency: 1}

	// A batch as a driver hands it over: IDs and receive counts set.
	batch := []queue.Message{
		{ID: "m1", Body: []byte(`{"ok":true}`), Receives: 1},
		{ID: "m2", Body: []byte(`{"endpoint":"busy"}`), Receives: 1},
		{ID: "m3", Body: []byte(`not json`), Receives: 1},
		{ID: "m4", Body: []byte(`{"endpoint":"busy"}`), Receives: 3},
	}
	handler := queue.BatchHandlerFunc(func(ctx context.Context, msgs []queue.Message) queue.BatchResult {
		var res queue.BatchResult
		for _, m := range msgs {
			switch string(m.Body) {
			case `{"ok":true}`:
				// processed: not listed, so deleted
			case `not json`:
				res.Fail(m.ID, queue.Permanent(errors.New("body is not JSON")))
			default:
				res.Fail(m.ID, errors.New("endpoint answered 503"))
			}
		}
		return res
	})

	dlq := &memQueue{}
	retry, err := queue.Settle(ctx, batch, handler.HandleBatch(ctx, batch), settings, dlq)
	if err != nil {
		panic(err)
	}
	for _, f := range retry {
		fmt.Println("redelivered later:", f.ID, f.Err)
	}
	for _, m := range dlq.msgs {
		fmt.Printf("dead-lettered: %s (%s)\n", m.Body, m.Attributes[queue.AttrReason])
	}

	// Output:
	// redelivered later: m2 endpoint answered 503
	// dead-lettered: not json (body is not JSON)
	// dead-lettered: {"endpoint":"busy"} (max receives (3) reached: endpoint answered 503)
}
