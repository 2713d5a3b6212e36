package deliver_test

import (
	"context"
	"encoding/json"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/herokuevents/herokuevents/shared/config"
	"github.com/herokuevents/herokuevents/shared/config/memstore"
	"github.com/herokuevents/herokuevents/shared/deliver"
	"github.com/herokuevents/herokuevents/shared/event"
	"github.com/herokuevents/herokuevents/shared/queue"
)

// TestOrderedBatch: the deliveries of one lane in a batch are made one
// after the other; after a failure the rest of the lane is failed without
// an attempt (visible at once), the failure is retried in place with its
// backoff, nothing is re-sent, and other lanes and unordered deliveries
// go on. A redriven delivery (no group) is delivered as an unordered one.
func TestOrderedBatch(t *testing.T) {
	ctx := t.Context()
	store := memstore.New()
	pub := config.Publication{ID: "p1", Name: "hook", Platform: "fake", Order: &config.Order{}}
	_, err := config.Insert(ctx, store, config.Item{Tenant: "t1", Kind: config.KindPublication, ID: "p1", Name: "hook"}, pub)
	require.NoError(t, err)
	var (
		mu   sync.Mutex
		sent []string
	)
	pubr := deliver.PublisherFunc(func(_ context.Context, _ string, _ config.Publication, ev event.Event) error {
		mu.Lock()
		sent = append(sent, ev.ID)
		mu.Unlock()
		if ev.ID == "a1" {
			return errors.New("connection refused")
		}
		return nil
	})
	requeued := 0
	h, err := deliver.New(deliver.Options{Store: store, Publishers: map[string]deliver.Publisher{"fake": pubr},
		Requeue: queue.SenderFunc(func(context.Context, ...queue.Message) error { requeued++; return nil }),
		Backoff: deliver.Backoff{Base: time.Second, Cap: time.Second}})
	require.NoError(t, err)
	msg := func(id, key string, grouped bool) queue.Message {
		d := event.Delivery{Tenant: "t1", Publication: "p1", Event: event.Event{ID: id, Source: "/s", Type: "t"}, Ordered: true, Key: key}
		b, _ := json.Marshal(d)
		m := queue.Message{ID: id, Body: b, Receives: 1, FirstReceived: time.Now()}
		if grouped {
			m.Group = d.Group()
		}
		return m
	}
	res := h.HandleBatch(ctx, []queue.Message{msg("a1", "a", true), msg("b1", "b", true), msg("a2", "a", true), msg("b2", "b", true), msg("r1", "a", false)})
	byID := map[string]error{}
	for _, f := range res.Failures {
		byID[f.ID] = f.Err
	}
	require.Len(t, byID, 2, "%v", byID)
	d, ok := queue.RetryAfter(byID["a1"])
	assert.True(t, ok, "the failed head is retried in place")
	assert.LessOrEqual(t, d, time.Second)
	d, ok = queue.RetryAfter(byID["a2"])
	assert.True(t, ok && d == 0, "the rest of its lane: failed, visible at once")
	assert.NotContains(t, sent, "a2", "no attempt after the failed head")
	assert.Subset(t, sent, []string{"a1", "b1", "b2", "r1"})
	assert.Less(t, indexOf(sent, "b1"), indexOf(sent, "b2"), "a lane's deliveries one after the other")
	assert.Zero(t, requeued, "an ordered retry is never re-sent")
}

func indexOf(s []string, v string) int {
	for i, x := range s {
		if x == v {
			return i
		}
	}
	return -1
}
