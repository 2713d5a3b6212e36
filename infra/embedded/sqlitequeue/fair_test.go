package sqlitequeue_test

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/herokuevents/herokuevents/shared/queue"
)

func tenantMsg(tenant, body string) queue.Message {
	return queue.Message{Body: []byte(body), Attributes: map[string]string{queue.AttrTenant: tenant, "pub": body[:1]}}
}

// TestFairClaims: claims go round-robin across tenants with visible
// messages, so tenant b's new message waits behind one claim of tenant a's
// backlog, not behind the backlog. (2,000 messages: the race detector
// makes SQLite slow; a claim's cost does not depend on the backlog, see
// TestQueryPlans and BenchmarkFairClaims.)
func TestFairClaims(t *testing.T) {
	q := open(t).Queue("q")
	ctx := t.Context()
	backlog := make([]queue.Message, 2000)
	for i := range backlog {
		backlog[i] = tenantMsg("a", "a")
	}
	require.NoError(t, q.Send(ctx, backlog...))
	first, err := q.Receive(ctx, 10, time.Minute)
	require.NoError(t, err)
	require.Len(t, first, 10)
	require.NoError(t, q.Send(ctx, tenantMsg("b", "b"), tenantMsg("c", "c")))
	tenants := func(msgs []queue.Message) map[string]int {
		out := map[string]int{}
		for _, m := range msgs {
			out[m.Attributes[queue.AttrTenant]]++
		}
		return out
	}
	for _, c := range []struct {
		name string
		max  int
		want map[string]int
	}{
		{"the next tenants first", 2, map[string]int{"b": 1, "c": 1}},
		{"then back to a", 3, map[string]int{"a": 3}},
	} {
		got, err := q.Receive(ctx, c.max, time.Minute)
		require.NoError(t, err)
		assert.Equal(t, c.want, tenants(got), c.name)
	}
	require.NoError(t, q.Send(ctx, tenantMsg("b", "b")))
	got, err := q.Receive(ctx, 10, time.Minute)
	require.NoError(t, err)
	assert.Equal(t, map[string]int{"b": 1, "a": 9}, tenants(got), "b's new message in the next claim, a fills the rest")
}

// TestFairLanes: within a tenant, claims go round-robin across its lanes.
func TestFairLanes(t *testing.T) {
	q := open(t).Queue("q")
	q.Lanes(func(m queue.Message) string { return m.Attributes["pub"] }, 0)
	ctx := t.Context()
	var msgs []queue.Message
	for range 20 {
		msgs = append(msgs, tenantMsg("a", "x"))
	}
	msgs = append(msgs, tenantMsg("a", "y"))
	require.NoError(t, q.Send(ctx, msgs...))
	var order []string
	for range 3 {
		got, err := q.Receive(ctx, 1, time.Minute)
		require.NoError(t, err)
		require.Len(t, got, 1)
		order = append(order, string(got[0].Body))
	}
	assert.Equal(t, []string{"x", "y", "x"}, order)
}

// TestLaneCap: a lane beyond its cap of batches in flight takes no slot of
// the reserve (as many slots as the cap): alone it uses the others, and
// the other lanes' messages are handled meanwhile in the reserve; the
// capped lane's messages once its batches finish.
func TestLaneCap(t *testing.T) {
	db := open(t)
	q := db.Queue("q")
	q.Lanes(func(m queue.Message) string { return m.Attributes["pub"] }, 1)
	ctx := t.Context()
	release := make(chan struct{})
	var releaseOnce sync.Once
	var (
		mu       sync.Mutex
		inSlow   int
		maxSlow  int
		handled  = map[string]int{}
		fastDone = make(chan struct{})
	)
	h := queue.BatchHandlerFunc(func(_ context.Context, msgs []queue.Message) queue.BatchResult {
		slow := false
		for _, m := range msgs {
			slow = slow || string(m.Body) == "slow"
		}
		mu.Lock()
		if slow {
			inSlow++
			maxSlow = max(maxSlow, inSlow)
		}
		before := handled["fast"]
		for _, m := range msgs {
			handled[string(m.Body)]++
		}
		if before < 20 && handled["fast"] >= 20 {
			close(fastDone)
		}
		mu.Unlock()
		if slow {
			<-release
			mu.Lock()
			inSlow--
			mu.Unlock()
		}
		return queue.BatchResult{}
	})
	var msgs []queue.Message
	for range 50 {
		msgs = append(msgs, queue.Message{Body: []byte("slow"), Attributes: map[string]string{queue.AttrTenant: "a", "pub": "s"}})
	}
	require.NoError(t, q.Send(ctx, msgs...))
	st := settings()
	st.Concurrency = 4
	cctx, cancel := context.WithCancel(ctx)
	done := make(chan error)
	go func() { done <- q.Consume(cctx, h, st, db.Queue("dlq")) }()
	defer func() { releaseOnce.Do(func() { close(release) }); cancel(); <-done }()
	for range 20 {
		require.NoError(t, q.Send(ctx, queue.Message{Body: []byte("fast"), Attributes: map[string]string{queue.AttrTenant: "a", "pub": "f"}}))
	}
	select {
	case <-fastDone:
	case <-time.After(10 * time.Second):
		mu.Lock()
		defer mu.Unlock()
		t.Fatalf("the fast lane waited for the slow one: handled %v", handled)
	}
	releaseOnce.Do(func() { close(release) })
	require.Eventually(t, func() bool { n, _ := q.Len(ctx); return n == 0 }, 10*time.Second, 10*time.Millisecond)
	mu.Lock()
	defer mu.Unlock()
	assert.Equal(t, st.Concurrency-1, maxSlow, "batches of the slow lane in flight at once: all but the reserve")
	assert.Equal(t, map[string]int{"slow": 50, "fast": 20}, handled)
}

// BenchmarkFairClaims: claims of 10 from a queue holding a backlog spread
// over tenants (the cost of the round-robin walk).
func BenchmarkFairClaims(b *testing.B) {
	for _, tenants := range []int{1, 500} {
		b.Run(fmt.Sprintf("tenants=%d", tenants), func(b *testing.B) {
			db := openB(b)
			q := db.Queue("q")
			var seq atomic.Int64
			fill := func(n int) {
				msgs := make([]queue.Message, n)
				for i := range msgs {
					msgs[i] = tenantMsg(fmt.Sprint(seq.Add(1)%int64(tenants)), "m")
				}
				if err := q.Send(b.Context(), msgs...); err != nil {
					b.Fatal(err)
				}
			}
			for range 200 {
				fill(100)
			}
			b.ResetTimer()
			for b.Loop() {
				got, err := q.Receive(b.Context(), 10, time.Minute)
				if err != nil || len(got) == 0 {
					b.Fatal(err, len(got))
				}
				ids := make([]string, len(got))
				for i, m := range got {
					ids[i] = m.ID
				}
				if err := q.Delete(b.Context(), ids...); err != nil {
					b.Fatal(err)
				}
				b.StopTimer()
				fill(10)
				b.StartTimer()
			}
		})
	}
}
