package embedded

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"sync"
	"time"

	"github.com/herokuevents/herokuevents/shared/httpjson"
)

// HTTPLimits harden the HTTP server of the embedded mode against slow and
// greedy clients; zero fields take the defaults below.
type HTTPLimits struct {
	// ReadHeaderTimeout bounds reading a request's headers (10 s).
	ReadHeaderTimeout time.Duration
	// ReadTimeout bounds reading a whole request, body included, from its
	// first byte (30 s). It applies before authentication: a client that
	// sends its body slowly is cut off whoever it is.
	ReadTimeout time.Duration
	// WriteTimeout bounds a request from the end of its headers to the end
	// of its answer (60 s; the longest pull long poll is 20 s).
	WriteTimeout time.Duration
	// IdleTimeout closes a keep-alive connection that waits that long for
	// its next request (30 s).
	IdleTimeout time.Duration
	// MaxConnsPerClient caps the open connections of one client address,
	// an IPv4 address or an IPv6 /64 (512; negative for no cap). A request on a connection beyond the cap
	// is answered 429 too_many_connections and its connection closed; a
	// connection beyond twice the cap is closed at once, unanswered.
	MaxConnsPerClient int
}

// Defaults of HTTPLimits.
const (
	DefaultReadHeaderTimeout = 10 * time.Second
	DefaultReadTimeout       = 30 * time.Second
	DefaultWriteTimeout      = 60 * time.Second
	DefaultIdleTimeout       = 30 * time.Second
	DefaultMaxConnsPerClient = 512
)

func (l HTTPLimits) withDefaults() HTTPLimits {
	def := func(d *time.Duration, v time.Duration) {
		if *d <= 0 {
			*d = v
		}
	}
	def(&l.ReadHeaderTimeout, DefaultReadHeaderTimeout)
	def(&l.ReadTimeout, DefaultReadTimeout)
	def(&l.WriteTimeout, DefaultWriteTimeout)
	def(&l.IdleTimeout, DefaultIdleTimeout)
	if l.MaxConnsPerClient == 0 {
		l.MaxConnsPerClient = DefaultMaxConnsPerClient
	}
	return l
}

// newHTTPServer returns the server of h with the limits l: timeouts, the
// per-client connection cap, a JSON 500 and a log line for a panic, and a
// log line for every 5xx answer.
func newHTTPServer(h http.Handler, l HTTPLimits, log *slog.Logger) *http.Server {
	l = l.withDefaults()
	c := &conns{max: l.MaxConnsPerClient, open: map[string]int{}, of: map[net.Conn]*client{}, log: log}
	return &http.Server{
		Handler:           c.handler(logFailures(h, log)),
		ReadHeaderTimeout: l.ReadHeaderTimeout,
		ReadTimeout:       l.ReadTimeout,
		WriteTimeout:      l.WriteTimeout,
		IdleTimeout:       l.IdleTimeout,
		MaxHeaderBytes:    64 << 10,
		ConnContext:       c.connContext,
		ConnState:         c.connState,
		ErrorLog:          slog.NewLogLogger(log.With("role", "http").Handler(), slog.LevelWarn),
	}
}

// client is one connection's client address and whether it is beyond
// the cap.
type client struct {
	addr string
	over bool
}

type clientKey struct{}

// conns counts the open connections of each client address.
type conns struct {
	max  int
	log  *slog.Logger
	mu   sync.Mutex
	open map[string]int
	of   map[net.Conn]*client
}

// connContext runs as a connection is accepted: it is counted, and marked
// (or closed) when its client is over the cap.
func (c *conns) connContext(ctx context.Context, conn net.Conn) context.Context {
	addr := hostOf(conn.RemoteAddr())
	cl := &client{addr: addr}
	c.mu.Lock()
	c.open[addr]++
	n := c.open[addr]
	c.of[conn] = cl
	c.mu.Unlock()
	if c.max > 0 && n > c.max {
		cl.over = true
		if n > 2*c.max {
			c.log.WarnContext(ctx, "connection refused", "role", "http", "client", addr, "open", n, "max", c.max)
			conn.Close()
		}
	}
	return context.WithValue(ctx, clientKey{}, cl)
}

func (c *conns) connState(conn net.Conn, st http.ConnState) {
	if st != http.StateClosed && st != http.StateHijacked {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	cl, ok := c.of[conn]
	if !ok {
		return
	}
	delete(c.of, conn)
	if c.open[cl.addr]--; c.open[cl.addr] <= 0 {
		delete(c.open, cl.addr)
	}
}

// handler answers 429 on a connection beyond its client's cap, and closes
// it.
func (c *conns) handler(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if cl, ok := r.Context().Value(clientKey{}).(*client); ok && cl.over {
			c.log.WarnContext(r.Context(), "request refused", "role", "http", "client", cl.addr, "reason", "too many connections", "max", c.max)
			w.Header().Set("Connection", "close")
			w.Header().Set("Retry-After", "1")
			httpjson.WriteError(w, httpjson.Errorf(http.StatusTooManyRequests, "too_many_connections",
				"This client has more than %d connections open; reuse them or close some.", c.max))
			return
		}
		h.ServeHTTP(w, r)
	})
}

// hostOf is the client address a connection counts against: its IP
// address, or for IPv6 its /64 (one host often has a whole /64).
func hostOf(a net.Addr) string {
	if ta, ok := a.(*net.TCPAddr); ok {
		ip := ta.AddrPort().Addr().Unmap().WithZone("")
		if ip.Is6() {
			if p, err := ip.Prefix(64); err == nil {
				return p.String()
			}
		}
		return ip.String()
	}
	host, _, err := net.SplitHostPort(a.String())
	if err != nil {
		return a.String()
	}
	return host
}

// statusWriter records the status of an answer.
type statusWriter struct {
	http.ResponseWriter
	status int
}

func (w *statusWriter) WriteHeader(status int) {
	if w.status == 0 {
		w.status = status
	}
	w.ResponseWriter.WriteHeader(status)
}

func (w *statusWriter) Write(b []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	return w.ResponseWriter.Write(b)
}

// Unwrap lets http.ResponseController reach the connection (Flush,
// deadlines).
func (w *statusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// Flush passes through to the connection (the pull long poll flushes).
func (w *statusWriter) Flush() {
	if f, ok := w.ResponseWriter.(http.Flusher); ok {
		f.Flush()
	}
}

// logFailures logs every 5xx answer (one line: method, path, status,
// duration) and turns a panic into a logged 500 internal_error.
func logFailures(h http.Handler, log *slog.Logger) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		sw := &statusWriter{ResponseWriter: w}
		start := time.Now()
		defer func() {
			if p := recover(); p != nil {
				if p == http.ErrAbortHandler {
					panic(p)
				}
				log.ErrorContext(r.Context(), "request panicked", "role", "http", "method", r.Method,
					"path", httpjson.Short(r.URL.Path), "panic", fmt.Sprint(p), "duration_ms", time.Since(start).Milliseconds())
				if sw.status == 0 {
					httpjson.WriteError(sw, fmt.Errorf("panic: %v", p))
				}
				return
			}
			if sw.status >= 500 {
				log.ErrorContext(r.Context(), "request failed", "role", "http", "method", r.Method,
					"path", httpjson.Short(r.URL.Path), "status", sw.status, "duration_ms", time.Since(start).Milliseconds())
			}
		}()
		h.ServeHTTP(sw, r)
	})
}
