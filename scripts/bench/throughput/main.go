// Command throughput measures publish→webhook delivery on this machine, all
// systems in one run so that their ratios are comparable on a noisy host:
//
//   - a bare Go two-hop relay (POST in → synchronous POST to the sink): the ceiling;
//   - Benthos core (http_server → Bloblang mapping → http_client, not
//     durable), built from the Go module proxy into a scratch directory at
//     the version go.mod requires;
//   - herokuevents embedded, direct to a publication and through a stream
//     with a Bloblang filter, the delivery log on, every event durable
//     (SQLite, synchronous=FULL) before its 202.
//
// Each system is a child process of this program, so its CPU time (per
// delivered event), RSS and data-dir size are its own; the load driver and
// the sink live here, and their CPU time per event is shown beside it. From
// those figures the saturation case derives each throughput target's CPU
// budget: at the target rate, the cores the relay kept busy less the load
// driver's and sink's share leave herokuevents that much per delivery.
// Then, on herokuevents through the stream: latency at paced loads,
// overload at -overload-x × the saturation rate (delivered rate vs peak,
// refusals, backlog bound, drain), fan-out to 1/10/50 publications, many
// tenants round-robin, publishing into a large backlog (its publication
// paused) then its drain, and an ordered publication (--ordered-by) over 1,
// 50 and 5,000 keys beside an unordered one.
//
//	go run ./scripts/bench/throughput                 # everything, full sizes (~10 min)
//	go run ./scripts/bench/throughput -short          # every case, small sizes (~2 min)
//	go run ./scripts/bench/throughput -cases saturation -reps 3
//	go run ./scripts/bench/throughput -cases ordered -events 5000
//	go run ./scripts/bench/throughput -cases saturation -cpuprofile /tmp/stream.pprof -fsyncs
package main

import (
	"bytes"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"log"
	"net/http"
	"os"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

type settings struct {
	events, publishers, reps int
	batch                    int
	paced                    []float64
	pacedFor                 time.Duration
	overloadX                float64
	overloadFor              time.Duration
	fanout                   []int
	fanoutDeliveries         int
	tenants                  int
	backlog                  int
	cases                    map[string]bool
	cpuprofile               string
	trace                    string
	fsyncs                   bool
	wait                     time.Duration
	journal                  bool
	benthosInFlight          int
	maxBacklog               int64
	ignoreRetryAfter         bool
	orderedKeys              []int
}

func main() {
	if child() {
		return
	}
	var s settings
	short := flag.Bool("short", false, "small sizes for a quick run (flags given explicitly still win)")
	flag.IntVar(&s.events, "events", 20000, "events per saturation run (and the tenants case)")
	flag.IntVar(&s.publishers, "publishers", 50, "concurrent publishers of the closed-loop runs")
	flag.IntVar(&s.reps, "reps", 1, "repetitions of the saturation runs (relay, Benthos, direct, stream side by side)")
	paced := flag.String("paced", "500,2000", "offered rates (events/s) of the paced latency runs through the stream")
	flag.DurationVar(&s.pacedFor, "paced-for", 10*time.Second, "duration of each paced run")
	flag.Float64Var(&s.overloadX, "overload-x", 2.5, "overload offered rate as a multiple of the stream's saturation rate")
	flag.DurationVar(&s.overloadFor, "overload-for", 60*time.Second, "duration of the overload")
	fan := flag.String("fanout", "1,10,50", "publications fed by one subscription")
	flag.IntVar(&s.fanoutDeliveries, "fanout-deliveries", 20000, "deliveries per fan-out run (events = this / publications)")
	flag.IntVar(&s.tenants, "tenants", 500, "tenants publishing round-robin")
	flag.IntVar(&s.backlog, "backlog", 200000, "events published behind a paused publication, then drained")
	cases := flag.String("cases", "saturation,batched,paced,overload,fanout,tenants,backlog,ordered", "cases to run")
	keys := flag.String("ordered-keys", "0,1,50,5000", "ordered case: keys of an ordered publication (0: unordered), side by side")
	flag.IntVar(&s.batch, "batch", 10, "batched case: events per publish request (a JSON array), direct and through the stream beside the relay")
	flag.StringVar(&s.trace, "trace", "", "write an execution trace of herokuevents in the first paced run here (go tool trace)")
	flag.StringVar(&s.cpuprofile, "cpuprofile", "", "write the CPU profile of herokuevents in the (first) stream saturation run here (and of the paced, overload, tenants and backlog cases beside it)")
	flag.BoolVar(&s.fsyncs, "fsyncs", false, "count fsync+fdatasync per event through the stream (strace -c, an extra run at saturation and one at 500 ev/s)")
	flag.DurationVar(&s.wait, "wait", 5*time.Minute, "longest wait for the deliveries of a run")
	flag.IntVar(&s.benthosInFlight, "benthos-in-flight", 64, "max_in_flight of Benthos's http_client output (its default is 64; its transport keeps 2 idle connections per host)")
	flag.Int64Var(&s.maxBacklog, "max-backlog", 0, "embedded.Options.MaxBacklog of herokuevents (0: its default; the backlog case lifts it)")
	flag.BoolVar(&s.ignoreRetryAfter, "ignore-retry-after", false, "overload: refused publishers go on at once (hostile clients) instead of waiting Retry-After")
	journal := flag.String("journal", "on", "the delivery log of herokuevents: on or off")
	flag.Parse()
	set := map[string]bool{}
	flag.Visit(func(f *flag.Flag) { set[f.Name] = true })
	if *short {
		for name, v := range map[string]string{"events": "3000", "paced-for": "3s", "overload-for": "10s", "fanout-deliveries": "3000", "tenants": "50", "backlog": "10000"} {
			if !set[name] {
				_ = flag.Set(name, v)
			}
		}
	}
	s.journal = *journal != "off"
	s.paced = parseList(*paced, func(v string) (float64, error) { return strconv.ParseFloat(v, 64) })
	s.fanout = parseList(*fan, strconv.Atoi)
	s.orderedKeys = parseList(*keys, strconv.Atoi)
	s.cases = map[string]bool{}
	for _, c := range strings.Split(*cases, ",") {
		s.cases[strings.TrimSpace(c)] = true
	}
	bench(s)
}

func parseList[T any](s string, parse func(string) (T, error)) []T {
	var out []T
	for _, f := range strings.Split(s, ",") {
		if f = strings.TrimSpace(f); f == "" {
			continue
		}
		v, err := parse(f)
		if err != nil {
			log.Fatalf("list %q: %v", s, err)
		}
		out = append(out, v)
	}
	return out
}

// row is one line of the report.
type row struct {
	name           string
	offered        float64 // events/s, 0 for closed loop
	rate           float64 // events/s delivered (accepted events / time to last delivery)
	deliveries     float64 // deliveries/s
	p50, p99, p999 time.Duration
	cpuPerDelivery time.Duration
	// driverPerDelivery is what this process (the load driver and the
	// sink) spent per delivery; busy is the cores the system under test
	// and this process kept busy together, on average over the run.
	driverPerDelivery time.Duration
	busy              float64
	rss, hwm, data    int64
	note              string
}

func header() {
	fmt.Printf("%-38s %8s %9s %9s %9s %9s %9s %8s %7s %7s %8s  %s\n",
		"case", "offered", "events/s", "deliv/s", "p50", "p99", "p99.9", "CPU/del", "RSS MB", "peak", "data MB", "note")
}

func (r row) print() {
	offered := "closed"
	if r.offered > 0 {
		offered = fmt.Sprintf("%.0f", r.offered)
	}
	fmt.Printf("%-38s %8s %9.0f %9.0f %9s %9s %9s %6.0fµs %7.1f %7.1f %8.1f  %s\n",
		r.name, offered, r.rate, r.deliveries, dur(r.p50), dur(r.p99), dur(r.p999),
		float64(r.cpuPerDelivery)/float64(time.Microsecond), mb(r.rss), mb(r.hwm), mb(r.data), r.note)
}

func dur(d time.Duration) string {
	switch {
	case d >= 10*time.Second:
		return d.Round(100 * time.Millisecond).String()
	case d >= 10*time.Millisecond:
		return d.Round(100 * time.Microsecond).String()
	default:
		return d.Round(10 * time.Microsecond).String()
	}
}

func mb(b int64) float64 { return float64(b) / (1 << 20) }

// selfCPU is the CPU time this process (the load driver and the sink) has
// used so far.
func selfCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		log.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// measured runs a load against p and computes its row.
func measured(name string, p *proc, s *sink, l load, wait time.Duration) (row, *run, stats) {
	u0, d0 := p.usage(), selfCPU()
	r := publish(s, l)
	if !await(s, r, wait) {
		log.Printf("%s: only %d of %d deliveries within %s", name, s.count(), r.expected.Load(), wait)
	}
	u1, d1 := p.usage(), selfCPU()
	st := measure(s, r)
	fan := float64(st.deliveries) / max(float64(r.accepted.Load()), 1)
	span := st.last.Sub(r.start).Seconds()
	out := row{
		name: name, offered: l.rate,
		deliveries: float64(st.deliveries) / span,
		p50:        st.p50, p99: st.p99, p999: st.p999,
		rss: u1.rss, hwm: u1.hw, data: p.dataSize(),
	}
	out.rate = out.deliveries / max(fan, 1)
	if st.deliveries > 0 {
		out.cpuPerDelivery = (u1.cpu - u0.cpu) / time.Duration(st.deliveries)
		out.driverPerDelivery = (d1 - d0) / time.Duration(st.deliveries)
		out.busy = (u1.cpu - u0.cpu + d1 - d0).Seconds() / span
	}
	if n := l.n - int(r.accepted.Load()); n > 0 {
		out.note = fmt.Sprintf("%d refused %v", n, st.refusedByStatus)
	}
	if st.lost > 0 {
		out.note += fmt.Sprintf(" %d LOST", st.lost)
	}
	if steal := u1.steal - u0.steal; steal >= 100*time.Millisecond {
		out.note = strings.TrimSpace(fmt.Sprintf("%s steal %.1fs", out.note, steal.Seconds()))
	}
	return out, r, st
}

func bench(s settings) {
	sk := newSink()
	fmt.Printf("publish→webhook, GOMAXPROCS=%d, %d CPUs, %d closed-loop publishers, delivery log %v\n\n",
		runtime.GOMAXPROCS(0), runtime.NumCPU(), s.publishers, map[bool]string{true: "on", false: "off"}[s.journal])
	header()
	peak := 0.0 // events/s through the stream at saturation
	if s.cases["saturation"] || s.cases["overload"] || s.cases["backlog"] {
		peak = saturation(s, sk)
	}
	if s.cases["batched"] {
		batched(s, sk)
	}
	if s.cases["paced"] {
		for i, rate := range s.paced {
			tr, prof := "", ""
			if i == 0 {
				tr = s.trace
			}
			if s.cpuprofile != "" {
				prof = fmt.Sprintf("%s.paced%.0f", s.cpuprofile, rate)
			}
			p, t := streamServer(embeddedOpts{journal: s.journal, maxBacklog: s.maxBacklog, trace: tr, cpuprofile: prof}, sk)
			r, _, st := measured(fmt.Sprintf("stream paced %.0f/s", rate), p, sk, load{targets: []target{t.stream}, n: int(rate * s.pacedFor.Seconds()), rate: rate}, s.wait)
			p.stop()
			r.note = strings.TrimSpace(fmt.Sprintf("202 p50 %s p99 %s %s", dur(st.ack50), dur(st.ack99), r.note))
			r.print()
		}
	}
	if s.fsyncs {
		fsyncs(s, sk)
	}
	if s.cases["overload"] {
		overload(s, sk, peak)
	}
	if s.cases["fanout"] {
		for _, k := range s.fanout {
			fanout(s, sk, k)
		}
	}
	if s.cases["tenants"] {
		tenants(s, sk)
	}
	if s.cases["backlog"] {
		backlog(s, sk, peak)
	}
	if s.cases["ordered"] {
		ordered(s, sk)
	}
}

// batched publishes -events to the publication and through the stream in
// requests of -batch events each, from -publishers / -batch publishers (as
// many events in flight as the saturation runs), beside the bare relay's
// one event per request (its ceiling), and prints the ratios.
func batched(s settings, sk *sink) {
	p := startRelay(sk.url)
	relay, _, _ := measured("bare Go relay (ceiling)", p, sk, load{targets: []target{{url: p.first["url"] + "/hook/relay", paths: []string{"/hook/relay"}}}, n: s.events, publishers: s.publishers}, s.wait)
	p.stop()
	relay.print()
	rows := []row{}
	for _, c := range []struct {
		name   string
		direct bool
	}{{"direct", true}, {"stream", false}} {
		p, t := streamServer(embeddedOpts{journal: s.journal, maxBacklog: s.maxBacklog}, sk)
		tg := t.stream
		if c.direct {
			tg = t.direct
		}
		r, _, _ := measured(fmt.Sprintf("herokuevents %s, %d per publish", c.name, s.batch), p, sk, load{targets: []target{tg}, n: s.events, publishers: max(s.publishers/s.batch, 1), batch: s.batch}, s.wait)
		p.stop()
		r.print()
		rows = append(rows, r)
	}
	for _, r := range rows {
		fmt.Printf("  %-36s %.2f × relay, %.0f µs CPU per delivery\n", r.name, r.rate/relay.rate, float64(r.cpuPerDelivery)/1e3)
	}
	fmt.Println()
}

// ordered publishes -events to one publication, unordered and ordered by
// the events' "key" field (--ordered-by this.key) over 1, 50, 5,000 keys,
// one after the other in the same run: an ordered lane delivers one event
// at a time, so one key is bound by one delivery's round trip, and many
// keys approach the unordered rate.
func ordered(s settings, sk *sink) {
	for _, keys := range s.orderedKeys {
		p, t := streamServer(embeddedOpts{journal: s.journal, maxBacklog: s.maxBacklog}, sk)
		name := "direct, unordered"
		if keys > 0 {
			tn := tenantOf(p.first)
			call(tn.api+"/publications/systemStatus", tn.key, http.MethodPatch, map[string]any{"ordered_by": "this.key"}, nil)
			name = fmt.Sprintf("direct, ordered, %d keys", keys)
		}
		r, _, _ := measured(name, p, sk, load{targets: []target{t.direct}, n: s.events, publishers: s.publishers, keys: keys}, s.wait)
		p.stop()
		r.print()
	}
}

// saturation runs relay, Benthos, direct and stream side by side, -reps
// times, and prints each run and their ratios; it returns the best stream
// rate.
func saturation(s settings, sk *sink) float64 {
	bin, err := buildBenthos()
	if err != nil {
		log.Fatal(err)
	}
	type rep struct{ relay, benthos, direct, stream row }
	var reps []rep
	closed := func(t target, n int) load { return load{targets: []target{t}, n: n, publishers: s.publishers} }
	for i := range max(s.reps, 1) {
		var r rep
		p := startRelay(sk.url)
		r.relay, _, _ = measured("bare Go relay (ceiling)", p, sk, closed(target{url: p.first["url"] + "/hook/relay", paths: []string{"/hook/relay"}}, s.events), s.wait)
		p.stop()
		r.relay.print()

		p = startBenthos(bin, sk.url, s.benthosInFlight)
		r.benthos, _, _ = measured("Benthos core (not durable)", p, sk, closed(target{url: p.first["url"] + "/post", paths: []string{"/hook"}}, s.events), s.wait)
		p.stop()
		r.benthos.print()

		p, t := streamServer(embeddedOpts{journal: s.journal, maxBacklog: s.maxBacklog}, sk)
		r.direct, _, _ = measured("herokuevents direct", p, sk, closed(t.direct, s.events), s.wait)
		p.stop()
		r.direct.print()

		prof := ""
		if i == 0 {
			prof = s.cpuprofile
		}
		p, t = streamServer(embeddedOpts{journal: s.journal, cpuprofile: prof, maxBacklog: s.maxBacklog}, sk)
		r.stream, _, _ = measured("herokuevents stream + filter", p, sk, closed(t.stream, s.events), s.wait)
		p.stop()
		r.stream.print()
		reps = append(reps, r)
	}
	fmt.Println()
	fmt.Printf("%-38s %18s %18s %18s %14s %10s\n", "ratios in the same run", "× relay", "× Benthos", "CPU µs/delivery", "driver+sink µs", "cores busy")
	var best float64
	for i, r := range reps {
		for _, c := range []struct {
			name string
			r    row
		}{{"relay", r.relay}, {"benthos", r.benthos}, {"direct", r.direct}, {"stream", r.stream}} {
			fmt.Printf("  run %d %-31s %18.2f %18.2f %18.0f %14.0f %10.2f\n", i+1, c.name, c.r.rate/r.relay.rate, c.r.rate/r.benthos.rate,
				float64(c.r.cpuPerDelivery)/1e3, float64(c.r.driverPerDelivery)/1e3, c.r.busy)
		}
		best = max(best, r.stream.rate)
	}
	fmt.Println()
	fmt.Println("CPU budgets of the targets (issue 16), from each run's figures: at the target rate, the cores the relay kept busy,")
	fmt.Println("less what the load driver and sink spend per event in herokuevents' own run, leave herokuevents at most this per delivery:")
	for i, r := range reps {
		for _, t := range []struct {
			name string
			of   row
			x    float64
			on   row
		}{{"stream ≥ 0.40× relay", r.relay, 0.40, r.stream}, {"stream ≥ 1.5× Benthos", r.benthos, 1.5, r.stream}, {"direct ≥ 0.55× relay", r.relay, 0.55, r.direct}} {
			rate := t.x * t.of.rate
			budget := r.relay.busy*1e6/max(rate, 1) - float64(t.on.driverPerDelivery)/1e3
			fmt.Printf("  run %d %-31s %8.0f ev/s  ≤ %4.0f µs per delivery (it took %.0f µs)\n", i+1, t.name, rate, budget, float64(t.on.cpuPerDelivery)/1e3)
		}
	}
	if s.cpuprofile != "" {
		fmt.Printf("  CPU profile of the first stream run: %s (go tool pprof -top %s)\n", s.cpuprofile, s.cpuprofile)
	}
	fmt.Println()
	return best
}

// fsyncs counts fsync and fdatasync calls per event through the stream,
// at saturation and at 500 ev/s.
func fsyncs(s settings, sk *sink) {
	for _, rate := range []float64{0, 500} {
		p, t := streamServer(embeddedOpts{journal: s.journal, strace: true, maxBacklog: s.maxBacklog}, sk)
		n := s.events
		if rate > 0 {
			n = int(rate * s.pacedFor.Seconds())
		}
		// what setting up made is not counted: the counter starts here
		r, _, _ := measured("stream under strace", p, sk, load{targets: []target{t.stream}, n: n, rate: rate, publishers: s.publishers}, s.wait)
		syncs := p.stop()
		label := "saturation"
		if rate > 0 {
			label = fmt.Sprintf("%.0f/s", rate)
		}
		fmt.Printf("%-38s %8s %9.0f  fsync+fdatasync: %d calls, %.2f per event (incl. setup and shutdown)\n", "fsyncs per event, "+label, "", r.rate, syncs, float64(syncs)/float64(n))
	}
}

// overload offers x × peak for a while, then measures the drain.
func overload(s settings, sk *sink, peak float64) {
	if peak <= 0 {
		log.Print("overload: no saturation rate measured")
		return
	}
	offered := s.overloadX * peak
	prof := ""
	if s.cpuprofile != "" {
		prof = s.cpuprofile + ".overload"
	}
	p, t := streamServer(embeddedOpts{journal: s.journal, cpuprofile: prof, maxBacklog: s.maxBacklog}, sk)
	defer p.stop()
	l := load{targets: []target{t.stream}, n: int(offered * s.overloadFor.Seconds()), rate: offered, honour: !s.ignoreRetryAfter}
	u0 := p.usage()
	r := publish(sk, l)
	backlogAtStop := r.expected.Load() - sk.count()
	await(sk, r, s.wait)
	u1 := p.usage()
	st := measure(sk, r)
	span := r.stop.Sub(r.start)
	during := float64(sk.arrivedBetween(r.start, r.stop)) / span.Seconds()
	half := r.start.Add(span / 2)
	late := float64(sk.arrivedBetween(half, r.stop)) / r.stop.Sub(half).Seconds()
	drain := st.last.Sub(r.stop)
	clients := map[bool]string{false: "clients wait Retry-After", true: "clients ignore Retry-After"}[s.ignoreRetryAfter]
	out := row{name: fmt.Sprintf("stream overload %.1f× for %s", s.overloadX, s.overloadFor), offered: offered, note: clients, rate: during, deliveries: during,
		p50: st.p50, p99: st.p99, p999: st.p999, rss: u1.rss, hwm: u1.hw, data: p.dataSize()}
	if st.deliveries > 0 {
		out.cpuPerDelivery = (u1.cpu - u0.cpu) / time.Duration(st.deliveries)
	}
	out.print()
	fmt.Printf("  delivered while overloaded %.0f/s = %.0f%% of peak %.0f/s (second half %.0f/s = %.0f%%)\n", during, 100*during/peak, peak, late, 100*late/peak)
	fmt.Printf("  accepted %d of %d, refused %v (smallest Retry-After %ds); backlog max %d, %d at stop, drained in %s (%.0f/s); lost %d\n",
		r.accepted.Load(), l.n, st.refusedByStatus, r.retryAfterMin.Load(), r.maxBacklog.Load(), backlogAtStop, drain.Round(time.Millisecond),
		float64(backlogAtStop)/max(drain.Seconds(), 1e-3), st.lost)
}

// fanout delivers each event of one subscription to k publications.
func fanout(s settings, sk *sink, k int) {
	p := startEmbedded(embeddedOpts{journal: s.journal, maxBacklog: s.maxBacklog})
	defer p.stop()
	t := tenantOf(p.first)
	var pubs []string
	for i := range k {
		pubs = append(pubs, fmt.Sprintf("fan%d", i))
	}
	tg := configure(t, sk.url, "bench-app", "fan", pubs)
	n := max(s.fanoutDeliveries/k, 1)
	r, _, _ := measured(fmt.Sprintf("fan-out to %d publications", k), p, sk, load{targets: []target{tg.stream}, n: n, publishers: s.publishers}, s.wait)
	r.print()
}

// tenants publishes round-robin over many tenants, each with its stream.
func tenants(s settings, sk *sink) {
	prof := ""
	if s.cpuprofile != "" {
		prof = s.cpuprofile + ".tenants"
	}
	p := startEmbedded(embeddedOpts{journal: s.journal, maxBacklog: s.maxBacklog, cpuprofile: prof})
	defer p.stop()
	platform := p.first["HEROKUEVENTS_PLATFORM_URL"]
	targets := make([]target, s.tenants)
	var wg sync.WaitGroup
	sem := make(chan struct{}, 8)
	for i := range s.tenants {
		sem <- struct{}{}
		wg.Go(func() {
			defer func() { <-sem }()
			app := fmt.Sprintf("bench-t%d", i)
			var res struct {
				Config map[string]string `json:"config"`
			}
			call(platform+"/heroku/resources", "", http.MethodPost, map[string]any{"app": app, "plan": "herokuevents:test", "uuid": fmt.Sprintf("00000000-0000-4000-8000-%012d", i)}, &res)
			targets[i] = configure(tenantOf(res.Config), sk.url, app, "inbound", []string{"systemStatus"}).stream
		})
	}
	wg.Wait()
	r, _, _ := measured(fmt.Sprintf("%d tenants round-robin, stream", s.tenants), p, sk, load{targets: targets, n: s.events, publishers: s.publishers}, s.wait)
	r.print()
}

// backlog publishes into a paused publication's stream, then resumes it
// and measures the drain.
func backlog(s settings, sk *sink, peak float64) {
	// the queues' bound (embedded.DefaultMaxBacklog) lifted: the case is a
	// backlog larger than it, as an outage of the endpoint leaves
	prof := ""
	if s.cpuprofile != "" {
		prof = s.cpuprofile + ".backlog"
	}
	p, t := streamServer(embeddedOpts{journal: s.journal, maxBacklog: -1, cpuprofile: prof}, sk)
	defer p.stop()
	tn := tenantOf(p.first)
	call(tn.api+"/publications/systemStatus/pause", tn.key, http.MethodPost, nil, nil)
	u0 := p.usage()
	r := publish(sk, load{targets: []target{t.stream}, n: s.backlog, publishers: s.publishers})
	tenth := s.backlog / 10
	firstRate := float64(tenth) / r.due[tenth].Sub(r.due[0]).Seconds()
	lastRate := float64(tenth) / r.stop.Sub(r.due[s.backlog-tenth]).Seconds()
	size := p.dataSize()
	resumed := time.Now()
	call(tn.api+"/publications/systemStatus/resume", tn.key, http.MethodPost, nil, nil)
	await(sk, r, s.wait)
	u1 := p.usage()
	st := measure(sk, r)
	drain := float64(st.deliveries) / st.last.Sub(resumed).Seconds()
	out := row{name: fmt.Sprintf("backlog of %d, then drain", s.backlog), rate: drain, deliveries: drain, rss: u1.rss, hwm: u1.hw, data: size}
	if st.deliveries > 0 {
		out.cpuPerDelivery = (u1.cpu - u0.cpu) / time.Duration(st.deliveries)
	}
	out.print()
	fmt.Printf("  publishing: first tenth %.0f/s, last tenth %.0f/s (%.0f%%); accepted %d, refused %v; drain %.0f/s = %.0f%% of the saturation rate %.0f/s; lost %d\n",
		firstRate, lastRate, 100*lastRate/firstRate, r.accepted.Load(), st.refusedByStatus, drain, 100*drain/max(peak, 1), peak, st.lost)
}

// targets of the bench app of a herokuevents child.
type targets struct{ direct, stream target }

// streamServer starts herokuevents with the bench app's subscription
// "inbound" streamed (with a filter) to the publication "systemStatus".
func streamServer(o embeddedOpts, sk *sink) (*proc, targets) {
	p := startEmbedded(o)
	return p, configure(tenantOf(p.first), sk.url, "bench-app", "inbound", []string{"systemStatus"})
}

// filter is the stream's Bloblang filter (Benthos runs the same mapping).
const filter = `root = if this.Context__c.string == "drop" { deleted() } else { this }`

// configure creates the webhook subscription sub, the publications pubs
// (each delivering to the sink at /hook/app/pub) and a filtered stream from
// sub to each; it returns the targets of the first publication (direct)
// and of the subscription (stream, expected at every publication).
func configure(t tenant, sinkURL, app, sub string, pubs []string) targets {
	call(t.api+"/platforms/webhook/subscriptions", t.key, http.MethodPost, map[string]any{"name": sub}, nil)
	var paths []string
	for _, pub := range pubs {
		path := "/hook/" + app + "/" + pub
		paths = append(paths, path)
		call(t.api+"/platforms/webhook/publications", t.key, http.MethodPost, map[string]any{"name": pub, "url": sinkURL + path, "skip_handshake": true}, nil)
		call(t.api+"/streams", t.key, http.MethodPost, map[string]any{"source": sub, "target": pub, "filter": filter}, nil)
	}
	return targets{
		direct: target{url: t.publish + "/" + pubs[0], user: t.user, pass: t.pass, paths: paths[:1]},
		stream: target{url: t.publish + "/" + sub, user: t.user, pass: t.pass, paths: slices.Clone(paths)},
	}
}

// call makes an API request (Bearer key, or the userinfo of the URL) and
// decodes a 2xx answer into out.
func call(u, key, method string, in, out any) {
	var b []byte
	if in != nil {
		b, _ = json.Marshal(in)
	}
	req, err := http.NewRequest(method, u, bytes.NewReader(b))
	if err != nil {
		log.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	if key != "" {
		req.Header.Set("Authorization", "Bearer "+key)
	} else if req.URL.User != nil {
		pass, _ := req.URL.User.Password()
		req.SetBasicAuth(req.URL.User.Username(), pass)
		req.URL.User = nil
	}
	res, err := client.Do(req)
	if err != nil {
		log.Fatalf("%s %s: %v", method, u, err)
	}
	defer res.Body.Close()
	rb, _ := io.ReadAll(res.Body)
	if res.StatusCode/100 != 2 {
		log.Fatalf("%s %s: %d %s", method, req.URL.Path, res.StatusCode, rb)
	}
	if out != nil {
		if err := json.Unmarshal(rb, out); err != nil {
			log.Fatalf("%s %s: %v", method, req.URL.Path, err)
		}
	}
}

func init() { log.SetFlags(0); log.SetOutput(os.Stderr) }
