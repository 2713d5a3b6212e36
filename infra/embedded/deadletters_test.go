package embedded

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/herokuevents/herokuevents/shared/metric"
	"github.com/herokuevents/herokuevents/shared/queue"
)

type sent struct {
	mu   sync.Mutex
	msgs []queue.Message
}

func (s *sent) Send(_ context.Context, msgs ...queue.Message) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.msgs = append(s.msgs, msgs...)
	return nil
}

type counts struct {
	mu   sync.Mutex
	seen []string
}

func (c *counts) Count(_ context.Context, name string, n int, dims ...string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.seen = append(c.seen, name+" "+join(dims))
}

func (c *counts) Duration(context.Context, string, time.Duration, ...string) {}

func join(dims []string) string {
	out := ""
	for _, d := range dims {
		out += d + ";"
	}
	return out
}

// TestCountingDLQ: of what queue.Settle dead-letters, the messages that
// reached max receives are counted (the roles count their permanent
// failures themselves); every message still reaches the DLQ.
func TestCountingDLQ(t *testing.T) {
	dlq, rec := &sent{}, &counts{}
	msgs := []queue.Message{
		{ID: "exhausted", Receives: 3, Attributes: map[string]string{queue.AttrTenant: "t-1"}},
		{ID: "permanent", Receives: 1, Attributes: map[string]string{queue.AttrTenant: "t-1"}},
		{ID: "again", Receives: 1, Attributes: map[string]string{queue.AttrTenant: "t-1"}},
	}
	var res queue.BatchResult
	res.Fail("exhausted", errors.New("timeout"))
	res.Fail("permanent", queue.Permanent(errors.New("410")))
	res.Fail("again", errors.New("timeout"))
	retry, err := queue.Settle(t.Context(), msgs, res, queue.Settings{BatchSize: 10, VisibilityTimeout: time.Second, MaxReceives: 3, Concurrency: 1},
		countingDLQ{dlq, rec})
	require.NoError(t, err)
	require.Len(t, retry, 1)
	assert.Equal(t, "again", retry[0].ID)
	assert.Len(t, dlq.msgs, 2)
	assert.Equal(t, []string{metric.DeadLettered + " Reason;MaxReceives;Tenant;t-1;"}, rec.seen)
}
