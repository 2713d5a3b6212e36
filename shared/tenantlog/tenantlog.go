// Package tenantlog ships, for each tenant, the decisions that matter to it
// into its Heroku app's log stream (its log input URL, in Logplex framing:
// shared/logplex) and keeps its latest lines for `herokuevents logs`:
// events accepted, filtered out by a stream, delivered with status and
// latency, retries scheduled with their delay, dead letters with their
// reason (all read from the delivery log's entries: Journal), subscriptions
// and authorizations connected, stalled, failing or expiring (read from the
// roles' slog records: Handler), and once a minute an l2met metrics line
// (count#herokuevents.delivered=… measure#herokuevents.latency.p99=…ms
// sample#herokuevents.backlog=…).
//
// Shipping is best-effort and bounded: recording a line never blocks (a full
// buffer drops the line and counts it), a batch whose POST fails is retried
// briefly (Options.Retries) and then dropped and counted. Lines carry no
// secret: error texts lose URL credentials and token-like values. A Shipper
// is safe for concurrent use.
package tenantlog

import (
	"bytes"
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"net/http"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/go-logfmt/logfmt"

	"github.com/herokuevents/herokuevents/shared/config"
	"github.com/herokuevents/herokuevents/shared/journal"
	"github.com/herokuevents/herokuevents/shared/logplex"
)

// Defaults of Options.
const (
	DefaultBuffer     = 10000
	DefaultKeep       = 1500
	DefaultFlush      = time.Second
	DefaultEvery      = time.Minute
	DefaultRetries    = 3
	DefaultRetryDelay = 200 * time.Millisecond
	DefaultTimeout    = 5 * time.Second
	// BatchBytes bounds one request's body (Logplex's own drains aim at
	// about 100 KB).
	BatchBytes = 100 << 10
	// Source is the source= of the metrics lines (the config var prefix).
	Source = "HEROKUEVENTS"
	// maxLatencies bounds the latencies kept per tenant for a minute's
	// percentiles; maxPending the deliveries tracked for the backlog.
	maxLatencies = 10000
	maxPending   = 10000
)

// Options configure a Shipper.
type Options struct {
	// Target returns a tenant's log input URL, "" when it has none (its
	// lines are then only kept for Lines). It is called before each
	// batch, so a rotated URL is picked up. Nil: no shipping.
	Target func(ctx context.Context, tenant string) (string, error)
	// Name, when set, names a subscription or publication (config kind and
	// id) whose entry carries only its id; "" when unknown.
	Name func(ctx context.Context, tenant, kind, id string) string
	// Addon, when set, is the add-on resource name of a tenant (Heroku's,
	// e.g. herokuevents-shaped-12345), the addon= of its metrics lines;
	// "" leaves it out.
	Addon func(ctx context.Context, tenant string) string
	// Client sends the batches; a client with DefaultTimeout when nil.
	Client *http.Client
	// Logger gets one line per dropped batch; slog.Default when nil.
	Logger *slog.Logger
	// Now is the clock; time.Now when nil.
	Now func() time.Time
	// Buffer bounds the lines waiting to be shipped, all tenants together
	// (DefaultBuffer when ≤ 0); Keep the lines kept per tenant for Lines
	// (DefaultKeep when ≤ 0).
	Buffer, Keep int
	// Flush is how often Run ships (DefaultFlush), Every how often it
	// writes the metrics lines (DefaultEvery).
	Flush, Every time.Duration
	// Retries is how many times a failing batch is sent in all
	// (DefaultRetries), RetryDelay the wait before the second try, doubled
	// for each next one (DefaultRetryDelay).
	Retries    int
	RetryDelay time.Duration
	// Sync ships the lines of the entries Journal's writer appends before
	// its Append returns, within SyncTimeout: for a Lambda function, whose
	// journal writer is flushed before each batch returns and which is
	// frozen in between (Run is not used there).
	Sync bool
}

// SyncTimeout bounds the shipping of one Append with Options.Sync.
const SyncTimeout = 2 * time.Second

// Line is a kept line.
type Line struct {
	Seq     uint64
	Message logplex.Message
}

// String is the line as `heroku logs` prints it.
func (l Line) String() string { return logplex.Line(l.Message) }

// Shipper records, keeps and ships tenants' lines.
type Shipper struct {
	o Options

	mu      sync.Mutex
	pending map[string][]logplex.Message // tenant → lines to ship
	queued  int
	kept    map[string]*ring
	stats   map[string]*stats
	seq     uint64

	dropped atomic.Int64 // lines dropped: full buffer or failed batches
	shipped atomic.Int64
	wake    chan struct{}
}

// New returns a Shipper; Run ships its lines.
func New(o Options) *Shipper {
	if o.Client == nil {
		o.Client = &http.Client{Timeout: DefaultTimeout}
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	o.Buffer = cmp.Or(max(o.Buffer, 0), DefaultBuffer)
	o.Keep = cmp.Or(max(o.Keep, 0), DefaultKeep)
	o.Flush = cmp.Or(max(o.Flush, 0), DefaultFlush)
	o.Every = cmp.Or(max(o.Every, 0), DefaultEvery)
	o.Retries = cmp.Or(max(o.Retries, 0), DefaultRetries)
	o.RetryDelay = cmp.Or(max(o.RetryDelay, 0), DefaultRetryDelay)
	return &Shipper{
		o: o, pending: map[string][]logplex.Message{}, kept: map[string]*ring{}, stats: map[string]*stats{},
		wake: make(chan struct{}, 1),
	}
}

// Dropped is how many lines were dropped so far (full buffer, or a batch
// that failed every try); Shipped how many reached a log input.
func (s *Shipper) Dropped() int64 { return s.dropped.Load() }

// Shipped is how many lines reached a log input so far.
func (s *Shipper) Shipped() int64 { return s.shipped.Load() }

// Log records one line of a tenant: kept for Lines, queued for shipping,
// or dropped (counted) when the buffer is full. It never blocks on I/O.
func (s *Shipper) Log(tenant string, at time.Time, text string) {
	if tenant == "" {
		return
	}
	m := logplex.Message{Time: at.UTC(), Host: logplex.DefaultHost, App: logplex.DefaultApp, Proc: logplex.DefaultProc, Text: text}
	s.mu.Lock()
	s.seq++
	r := s.kept[tenant]
	if r == nil {
		r = &ring{lines: make([]Line, 0, min(s.o.Keep, 64)), max: s.o.Keep}
		s.kept[tenant] = r
	}
	r.add(Line{Seq: s.seq, Message: m})
	full := s.queued >= s.o.Buffer
	if !full {
		s.pending[tenant] = append(s.pending[tenant], m)
		s.queued++
	}
	big := s.queued >= s.o.Buffer/2
	s.mu.Unlock()
	if full {
		s.dropped.Add(1)
	}
	if big {
		select {
		case s.wake <- struct{}{}:
		default:
		}
	}
}

// Lines returns up to n of a tenant's kept lines after seq (0: from the
// oldest kept), the newest n when more, oldest first.
func (s *Shipper) Lines(tenant string, after uint64, n int) []Line {
	s.mu.Lock()
	defer s.mu.Unlock()
	r := s.kept[tenant]
	if r == nil {
		return nil
	}
	var out []Line
	for _, l := range r.all() {
		if l.Seq > after {
			out = append(out, l)
		}
	}
	if n > 0 && len(out) > n {
		out = out[len(out)-n:]
	}
	return out
}

// Forget drops what is kept and queued of a tenant (deprovisioned).
func (s *Shipper) Forget(tenant string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.queued -= len(s.pending[tenant])
	delete(s.pending, tenant)
	delete(s.kept, tenant)
	delete(s.stats, tenant)
}

// Run ships the queued lines every Flush (sooner when the buffer fills
// up) and writes the metrics lines every Every, until ctx is done; then
// it ships what is left, for at most a second.
func (s *Shipper) Run(ctx context.Context) error {
	flush, every := time.NewTicker(s.o.Flush), time.NewTicker(s.o.Every)
	defer flush.Stop()
	defer every.Stop()
	for {
		select {
		case <-ctx.Done():
			final, cancel := context.WithTimeout(context.WithoutCancel(ctx), time.Second)
			s.Flush(final)
			cancel()
			return nil
		case <-flush.C:
			s.Flush(ctx)
		case <-s.wake:
			s.Flush(ctx)
		case <-every.C:
			s.Metrics()
		}
	}
}

// Flush ships what is queued now, tenant by tenant, in batches of at most
// BatchBytes; a batch that fails every try is dropped. In a Lambda
// function, call it (with a short deadline) before a batch returns.
func (s *Shipper) Flush(ctx context.Context) {
	s.mu.Lock()
	pending := s.pending
	s.pending, s.queued = map[string][]logplex.Message{}, 0
	s.mu.Unlock()
	tenants := make([]string, 0, len(pending))
	for t := range pending {
		tenants = append(tenants, t)
	}
	slices.Sort(tenants)
	for _, t := range tenants {
		s.shipTenant(ctx, t, pending[t])
	}
}

func (s *Shipper) shipTenant(ctx context.Context, tenant string, msgs []logplex.Message) {
	if s.o.Target == nil {
		return
	}
	target, err := s.o.Target(ctx, tenant)
	if err != nil {
		s.drop(ctx, tenant, len(msgs), fmt.Errorf("find log input: %w", err))
		return
	}
	if target == "" {
		return
	}
	for len(msgs) > 0 {
		n, size := 0, 0
		for n < len(msgs) {
			l := len(logplex.Encode(msgs[n])) + 7
			if n > 0 && size+l > BatchBytes {
				break
			}
			size += l
			n++
		}
		if err := s.send(ctx, tenant, target, msgs[:n]); err != nil {
			s.drop(ctx, tenant, n, err)
		} else {
			s.shipped.Add(int64(n))
		}
		msgs = msgs[n:]
	}
}

// ErrStatus is wrapped by the error of a batch the log input refused.
var ErrStatus = errors.New("log input refused the batch")

// send posts one batch, trying up to Retries times; after a 4xx it asks
// Target again (the URL may have been rotated).
func (s *Shipper) send(ctx context.Context, tenant, target string, msgs []logplex.Message) error {
	var last error
	delay := s.o.RetryDelay
	for try := range s.o.Retries {
		if try > 0 {
			select {
			case <-ctx.Done():
				return errors.Join(last, ctx.Err())
			case <-time.After(delay):
			}
			delay *= 2
		}
		req, err := logplex.NewRequest(ctx, target, msgs)
		if err != nil {
			return err
		}
		resp, err := s.o.Client.Do(req)
		if err != nil {
			last = fmt.Errorf("post log batch: %w", redactErr(err, target))
			continue
		}
		resp.Body.Close()
		if resp.StatusCode/100 == 2 {
			return nil
		}
		last = fmt.Errorf("%w: HTTP %d", ErrStatus, resp.StatusCode)
		if resp.StatusCode/100 == 4 && s.o.Target != nil {
			if u, err := s.o.Target(ctx, tenant); err == nil && u != "" {
				target = u
			}
		}
	}
	return last
}

// redactErr keeps the credential of the target out of an error's text.
func redactErr(err error, target string) error {
	msg := strings.ReplaceAll(err.Error(), target, logplex.Redact(target))
	return errors.New(Scrub(msg))
}

func (s *Shipper) drop(ctx context.Context, tenant string, n int, err error) {
	s.dropped.Add(int64(n))
	s.o.Logger.WarnContext(ctx, "tenant log lines dropped", "tenant", tenant, "lines", n, "dropped_total", s.dropped.Load(), "err", err)
}

// ---- lines from the delivery log ----

// Journal returns a journal.Writer that appends to next (nil: none) and
// records a line for each entry a tenant should see. Wrap the driver an
// Async writes to, so that the lines are made off the roles' hot path.
func (s *Shipper) Journal(next journal.Writer) journal.Writer { return tee{next, s} }

type tee struct {
	next journal.Writer
	s    *Shipper
}

func (t tee) Append(ctx context.Context, entries ...journal.Entry) error {
	var err error
	if t.next != nil {
		err = t.next.Append(ctx, entries...)
	}
	es := slices.Clone(entries)
	t.s.name(ctx, es)
	t.s.Record(es...)
	if t.s.o.Sync {
		ship, cancel := context.WithTimeout(context.WithoutCancel(ctx), SyncTimeout)
		t.s.Flush(ship)
		cancel()
	}
	return err
}

// name fills the names of entries that carry only ids.
func (s *Shipper) name(ctx context.Context, entries []journal.Entry) {
	if s.o.Name == nil {
		return
	}
	for i := range entries {
		e := &entries[i]
		if e.SubscriptionName == "" && e.Subscription != "" {
			e.SubscriptionName = s.o.Name(ctx, e.Tenant, config.KindSubscription, e.Subscription)
		}
		if e.PublicationName == "" && e.Publication != "" {
			e.PublicationName = s.o.Name(ctx, e.Tenant, config.KindPublication, e.Publication)
		}
	}
}

// Record records the lines and counts of delivery-log entries.
func (s *Shipper) Record(entries ...journal.Entry) {
	for _, e := range entries {
		if e.Tenant == "" {
			continue
		}
		s.count(e)
		if text := Describe(e); text != "" {
			s.Log(e.Tenant, cmp.Or(e.Time, s.o.Now()), text)
		}
	}
}

// Describe is the line of an entry, "" for entries not shown (routed).
func Describe(e journal.Entry) string {
	sub, pub := cmp.Or(e.SubscriptionName, e.Subscription), cmp.Or(e.PublicationName, e.Publication)
	var event string
	switch e.Stage {
	case journal.Accepted, journal.FilteredOut, journal.DeadLettered:
		event = string(e.Stage)
	case journal.Attempt:
		switch e.Outcome {
		case journal.Delivered:
			event = "delivered"
		case journal.Retry:
			event = "retry_scheduled"
		case journal.Dead:
			event = "dead_lettered"
		case journal.Disabled:
			event = "publication_disabled"
		default:
			return ""
		}
	default:
		return ""
	}
	l := newLine()
	defer l.free()
	l.add("event", event)
	l.add("event_id", e.EventID)
	switch e.Stage {
	case journal.Accepted:
		l.add("via", e.Via)
		l.add("subscription", sub)
		l.add("publication", pub)
	case journal.FilteredOut:
		if pub != "" {
			l.add("stream", sub+"->"+pub)
		} else {
			l.add("subscription", sub)
		}
		l.add("reason", Scrub(e.Reason))
	case journal.DeadLettered:
		l.add("publication", pub)
		l.add("reason", Scrub(e.Reason))
	case journal.Attempt:
		l.add("publication", pub)
		l.addInt("attempt", e.Attempt)
		if e.Status != 0 {
			l.addInt("status", e.Status)
		}
		switch e.Outcome {
		case journal.Delivered:
			l.add("latency", msText(e.Latency))
		case journal.Retry:
			l.add("latency", msText(e.Latency))
			if !e.NextAttempt.IsZero() {
				l.add("delay", strconv.FormatInt(int64(math.Ceil(max(e.NextAttempt.Sub(e.Time), 0).Seconds())), 10)+"s")
			}
			l.add("error", Scrub(errText(e)))
		default: // Dead, Disabled
			l.add("reason", Scrub(errText(e)))
		}
	}
	return l.String()
}

// line is a logfmt line being built, the values encoded by go-logfmt.
// Lines are pooled: Describe makes one for most delivery-log entries, the
// slog handler one for each decision it shows a tenant.
type line struct {
	buf bytes.Buffer
	enc *logfmt.Encoder
	err error
}

var lines = sync.Pool{New: func() any {
	l := &line{}
	l.enc = logfmt.NewEncoder(&l.buf)
	return l
}}

func newLine() *line { return lines.Get().(*line) }

func (l *line) free() {
	l.buf.Reset()
	l.enc.Reset() // a new record: no separator before its first pair
	l.err = nil
	lines.Put(l)
}

// add appends k=v, nothing when v is empty.
func (l *line) add(k, v string) {
	if v != "" {
		l.put(k, v)
	}
}

// put appends k=v, k= when v is empty.
func (l *line) put(k, v string) {
	if l.err == nil {
		l.err = l.enc.EncodeKeyval(k, v)
	}
}

func (l *line) addInt(k string, v int) {
	if l.err == nil {
		l.err = l.enc.EncodeKeyval(k, v)
	}
}

// String is the line (a copy).
func (l *line) String() string {
	if l.err != nil {
		return fmt.Sprintf("event=unencodable err=%q", l.err.Error())
	}
	return l.buf.String()
}

func errText(e journal.Entry) string {
	if e.Error != "" {
		return e.Error
	}
	if e.Status != 0 {
		return "HTTP " + strconv.Itoa(e.Status)
	}
	return string(e.Outcome)
}

// msText is a duration in milliseconds with its unit, l2met style: 12.5ms.
func msText(d time.Duration) string {
	return strconv.FormatFloat(math.Round(float64(d)/float64(time.Millisecond)*10)/10, 'f', -1, 64) + "ms"
}

// scrubbers match what must never reach a tenant's log: URL credentials
// and token-like values. They are compiled on first use, not at package
// init, which every function that links this package would pay in its cold
// start.
var scrubbers = sync.OnceValue(func() [3]*regexp.Regexp {
	return [3]*regexp.Regexp{
		regexp.MustCompile(`([a-zA-Z][a-zA-Z0-9+.-]*://)[^/@\s]+@`),
		regexp.MustCompile(`(?i)\b(bearer|basic)\s+[^\s"'&,;]+`),
		regexp.MustCompile(`(?i)\b(token|secret|password|passwd|api[_-]?key|authorization|access_token|refresh_token|client_secret|signature|sig)(["']?\s*[:=]\s*["']?|\s+)[^\s"'&,;]+`),
	}
})

// Scrub removes URL credentials and token-like values from a text and cuts
// it to 512 bytes.
func Scrub(s string) string {
	re := scrubbers()
	s = re[0].ReplaceAllString(s, "${1}[redacted]@")
	s = re[1].ReplaceAllString(s, "${1} [redacted]")
	s = re[2].ReplaceAllString(s, "${1}${2}[redacted]")
	if len(s) > 512 {
		s = strings.ToValidUTF8(s[:512], "") + "…"
	}
	return s
}

// ---- l2met metrics ----

// stats are a tenant's counts since the last metrics line.
type stats struct {
	accepted, filtered, delivered, failed, retried, dead int
	latencies                                            []time.Duration
	pending                                              map[[2]string]bool // deliveries whose last attempt scheduled a retry
}

func (s *Shipper) count(e journal.Entry) {
	s.mu.Lock()
	defer s.mu.Unlock()
	st := s.stats[e.Tenant]
	if st == nil {
		st = &stats{pending: map[[2]string]bool{}}
		s.stats[e.Tenant] = st
	}
	switch e.Stage {
	case journal.Accepted:
		st.accepted++
	case journal.FilteredOut:
		st.filtered++
	case journal.DeadLettered:
		st.dead++
	case journal.Attempt:
		k := [2]string{e.Publication, e.EventID}
		if len(st.latencies) < maxLatencies {
			st.latencies = append(st.latencies, e.Latency)
		}
		switch e.Outcome {
		case journal.Delivered:
			st.delivered++
			delete(st.pending, k)
		case journal.Retry:
			st.failed++
			st.retried++
			if len(st.pending) < maxPending {
				st.pending[k] = true
			}
		default:
			st.failed++
			if e.Outcome == journal.Dead {
				st.dead++
			}
			delete(st.pending, k)
		}
	}
}

// Metrics records, for each tenant with activity or a backlog since the
// last call, one l2met line of its counts, latency percentiles and backlog,
// and resets the counts. Run calls it every Options.Every.
func (s *Shipper) Metrics() {
	now := s.o.Now()
	type line struct{ tenant, text string }
	var lines []line
	s.mu.Lock()
	for t, st := range s.stats {
		if st.accepted+st.filtered+st.delivered+st.failed+st.dead == 0 && len(st.pending) == 0 {
			delete(s.stats, t)
			continue
		}
		lines = append(lines, line{t, st.line()})
		st.accepted, st.filtered, st.delivered, st.failed, st.retried, st.dead, st.latencies = 0, 0, 0, 0, 0, 0, st.latencies[:0]
	}
	s.mu.Unlock()
	for _, l := range lines {
		if s.o.Addon != nil {
			if a := s.o.Addon(context.Background(), l.tenant); a != "" && !strings.ContainsAny(a, " \"=") {
				l.text = strings.Replace(l.text, " ", " addon="+a+" ", 1) // after source=, as Heroku's data add-ons
			}
		}
		s.Log(l.tenant, now, l.text)
	}
}

// line is the l2met line of st.
func (st *stats) line() string {
	var b strings.Builder
	fmt.Fprintf(&b, "source=%s count#herokuevents.accepted=%d count#herokuevents.filtered-out=%d count#herokuevents.delivered=%d count#herokuevents.failed=%d count#herokuevents.retried=%d count#herokuevents.dead-lettered=%d",
		Source, st.accepted, st.filtered, st.delivered, st.failed, st.retried, st.dead)
	if len(st.latencies) > 0 {
		lat := slices.Clone(st.latencies)
		slices.Sort(lat)
		fmt.Fprintf(&b, " measure#herokuevents.latency.p50=%s measure#herokuevents.latency.p99=%s", msText(rank(lat, 50)), msText(rank(lat, 99)))
	}
	fmt.Fprintf(&b, " sample#herokuevents.backlog=%d", len(st.pending))
	return b.String()
}

// rank is the p-th percentile (nearest rank) of sorted values.
func rank(sorted []time.Duration, p int) time.Duration {
	i := (len(sorted)*p + 99) / 100
	return sorted[max(i-1, 0)]
}

// ring keeps the last max lines.
type ring struct {
	lines []Line
	next  int
	max   int
}

func (r *ring) add(l Line) {
	if len(r.lines) < r.max {
		r.lines = append(r.lines, l)
		return
	}
	r.lines[r.next] = l
	r.next = (r.next + 1) % r.max
}

func (r *ring) all() []Line {
	return append(slices.Clone(r.lines[r.next:]), r.lines[:r.next]...)
}
