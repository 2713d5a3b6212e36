package logplex_test

import (
	"bytes"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	syslog "github.com/influxdata/go-syslog/v3"
	"github.com/influxdata/go-syslog/v3/octetcounting"
	"github.com/influxdata/go-syslog/v3/rfc5424"

	"github.com/herokuevents/herokuevents/shared/logplex"
)

// parseFrames parses a body with go-syslog (independent of this package):
// its octet-counting parser in strict mode (RFC 5424 with every header
// field) when every frame is within its 8192-byte limit, else its RFC 5424
// parser on each message the length prefixes delimit.
func parseFrames(t *testing.T, body []byte) []*rfc5424.SyslogMessage {
	t.Helper()
	raw := counts(t, body)
	var out []*rfc5424.SyslogMessage
	if slices.ContainsFunc(raw, func(m string) bool { return len(m) > 8192 }) {
		p := rfc5424.NewParser()
		for i, m := range raw {
			msg, err := p.Parse([]byte(m))
			if err != nil {
				t.Fatalf("message %d does not parse: %v", i+1, err)
			}
			out = append(out, msg.(*rfc5424.SyslogMessage))
		}
		return out
	}
	octetcounting.NewParser(syslog.WithListener(func(r *syslog.Result) {
		if r.Error != nil {
			t.Fatalf("frame %d does not parse: %v\nbody: %q", len(out)+1, r.Error, body)
		}
		out = append(out, r.Message.(*rfc5424.SyslogMessage))
	})).Parse(bytes.NewReader(body))
	if len(out) != len(raw) {
		t.Fatalf("go-syslog read %d frames, the length prefixes delimit %d", len(out), len(raw))
	}
	return out
}

// counts walks the frames by their length prefixes and returns each
// message, failing unless the prefixes cover the body exactly.
func counts(t *testing.T, body []byte) []string {
	t.Helper()
	var msgs []string
	for rest := body; len(rest) > 0; {
		n, after, ok := bytes.Cut(rest, []byte(" "))
		size, err := strconv.Atoi(string(n))
		if !ok || err != nil || size > len(after) {
			t.Fatalf("bad octet count at %q", rest[:min(len(rest), 40)])
		}
		msgs = append(msgs, string(after[:size]))
		rest = after[size:]
	}
	return msgs
}

func TestFramesParse(t *testing.T) {
	at := time.Date(2026, 12, 2, 13, 0, 0, 123456000, time.FixedZone("x", 3600))
	long := strings.Repeat("é", logplex.MaxMessage) // 2 bytes a rune: must be cut
	cases := []struct {
		name string
		msg  logplex.Message
		want string // the MSG; "" = the text as is
	}{
		{"plain", logplex.Message{Time: at, Text: "event=delivered status=200"}, ""},
		{"utf8 text", logplex.Message{Time: at, Text: "name=κόσμε"}, ""},
		{"line breaks", logplex.Message{Time: at, Text: "a\nb\r\nc"}, "a b  c"},
		{"spaces in header fields", logplex.Message{Time: at, Host: "my host", Proc: "a b", Text: "x"}, "x"},
		{"long text is cut", logplex.Message{Time: at, Text: long}, "cut"},
	}
	var msgs []logplex.Message
	for _, c := range cases {
		msgs = append(msgs, c.msg)
	}
	body := logplex.Frames(msgs)
	parsed := parseFrames(t, body)
	raw := counts(t, body)
	if len(parsed) != len(cases) || len(raw) != len(cases) {
		t.Fatalf("parsed %d frames (%d by counts), want %d", len(parsed), len(raw), len(cases))
	}
	for i, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			m := parsed[i]
			if len(raw[i]) > logplex.MaxMessage {
				t.Errorf("message is %d bytes, over %d", len(raw[i]), logplex.MaxMessage)
			}
			if m.Priority == nil || *m.Priority != 190 || m.Version != 1 {
				t.Errorf("priority/version = %v/%d, want 190/1", m.Priority, m.Version)
			}
			if m.Timestamp == nil || !m.Timestamp.Equal(at.Truncate(time.Microsecond)) {
				t.Errorf("timestamp = %v, want %v", m.Timestamp, at)
			}
			if !strings.Contains(raw[i], "+00:00 ") {
				t.Errorf("timestamp not in UTC with +00:00: %q", raw[i][:50])
			}
			for name, f := range map[string]*string{"hostname": m.Hostname, "app-name": m.Appname, "procid": m.ProcID} {
				if f == nil || *f == "" || strings.ContainsAny(*f, " ") {
					t.Errorf("%s = %v", name, f)
				}
			}
			if *m.Appname != "app" {
				t.Errorf("app-name = %q, want app", *m.Appname)
			}
			// "-" MSGID and STRUCTURED-DATA: the strict parser read both.
			if m.MsgID != nil || m.StructuredData != nil {
				t.Errorf("msgid/sd = %v/%v, want - -", m.MsgID, m.StructuredData)
			}
			if !strings.Contains(raw[i], " - - ") {
				t.Errorf("no \"- -\" in %q", raw[i][:60])
			}
			got := ""
			if m.Message != nil {
				got = *m.Message
			}
			switch c.want {
			case "":
				if got != c.msg.Text {
					t.Errorf("msg = %q, want %q", got, c.msg.Text)
				}
			case "cut":
				if !strings.HasSuffix(got, "…") || !strings.HasPrefix(c.msg.Text, strings.TrimSuffix(got, "…")) {
					t.Errorf("cut msg = …%q", got[max(0, len(got)-20):])
				}
			default:
				if got != c.want {
					t.Errorf("msg = %q, want %q", got, c.want)
				}
			}
		})
	}
}

func TestReferenceExample(t *testing.T) {
	// The reference's worked example (§4.3): 137 and 198 bytes, Content-Length 343.
	msgs := []logplex.Message{
		{Time: time.Date(2026, 12, 2, 13, 0, 0, 0, time.UTC), Text: "event=deploy.recorded source=my-app count#herokuevents.events=1"},
		{Time: time.Date(2026, 12, 2, 13, 1, 0, 0, time.UTC), Text: "source=HEROKUEVENTS addon=herokuevents-shaped-12345 sample#herokuevents.queue-depth=3 sample#herokuevents.events-stored=1024"},
	}
	body := logplex.Frames(msgs)
	if !bytes.HasPrefix(body, []byte("137 <190>1 2026-12-02T13:00:00.000000+00:00 herokuevents app herokuevents - - event=")) || len(body) != 343 {
		t.Errorf("body (%d bytes) = %q", len(body), body)
	}
	if got := logplex.Line(msgs[0]); got != "2026-12-02T13:00:00.000000+00:00 app[herokuevents]: event=deploy.recorded source=my-app count#herokuevents.events=1" {
		t.Errorf("line = %q", got)
	}
}

func TestNewRequest(t *testing.T) {
	type got struct {
		header http.Header
		body   []byte
		user   string
		pass   string
		length int64
		chunk  []string
	}
	gotc := make(chan got, 1)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		u, p, _ := r.BasicAuth()
		gotc <- got{r.Header, b, u, p, r.ContentLength, r.TransferEncoding}
		w.WriteHeader(http.StatusNoContent)
	}))
	defer srv.Close()
	input := strings.Replace(srv.URL, "http://", "http://token:t.secret-token@", 1) + "/logs"
	msgs := []logplex.Message{{Time: time.Now(), Text: "a=1"}, {Time: time.Now(), Text: "b=2"}, {Time: time.Now(), Text: "c=3"}}
	req, err := logplex.NewRequest(t.Context(), input, msgs)
	if err != nil {
		t.Fatal(err)
	}
	if req.URL.User != nil || strings.Contains(req.URL.String(), "secret") {
		t.Errorf("request URL keeps the credential: %s", req.URL)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	g := <-gotc
	if g.user != "token" || g.pass != "t.secret-token" {
		t.Errorf("basic auth = %q:%q", g.user, g.pass)
	}
	if ct := g.header.Get("Content-Type"); ct != "application/logplex-1" {
		t.Errorf("content type = %q", ct)
	}
	if g.length != int64(len(g.body)) || len(g.chunk) != 0 {
		t.Errorf("content length %d for %d bytes, transfer encoding %v", g.length, len(g.body), g.chunk)
	}
	if n := g.header.Get("Logplex-Msg-Count"); n != "3" || len(parseFrames(t, g.body)) != 3 {
		t.Errorf("Logplex-Msg-Count = %q for %d frames", n, len(parseFrames(t, g.body)))
	}
	if id := g.header.Get("Logplex-Frame-Id"); len(id) != 32 {
		t.Errorf("Logplex-Frame-Id = %q", id)
	}
	if ua := g.header.Get("User-Agent"); !strings.HasPrefix(ua, "herokuevents") {
		t.Errorf("User-Agent = %q", ua)
	}
	for _, bad := range []string{"", "ftp://x/logs", "/logs", "http://%zz"} {
		if _, err := logplex.NewRequest(t.Context(), bad, msgs); err == nil {
			t.Errorf("NewRequest(%q) succeeded", bad)
		}
	}
	if r := logplex.Redact(input); strings.Contains(r, "secret") {
		t.Errorf("Redact = %q", r)
	}
}

// FuzzFrames: whatever the text and header fields, every frame parses
// with the independent parser, counts are exact and messages fit.
func FuzzFrames(f *testing.F) {
	f.Add("host", "proc", "event=x")
	f.Add("", "", strings.Repeat("\xff\n", 6000))
	f.Add("a b", "é", "")
	f.Fuzz(func(t *testing.T, host, proc, text string) {
		msgs := []logplex.Message{{Time: time.Unix(1796216400, 0), Host: host, Proc: proc, Text: text}, {Time: time.Unix(0, 0), Text: "next"}}
		body := logplex.Frames(msgs)
		raw := counts(t, body)
		if len(raw) != 2 || raw[1] != logplex.Encode(msgs[1]) {
			t.Fatalf("frames = %q", raw)
		}
		if len(raw[0]) > logplex.MaxMessage {
			t.Fatalf("message of %d bytes", len(raw[0]))
		}
		if got := parseFrames(t, body); len(got) != 2 {
			t.Fatalf("parsed %d frames", len(got))
		}
	})
}
