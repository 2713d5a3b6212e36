package main

import (
	"bytes"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"time"
)

func listen() net.Listener {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		log.Fatal(err)
	}
	return ln
}

// sink is the webhook every system delivers to: it records when each
// (path, seq) first arrived; seq is the "seq" member of the event (its
// data's, in a CloudEvent).
type sink struct {
	url  string
	srv  *http.Server
	mu   sync.Mutex
	seen map[string]time.Time
	at   []time.Time // first arrivals, in order
	n    atomic.Int64
}

func newSink() *sink {
	s := &sink{seen: map[string]time.Time{}}
	ln := listen()
	s.url = "http://" + ln.Addr().String()
	s.srv = &http.Server{Handler: s}
	go func() { _ = s.srv.Serve(ln) }()
	return s
}

var seqKey = []byte(`"seq":"`)

func (s *sink) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	b, _ := io.ReadAll(r.Body)
	now := time.Now()
	seq := ""
	if i := bytes.Index(b, seqKey); i >= 0 {
		rest := b[i+len(seqKey):]
		if j := bytes.IndexByte(rest, '"'); j >= 0 {
			seq = string(rest[:j])
		}
	}
	k := r.URL.Path + "|" + seq
	s.mu.Lock()
	if _, ok := s.seen[k]; !ok {
		s.seen[k] = now
		s.at = append(s.at, now)
		s.n.Add(1)
	}
	s.mu.Unlock()
	w.WriteHeader(http.StatusNoContent)
}

func (s *sink) reset() {
	s.mu.Lock()
	s.seen = map[string]time.Time{}
	s.at = nil
	s.n.Store(0)
	s.mu.Unlock()
}

func (s *sink) count() int64 { return s.n.Load() }

// target is where an event is published and where its deliveries arrive.
type target struct {
	url, user, pass string
	// paths are the sink paths each event of this target is delivered to.
	paths []string
}

// load is one run of publishing.
type load struct {
	targets    []target
	n          int     // events
	rate       float64 // events/s offered, open loop; 0: closed loop
	publishers int     // concurrent publishers (closed loop)
	// honour makes a refused publisher wait its Retry-After before its
	// next publish, as a well-behaved client does.
	honour bool
	// keys, when positive, gives event i the field "key": "k<i mod keys>"
	// (the ordering key of the ordered case).
	keys int
	// batch, when above 1, is the events per publish request (a JSON array
	// of their bodies; one target only).
	batch int
}

// run is what publishing did.
type run struct {
	l             load
	due           []time.Time // when each event was (to be) sent
	status        []int32
	answered      []time.Duration // due time → the publish's answer
	start, stop   time.Time
	accepted      atomic.Int64
	refused       sync.Map // status → *atomic.Int64
	retryAfterMin atomic.Int64
	maxBacklog    atomic.Int64
	expected      atomic.Int64 // deliveries of accepted events
}

// client is the load driver's: no Accept-Encoding (Benthos's http_server
// would gzip every empty answer, a third of its CPU).
var client = &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 4096, MaxIdleConns: 4096, DisableCompression: true}, Timeout: 2 * time.Minute}

func body(seq string) []byte {
	return fmt.Appendf(nil, `{"seq":%q,"Context__c":{"string":"bench"},"CreatedById":"005Ws000001eUtGIAU","CreatedDate":1733842936}`, seq)
}

// keyed is body with an ordering key.
func keyed(seq, key string) []byte {
	return fmt.Appendf(nil, `{"seq":%q,"key":%q,"Context__c":{"string":"bench"},"CreatedById":"005Ws000001eUtGIAU","CreatedDate":1733842936}`, seq, key)
}

// publish runs the load and samples the backlog (accepted deliveries not
// yet arrived) every 50 ms until the last publish returned.
func publish(s *sink, l load) *run {
	s.reset()
	r := &run{l: l, due: make([]time.Time, l.n), status: make([]int32, l.n), answered: make([]time.Duration, l.n)}
	workers := l.publishers
	if l.rate > 0 {
		// open loop: enough to absorb slow answers, below the embedded
		// mode's 512 connections per client (embedded.DefaultMaxConnsPerClient)
		workers = max(workers, min(int(l.rate/4), 400))
	}
	var next atomic.Int64
	var wg sync.WaitGroup
	stopSampling := make(chan struct{})
	var sampler sync.WaitGroup
	sampler.Go(func() {
		t := time.NewTicker(50 * time.Millisecond)
		defer t.Stop()
		for {
			select {
			case <-stopSampling:
				return
			case <-t.C:
				if b := r.expected.Load() - s.count(); b > r.maxBacklog.Load() {
					r.maxBacklog.Store(b)
				}
			}
		}
	})
	per := max(l.batch, 1)
	if per > 1 && len(l.targets) != 1 {
		log.Fatal("a batched load has one target")
	}
	r.start = time.Now()
	for range workers {
		wg.Go(func() {
			for {
				first := int(next.Add(int64(per))) - per
				if first >= l.n {
					return
				}
				last := min(first+per, l.n) // events [first, last) in one request
				due := time.Now()
				if l.rate > 0 {
					due = r.start.Add(time.Duration(float64(first) / l.rate * float64(time.Second)))
					if d := time.Until(due); d > 0 {
						time.Sleep(d)
					}
				}
				t := l.targets[first%len(l.targets)]
				events := make([][]byte, 0, last-first)
				for i := first; i < last; i++ {
					e := body("e" + strconv.Itoa(i))
					if l.keys > 0 {
						e = keyed("e"+strconv.Itoa(i), "k"+strconv.Itoa(i%l.keys))
					}
					events = append(events, e)
				}
				b := events[0]
				if per > 1 { // a JSON array of the events
					b = slices.Concat([]byte("["), bytes.Join(events, []byte(",")), []byte("]"))
				}
				st, after := post(t, b)
				for i := first; i < last; i++ {
					r.due[i], r.answered[i], r.status[i] = due, time.Since(due), int32(st)
				}
				if st == http.StatusAccepted || st == http.StatusOK {
					r.accepted.Add(int64(last - first))
					r.expected.Add(int64((last - first) * len(t.paths)))
					continue
				}
				c, _ := r.refused.LoadOrStore(st, new(atomic.Int64))
				c.(*atomic.Int64).Add(int64(last - first))
				if after > 0 && (r.retryAfterMin.Load() == 0 || after < r.retryAfterMin.Load()) {
					r.retryAfterMin.Store(after)
				}
				if l.honour && after > 0 {
					time.Sleep(time.Duration(after) * time.Second)
				}
			}
		})
	}
	wg.Wait()
	r.stop = time.Now()
	close(stopSampling)
	sampler.Wait()
	return r
}

// post publishes one body: the status, and Retry-After in seconds.
func post(t target, b []byte) (int, int64) {
	req, err := http.NewRequest(http.MethodPost, t.url, bytes.NewReader(b))
	if err != nil {
		log.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	if t.user != "" {
		req.SetBasicAuth(t.user, t.pass)
	}
	res, err := client.Do(req)
	if err != nil {
		return 0, 0
	}
	_, _ = io.Copy(io.Discard, res.Body)
	res.Body.Close()
	after, _ := strconv.ParseInt(res.Header.Get("Retry-After"), 10, 64)
	if res.StatusCode >= 300 && res.StatusCode != 429 && res.StatusCode != 503 {
		log.Fatalf("publish to %s: status %d", t.url, res.StatusCode)
	}
	return res.StatusCode, after
}

// await waits until every accepted event arrived at each of its paths.
func await(s *sink, r *run, timeout time.Duration) bool {
	want := r.expected.Load()
	deadline := time.Now().Add(timeout)
	for s.count() < want {
		if time.Now().After(deadline) {
			return false
		}
		time.Sleep(2 * time.Millisecond)
	}
	return true
}

// stats are a run's delivery figures.
type stats struct {
	deliveries      int64
	first, last     time.Time
	p50, p99, p999  time.Duration
	ack50, ack99    time.Duration // of the accepted publishes' answers
	lost            int64
	refusedByStatus map[int]int64
}

// measure computes the latencies (publish due time → first arrival) of the
// accepted events' deliveries.
func measure(s *sink, r *run) stats {
	s.mu.Lock()
	defer s.mu.Unlock()
	st := stats{refusedByStatus: map[int]int64{}}
	lat := make([]time.Duration, 0, r.expected.Load())
	var ack []time.Duration
	for i, code := range r.status {
		if code != http.StatusAccepted && code != http.StatusOK {
			continue
		}
		ack = append(ack, r.answered[i])
		seq := "e" + strconv.Itoa(i)
		for _, p := range r.l.targets[i%len(r.l.targets)].paths {
			at, ok := s.seen[p+"|"+seq]
			if !ok {
				st.lost++
				continue
			}
			st.deliveries++
			if st.first.IsZero() || at.Before(st.first) {
				st.first = at
			}
			if at.After(st.last) {
				st.last = at
			}
			lat = append(lat, at.Sub(r.due[i]))
		}
	}
	r.refused.Range(func(k, v any) bool {
		st.refusedByStatus[k.(int)] = v.(*atomic.Int64).Load()
		return true
	})
	if len(lat) > 0 {
		slices.Sort(lat)
		st.p50, st.p99, st.p999 = lat[len(lat)/2], lat[len(lat)*99/100], lat[len(lat)*999/1000]
	}
	if len(ack) > 0 {
		slices.Sort(ack)
		st.ack50, st.ack99 = ack[len(ack)/2], ack[len(ack)*99/100]
	}
	return st
}

// arrivedBetween counts first arrivals in [from, to).
func (s *sink) arrivedBetween(from, to time.Time) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := 0
	for _, at := range s.at {
		if !at.Before(from) && at.Before(to) {
			n++
		}
	}
	return n
}
