package filter_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/herokuevents/herokuevents/shared/config"
	"github.com/herokuevents/herokuevents/shared/event"
	"github.com/herokuevents/herokuevents/shared/filter"
	"github.com/herokuevents/herokuevents/shared/pull/mempull"
	"github.com/herokuevents/herokuevents/shared/queue"
)

type failingPutter struct{ sub string }

func (f failingPutter) Put(_ context.Context, _, sub string, _ ...event.Event) error {
	if sub == f.sub {
		return errors.New("disk full")
	}
	return nil
}

// pullSetup marks sub-1 (three streams) and sub-pull (no stream) as pull
// subscriptions; sub-other is not one.
func pullSetup(t *testing.T, put func(h *filter.Handler) filter.Options) (*filter.Handler, *recorder) {
	t.Helper()
	h, _ := setup(t)
	ctx := t.Context()
	for _, s := range []config.Subscription{
		{ID: "sub-1", Name: "orders", Platform: config.PlatformWebhook, Pull: true},
		{ID: "sub-pull", Name: "pulled", Platform: config.PlatformWebhook, Pull: true},
		{ID: "sub-other", Name: "other", Platform: config.PlatformWebhook},
	} {
		_, err := config.Insert(ctx, h.Store(), config.Item{Tenant: tenant, Kind: config.KindSubscription, ID: s.ID, Name: s.Name}, s)
		require.NoError(t, err)
	}
	o := put(h)
	rec := &recorder{}
	o.Store, o.Delivery = h.Store(), rec
	h2, err := filter.New(o)
	require.NoError(t, err)
	return h2, rec
}

func TestPullSubscriptionsBufferEveryEvent(t *testing.T) {
	buf := mempull.New(0, nil)
	h, rec := pullSetup(t, func(*filter.Handler) filter.Options { return filter.Options{Pull: buf} })
	res := h.HandleBatch(t.Context(), []queue.Message{
		routed(t, "m1", "sub-1", `{"Context__c":{"string":"drop"},"a":1,"b":1}`),
		routed(t, "m2", "sub-pull", `{"x":1}`),
		routed(t, "m3", "sub-other", `{"x":2}`),
	})
	assert.Empty(t, res.Failures)
	assert.Len(t, deliveries(t, rec), 3, "streams route as before: pub-all, pub-total, pub-other")
	for sub, want := range map[string][]string{"sub-1": {"ev-m1"}, "sub-pull": {"ev-m2"}, "sub-other": nil} {
		got, err := buf.Lease(t.Context(), tenant, sub, 10, time.Minute)
		require.NoError(t, err)
		var ids []string
		for _, l := range got {
			ids = append(ids, l.Event.ID)
		}
		assert.Equal(t, want, ids, sub)
	}
}

func TestPullBufferFailureFailsOnlyItsMessages(t *testing.T) {
	h, rec := pullSetup(t, func(*filter.Handler) filter.Options { return filter.Options{Pull: failingPutter{sub: "sub-pull"}} })
	res := h.HandleBatch(t.Context(), []queue.Message{
		routed(t, "m1", "sub-1", `{"a":1,"b":1}`),
		routed(t, "m2", "sub-pull", `{"x":1}`),
	})
	require.Len(t, res.Failures, 1)
	assert.Equal(t, "m2", res.Failures[0].ID)
	assert.False(t, queue.IsPermanent(res.Failures[0].Err), "retried, not dead-lettered")
	assert.Len(t, deliveries(t, rec), 3, "the neighbour's deliveries go")
}
