// Package backlog counts, per tenant, the messages waiting in the queues of
// one process (embedded mode): what ingest bounds (a tenant's plan, the
// system's capacity) before it accepts an event.
//
// The count is kept in memory by wrapping the queue's ports: every message
// sent (Sender) adds one to its tenant (queue.AttrTenant), every message
// its handler settled (Handler: not listed as failed) or that left for the
// dead-letter queue (Leaving) takes one off. A retry is a new message sent
// and the old one settled, so the count follows it. Messages present when
// the process started, or moved by a redrive, are not counted: the count
// is an estimate, never negative.
package backlog

import (
	"context"
	"sync"

	"github.com/herokuevents/herokuevents/shared/queue"
)

// Counter is the backlog of every tenant. Safe for concurrent use; the
// zero value is empty and ready.
type Counter struct {
	mu     sync.Mutex
	tenant map[string]int64
	total  int64
}

// Add adds n (possibly negative) to tenant's backlog, never going below 0.
func (c *Counter) Add(tenant string, n int64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.tenant == nil {
		c.tenant = map[string]int64{}
	}
	v := c.tenant[tenant]
	if v+n < 0 {
		n = -v
	}
	c.total += n
	if v+n == 0 {
		delete(c.tenant, tenant)
		return
	}
	c.tenant[tenant] = v + n
}

// Tenant returns the messages of tenant waiting.
func (c *Counter) Tenant(tenant string) int64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.tenant[tenant]
}

// Total returns the messages waiting, and how many tenants they belong to.
func (c *Counter) Total() (messages int64, tenants int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.total, len(c.tenant)
}

func (c *Counter) addAll(msgs []queue.Message, sign int64) {
	byTenant := map[string]int64{}
	for _, m := range msgs {
		byTenant[m.Attributes[queue.AttrTenant]] += sign
	}
	for t, n := range byTenant {
		c.Add(t, n)
	}
}

// Sender counts what s accepts.
func (c *Counter) Sender(s queue.Sender) queue.Sender {
	return queue.SenderFunc(func(ctx context.Context, msgs ...queue.Message) error {
		if err := s.Send(ctx, msgs...); err != nil {
			return err
		}
		c.addAll(msgs, 1)
		return nil
	})
}

// Leaving counts what s (a dead-letter queue) accepts as gone from the
// queue it serves.
func (c *Counter) Leaving(s queue.Sender) queue.Sender {
	return queue.SenderFunc(func(ctx context.Context, msgs ...queue.Message) error {
		if err := s.Send(ctx, msgs...); err != nil {
			return err
		}
		c.addAll(msgs, -1)
		return nil
	})
}

// Handler counts the messages h settled (those its result does not list).
func (c *Counter) Handler(h queue.BatchHandler) queue.BatchHandler {
	return queue.BatchHandlerFunc(func(ctx context.Context, msgs []queue.Message) queue.BatchResult {
		res := h.HandleBatch(ctx, msgs)
		failed := make(map[string]bool, len(res.Failures))
		for _, f := range res.Failures {
			failed[f.ID] = true
		}
		done := make([]queue.Message, 0, len(msgs))
		for _, m := range msgs {
			if !failed[m.ID] {
				done = append(done, m)
			}
		}
		c.addAll(done, -1)
		return res
	})
}
