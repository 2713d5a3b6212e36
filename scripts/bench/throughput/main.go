// Command throughput measures publish→webhook in the embedded mode against a
// local sink, with concurrent publishers, and, in the same run, the ceiling:
// a bare Go two-hop relay (POST in → synchronous POST to the same sink).
//
//	go run ./scripts/bench/throughput [-events 20000] [-publishers 50] [-journal both]
//
// Every event is durably queued (SQLite, synchronous=FULL) before its 202.
// With -journal both (the default) each scenario runs without, then with,
// the delivery log, -rounds times alternately (the machine's other work
// weighs on both alike), and compares the best run of each; the size of
// journal.db is reported per million attempts.
package main

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"log"
	"log/slog"

	"net/http"
	"net/http/httptest"
	"net/netip"
	"net/url"
	"os"
	"path/filepath"
	"runtime"
	"runtime/pprof"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	_ "modernc.org/sqlite" // the journal's size

	"github.com/herokuevents/herokuevents/infra/embedded"
	journallog "github.com/herokuevents/herokuevents/shared/journal"
)

func main() {
	events := flag.Int("events", 20000, "events per scenario")
	publishers := flag.Int("publishers", 50, "concurrent publishers")
	paced := flag.Int("paced", 1000, "events/s of a second, paced run that measures latency below saturation (0 = skip)")
	cpuprofile := flag.String("cpuprofile", "", "write a CPU profile of the herokuevents runs to this file")
	journalMode := flag.String("journal", "both", "the delivery log: on, off, or both (off then on, in the same run)")
	rounds := flag.Int("rounds", 2, "with -journal both, how many times each scenario runs off then on")
	flag.Parse()
	modes := map[string][]bool{"on": {true}, "off": {false}, "both": {false, true}}[*journalMode]
	if modes == nil {
		log.Fatalf("-journal %q: use on, off or both", *journalMode)
	}
	ctx := context.Background()

	sink := newSink()
	defer sink.Close()
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: *publishers * 2}}

	fmt.Printf("publish→webhook, %d events, %d concurrent publishers, GOMAXPROCS=%d\n\n", *events, *publishers, runtimeProcs())
	fmt.Printf("%-34s %12s %10s %10s\n", "scenario", "events/s", "p50", "p99")

	relay := runRelay(ctx, client, sink, *events, *publishers)
	relay.print("bare Go relay (ceiling)")

	for _, sc := range []struct{ name, target string }{
		{"herokuevents direct (publication)", "systemStatus"},
		{"herokuevents via stream + filter", "inbound"},
	} {
		best := map[bool]result{}
		for round := range max(*rounds, 1) {
			if len(modes) == 1 && round > 0 {
				break
			}
			for _, journal := range modes {
				name := sc.name
				if len(modes) > 1 {
					name = fmt.Sprintf("%s, log %s", sc.target, map[bool]string{false: "off", true: "on"}[journal])
				}
				if *cpuprofile != "" {
					f, err := os.Create(fmt.Sprintf("%s.%s.%v", *cpuprofile, sc.target, journal))
					if err != nil {
						log.Fatal(err)
					}
					if err := pprof.StartCPUProfile(f); err != nil {
						log.Fatal(err)
					}
				}
				r := runEmbedded(ctx, client, sink, sc.target, *events, *publishers, 0, journal)
				pprof.StopCPUProfile()
				r.print(name)
				if r.rate > best[journal].rate {
					best[journal] = r
				}
			}
		}
		for _, journal := range modes {
			r := best[journal]
			label := sc.name
			if len(modes) > 1 {
				label = map[bool]string{false: "  best, log off", true: "  best, log on"}[journal]
			}
			fmt.Printf("%-34s %12.0f %10s %10s %6.2fx relay\n", label, r.rate, r.p50.Round(10*time.Microsecond), r.p99.Round(10*time.Microsecond), r.rate/relay.rate)
		}
		if len(modes) > 1 {
			fmt.Printf("%-34s %+11.1f%%\n", "  events/s, log on vs off", 100*(best[true].rate/best[false].rate-1))
		}
		if r, ok := best[true]; ok {
			fmt.Printf("%-34s %12.0f  (%d bytes of journal.db: %d attempts, %d entries)\n", "  journal MB per million attempts",
				float64(r.journalBytes)/float64(*events)*1e6/(1<<20), r.journalBytes, *events, r.journalEntries)
		}
		if *paced > 0 {
			for _, journal := range modes {
				p := runEmbedded(ctx, client, sink, sc.target, min(*events, 5**paced), *publishers, *paced, journal)
				p.print(fmt.Sprintf("  paced at %d/s, log %s", *paced, map[bool]string{false: "off", true: "on"}[journal]))
			}
		}
	}
}

func runtimeProcs() int { return runtime.GOMAXPROCS(0) }

// sink records when each event (by a "seq" in its data or body) arrived.
type sink struct {
	*httptest.Server
	mu   sync.Mutex
	seen map[string]time.Time
	hits atomic.Int64
}

func newSink() *sink {
	s := &sink{seen: map[string]time.Time{}}
	s.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var body struct {
			Seq  string `json:"seq"`
			Data struct {
				Seq string `json:"seq"`
			} `json:"data"`
		}
		b, _ := io.ReadAll(r.Body)
		_ = json.Unmarshal(b, &body)
		seq := body.Seq
		if seq == "" {
			seq = body.Data.Seq
		}
		now := time.Now()
		s.mu.Lock()
		if _, ok := s.seen[seq]; !ok {
			s.seen[seq] = now
		}
		s.mu.Unlock()
		s.hits.Add(1)
		w.WriteHeader(http.StatusNoContent)
	}))
	return s
}

func (s *sink) reset() {
	s.mu.Lock()
	s.seen = map[string]time.Time{}
	s.mu.Unlock()
}

func (s *sink) count() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.seen)
}

type result struct {
	rate     float64
	p50, p99 time.Duration
	// journalBytes is the size of journal.db (and its WAL) once the
	// server closed; journalEntries its rows.
	journalBytes   int64
	journalEntries int64
}

func (r result) print(name string) {
	fmt.Printf("%-34s %12.0f %10s %10s\n", name, r.rate, r.p50.Round(10*time.Microsecond), r.p99.Round(10*time.Microsecond))
}

// drive runs publishers that POST n events through post, then waits for the
// sink to have them all, and computes the rate and latencies.
func drive(s *sink, n, publishers int, post func(seq string, body []byte) error) result {
	return drivePaced(s, n, publishers, 0, post)
}

// drivePaced is drive with the publishers together limited to rate events/s
// (no limit when rate ≤ 0).
func drivePaced(s *sink, n, publishers, rate int, post func(seq string, body []byte) error) result {
	s.reset()
	var tokens <-chan time.Time
	if rate > 0 {
		t := time.NewTicker(time.Second / time.Duration(rate))
		defer t.Stop()
		tokens = t.C
	}
	sent := make([]time.Time, n)
	var next atomic.Int64
	var wg sync.WaitGroup
	start := time.Now()
	for range publishers {
		wg.Go(func() {
			for {
				i := int(next.Add(1)) - 1
				if i >= n {
					return
				}
				if tokens != nil {
					<-tokens
				}
				seq := fmt.Sprintf("e%d", i)
				body := fmt.Appendf(nil, `{"seq":%q,"Context__c":{"string":"bench"},"CreatedById":"005Ws000001eUtGIAU","CreatedDate":1733842936}`, seq)
				sent[i] = time.Now()
				if err := post(seq, body); err != nil {
					log.Fatalf("publish %d: %v", i, err)
				}
			}
		})
	}
	wg.Wait()
	deadline := time.Now().Add(2 * time.Minute)
	for s.count() < n {
		if time.Now().After(deadline) {
			log.Fatalf("only %d of %d events delivered", s.count(), n)
		}
		time.Sleep(2 * time.Millisecond)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	var last time.Time
	lat := make([]time.Duration, 0, n)
	for i := range n {
		at := s.seen[fmt.Sprintf("e%d", i)]
		if at.After(last) {
			last = at
		}
		lat = append(lat, at.Sub(sent[i]))
	}
	slices.Sort(lat)
	return result{
		rate: float64(n) / last.Sub(start).Seconds(),
		p50:  lat[len(lat)/2],
		p99:  lat[len(lat)*99/100],
	}
}

func runRelay(_ context.Context, client *http.Client, s *sink, n, publishers int) result {
	relay := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		res, err := client.Post(s.URL, "application/json", bytes.NewReader(b))
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadGateway)
			return
		}
		io.Copy(io.Discard, res.Body)
		res.Body.Close()
		w.WriteHeader(http.StatusAccepted)
	}))
	defer relay.Close()
	return drive(s, n, publishers, func(_ string, body []byte) error {
		return postOK(client, relay.URL+"/relay", "", "", body)
	})
}

func runEmbedded(ctx context.Context, client *http.Client, s *sink, target string, n, publishers, rate int, journal bool) result {
	dir, err := os.MkdirTemp("", "herokuevents-bench")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)
	srv, err := embedded.Start(ctx, embedded.Options{
		Addr: "127.0.0.1:0", DataDir: dir, App: "bench-app",
		AllowEgress: []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")},
		Logger:      slog.New(slog.NewJSONHandler(io.Discard, nil)),
		NoJournal:   !journal,
		Journal:     journallog.Retention{PerPublication: 2 * n}, // keep every attempt: the size is of all of them
	})
	if err != nil {
		log.Fatal(err)
	}
	defer srv.Close()
	api, _ := url.Parse(srv.Var("HEROKUEVENTS_API_URL"))
	key, _ := api.User.Password()
	api.User = nil
	for _, c := range []struct {
		path string
		body any
	}{
		{"/platforms/webhook/subscriptions", map[string]any{"name": "inbound"}},
		{"/platforms/webhook/publications", map[string]any{"name": "systemStatus", "url": s.URL + "/hook", "skip_handshake": true}},
		{"/streams", map[string]any{"source": "inbound", "target": "systemStatus", "filter": `root = if this.Context__c.string == "drop" { deleted() } else { this }`}},
	} {
		b, _ := json.Marshal(c.body)
		req, _ := http.NewRequest(http.MethodPost, api.String()+c.path, bytes.NewReader(b))
		req.Header.Set("Authorization", "Bearer "+key)
		res, err := client.Do(req)
		if err != nil || res.StatusCode != http.StatusCreated {
			log.Fatalf("create %s: %v %v", c.path, err, res)
		}
		res.Body.Close()
	}
	pub, _ := url.Parse(srv.Var("HEROKUEVENTS_PUBLISH_URL"))
	user := pub.User.Username()
	pass, _ := pub.User.Password()
	pub.User = nil
	endpoint := strings.TrimSuffix(pub.String(), "/") + "/" + target
	r := drivePaced(s, n, publishers, rate, func(_ string, body []byte) error {
		return postOK(client, endpoint, user, pass, body)
	})
	if journal {
		if err := srv.FlushJournal(ctx); err != nil {
			log.Fatal(err)
		}
		if err := srv.Close(); err != nil {
			log.Fatal(err)
		}
		r.journalBytes, r.journalEntries = journalSize(filepath.Join(dir, "journal.db"))
	}
	return r
}

// journalSize is the size of the journal file and its WAL, and its rows.
func journalSize(path string) (size, rows int64) {
	for _, p := range []string{path, path + "-wal"} {
		if st, err := os.Stat(p); err == nil {
			size += st.Size()
		}
	}
	db, err := sql.Open("sqlite", "file:"+path+"?mode=ro")
	if err != nil {
		log.Fatal(err)
	}
	defer db.Close()
	if err := db.QueryRow(`SELECT COUNT(*) FROM entry`).Scan(&rows); err != nil {
		log.Fatal(err)
	}
	return size, rows
}

func postOK(client *http.Client, endpoint, user, pass string, body []byte) error {
	req, err := http.NewRequest(http.MethodPost, endpoint, bytes.NewReader(body))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	if user != "" {
		req.SetBasicAuth(user, pass)
	}
	res, err := client.Do(req)
	if err != nil {
		return err
	}
	defer res.Body.Close()
	io.Copy(io.Discard, res.Body)
	if res.StatusCode != http.StatusAccepted {
		return fmt.Errorf("status %d", res.StatusCode)
	}
	return nil
}
