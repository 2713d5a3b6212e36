package sqsqueue_test

import (
	"encoding/json"
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/herokuevents/herokuevents/infra/aws/sqsqueue"
	"github.com/herokuevents/herokuevents/shared/queue"
	"github.com/herokuevents/herokuevents/shared/queue/deadlettertest"
	"github.com/herokuevents/herokuevents/shared/queue/queuetest"
)

func TestDeadLettersConformance(t *testing.T) {
	deadlettertest.Run(t, deadlettertest.Harness{
		Open: func(t *testing.T) deadlettertest.Env {
			c, _ := client(t)
			e := deadlettertest.Env{Sources: map[string]queuetest.Queue{}, DLQs: map[string]queuetest.Queue{}}
			var pairs []sqsqueue.Pair
			for _, name := range []string{deadlettertest.Ingest, deadlettertest.Delivery} {
				src, dlq := newTestQueue(t, c), newTestQueue(t, c)
				e.Sources[name], e.DLQs[name] = src, dlq
				pairs = append(pairs, sqsqueue.Pair{Name: name, DLQ: dlq.url, Source: src.url})
			}
			dl := sqsqueue.NewDeadLetters(c, pairs...)
			dl.Wait = -1 // moto answers short polls from the whole queue
			e.DeadLetters = dl
			return e
		},
	})
}

// A listing takes several receives when a tenant has more than 10 dead
// letters among others', and leaves every message visible.
func TestDeadLettersListPages(t *testing.T) {
	t.Parallel()
	c, _ := client(t)
	src, dlq := newTestQueue(t, c), newTestQueue(t, c)
	var msgs []queue.Message
	for i := range 30 {
		tenant := "a"
		if i%2 == 1 {
			tenant = "b"
		}
		body, err := json.Marshal(map[string]any{"tenant": tenant, "publication": "p", "event": map[string]string{"id": fmt.Sprint("e", i)}})
		require.NoError(t, err)
		msgs = append(msgs, queue.Message{Body: body, Attributes: map[string]string{queue.AttrTenant: tenant, queue.AttrReason: "r"}})
	}
	require.NoError(t, dlq.Send(t.Context(), msgs...))
	dl := sqsqueue.NewDeadLetters(c, sqsqueue.Pair{Name: "delivery", DLQ: dlq.url, Source: src.url})
	dl.Wait = -1

	got, err := dl.List(t.Context(), "a", 12)
	require.NoError(t, err)
	assert.Len(t, got, 12)
	got, err = dl.List(t.Context(), "a", 100)
	require.NoError(t, err)
	assert.Len(t, got, 15)
	for _, d := range got {
		assert.Equal(t, "delivery", d.Queue)
		assert.WithinDuration(t, time.Now(), d.DeadLetteredAt, time.Minute)
	}
	all := receiveWithin(t, dlq, 30, 5*time.Second)
	assert.Len(t, all, 30, "every message is visible again after a listing")

	dl.MaxScan = 10
	require.NoError(t, dlq.Delete(t.Context(), ids(all)...))
	require.NoError(t, dlq.Send(t.Context(), msgs...))
	got, err = dl.List(t.Context(), "b", 100)
	require.NoError(t, err)
	assert.LessOrEqual(t, len(got), 10, "no more than MaxScan messages are looked at")
}

func ids(msgs []queue.Message) []string {
	out := make([]string, len(msgs))
	for i, m := range msgs {
		out[i] = m.ID
	}
	return out
}
