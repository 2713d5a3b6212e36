// Command storeprobe asks whether another embedded store would make the
// embedded mode's queue hop much cheaper (issue 16: "or another embedded
// store if SQLite cannot get there (justify with numbers)"). It runs the
// same hop through two stores, one after the other, in one process:
//
//   - sqlite: the product's queue (infra/embedded/sqlitequeue), its Send
//     and its Consume loop as serve runs them (batches of 10, 20 in
//     flight, hand-off, the fair claim walk);
//   - pebble: a bare queue on github.com/cockroachdb/pebble/v2 (an LSM
//     store), written here for the probe: a durable send is a Set synced
//     to its WAL (pebble groups concurrent syncs), a claim moves up to 10
//     visible keys to in-flight keys in one unsynced batch, a settle
//     deletes them in another. It has no tenants, lanes, groups, receive
//     counts or dead letters: a best case for the store, not a queue.
//
// Each hop: -senders goroutines send -n messages of the size serve sends
// (one per Send, each durable before it returns) while the consumer
// settles them; -backlog messages are sent first. It prints messages per
// second and the process's CPU time per message, and the same for sends
// alone.
//
//	cd scripts/bench/storeprobe && go run . [-n 100000] [-senders 50] [-backlog 0] [-reps 2]
//
// It is its own module so that the product does not depend on pebble.
package main

import (
	"context"
	"encoding/binary"
	"flag"
	"fmt"
	"log"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/cockroachdb/pebble/v2"

	"github.com/herokuevents/herokuevents/infra/embedded/sqlitequeue"
	"github.com/herokuevents/herokuevents/shared/queue"
)

// body is a delivery as serve queues it, about the size of the
// throughput bench's.
var body = []byte(`{"tenant":"00000000-0000-4000-8000-000000000000","publication":"systemStatus","subscription":"inbound","event":{"id":"019ae9b6-7f3e-7c41-9a8e-3f2b1c0d4e5f","source":"urn:herokuevents:bench-app:inbound","type":"com.herokuevents.webhook","time":"2026-12-04T19:00:00.000000Z","datacontenttype":"application/json","data":{"Context__c":"up","seq":"123456"}}}`)

var attrs = map[string]string{queue.AttrTenant: "00000000-0000-4000-8000-000000000000", queue.AttrAttempt: "0"}

// store is one way of running the hop.
type store interface {
	send(ctx context.Context) error
	// consume settles messages as they come until ctx ends.
	consume(ctx context.Context, settled *atomic.Int64)
	close()
}

func main() {
	n := flag.Int("n", 100000, "messages sent while consuming")
	senders := flag.Int("senders", 50, "concurrent senders")
	backlog := flag.Int("backlog", 0, "messages sent before consuming starts")
	reps := flag.Int("reps", 2, "repetitions of each store, alternated")
	flag.Parse()
	fmt.Printf("%-8s %-20s %10s %10s %14s\n", "store", "run", "messages", "msg/s", "cpu-µs/msg")
	for range *reps {
		for _, name := range []string{"sqlite", "pebble"} {
			sendOnly(name, *n, *senders)
			hop(name, *n, *senders, *backlog)
		}
	}
}

func open(name string) store {
	dir, err := os.MkdirTemp("", "storeprobe")
	if err != nil {
		log.Fatal(err)
	}
	var s store
	switch name {
	case "sqlite":
		s, err = openSQLite(dir)
	default:
		s, err = openPebble(dir)
	}
	if err != nil {
		log.Fatal(err)
	}
	return cleanup{s, dir}
}

type cleanup struct {
	store
	dir string
}

func (c cleanup) close() { c.store.close(); _ = os.RemoveAll(c.dir) }

// sendOnly measures durable sends alone.
func sendOnly(name string, n, senders int) {
	s := open(name)
	defer s.close()
	t0, c0 := time.Now(), cpu()
	sendAll(s, n, senders)
	report(name, "send only", n, time.Since(t0), cpu()-c0)
}

// hop measures sends and their settling together.
func hop(name string, n, senders, backlog int) {
	s := open(name)
	defer s.close()
	sendAll(s, backlog, senders)
	ctx, cancel := context.WithCancel(context.Background())
	var settled atomic.Int64
	done := make(chan struct{})
	t0, c0 := time.Now(), cpu()
	go func() { s.consume(ctx, &settled); close(done) }()
	sendAll(s, n, senders)
	for settled.Load() < int64(n+backlog) {
		time.Sleep(time.Millisecond)
	}
	el, used := time.Since(t0), cpu()-c0
	cancel()
	<-done
	report(name, fmt.Sprintf("hop, backlog %d", backlog), n+backlog, el, used)
}

func sendAll(s store, n, senders int) {
	var sent atomic.Int64
	var wg sync.WaitGroup
	for range senders {
		wg.Go(func() {
			for sent.Add(1) <= int64(n) {
				if err := s.send(context.Background()); err != nil {
					log.Fatal(err)
				}
			}
		})
	}
	wg.Wait()
}

func report(name, run string, n int, el, used time.Duration) {
	fmt.Printf("%-8s %-20s %10d %10.0f %14.1f\n", name, run, n, float64(n)/el.Seconds(), float64(used.Microseconds())/float64(n))
}

func cpu() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		log.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// sqlite is the product's queue.
type sqlite struct {
	db *sqlitequeue.DB
	q  *sqlitequeue.Queue
}

func openSQLite(dir string) (store, error) {
	db, err := sqlitequeue.Open(filepath.Join(dir, "queues.db"))
	if err != nil {
		return nil, err
	}
	return &sqlite{db: db, q: db.Queue("deliveries")}, nil
}

func (s *sqlite) send(ctx context.Context) error {
	return s.q.Send(ctx, queue.Message{Body: body, Attributes: attrs})
}

func (s *sqlite) consume(ctx context.Context, settled *atomic.Int64) {
	h := queue.BatchHandlerFunc(func(_ context.Context, msgs []queue.Message) queue.BatchResult {
		settled.Add(int64(len(msgs)))
		return queue.BatchResult{}
	})
	st := queue.Settings{BatchSize: 10, VisibilityTimeout: time.Minute, MaxReceives: 10, Concurrency: 20}
	if err := s.q.Consume(ctx, h, st, queue.SenderFunc(func(context.Context, ...queue.Message) error { return nil })); err != nil {
		log.Fatal(err)
	}
}

func (s *sqlite) close() { _ = s.db.Close() }

// pebbleQueue is the probe's bare queue: key 'm' + visible-at (µs) + id
// for a visible message, 'f' + deadline + id for one in flight.
type pebbleQueue struct {
	db   *pebble.DB
	id   atomic.Uint64
	wake chan struct{}

	mu     sync.Mutex // one claim at a time
	cursor []byte     // the last key claimed: claims seek past it
}

func openPebble(dir string) (store, error) {
	db, err := pebble.Open(dir, &pebble.Options{Logger: quiet{}})
	if err != nil {
		return nil, err
	}
	return &pebbleQueue{db: db, wake: make(chan struct{}, 1), cursor: []byte{'m'}}, nil
}

type quiet struct{}

func (quiet) Infof(string, ...any)  {}
func (quiet) Errorf(string, ...any) {}
func (quiet) Fatalf(format string, args ...any) {
	log.Fatalf(format, args...)
}

func key(prefix byte, at, id uint64) []byte {
	k := make([]byte, 17)
	k[0] = prefix
	binary.BigEndian.PutUint64(k[1:], at)
	binary.BigEndian.PutUint64(k[9:], id)
	return k
}

func (p *pebbleQueue) send(context.Context) error {
	if err := p.db.Set(key('m', uint64(time.Now().UnixMicro()), p.id.Add(1)), body, pebble.Sync); err != nil {
		return err
	}
	select {
	case p.wake <- struct{}{}:
	default:
	}
	return nil
}

// claim moves up to 10 visible messages in flight and returns their keys.
func (p *pebbleQueue) claim() ([][]byte, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	now := uint64(time.Now().UnixMicro())
	it, err := p.db.NewIter(&pebble.IterOptions{LowerBound: p.cursor, UpperBound: key('m', now+1, 0)})
	if err != nil {
		return nil, err
	}
	b := p.db.NewBatch()
	defer b.Close()
	var keys [][]byte
	for it.First(); it.Valid() && len(keys) < 10; it.Next() {
		k := it.Key()
		v, err := it.ValueAndErr()
		if err != nil {
			_ = it.Close()
			return nil, err
		}
		f := key('f', now+uint64(time.Minute.Microseconds()), binary.BigEndian.Uint64(k[9:]))
		if err := b.Delete(k, nil); err != nil {
			_ = it.Close()
			return nil, err
		}
		if err := b.Set(f, v, nil); err != nil {
			_ = it.Close()
			return nil, err
		}
		keys = append(keys, f)
		p.cursor = append(p.cursor[:0], k...)
	}
	if err := it.Close(); err != nil {
		return nil, err
	}
	if len(keys) == 0 {
		// a send may have committed a key behind the cursor (its time
		// taken before a later send's): look from the start next time
		p.cursor = append(p.cursor[:0], 'm')
		return nil, nil
	}
	return keys, b.Commit(pebble.NoSync)
}

func (p *pebbleQueue) consume(ctx context.Context, settled *atomic.Int64) {
	var wg sync.WaitGroup
	for range 20 {
		wg.Go(func() {
			for ctx.Err() == nil {
				keys, err := p.claim()
				if err != nil {
					log.Fatal(err)
				}
				if len(keys) == 0 {
					select {
					case <-p.wake:
					case <-time.After(time.Millisecond):
					case <-ctx.Done():
					}
					continue
				}
				b := p.db.NewBatch()
				for _, k := range keys {
					if err := b.Delete(k, nil); err != nil {
						log.Fatal(err)
					}
				}
				if err := b.Commit(pebble.NoSync); err != nil {
					log.Fatal(err)
				}
				_ = b.Close()
				settled.Add(int64(len(keys)))
			}
		})
	}
	wg.Wait()
}

func (p *pebbleQueue) close() { _ = p.db.Close() }
