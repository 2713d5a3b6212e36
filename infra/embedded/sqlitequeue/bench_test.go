package sqlitequeue_test

import (
	"context"
	"fmt"
	"path/filepath"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/herokuevents/herokuevents/infra/embedded/sqlitequeue"
	"github.com/herokuevents/herokuevents/shared/queue"
)

// BenchmarkHops measures messages through one and two hops of queues:
// senders put one message per Send (as ingest does), each hop's consumer
// claims batches of 10 (filter's settings), and a hop's handler sends its
// batch to the next queue in one Send. backlog messages wait in the first
// queue before the clock starts, so a cost proportional to the backlog
// shows. msgs/s counts messages out of the last hop. The paced case has
// one sender sending a message every millisecond (light load: each
// operation tends to commit alone); run it with fewer messages. The
// senders=50 case is the deliver queue's shape: 50 publishers, a handler
// busy 1 ms per batch (a webhook POST). The held case first puts 200,000
// messages hidden for an hour in the first queue, as deliveries held
// behind a paused publication wait: a cost proportional to such a
// backlog would show against hops=1/backlog=0.
//
//	go test -run '^$' -bench Hops -benchtime 20000x ./infra/embedded/sqlitequeue/
//	go test -run '^$' -bench Hops/paced -benchtime 2000x ./infra/embedded/sqlitequeue/
func BenchmarkHops(b *testing.B) {
	for _, c := range []struct {
		hops, backlog int
		every         time.Duration
		senders       int
		work          time.Duration
		held          int
	}{{1, 0, 0, 8, 0, 0}, {2, 0, 0, 8, 0, 0}, {1, 20000, 0, 8, 0, 0}, {1, 0, time.Millisecond, 1, 0, 0}, {1, 0, 0, 50, time.Millisecond, 0}, {1, 0, 0, 8, 0, 200000}} {
		name := fmt.Sprintf("hops=%d/backlog=%d", c.hops, c.backlog)
		switch {
		case c.held > 0:
			name = fmt.Sprintf("hops=%d/held=%d", c.hops, c.held)
		case c.every > 0:
			name = fmt.Sprintf("hops=%d/paced=%s", c.hops, c.every)
		case c.work > 0:
			name = fmt.Sprintf("hops=%d/senders=%d/work=%s", c.hops, c.senders, c.work)
		}
		b.Run(name, func(b *testing.B) {
			benchHops(b, c.hops, c.backlog, c.every, c.senders, c.work, c.held)
		})
	}
}

// benchHops sends b.N messages from senders goroutines (one every every
// when set) through hops queues whose handlers take work per batch.
func benchHops(b *testing.B, hops, backlog int, every time.Duration, senders int, work time.Duration, held int) {
	db, err := sqlitequeue.Open(filepath.Join(b.TempDir(), "queues.db"))
	if err != nil {
		b.Fatal(err)
	}
	defer db.Close()
	ctx, cancel := context.WithCancel(b.Context())
	attrs := map[string]string{queue.AttrTenant: "t1", queue.AttrAttempt: "0"}
	body := []byte(`{"tenant":"t1","publication":"p1","event":{"id":"00000000-0000-0000-0000-000000000000","source":"bench","type":"bench","data":{"n":1}}}`)
	first := db.Queue("hop0")
	for sent := 0; sent < backlog; {
		n := min(100, backlog-sent)
		msgs := make([]queue.Message, n)
		for i := range msgs {
			msgs[i] = queue.Message{Body: body, Attributes: attrs}
		}
		if err := first.Send(ctx, msgs...); err != nil {
			b.Fatal(err)
		}
		sent += n
	}
	// Held messages: hidden for an hour, as a paused publication's are.
	heldAttrs := map[string]string{queue.AttrTenant: "t1", queue.AttrAttempt: "0", queue.AttrHeld: "p2"}
	for sent := 0; sent < held; {
		n := min(100, held-sent)
		msgs := make([]queue.Message, n)
		for i := range msgs {
			msgs[i] = queue.Message{Body: body, Attributes: heldAttrs, Delay: time.Hour}
		}
		if err := first.Send(ctx, msgs...); err != nil {
			b.Fatal(err)
		}
		sent += n
	}
	want := int64(b.N + backlog)
	var out atomic.Int64
	all := make(chan struct{})
	st := queue.Settings{BatchSize: 10, VisibilityTimeout: time.Minute, MaxReceives: 5, Concurrency: 10}
	var wg sync.WaitGroup
	for h := range hops {
		q, next := db.Queue(fmt.Sprintf("hop%d", h)), db.Queue(fmt.Sprintf("hop%d", h+1))
		handler := queue.BatchHandlerFunc(func(ctx context.Context, msgs []queue.Message) queue.BatchResult {
			time.Sleep(work)
			if h == hops-1 {
				if out.Add(int64(len(msgs))) == want {
					close(all)
				}
				return queue.BatchResult{}
			}
			fwd := make([]queue.Message, len(msgs))
			for i, m := range msgs {
				fwd[i] = queue.Message{Body: m.Body, Attributes: m.Attributes}
			}
			var res queue.BatchResult
			if err := next.Send(ctx, fwd...); err != nil {
				for _, m := range msgs {
					res.Fail(m.ID, err)
				}
			}
			return res
		})
		wg.Go(func() { _ = q.Consume(ctx, handler, st, db.Queue("dlq")) })
	}
	b.ResetTimer()
	start, cpu, groups, synced, handed := time.Now(), cpuTime(b), sqlitequeue.Groups(db), sqlitequeue.Synced(db), handedOf(db)
	var tick <-chan time.Time
	if every > 0 {
		t := time.NewTicker(every)
		defer t.Stop()
		tick = t.C
	}
	var sent atomic.Int64
	for range senders {
		wg.Go(func() {
			for sent.Add(1) <= int64(b.N) {
				if tick != nil {
					<-tick
				}
				if err := first.Send(ctx, queue.Message{Body: body, Attributes: attrs}); err != nil {
					b.Error(err)
					return
				}
			}
		})
	}
	select {
	case <-all:
	case <-time.After(5 * time.Minute):
		b.Errorf("%d of %d messages out", out.Load(), want)
	}
	elapsed, used := time.Since(start), cpuTime(b)-cpu
	b.StopTimer()
	groups, synced, handed = sqlitequeue.Groups(db)-groups, sqlitequeue.Synced(db)-synced, handedOf(db)-handed
	cancel()
	wg.Wait()
	b.ReportMetric(float64(want)/elapsed.Seconds(), "msgs/s")
	// Processor time per message and hop: what a loaded host changes less
	// than the rate.
	b.ReportMetric(float64(used.Microseconds())/float64(want)/float64(hops), "cpu-µs/msg/hop")
	b.ReportMetric(0, "ns/op")
	// Transactions per message and hop, and those with an fsync of the
	// WAL (checkpoints add theirs).
	b.ReportMetric(float64(groups)/float64(want)/float64(hops), "commits/msg/hop")
	b.ReportMetric(float64(synced)/float64(want)/float64(hops), "fsyncs/msg/hop")
	// Messages handed to a waiting consumer by their send, unclaimed.
	b.ReportMetric(float64(handed)/float64(want)/float64(hops), "handed/msg/hop")
}

func openB(b *testing.B) *sqlitequeue.DB {
	b.Helper()
	db, err := sqlitequeue.Open(filepath.Join(b.TempDir(), "queues.db"))
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { db.Close() })
	return db
}

// cpuTime is the processor time (user + system) this process has used.
func cpuTime(b *testing.B) time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		b.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// BenchmarkSend: 50 goroutines sending one message each per Send (ingest
// at load, without consumers).
func BenchmarkSend(b *testing.B) {
	db := openB(b)
	q := db.Queue("q")
	attrs := map[string]string{queue.AttrTenant: "t1", queue.AttrAttempt: "0"}
	body := []byte(`{"tenant":"t1","publication":"p1","event":{"id":"00000000-0000-0000-0000-000000000000","source":"bench","type":"bench","data":{"n":1}}}`)
	var wg sync.WaitGroup
	var sent atomic.Int64
	b.ResetTimer()
	cpu := cpuTime(b)
	for range 50 {
		wg.Go(func() {
			for sent.Add(1) <= int64(b.N) {
				if err := q.Send(b.Context(), queue.Message{Body: body, Attributes: attrs}); err != nil {
					b.Error(err)
					return
				}
			}
		})
	}
	wg.Wait()
	b.ReportMetric(float64((cpuTime(b)-cpu).Microseconds())/float64(b.N), "cpu-µs/msg")
}
