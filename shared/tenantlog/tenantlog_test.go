package tenantlog_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/go-logfmt/logfmt"
	syslog "github.com/influxdata/go-syslog/v3"
	"github.com/influxdata/go-syslog/v3/octetcounting"
	"github.com/influxdata/go-syslog/v3/rfc5424"

	"github.com/herokuevents/herokuevents/shared/journal"
	"github.com/herokuevents/herokuevents/shared/tenantlog"
)

// logInput is a Logplex input: it checks each request as Logplex does
// (method, content type, length, Logplex-Msg-Count against the frames
// go-syslog parses) and keeps the messages.
type logInput struct {
	t      *testing.T
	srv    *httptest.Server
	status atomic.Int32 // answered; 204 when 0
	mu     sync.Mutex
	msgs   []*rfc5424.SyslogMessage
	posts  int
}

func newLogInput(t *testing.T) *logInput {
	in := &logInput{t: t}
	in.srv = httptest.NewServer(http.HandlerFunc(in.serve))
	t.Cleanup(in.srv.Close)
	return in
}

// url is the input's log_input_url, with its credential.
func (in *logInput) url() string {
	return strings.Replace(in.srv.URL, "http://", "http://token:t.0123-secret@", 1) + "/logs"
}

func (in *logInput) serve(w http.ResponseWriter, r *http.Request) {
	in.mu.Lock()
	in.posts++
	in.mu.Unlock()
	if st := in.status.Load(); st != 0 {
		w.WriteHeader(int(st))
		return
	}
	body, _ := io.ReadAll(r.Body)
	u, p, _ := r.BasicAuth()
	switch {
	case r.Method != http.MethodPost, r.Header.Get("Content-Type") != "application/logplex-1",
		r.ContentLength != int64(len(body)), u != "token" || p != "t.0123-secret":
		in.t.Errorf("bad request: %s %q length %d/%d auth %q", r.Method, r.Header.Get("Content-Type"), r.ContentLength, len(body), u)
		w.WriteHeader(http.StatusBadRequest)
		return
	}
	var got []*rfc5424.SyslogMessage
	var perr error
	octetcounting.NewParser(syslog.WithListener(func(res *syslog.Result) {
		if res.Error != nil {
			perr = res.Error
			return
		}
		got = append(got, res.Message.(*rfc5424.SyslogMessage))
	})).Parse(bytes.NewReader(body))
	if perr != nil {
		in.t.Errorf("malformed frames: %v in %q", perr, body)
		w.WriteHeader(http.StatusBadRequest)
		return
	}
	if n, _ := strconv.Atoi(r.Header.Get("Logplex-Msg-Count")); n != len(got) {
		in.t.Errorf("Logplex-Msg-Count %q for %d frames", r.Header.Get("Logplex-Msg-Count"), len(got))
		http.Error(w, "Message count mismatch", http.StatusBadRequest)
		return
	}
	for _, m := range got {
		if m.Hostname == nil || m.Appname == nil || *m.Appname != "app" || m.ProcID == nil || *m.ProcID != "herokuevents" || m.Timestamp == nil || m.Message == nil {
			in.t.Errorf("header field missing: %+v", m)
		}
	}
	in.mu.Lock()
	in.msgs = append(in.msgs, got...)
	in.mu.Unlock()
	w.WriteHeader(http.StatusNoContent)
}

// texts are the MSGs received so far.
func (in *logInput) texts() []string {
	in.mu.Lock()
	defer in.mu.Unlock()
	var out []string
	for _, m := range in.msgs {
		out = append(out, *m.Message)
	}
	return out
}

// decode reads a logfmt line into a map (go-logfmt's decoder).
func decode(t *testing.T, line string) map[string]string {
	t.Helper()
	d := logfmt.NewDecoder(strings.NewReader(line))
	out := map[string]string{}
	for d.ScanRecord() {
		for d.ScanKeyval() {
			out[string(d.Key())] = string(d.Value())
		}
	}
	if err := d.Err(); err != nil {
		t.Fatalf("line %q is not logfmt: %v", line, err)
	}
	return out
}

// l2metValue is the l2met grammar of a metric value: a number and a unit
// of letters right after it.
var l2metValue = regexp.MustCompile(`^[0-9]+(\.[0-9]+)?[a-zA-Z]*$`)

// checkL2met checks a metrics line against the l2met grammar and returns
// its metrics by name.
func checkL2met(t *testing.T, line string) map[string]string {
	t.Helper()
	kv := decode(t, line)
	if kv["source"] == "" {
		t.Errorf("no source= in %q", line)
	}
	metrics := map[string]string{}
	for k, v := range kv {
		typ, _, ok := strings.Cut(k, "#")
		if !ok {
			continue
		}
		if typ != "count" && typ != "sample" && typ != "measure" {
			t.Errorf("metric type %q in %q", typ, line)
		}
		if !l2metValue.MatchString(v) {
			t.Errorf("metric %s=%q does not parse as an l2met value", k, v)
		}
		metrics[k] = v
	}
	return metrics
}

func entries(now time.Time) []journal.Entry {
	return []journal.Entry{
		{Tenant: "t1", EventID: "e1", Time: now, Stage: journal.Accepted, Via: journal.ViaPublish, SubscriptionName: "orders"},
		{Tenant: "t1", EventID: "e1", Time: now, Stage: journal.FilteredOut, SubscriptionName: "orders", PublicationName: "audit", Reason: "the filter dropped it"},
		{Tenant: "t1", EventID: "e1", Time: now, Stage: journal.Attempt, PublicationName: "hook", Publication: "p1", Attempt: 1, Outcome: journal.Retry, Status: 500,
			Latency: 40 * time.Millisecond, NextAttempt: now.Add(30 * time.Second), Error: "POST https://user:hunter2@example.com/x: Authorization: Bearer abc123 refused"},
		{Tenant: "t1", EventID: "e1", Time: now.Add(30 * time.Second), Stage: journal.Attempt, PublicationName: "hook", Publication: "p1", Attempt: 2, Outcome: journal.Delivered, Status: 200, Latency: 12500 * time.Microsecond},
		{Tenant: "t1", EventID: "e2", Time: now, Stage: journal.Attempt, PublicationName: "hook", Publication: "p1", Attempt: 1, Outcome: journal.Dead, Status: 400, Error: "HTTP 400", Latency: 5 * time.Millisecond},
		{Tenant: "t1", EventID: "e3", Time: now, Stage: journal.Attempt, PublicationName: "hook", Publication: "p1", Attempt: 1, Outcome: journal.Retry, Status: 503, NextAttempt: now.Add(2 * time.Second), Latency: 100 * time.Millisecond},
		{Tenant: "t2", EventID: "e4", Time: now, Stage: journal.DeadLettered, Reason: "publication hook is disabled"},
		{Tenant: "t1", EventID: "e1", Time: now, Stage: journal.Routed, SubscriptionName: "orders", PublicationName: "hook"},
	}
}

func TestShipsDecisionsAndMetrics(t *testing.T) {
	in, other := newLogInput(t), newLogInput(t)
	targets := map[string]string{"t1": in.url(), "t2": other.url()}
	now := time.Date(2026, 12, 2, 19, 0, 0, 0, time.UTC)
	s := tenantlog.New(tenantlog.Options{
		Target: func(_ context.Context, tenant string) (string, error) { return targets[tenant], nil },
		Now:    func() time.Time { return now },
		Addon: func(_ context.Context, tenant string) string {
			return map[string]string{"t1": "herokuevents-shaped-12345"}[tenant]
		},
	})
	var appended []journal.Entry
	w := s.Journal(writerFunc(func(_ context.Context, es ...journal.Entry) error { appended = append(appended, es...); return nil }))
	if err := w.Append(t.Context(), entries(now)...); err != nil {
		t.Fatal(err)
	}
	if len(appended) != len(entries(now)) {
		t.Fatalf("the next writer got %d entries", len(appended))
	}
	s.Metrics()
	s.Flush(t.Context())

	got := in.texts()
	wants := []map[string]string{
		{"event": "accepted", "event_id": "e1", "via": "publish", "subscription": "orders"},
		{"event": "filtered_out", "event_id": "e1", "stream": "orders->audit", "reason": "the filter dropped it"},
		{"event": "retry_scheduled", "event_id": "e1", "publication": "hook", "attempt": "1", "status": "500", "delay": "30s", "latency": "40ms"},
		{"event": "delivered", "event_id": "e1", "publication": "hook", "attempt": "2", "status": "200", "latency": "12.5ms"},
		{"event": "dead_lettered", "event_id": "e2", "publication": "hook", "status": "400", "reason": "HTTP 400"},
		{"event": "retry_scheduled", "event_id": "e3", "delay": "2s"},
	}
	if len(got) != len(wants)+1 {
		t.Fatalf("tenant t1 got %d lines, want %d:\n%s", len(got), len(wants)+1, strings.Join(got, "\n"))
	}
	for i, want := range wants {
		kv := decode(t, got[i])
		for k, v := range want {
			if kv[k] != v {
				t.Errorf("line %d %s = %q, want %q (%s)", i, k, kv[k], v, got[i])
			}
		}
	}
	for _, l := range got {
		for _, secret := range []string{"hunter2", "abc123", "t.0123-secret"} {
			if strings.Contains(l, secret) {
				t.Errorf("line leaks %q: %s", secret, l)
			}
		}
	}
	m := checkL2met(t, got[len(got)-1])
	if !strings.HasPrefix(got[len(got)-1], "source=HEROKUEVENTS addon=herokuevents-shaped-12345 count#") {
		t.Errorf("metrics line %q", got[len(got)-1])
	}
	for k, v := range map[string]string{
		"count#herokuevents.accepted": "1", "count#herokuevents.delivered": "1", "count#herokuevents.failed": "3",
		"count#herokuevents.filtered-out": "1", "count#herokuevents.dead-lettered": "1",
		"measure#herokuevents.latency.p50": "12.5ms", "measure#herokuevents.latency.p99": "100ms", "sample#herokuevents.backlog": "1",
	} {
		if m[k] != v {
			t.Errorf("%s = %q, want %q", k, m[k], v)
		}
	}
	if o := other.texts(); len(o) != 2 || decode(t, o[0])["event"] != "dead_lettered" {
		t.Errorf("tenant t2 got %q", o)
	}
	// the same lines are kept for `herokuevents logs`, in its format
	lines := s.Lines("t1", 0, 3)
	if len(lines) != 3 || !strings.HasPrefix(lines[2].String(), "2026-12-02T19:00:00.000000+00:00 app[herokuevents]: source=HEROKUEVENTS") {
		t.Errorf("kept lines: %v", lines)
	}
	if next := s.Lines("t1", lines[2].Seq, 10); len(next) != 0 {
		t.Errorf("lines after the last: %v", next)
	}
	if s.Dropped() != 0 || s.Shipped() != 9 {
		t.Errorf("dropped %d shipped %d", s.Dropped(), s.Shipped())
	}
}

type writerFunc func(ctx context.Context, es ...journal.Entry) error

func (f writerFunc) Append(ctx context.Context, es ...journal.Entry) error { return f(ctx, es...) }

func TestBoundedAndBestEffort(t *testing.T) {
	t.Run("a full buffer drops, never blocks", func(t *testing.T) {
		in := newLogInput(t)
		s := tenantlog.New(tenantlog.Options{Buffer: 10, Target: func(context.Context, string) (string, error) { return in.url(), nil }})
		start := time.Now()
		for i := range 1000 {
			s.Log("t1", time.Now(), "n="+strconv.Itoa(i))
		}
		if d := time.Since(start); d > time.Second {
			t.Errorf("1000 lines took %v", d)
		}
		if s.Dropped() != 990 {
			t.Errorf("dropped %d, want 990", s.Dropped())
		}
		s.Flush(t.Context())
		if n := len(in.texts()); n != 10 {
			t.Errorf("shipped %d, want 10", n)
		}
	})
	t.Run("a failing input is retried briefly then dropped", func(t *testing.T) {
		in := newLogInput(t)
		in.status.Store(http.StatusServiceUnavailable)
		var buf bytes.Buffer
		lookups := atomic.Int32{}
		s := tenantlog.New(tenantlog.Options{
			Retries: 3, RetryDelay: time.Millisecond,
			Logger: slog.New(slog.NewJSONHandler(&buf, nil)),
			Target: func(context.Context, string) (string, error) { lookups.Add(1); return in.url(), nil },
		})
		s.Log("t1", time.Now(), "a=1")
		s.Log("t1", time.Now(), "a=2")
		s.Flush(t.Context())
		if in.posts != 3 || s.Dropped() != 2 {
			t.Errorf("posts %d dropped %d, want 3 and 2", in.posts, s.Dropped())
		}
		if !strings.Contains(buf.String(), `"msg":"tenant log lines dropped"`) || strings.Contains(buf.String(), "t.0123-secret") {
			t.Errorf("log: %s", buf.String())
		}
		// a 4xx asks for the URL again (it may have been rotated)
		in.status.Store(http.StatusUnauthorized)
		lookups.Store(0)
		s.Log("t1", time.Now(), "a=3")
		s.Flush(t.Context())
		if lookups.Load() != 1+3 {
			t.Errorf("lookups %d after 4xx, want 4", lookups.Load())
		}
	})
	t.Run("an unreachable input does not hold Flush past its context", func(t *testing.T) {
		s := tenantlog.New(tenantlog.Options{Retries: 50, RetryDelay: 50 * time.Millisecond, Logger: slog.New(slog.DiscardHandler),
			Target: func(context.Context, string) (string, error) { return "http://127.0.0.1:1/logs", nil }})
		s.Log("t1", time.Now(), "a=1")
		ctx, cancel := context.WithTimeout(t.Context(), 200*time.Millisecond)
		defer cancel()
		start := time.Now()
		s.Flush(ctx)
		if d := time.Since(start); d > 2*time.Second || s.Dropped() != 1 {
			t.Errorf("flush took %v, dropped %d", d, s.Dropped())
		}
	})
	t.Run("no target keeps lines only", func(t *testing.T) {
		s := tenantlog.New(tenantlog.Options{Target: func(context.Context, string) (string, error) { return "", nil }})
		s.Log("t1", time.Now(), "a=1")
		s.Flush(t.Context())
		if len(s.Lines("t1", 0, 0)) != 1 || s.Dropped() != 0 {
			t.Error("line not kept")
		}
		s.Forget("t1")
		if len(s.Lines("t1", 0, 0)) != 0 {
			t.Error("line kept after Forget")
		}
	})
	t.Run("a failing lookup drops", func(t *testing.T) {
		s := tenantlog.New(tenantlog.Options{Logger: slog.New(slog.DiscardHandler), Target: func(context.Context, string) (string, error) { return "", errors.New("store down") }})
		s.Log("t1", time.Now(), "a=1")
		s.Flush(t.Context())
		if s.Dropped() != 1 {
			t.Errorf("dropped %d", s.Dropped())
		}
	})
}

func TestRunShipsAndWritesMetrics(t *testing.T) {
	in := newLogInput(t)
	s := tenantlog.New(tenantlog.Options{Flush: 10 * time.Millisecond, Every: 30 * time.Millisecond,
		Target: func(context.Context, string) (string, error) { return in.url(), nil }})
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error)
	go func() { done <- s.Run(ctx) }()
	s.Record(journal.Entry{Tenant: "t1", EventID: "e1", Time: time.Now(), Stage: journal.Attempt, Publication: "p", Outcome: journal.Delivered, Status: 200, Latency: time.Millisecond})
	deadline := time.Now().Add(5 * time.Second)
	for len(in.texts()) < 2 && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	cancel()
	<-done
	got := in.texts()
	if len(got) < 2 || !strings.Contains(got[1], "count#herokuevents.delivered=1") {
		t.Fatalf("got %q", got)
	}
	checkL2met(t, got[1])
}

func TestHandler(t *testing.T) {
	s := tenantlog.New(tenantlog.Options{})
	var buf bytes.Buffer
	log := slog.New(s.Handler(slog.NewJSONHandler(&buf, &slog.HandlerOptions{Level: slog.LevelWarn})))
	sub := log.With("role", "sfsubscribe", "tenant", "t1", "subscription", "orders")
	sub.Info("salesforce subscribe", "replay", "LATEST", "checkpoint", "00ff")
	sub.Warn("salesforce subscription failing", "err", errors.New("dial https://x:pw@login.example.com: token=abc refused"), "failures", 3, "retry_in", "30s")
	log.Warn("authorization failing", "tenant", "t2", "authorization", "a1", "alias", "org", "access_token", "tok")
	log.Info("something else", "tenant", "t1")
	log.WithGroup("g").Info("authorization connected", "tenant", "t3")
	log.With("tenant", "t4", "subscription", "s-1", "name", "ticker").Warn("mapping failed", "slot", "2026-12-02T19:00:00Z", "err", errors.New("root.x: expected number"))

	got := s.Lines("t1", 0, 0)
	if len(got) != 2 {
		t.Fatalf("t1 lines: %v", got)
	}
	first := decode(t, got[0].Message.Text)
	if first["event"] != "subscription_connected" || first["subscription"] != "orders" || first["checkpoint"] != "" {
		t.Errorf("line %q", got[0].Message.Text)
	}
	second := decode(t, got[1].Message.Text)
	if second["event"] != "subscription_failing" || second["failures"] != "3" || strings.Contains(got[1].Message.Text, "pw@") || strings.Contains(got[1].Message.Text, "abc") {
		t.Errorf("line %q", got[1].Message.Text)
	}
	if l := s.Lines("t2", 0, 0); len(l) != 1 || strings.Contains(l[0].Message.Text, "tok") {
		t.Errorf("t2 lines %v", l)
	}
	if l := s.Lines("t4", 0, 0); len(l) != 1 || decode(t, l[0].Message.Text)["event"] != "subscription_failing" || decode(t, l[0].Message.Text)["name"] != "ticker" {
		t.Errorf("t4 lines %v", l)
	}
	if l := s.Lines("t3", 0, 0); len(l) != 0 {
		t.Errorf("a grouped tenant attribute made a line: %v", l)
	}
	// the next handler still gets what its level lets through
	if strings.Contains(buf.String(), "salesforce subscribe\"") || !strings.Contains(buf.String(), "salesforce subscription failing") {
		t.Errorf("next handler got: %s", buf.String())
	}
}

func TestScrub(t *testing.T) {
	for in, leak := range map[string]string{
		"POST https://user:pw1@h/x failed":     "pw1",
		"Authorization: Bearer sk_live_123":    "sk_live_123",
		`{"access_token":"ya29.x","a":1}`:      "ya29",
		"client_secret=zzz&grant=1":            "zzz",
		"password: hunter2":                    "hunter2",
		strings.Repeat("x", 2000) + " token=y": "token=y",
	} {
		if out := tenantlog.Scrub(in); strings.Contains(out, leak) || len(out) > 520 {
			t.Errorf("Scrub(%.40q) = %.80q", in, out)
		}
	}
}

func TestSyncShipsWithinAppend(t *testing.T) {
	in := newLogInput(t)
	s := tenantlog.New(tenantlog.Options{Sync: true, Target: func(context.Context, string) (string, error) { return in.url(), nil },
		Name: func(_ context.Context, _, kind, id string) string { return kind + ":" + id }})
	w := s.Journal(nil)
	if err := w.Append(t.Context(), journal.Entry{Tenant: "t1", EventID: "e1", Time: time.Now(), Stage: journal.Attempt, Publication: "p1", Attempt: 1, Outcome: journal.Delivered, Status: 200}); err != nil {
		t.Fatal(err)
	}
	got := in.texts()
	if len(got) != 1 || decode(t, got[0])["publication"] != "publication:p1" {
		t.Errorf("shipped %q", got)
	}
}

// BenchmarkRecord: what the lines cost the journal writer, per entry (the
// line made, counted, kept and queued; shipping is Run's).
func BenchmarkRecord(b *testing.B) {
	s := tenantlog.New(tenantlog.Options{Buffer: 1 << 30})
	now := time.Now()
	batch := make([]journal.Entry, 500)
	for i := range batch {
		batch[i] = journal.Entry{Tenant: "t" + strconv.Itoa(i%10), EventID: "e" + strconv.Itoa(i), Time: now, Stage: journal.Attempt,
			Publication: "p", PublicationName: "hook", Attempt: 1, Outcome: journal.Delivered, Status: 200, Latency: 12 * time.Millisecond}
	}
	w := s.Journal(nil)
	for b.Loop() {
		_ = w.Append(b.Context(), batch...)
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*len(batch)), "ns/entry")
}

// TestDescribeExact: the lines are byte for byte what tenants see (no
// leading or trailing space, pairs in order), call after call.
func TestDescribeExact(t *testing.T) {
	at := time.Unix(1700000000, 0)
	cases := []struct {
		name string
		e    journal.Entry
		want string
	}{
		{"accepted", journal.Entry{Stage: journal.Accepted, EventID: "e1", Via: "publish", SubscriptionName: "orders", PublicationName: "p x"},
			`event=accepted event_id=e1 via=publish subscription=orders publication="p x"`},
		{"routed", journal.Entry{Stage: journal.Routed, EventID: "e1"}, ``},
		{"filtered out of a stream", journal.Entry{Stage: journal.FilteredOut, EventID: "e1", Subscription: "s", Publication: "p", Reason: `the filter "dropped" it token=abc`},
			`event=filtered_out event_id=e1 stream=s->p reason="the filter \"dropped\" it token=[redacted]"`},
		{"dead letter", journal.Entry{Stage: journal.DeadLettered, EventID: "e2", Publication: "hook", Reason: "HTTP 400"},
			`event=dead_lettered event_id=e2 publication=hook reason="HTTP 400"`},
		{"delivered", journal.Entry{Stage: journal.Attempt, EventID: "e3", Publication: "hook", Attempt: 1, Status: 204, Outcome: journal.Delivered, Latency: 1234567 * time.Nanosecond},
			`event=delivered event_id=e3 publication=hook attempt=1 status=204 latency=1.2ms`},
		{"retry", journal.Entry{Stage: journal.Attempt, EventID: "e3", Publication: "hook", Attempt: 2, Outcome: journal.Retry, Time: at, NextAttempt: at.Add(1500 * time.Millisecond), Error: "dial tcp: refused"},
			`event=retry_scheduled event_id=e3 publication=hook attempt=2 latency=0ms delay=2s error="dial tcp: refused"`},
		{"dead", journal.Entry{Stage: journal.Attempt, EventID: "e3", Publication: "hook", Attempt: 3, Status: 500, Outcome: journal.Dead},
			`event=dead_lettered event_id=e3 publication=hook attempt=3 status=500 reason="HTTP 500"`},
		{"disabled", journal.Entry{Stage: journal.Attempt, EventID: "e3", Publication: "hook", Attempt: 3, Status: 410, Outcome: journal.Disabled, Error: "gone"},
			`event=publication_disabled event_id=e3 publication=hook attempt=3 status=410 reason=gone`},
		{"unknown outcome", journal.Entry{Stage: journal.Attempt, EventID: "e3", Outcome: "weird"}, ``},
	}
	for range 2 { // the second round reuses pooled lines
		for _, c := range cases {
			t.Run(c.name, func(t *testing.T) {
				if got := tenantlog.Describe(c.e); got != c.want {
					t.Errorf("Describe = %q, want %q", got, c.want)
				}
			})
		}
	}
}

// TestDecisionLinesExact: the handler's lines of decisions are byte for
// byte what tenants see: shown attributes in order (an empty one as
// key=), scrubbed, err named error, others left out.
func TestDecisionLinesExact(t *testing.T) {
	s := tenantlog.New(tenantlog.Options{})
	log := slog.New(s.Handler(slog.NewJSONHandler(io.Discard, nil)))
	log.Warn("salesforce subscription failing", "tenant", "t1", "subscription", "accounts", "reason", "",
		"err", errors.New(`token=abc refused "x"`), "failures", 3, "other", "hidden")
	log.With("tenant", "t1", "alias", "org").Info("authorization connected", "name", "my org")
	log.Info("generator stopped", "tenant", "t1", "name", "gen", "reason", "  spaced  ")
	log.Info("event accepted", "tenant", "t1", "event_id", "e1") // not a decision shown
	want := []string{
		`event=subscription_failing subscription=accounts reason= error="token=[redacted] refused \"x\"" failures=3`,
		`event=authorization_connected alias=org name="my org"`,
		`event=subscription_stopped name=gen reason=spaced`,
	}
	var got []string
	for _, l := range s.Lines("t1", 0, 10) {
		got = append(got, l.Message.Text)
	}
	if !slices.Equal(got, want) {
		t.Errorf("lines:\n%q\nwant:\n%q", got, want)
	}
}
