package standin

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/google/uuid"
	"github.com/influxdata/go-syslog/v3/rfc5424"
)

// The Logplex HTTPS input (reference heroku-addon.md §4): POST /logs with
// Basic auth token:<the app's token> (the userinfo of log_input_url),
// Content-Type application/logplex-1, an exact Content-Length (no chunked
// body), octet-counted RFC 5424 frames of at most MaxMessage bytes each
// and, when sent, a Logplex-Msg-Count equal to the number of frames. One
// bad frame or a wrong count rejects the whole request with 400, as Logplex
// does; accepted lines are kept per app (log sessions read them) and
// printed to Options.LogOutput as `heroku logs --tail` prints them.

// MaxMessage is the largest message Logplex accepts, in bytes.
const MaxMessage = 10240

// TimeLayout is how `heroku logs` prints a line's time.
const TimeLayout = "2006-01-02T15:04:05.000000-07:00"

// Line is one received log line.
type Line struct {
	App    string
	Time   time.Time
	Source string // the APP-NAME: "app" for add-on lines
	Proc   string // the PROCID: "herokuevents"
	Text   string
}

// String renders the line as `heroku logs` does: TIME SOURCE[PROC]: TEXT.
func (l Line) String() string {
	return fmt.Sprintf("%s %s[%s]: %s", l.Time.UTC().Format(TimeLayout), l.Source, l.Proc, l.Text)
}

func (h *Heroku) logInputURL(ap *app) string {
	u, _ := url.Parse(h.base + "/logs")
	u.User = url.UserPassword("token", ap.LogToken)
	return u.String()
}

func (h *Heroku) logplexInput(w http.ResponseWriter, r *http.Request) {
	user, pass, ok := r.BasicAuth()
	h.mu.Lock()
	var appName string
	for _, ap := range h.apps {
		if ok && user == "token" && pass == ap.LogToken {
			appName = ap.Name
		}
	}
	h.mu.Unlock()
	if appName == "" {
		http.Error(w, "Unauthorized", http.StatusUnauthorized)
		return
	}
	switch ct := r.Header.Get("Content-Type"); ct {
	case "application/logplex-1", "application/x-logplex-1":
	default:
		http.Error(w, "Unsupported Content-Type "+ct, http.StatusUnsupportedMediaType)
		return
	}
	if r.ContentLength < 0 || len(r.TransferEncoding) > 0 {
		http.Error(w, "Content-Length required (no chunked encoding)", http.StatusLengthRequired)
		return
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, 8<<20))
	if err != nil {
		http.Error(w, "Bad body", http.StatusBadRequest)
		return
	}
	lines, err := parseFrames(appName, body)
	if err != nil {
		h.log.Info("heroku stand-in refused log lines", "app", appName, "reason", err.Error())
		http.Error(w, "Malformed log messages: "+err.Error(), http.StatusBadRequest)
		return
	}
	if c := r.Header.Get("Logplex-Msg-Count"); c != "" && c != strconv.Itoa(len(lines)) {
		h.log.Info("heroku stand-in refused log lines", "app", appName, "reason", "message count mismatch", "header", c, "frames", len(lines))
		http.Error(w, "Message count mismatch", http.StatusBadRequest)
		return
	}
	h.logs.add(lines)
	if out := h.o.LogOutput; out != nil {
		var b strings.Builder
		for _, l := range lines {
			b.WriteString(l.String() + "\n")
		}
		h.mu.Lock()
		_, _ = io.WriteString(out, b.String())
		h.mu.Unlock()
	}
	w.WriteHeader(http.StatusNoContent)
}

// parseFrames splits octet-counted frames and parses each message with an
// RFC 5424 parser (every header field required).
func parseFrames(appName string, body []byte) ([]Line, error) {
	var out []Line
	p := rfc5424.NewParser()
	for len(body) > 0 {
		sp := bytes.IndexByte(body, ' ')
		if sp <= 0 || sp > 5 {
			return nil, fmt.Errorf("frame %d has no octet count", len(out)+1)
		}
		n, err := strconv.Atoi(string(body[:sp]))
		if err != nil || n <= 0 || n > MaxMessage || sp+1+n > len(body) {
			return nil, fmt.Errorf("frame %d has a bad octet count %q", len(out)+1, body[:sp])
		}
		msg := bytes.TrimSuffix(body[sp+1:sp+1+n], []byte("\n"))
		body = body[sp+1+n:]
		m, err := p.Parse(msg)
		if err != nil {
			return nil, fmt.Errorf("frame %d: %w", len(out)+1, err)
		}
		sm, ok := m.(*rfc5424.SyslogMessage)
		if !ok || sm.Timestamp == nil || sm.Appname == nil || sm.ProcID == nil || sm.Message == nil {
			return nil, fmt.Errorf("frame %d lacks a header field or a message", len(out)+1)
		}
		out = append(out, Line{App: appName, Time: *sm.Timestamp, Source: *sm.Appname, Proc: *sm.ProcID, Text: *sm.Message})
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("no frame")
	}
	return out, nil
}

// logStore keeps the latest lines of every app and feeds tails.
type logStore struct {
	mu     sync.Mutex
	max    int
	lines  map[string][]Line
	subs   map[chan Line]string // → app
	closed bool
}

func newLogStore(max int) *logStore {
	return &logStore{max: max, lines: map[string][]Line{}, subs: map[chan Line]string{}}
}

func (s *logStore) add(lines []Line) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, l := range lines {
		kept := append(s.lines[l.App], l)
		if len(kept) > s.max {
			kept = kept[len(kept)-s.max:]
		}
		s.lines[l.App] = kept
		for ch, app := range s.subs {
			if app == l.App {
				select {
				case ch <- l:
				default: // a slow tail misses lines rather than slowing the input
				}
			}
		}
	}
}

// tail returns the last n lines of app and, when follow, a channel of the
// next ones (closed by stop or Close).
func (s *logStore) tail(app string, n int, follow bool) ([]Line, chan Line, func()) {
	s.mu.Lock()
	defer s.mu.Unlock()
	kept := s.lines[app]
	if n >= 0 && len(kept) > n {
		kept = kept[len(kept)-n:]
	}
	out := append([]Line(nil), kept...)
	if !follow || s.closed {
		return out, nil, func() {}
	}
	ch := make(chan Line, 256)
	s.subs[ch] = app
	return out, ch, func() {
		s.mu.Lock()
		defer s.mu.Unlock()
		if _, ok := s.subs[ch]; ok {
			delete(s.subs, ch)
			close(ch)
		}
	}
}

func (s *logStore) close() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.closed = true
	for ch := range s.subs {
		delete(s.subs, ch)
		close(ch)
	}
}

// session is a log session: what GET /log-sessions/{id} streams.
type session struct {
	app, source, dyno string
	lines             int
	tail              bool
}

// createLogSession is POST /apps/{app}/log-sessions {lines, tail, source,
// dyno} → {id, logplex_url}, as `heroku logs` calls it.
func (h *Heroku) createLogSession(w http.ResponseWriter, r *http.Request) {
	var body struct {
		Lines  *int   `json:"lines"`
		Tail   bool   `json:"tail"`
		Source string `json:"source"`
		Dyno   string `json:"dyno"`
	}
	if err := json.NewDecoder(io.LimitReader(r.Body, 1<<16)).Decode(&body); err != nil && err != io.EOF {
		writeError(w, http.StatusBadRequest, "invalid_params", "The body is not JSON.")
		return
	}
	s := session{app: r.PathValue("app"), source: body.Source, dyno: body.Dyno, lines: 100, tail: body.Tail}
	if body.Lines != nil {
		s.lines = *body.Lines
	}
	id := uuid.NewString()
	h.mu.Lock()
	h.appLocked(s.app)
	h.sessions[id] = s
	h.mu.Unlock()
	writeJSON(w, http.StatusCreated, map[string]string{"id": id, "logplex_url": h.base + "/log-sessions/" + id})
}

// streamLogSession writes the session's lines, then with tail the next
// ones as they come, until the client goes or the stand-in closes.
func (h *Heroku) streamLogSession(w http.ResponseWriter, r *http.Request) {
	h.mu.Lock()
	s, ok := h.sessions[r.PathValue("id")]
	h.mu.Unlock()
	if !ok {
		http.Error(w, "Unknown log session", http.StatusNotFound)
		return
	}
	match := func(l Line) bool {
		return (s.source == "" || s.source == l.Source) && (s.dyno == "" || s.dyno == l.Proc)
	}
	past, ch, stop := h.logs.tail(s.app, -1, s.tail)
	defer stop()
	var kept []Line
	for _, l := range past {
		if match(l) {
			kept = append(kept, l)
		}
	}
	if len(kept) > s.lines {
		kept = kept[len(kept)-s.lines:]
	}
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	for _, l := range kept {
		_, _ = io.WriteString(w, l.String()+"\n")
	}
	flusher, _ := w.(http.Flusher)
	if flusher != nil {
		flusher.Flush()
	}
	if ch == nil {
		return
	}
	for {
		select {
		case <-r.Context().Done():
			return
		case l, ok := <-ch:
			if !ok {
				return
			}
			if match(l) {
				_, _ = io.WriteString(w, l.String()+"\n")
				if flusher != nil {
					flusher.Flush()
				}
			}
		}
	}
}
