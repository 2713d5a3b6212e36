package sqlitequeue_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"time"

	"github.com/herokuevents/herokuevents/infra/embedded/sqlitequeue"
	"github.com/herokuevents/herokuevents/shared/queue"
)

// The embedded mode's queues: a queue.Sender, and Consume running a
// queue.BatchHandler the way Lambda's SQS event source mapping does (batches,
// partial batch failures, dead letters with their reason).
func ExampleQueue_Consume() {
	dir, err := os.MkdirTemp("", "sqlitequeue-example-")
	if err != nil {
		panic(err)
	}
	defer os.RemoveAll(dir)
	db, err := sqlitequeue.Open(filepath.Join(dir, "queues.db"))
	if err != nil {
		panic(err)
	}
	defer db.Close()
	ingest, dlq := db.Queue("ingest"), db.Queue("ingest-dlq")

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var sender queue.Sender = ingest
	if err := sender.Send(ctx,
		queue.Message{Body: []byte(`{"n":1}`)},
		queue.Message{Body: []byte(`not json`)},
		queue.Message{Body: []byte(`{"n":2}`)},
	); err != nil {
		panic(err)
	}

	var (
		mu        sync.Mutex
		processed []string
		seen      int
		all       = make(chan struct{})
	)
	handler := queue.BatchHandlerFunc(func(ctx context.Context, msgs []queue.Message) queue.BatchResult {
		var res queue.BatchResult
		mu.Lock()
		defer mu.Unlock()
		for _, m := range msgs {
			if string(m.Body) == "not json" {
				res.Fail(m.ID, queue.Permanent(errors.New("body is not JSON")))
			} else {
				processed = append(processed, string(m.Body))
			}
			if seen++; seen == 3 {
				close(all)
			}
		}
		return res
	})
	settings := queue.Settings{BatchSize: 10, BatchWindow: 50 * time.Millisecond, VisibilityTimeout: 30 * time.Second, MaxReceives: 3, Concurrency: 1}
	done := make(chan error)
	go func() { done <- ingest.Consume(ctx, handler, settings, dlq) }()
	<-all
	cancel() // Consume returns once the batches in flight are settled
	if err := <-done; err != nil {
		panic(err)
	}

	slices.Sort(processed)
	fmt.Println("processed:", processed)
	left, _ := ingest.Len(context.Background())
	fmt.Println("left on the queue:", left)
	dead, err := dlq.Receive(context.Background(), 10, time.Minute)
	if err != nil {
		panic(err)
	}
	for _, m := range dead {
		fmt.Printf("dead letter: %s (%s)\n", m.Body, m.Attributes[queue.AttrReason])
	}

	// Output:
	// processed: [{"n":1} {"n":2}]
	// left on the queue: 0
	// dead letter: not json (body is not JSON)
}
