package backlog_test

import (
	"context"
	"errors"
	"testing"

	"github.com/herokuevents/herokuevents/shared/backlog"
	"github.com/herokuevents/herokuevents/shared/queue"
)

func msg(id, tenant string) queue.Message {
	return queue.Message{ID: id, Body: []byte("{}"), Attributes: map[string]string{queue.AttrTenant: tenant}}
}

func TestCounterFollowsMessages(t *testing.T) {
	var c backlog.Counter
	ok := queue.SenderFunc(func(context.Context, ...queue.Message) error { return nil })
	down := queue.SenderFunc(func(context.Context, ...queue.Message) error { return errors.New("queue down") })
	ctx := t.Context()
	send, dlq := c.Sender(ok), c.Leaving(ok)

	if err := send.Send(ctx, msg("1", "a"), msg("2", "a"), msg("3", "a"), msg("4", "b"), msg("5", "b")); err != nil {
		t.Fatal(err)
	}
	if err := c.Sender(down).Send(ctx, msg("6", "a")); err == nil {
		t.Fatal("a failed send was not reported")
	}
	// the handler settles 1, 2 and 4; 3 fails (stays), 5 fails and is dead-lettered
	h := c.Handler(queue.BatchHandlerFunc(func(_ context.Context, msgs []queue.Message) queue.BatchResult {
		var res queue.BatchResult
		res.Fail("3", errors.New("retry"))
		res.Fail("5", queue.Permanent(errors.New("bad")))
		return res
	}))
	res := h.HandleBatch(ctx, []queue.Message{msg("1", "a"), msg("2", "a"), msg("3", "a"), msg("4", "b"), msg("5", "b")})
	if len(res.Failures) != 2 {
		t.Fatalf("the handler's result changed: %+v", res)
	}
	if err := c.Leaving(down).Send(ctx, msg("5", "b")); err == nil {
		t.Fatal("a failed dead-letter send was not reported")
	}
	for _, tc := range []struct {
		step   string
		tenant string
		want   int64
	}{
		{"a keeps its failed message", "a", 1},
		{"b keeps the message whose dead-lettering failed", "b", 1},
	} {
		t.Run(tc.step, func(t *testing.T) {
			if got := c.Tenant(tc.tenant); got != tc.want {
				t.Errorf("Tenant(%s) = %d, want %d", tc.tenant, got, tc.want)
			}
		})
	}
	if err := dlq.Send(ctx, msg("5", "b")); err != nil {
		t.Fatal(err)
	}
	if total, tenants := c.Total(); total != 1 || tenants != 1 || c.Tenant("b") != 0 {
		t.Errorf("after the dead letter: total %d over %d tenants, b %d; want 1 over 1, b 0", total, tenants, c.Tenant("b"))
	}
}

func TestCounterNeverNegative(t *testing.T) {
	var c backlog.Counter
	c.Add("a", 2)
	c.Add("a", -5) // messages from before the process started settle
	c.Add("b", -1)
	if total, tenants := c.Total(); total != 0 || tenants != 0 || c.Tenant("a") != 0 {
		t.Errorf("total %d over %d tenants, a %d; want all 0", total, tenants, c.Tenant("a"))
	}
}
