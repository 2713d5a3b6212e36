package sink

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

// Class is the outcome class of one delivery attempt (DESIGN §5).
type Class int

const (
	// Delivered: the endpoint answered 2xx.
	Delivered Class = iota
	// Retry: 429, 5xx, a timeout or a connection error; try again later.
	Retry
	// Gone: the endpoint answered 410; disable the publication.
	Gone
	// Permanent: any other 4xx, a 3xx (redirects are not followed), 1xx,
	// a refused destination or an unusable request; do not retry.
	Permanent
)

// String returns the lower-case name of the class.
func (c Class) String() string {
	switch c {
	case Delivered:
		return "delivered"
	case Retry:
		return "retry"
	case Gone:
		return "gone"
	case Permanent:
		return "permanent"
	}
	return "class(" + strconv.Itoa(int(c)) + ")"
}

// ExcerptSize is how much of a response body a Result keeps.
const ExcerptSize = 512

// drainLimit is how much more of a body is read to let the connection be reused.
const drainLimit = 64 << 10

// Result is the outcome of one HTTP delivery attempt.
type Result struct {
	// Status is the HTTP status code; 0 when no response was received.
	Status int
	Class  Class
	// RetryAfter is the delay the endpoint asked for (Retry-After), or 0.
	RetryAfter time.Duration
	// Excerpt is the start of the response body (at most ExcerptSize bytes,
	// valid UTF-8, trimmed).
	Excerpt string
	// Location is the Location header of a 3xx response.
	Location string
	// Cause is the transport error when no response was received.
	Cause error
	// Latency is the time from sending the request to the end of reading
	// the response excerpt.
	Latency time.Duration
}

// Reason is a one-line human description of the result, suitable for logs
// and dead-letter reasons. It never includes request headers.
func (r Result) Reason() string {
	var b strings.Builder
	switch {
	case r.Status == 0 && r.Cause != nil:
		b.WriteString("no response: ")
		b.WriteString(r.Cause.Error())
	case r.Status == 0:
		b.WriteString("no response")
	default:
		fmt.Fprintf(&b, "HTTP %d", r.Status)
		if t := http.StatusText(r.Status); t != "" {
			b.WriteString(" " + t)
		}
	}
	if r.Location != "" {
		b.WriteString(" (redirect to " + r.Location + " not followed)")
	}
	if r.RetryAfter > 0 {
		fmt.Fprintf(&b, " (retry after %s)", r.RetryAfter)
	}
	if r.Excerpt != "" {
		b.WriteString(": ")
		b.WriteString(r.Excerpt)
	}
	return b.String()
}

// Err returns nil for a delivered result and an *Error carrying r otherwise.
func (r Result) Err() error {
	if r.Class == Delivered {
		return nil
	}
	return &Error{Result: r}
}

// Error is a failed delivery attempt. Retrieve it with errors.As to learn
// the class, status and Retry-After of a publisher's failure.
type Error struct {
	Result Result
}

// Error returns the class and the result's reason.
func (e *Error) Error() string { return e.Result.Class.String() + ": " + e.Result.Reason() }

// Unwrap returns the transport error, if any.
func (e *Error) Unwrap() error { return e.Result.Cause }

// Do sends req with client and classifies the outcome. It reads at most a
// short excerpt of the body and always closes it. Do never retries.
func Do(client *http.Client, req *http.Request) Result {
	start := time.Now()
	resp, err := client.Do(req)
	if err != nil {
		r := classifyError(err)
		r.Latency = time.Since(start)
		observe(req.Context(), r, nil)
		return r
	}
	defer resp.Body.Close()
	buf, _ := io.ReadAll(io.LimitReader(resp.Body, max(ExcerptSize, BodySize)))
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, drainLimit))
	r := Classify(resp.StatusCode, resp.Header, time.Now())
	r.Excerpt = excerpt(buf[:min(len(buf), ExcerptSize)])
	r.Latency = time.Since(start)
	observe(req.Context(), r, buf)
	return r
}

// Classify returns the result of a response with the given status and
// headers received at now (now resolves an HTTP-date Retry-After).
func Classify(status int, h http.Header, now time.Time) Result {
	r := Result{Status: status}
	switch {
	case status >= 200 && status < 300:
		r.Class = Delivered
	case status == http.StatusTooManyRequests || (status >= 500 && status < 600):
		r.Class = Retry
		if d, ok := ParseRetryAfter(h.Get("Retry-After"), now); ok {
			r.RetryAfter = d
		}
	case status == http.StatusGone:
		r.Class = Gone
	case status >= 300 && status < 400:
		r.Class = Permanent
		r.Location = h.Get("Location")
	default:
		r.Class = Permanent
	}
	return r
}

// classifyError classifies a transport error: refusals by the egress guard
// and malformed requests are permanent; timeouts, cancellations and
// connection errors are retried.
func classifyError(err error) Result {
	r := Result{Cause: err, Class: Retry}
	var ue interface{ Timeout() bool }
	switch {
	case errors.Is(err, ErrEgress), errors.Is(err, ErrURL):
		r.Class = Permanent
	case errors.Is(err, context.DeadlineExceeded), errors.Is(err, context.Canceled):
	case errors.As(err, &ue) && ue.Timeout():
	default:
		var ne net.Error
		var oe *net.OpError
		var de *net.DNSError
		if !errors.As(err, &ne) && !errors.As(err, &oe) && !errors.As(err, &de) && isRequestError(err) {
			r.Class = Permanent
		}
	}
	return r
}

// isRequestError reports whether the client refused the request itself
// (unsupported scheme, missing host) rather than failing to reach the server.
func isRequestError(err error) bool {
	msg := err.Error()
	return strings.Contains(msg, "unsupported protocol scheme") || strings.Contains(msg, "no Host in request URL")
}

// ParseRetryAfter parses a Retry-After value, either delay seconds or an
// HTTP date, relative to now. Dates in the past give 0. ok is false when v
// is empty or malformed.
func ParseRetryAfter(v string, now time.Time) (d time.Duration, ok bool) {
	v = strings.TrimSpace(v)
	if v == "" {
		return 0, false
	}
	if n, err := strconv.ParseInt(v, 10, 64); err == nil {
		if n < 0 {
			return 0, false
		}
		const maxSec = int64(1<<63-1) / int64(time.Second)
		return time.Duration(min(n, maxSec)) * time.Second, true
	}
	t, err := http.ParseTime(v)
	if err != nil {
		return 0, false
	}
	return max(t.Sub(now), 0), true
}

func excerpt(b []byte) string {
	s := strings.ToValidUTF8(string(b), string(utf8.RuneError))
	s = strings.Join(strings.Fields(s), " ")
	return s
}
