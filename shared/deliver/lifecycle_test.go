package deliver_test

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	standardwebhooks "github.com/standard-webhooks/standard-webhooks/libraries/go"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/herokuevents/herokuevents/shared/config"
	"github.com/herokuevents/herokuevents/shared/config/memstore"
	"github.com/herokuevents/herokuevents/shared/deliver"
	"github.com/herokuevents/herokuevents/shared/event"
	"github.com/herokuevents/herokuevents/shared/queue"
	"github.com/herokuevents/herokuevents/shared/sink"
)

// modify changes a stored publication of the env.
func (e *env) modify(t *testing.T, id string, change func(p *config.Publication)) {
	t.Helper()
	_, err := config.Modify(t.Context(), e.store, tenant, config.KindPublication, id, 1, func(r *config.Record[config.Publication]) (bool, error) {
		change(&r.Value)
		return true, nil
	})
	require.NoError(t, err)
}

// TestPausedDeliveriesAreHeld: no attempt, nothing dead-lettered; the
// delivery goes back to the queue marked held, its attempts unchanged, with
// a delay that doubles at each check.
func TestPausedDeliveriesAreHeld(t *testing.T) {
	e := newEnv(t, 0)
	srv, got := endpoint(t, status(http.StatusOK))
	pub, _ := e.publication(t, "hook", srv.URL, config.RetryPolicy{})
	e.modify(t, pub.ID, func(p *config.Publication) { p.Paused, p.PausedAt = true, time.Now().UTC() })

	d := event.Delivery{Tenant: tenant, Publication: pub.ID, Event: sampleEvent(), Attempt: 2, FirstTry: time.Now().Add(-time.Minute).UTC()}
	var delays []time.Duration
	for i := range 3 {
		res := e.handler.HandleBatch(t.Context(), []queue.Message{delivery(t, "m1", d)})
		require.Empty(t, res.Failures, "a held delivery is done with, not failed")
		sent := e.requeued()
		require.Len(t, sent, i+1)
		m := sent[i]
		assert.Equal(t, map[string]string{queue.AttrTenant: tenant, queue.AttrAttempt: "2", queue.AttrHeld: pub.ID}, m.Attributes)
		var next event.Delivery
		require.NoError(t, json.Unmarshal(m.Body, &next))
		assert.Equal(t, 2, next.Attempt, "holding is not an attempt")
		assert.Equal(t, i+1, next.Held)
		assert.False(t, next.HeldSince.IsZero())
		if i > 0 {
			assert.True(t, d.HeldSince.Equal(next.HeldSince), "held since the first hold")
		}
		delays = append(delays, m.Delay)
		d = next
	}
	assert.Empty(t, got(), "no attempt while paused")
	for i, d := range delays {
		ceiling := deliver.DefaultHoldBase << i
		assert.GreaterOrEqual(t, d, ceiling/2, "equal jitter")
		assert.LessOrEqual(t, d, ceiling)
	}
	assert.Contains(t, e.logs.String(), `"decision":"held"`)
}

// TestWokenHeldDeliveriesWaitLong: when the queue wakes held deliveries
// on resume (Options.Wake, the embedded mode), a held delivery is checked
// every 7.5 to 15 minutes from the first hold: one re-queue behind a long
// pause instead of a doubling series.
func TestWokenHeldDeliveriesWaitLong(t *testing.T) {
	e := newEnv(t, 0)
	var woken atomic.Int32
	e.handler.Wake = func(context.Context, string, string) (int, error) { woken.Add(1); return 1, nil }
	srv, got := endpoint(t, status(http.StatusOK))
	pub, _ := e.publication(t, "hook", srv.URL, config.RetryPolicy{})
	e.modify(t, pub.ID, func(p *config.Publication) { p.Paused, p.PausedAt = true, time.Now().UTC() })

	d := event.Delivery{Tenant: tenant, Publication: pub.ID, Event: sampleEvent(), FirstTry: time.Now().UTC()}
	for i := range 3 {
		res := e.handler.HandleBatch(t.Context(), []queue.Message{delivery(t, "m1", d)})
		require.Empty(t, res.Failures)
		sent := e.requeued()
		require.Len(t, sent, i+1)
		m := sent[i]
		assert.Equal(t, pub.ID, m.Attributes[queue.AttrHeld], "marked to be woken")
		assert.GreaterOrEqual(t, m.Delay, deliver.MaxDelay/2, "hold %d", i+1)
		assert.LessOrEqual(t, m.Delay, deliver.MaxDelay, "hold %d", i+1)
		var next event.Delivery
		require.NoError(t, json.Unmarshal(m.Body, &next))
		d = next
	}
	assert.Empty(t, got(), "no attempt while paused")
	assert.Zero(t, woken.Load(), "still paused: nothing to wake")

	// A hold that races a resume: the publication is resumed (and its held
	// deliveries woken) between the hold's check and its re-queue; the
	// hold then wakes what it re-queued.
	requeue := e.handler.Requeue
	e.handler.Requeue = queue.SenderFunc(func(ctx context.Context, msgs ...queue.Message) error {
		e.modify(t, pub.ID, func(p *config.Publication) { p.Paused, p.PausedAt = false, time.Time{} })
		return requeue.Send(ctx, msgs...)
	})
	res := e.handler.HandleBatch(t.Context(), []queue.Message{delivery(t, "m2", d)})
	require.Empty(t, res.Failures)
	assert.Len(t, e.requeued(), 4, "held: paused when it was checked")
	assert.EqualValues(t, 1, woken.Load(), "resumed before the re-queue: the hold wakes it")
	assert.Contains(t, e.logs.String(), `"decision":"woken"`)
}

// TestResumeLeavesThePauseOutOfTheHorizon: a delivery held for two hours
// is retried after a failure although its first try is older than its
// one-hour horizon.
func TestResumeLeavesThePauseOutOfTheHorizon(t *testing.T) {
	e := newEnv(t, 0)
	srv, got := endpoint(t, status(http.StatusServiceUnavailable))
	pub, _ := e.publication(t, "hook", srv.URL, config.RetryPolicy{Horizon: time.Hour})
	now := time.Now().UTC()
	d := event.Delivery{Tenant: tenant, Publication: pub.ID, Event: sampleEvent(), Attempt: 1,
		FirstTry: now.Add(-2*time.Hour - 10*time.Minute), Held: 9, HeldSince: now.Add(-2 * time.Hour)}
	res := e.handler.HandleBatch(t.Context(), []queue.Message{delivery(t, "m1", d)})
	require.Empty(t, res.Failures, "retried, not dead-lettered")
	require.Len(t, got(), 1)
	sent := e.requeued()
	require.Len(t, sent, 1)
	assert.NotContains(t, sent[0].Attributes, queue.AttrHeld)
	var next event.Delivery
	require.NoError(t, json.Unmarshal(sent[0].Body, &next))
	assert.Equal(t, 2, next.Attempt)
	assert.Zero(t, next.Held)
	assert.True(t, next.HeldSince.IsZero())
	assert.WithinDuration(t, now.Add(-10*time.Minute), next.FirstTry, 5*time.Second, "the pause is left out")
}

// TestRateSpacesDeliveries: at 2 events/s, five deliveries of one batch are
// sent 0.5 s apart; those whose slot is more than RateWait away go back to
// the queue holding their slot, and are sent at it without taking another.
func TestRateSpacesDeliveries(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		store := memstore.New()
		defer store.Close()
		pub := config.Publication{ID: "pub-1", Name: "hook", Platform: "fake", Rate: 2}
		_, err := config.Insert(t.Context(), store, config.Item{Tenant: tenant, Kind: config.KindPublication, ID: pub.ID, Name: pub.Name}, pub)
		require.NoError(t, err)
		start := time.Now()
		var (
			mu   sync.Mutex
			sent = map[string]time.Duration{}
			back []queue.Message
		)
		h, err := deliver.New(deliver.Options{
			Store: store,
			Publishers: map[string]deliver.Publisher{"fake": deliver.PublisherFunc(func(_ context.Context, _ string, _ config.Publication, ev event.Event) error {
				mu.Lock()
				defer mu.Unlock()
				sent[ev.ID] = time.Since(start)
				return nil
			})},
			Requeue: queue.SenderFunc(func(_ context.Context, msgs ...queue.Message) error {
				mu.Lock()
				defer mu.Unlock()
				back = append(back, msgs...)
				return nil
			}),
		})
		require.NoError(t, err)
		var batch []queue.Message
		for _, id := range []string{"e0", "e1", "e2", "e3", "e4"} {
			ev := sampleEvent()
			ev.ID = id
			batch = append(batch, delivery(t, "m-"+id, event.Delivery{Tenant: tenant, Publication: pub.ID, Event: ev}))
		}
		res := h.HandleBatch(t.Context(), batch)
		require.Empty(t, res.Failures)
		mu.Lock()
		var times []time.Duration
		for _, d := range sent {
			times = append(times, d)
		}
		assert.ElementsMatch(t, []time.Duration{0, 500 * time.Millisecond, time.Second}, times, "three within RateWait")
		require.Len(t, back, 2, "two wait in the queue")
		again := back
		back = nil
		mu.Unlock()
		var delays []time.Duration
		for _, m := range again {
			delays = append(delays, m.Delay)
			var d event.Delivery
			require.NoError(t, json.Unmarshal(m.Body, &d))
			assert.Zero(t, d.Attempt, "throttling is not an attempt")
			assert.False(t, d.RateSlot.IsZero())
		}
		assert.ElementsMatch(t, []time.Duration{1500 * time.Millisecond, 2 * time.Second}, delays)

		// The queue gives them back when the first delay is over (they were
		// re-queued at once, then the batch waited for the others).
		time.Sleep(time.Until(start.Add(1500 * time.Millisecond)))
		for i := range again {
			again[i].ID = "again-" + again[i].ID
		}
		require.Empty(t, h.HandleBatch(t.Context(), again).Failures)
		mu.Lock()
		defer mu.Unlock()
		assert.Empty(t, back, "sent at their slots, not re-queued")
		times = times[:0]
		for _, d := range sent {
			times = append(times, d)
		}
		assert.ElementsMatch(t, []time.Duration{0, 500 * time.Millisecond, time.Second, 1500 * time.Millisecond, 2 * time.Second}, times)
	})
}

// TestPublicationTimeout: an endpoint slower than the publication's own
// timeout is a retried timeout, however long the process's timeout is.
func TestPublicationTimeout(t *testing.T) {
	e := newEnv(t, 10*time.Second)
	release := make(chan struct{})
	t.Cleanup(func() { close(release) })
	srv, _ := endpoint(t, func(w http.ResponseWriter, _ int) {
		select {
		case <-release:
		case <-time.After(5 * time.Second):
		}
		w.WriteHeader(http.StatusOK)
	})
	pub, _ := e.publication(t, "slow", srv.URL, config.RetryPolicy{})
	e.modify(t, pub.ID, func(p *config.Publication) { p.Timeout = 200 * time.Millisecond })
	start := time.Now()
	res := e.handler.HandleBatch(t.Context(), []queue.Message{delivery(t, "m1", event.Delivery{Tenant: tenant, Publication: pub.ID, Event: sampleEvent()})})
	took := time.Since(start)
	require.Empty(t, res.Failures)
	assert.Less(t, took, 3*time.Second, "cut at the publication's timeout")
	require.Len(t, e.requeued(), 1, "retried")
	assert.Contains(t, e.logs.String(), `"decision":"retry"`)
}

// TestDeliveryFollowsRecreatedPublication: a delivery addressed to a
// deleted publication goes to the one created again with its name, and its
// retries to the new id; without one it is dead-lettered with the name.
func TestDeliveryFollowsRecreatedPublication(t *testing.T) {
	e := newEnv(t, 0)
	srv, got := endpoint(t, status(http.StatusServiceUnavailable))
	_, err := config.Insert(t.Context(), e.store, config.Item{Tenant: tenant, Kind: config.KindFormerPublication, ID: "pub-old"},
		config.FormerPublication{ID: "pub-old", Name: "hook", Deleted: time.Now().UTC()})
	require.NoError(t, err)
	_, err = config.Insert(t.Context(), e.store, config.Item{Tenant: tenant, Kind: config.KindFormerPublication, ID: "pub-gone"},
		config.FormerPublication{ID: "pub-gone", Name: "gone", Deleted: time.Now().UTC()})
	require.NoError(t, err)
	pub, _ := e.publication(t, "hook", srv.URL, config.RetryPolicy{})

	res := e.handler.HandleBatch(t.Context(), []queue.Message{
		delivery(t, "m1", event.Delivery{Tenant: tenant, Publication: "pub-old", Event: sampleEvent()}),
		delivery(t, "m2", event.Delivery{Tenant: tenant, Publication: "pub-gone", Event: sampleEvent()}),
		delivery(t, "m3", event.Delivery{Tenant: tenant, Publication: "pub-never", Event: sampleEvent()}),
	})
	fails := failures(res)
	require.Len(t, fails, 2)
	assert.True(t, queue.IsPermanent(fails["m2"]))
	assert.Equal(t, "publication gone (pub-gone) of tenant t-1 was deleted and not created again", fails["m2"].Error())
	assert.True(t, queue.IsPermanent(fails["m3"]))
	assert.Contains(t, fails["m3"].Error(), "publication pub-never of tenant t-1 not found")

	require.Len(t, got(), 1, "sent to the new publication")
	sent := e.requeued()
	require.Len(t, sent, 1)
	var next event.Delivery
	require.NoError(t, json.Unmarshal(sent[0].Body, &next))
	assert.Equal(t, pub.ID, next.Publication, "retries go to the new id")
}

// TestRotationOverlapSignsWithBoth: during the overlap, receivers holding
// the new or the previous secret both verify the request with the Standard
// Webhooks reference library; after it, only the new secret signs.
func TestRotationOverlapSignsWithBoth(t *testing.T) {
	e := newEnv(t, 0)
	srv, got := endpoint(t, status(http.StatusNoContent))
	pub, newSecret := e.publication(t, "hook", srv.URL, config.RetryPolicy{})
	oldSecret, err := sink.NewSigningSecret()
	require.NoError(t, err)
	sealed, err := e.sealer.Seal(t.Context(), []byte(oldSecret))
	require.NoError(t, err)
	e.modify(t, pub.ID, func(p *config.Publication) {
		p.PreviousSecretSealed, p.PreviousSecretUntil = sealed, time.Now().Add(time.Hour)
	})
	send := func(id string) captured {
		t.Helper()
		ev := sampleEvent()
		ev.ID = id
		res := e.handler.HandleBatch(t.Context(), []queue.Message{delivery(t, id, event.Delivery{Tenant: tenant, Publication: pub.ID, Event: ev})})
		require.Empty(t, res.Failures)
		reqs := got()
		return reqs[len(reqs)-1]
	}
	verify := func(secret string, c captured) error {
		wh, err := standardwebhooks.NewWebhook(secret)
		require.NoError(t, err)
		return wh.Verify(c.body, c.header)
	}

	during := send("e-during")
	assert.Len(t, strings.Split(during.header.Get("webhook-signature"), " "), 2)
	assert.NoError(t, verify(newSecret, during), "a receiver with the new secret")
	assert.NoError(t, verify(oldSecret, during), "a receiver with the previous secret")

	e.modify(t, pub.ID, func(p *config.Publication) { p.PreviousSecretUntil = time.Now().Add(-time.Second) })
	after := send("e-after")
	assert.NoError(t, verify(newSecret, after))
	assert.ErrorIs(t, verify(oldSecret, after), standardwebhooks.ErrNoMatchingSignature, "the overlap is over")
	assert.NotContains(t, e.logs.String(), oldSecret)
}

// TestRateHonoursTheAllowedRate: the WebHook-Allowed-Rate a webhook granted
// at the handshake caps deliveries like the publication's own rate, the
// lower of the two winning.
func TestRateHonoursTheAllowedRate(t *testing.T) {
	tests := []struct {
		name    string
		rate    float64
		allowed int // per minute
		gaps    time.Duration
	}{
		{"allowed only", 0, 120, 500 * time.Millisecond},
		{"allowed lower", 10, 60, time.Second},
		{"own rate lower", 1, 600, time.Second},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				store := memstore.New()
				defer store.Close()
				pub := config.Publication{ID: "pub-1", Name: "hook", Platform: "fake", Rate: tt.rate,
					Params: config.Params{AllowedRate: tt.allowed}}
				_, err := config.Insert(t.Context(), store, config.Item{Tenant: tenant, Kind: config.KindPublication, ID: pub.ID, Name: pub.Name}, pub)
				require.NoError(t, err)
				start := time.Now()
				var mu sync.Mutex
				var at []time.Duration
				h, err := deliver.New(deliver.Options{
					Store: store,
					Publishers: map[string]deliver.Publisher{"fake": deliver.PublisherFunc(func(context.Context, string, config.Publication, event.Event) error {
						mu.Lock()
						defer mu.Unlock()
						at = append(at, time.Since(start))
						return nil
					})},
					Requeue:     queue.SenderFunc(func(context.Context, ...queue.Message) error { return nil }),
					Concurrency: 1,
				})
				require.NoError(t, err)
				for i := range 2 {
					ev := sampleEvent()
					require.Empty(t, h.HandleBatch(t.Context(), []queue.Message{delivery(t, "m"+string(rune('0'+i)), event.Delivery{Tenant: tenant, Publication: pub.ID, Event: ev})}).Failures)
				}
				assert.Equal(t, []time.Duration{0, tt.gaps}, at)
			})
		})
	}
}
