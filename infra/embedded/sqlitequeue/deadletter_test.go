package sqlitequeue_test

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/herokuevents/herokuevents/infra/embedded/sqlitequeue"
	"github.com/herokuevents/herokuevents/shared/queue"
	"github.com/herokuevents/herokuevents/shared/queue/deadlettertest"
	"github.com/herokuevents/herokuevents/shared/queue/queuetest"
)

func TestDeadLettersConformance(t *testing.T) {
	deadlettertest.Run(t, deadlettertest.Harness{
		Open: func(t *testing.T) deadlettertest.Env {
			db := open(t)
			e := deadlettertest.Env{Sources: map[string]queuetest.Queue{}, DLQs: map[string]queuetest.Queue{}}
			var pairs []sqlitequeue.Pair
			for _, name := range []string{deadlettertest.Ingest, deadlettertest.Delivery} {
				src, dlq := db.Queue(name), db.Queue(name+"-dlq")
				e.Sources[name], e.DLQs[name] = src, dlq
				pairs = append(pairs, sqlitequeue.Pair{DLQ: dlq, Source: src})
			}
			e.DeadLetters = sqlitequeue.NewDeadLetters(pairs...)
			return e
		},
	})
}

// A redriven message wakes a consumer of its source queue at once.
func TestDeadLettersRedriveWakesConsumer(t *testing.T) {
	db := open(t)
	src, dlq := db.Queue("delivery"), db.Queue("delivery-dlq")
	dl := sqlitequeue.NewDeadLetters(sqlitequeue.Pair{DLQ: dlq, Source: src})
	require.NoError(t, dlq.Send(t.Context(), queue.Message{Body: []byte(`{}`),
		Attributes: map[string]string{queue.AttrTenant: "t", queue.AttrReason: "r"}}))

	got := make(chan queue.Message, 1)
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error, 1)
	go func() {
		done <- src.Consume(ctx, queue.BatchHandlerFunc(func(_ context.Context, msgs []queue.Message) queue.BatchResult {
			for _, m := range msgs {
				got <- m
			}
			return queue.BatchResult{}
		}), queue.Settings{BatchSize: 10, VisibilityTimeout: time.Minute, MaxReceives: 3, Concurrency: 1}, dlq)
	}()
	t.Cleanup(func() { cancel(); <-done })
	time.Sleep(50 * time.Millisecond) // the consumer is idle, waiting
	n, err := dl.Redrive(t.Context(), "t")
	require.NoError(t, err)
	require.Equal(t, 1, n)
	select {
	case m := <-got:
		assert.Equal(t, "0", m.Attributes[queue.AttrAttempt])
	case <-time.After(2 * time.Second):
		t.Fatal("the consumer was not woken")
	}
}

func TestNewDeadLettersWiring(t *testing.T) {
	a, b := open(t), open(t)
	assert.Panics(t, func() { sqlitequeue.NewDeadLetters() })
	assert.Panics(t, func() {
		sqlitequeue.NewDeadLetters(sqlitequeue.Pair{DLQ: a.Queue("x-dlq"), Source: b.Queue("x")})
	})
}
