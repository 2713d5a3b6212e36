package generate

import (
	"errors"
	"fmt"
	"strings"
	"time"
	_ "time/tzdata" // TZ= names resolve without the host's zoneinfo (Lambda images lack it)

	"github.com/robfig/cron/v3"
)

// MinInterval is the shortest fixed interval a generator accepts.
const MinInterval = time.Second

// MaxIntervalLength bounds an interval string.
const MaxIntervalLength = 256

// ErrInterval wraps every interval parse error.
var ErrInterval = errors.New("invalid interval")

// cronParser reads standard 5-field cron expressions and the descriptors
// @yearly, @monthly, @weekly, @daily, @hourly.
var cronParser = cron.NewParser(cron.Minute | cron.Hour | cron.Dom | cron.Month | cron.Dow | cron.Descriptor)

// Interval is a generator's schedule, parsed from what Redpanda Connect's
// generate input accepts:
//
//   - a Go duration of at least 1s: "30s", "1m", "1h30m";
//   - "@every DURATION": the same;
//   - a 5-field cron expression ("*/5 * * * *", "0 9 * * 1-5") or a
//     descriptor ("@hourly", "@daily", ...), evaluated in UTC unless prefixed
//     with "TZ=Area/City " (or "CRON_TZ=Area/City ").
//
// A fixed interval fires at creation (to the millisecond) and then every
// interval, as Redpanda Connect's generate input emits its first message at
// once; a cron expression fires at its matching minutes only. The zero
// Interval is not usable.
type Interval struct {
	src   string
	every time.Duration
	cron  cron.Schedule
}

// ParseInterval parses and validates s. Errors wrap ErrInterval and read
// as a sentence fit for the user.
func ParseInterval(s string) (Interval, error) {
	bad := func(format string, args ...any) (Interval, error) {
		return Interval{}, fmt.Errorf("%w: "+format, append([]any{ErrInterval}, args...)...)
	}
	src := strings.TrimSpace(s)
	switch {
	case src == "":
		return bad("interval is required")
	case len(src) > MaxIntervalLength:
		return bad("interval is longer than %d bytes", MaxIntervalLength)
	}
	if rest, ok := strings.CutPrefix(src, "@every"); ok {
		d, err := time.ParseDuration(strings.TrimSpace(rest))
		if err != nil || strings.TrimSpace(rest) == "" {
			return bad("interval %q: @every needs a duration such as 30s, 5m or 1h", src)
		}
		return fixed(src, d)
	}
	if d, err := time.ParseDuration(src); err == nil {
		return fixed(src, d)
	}
	loc := time.UTC
	expr := src
	for _, prefix := range []string{"TZ=", "CRON_TZ="} {
		rest, ok := strings.CutPrefix(src, prefix)
		if !ok {
			continue
		}
		name, e, _ := strings.Cut(rest, " ")
		expr = strings.TrimSpace(e)
		if name == "" || name == "Local" {
			return bad("interval %q: %s needs a time zone name such as Europe/London", src, prefix)
		}
		l, err := time.LoadLocation(name)
		if err != nil {
			return bad("interval %q: unknown time zone %q", src, name)
		}
		if expr == "" {
			return bad("interval %q: a cron expression must follow the time zone", src)
		}
		if strings.HasPrefix(expr, "@every") {
			return bad("interval %q: a time zone applies to cron expressions only", src)
		}
		loc = l
	}
	if !strings.ContainsAny(expr, " \t") && !strings.HasPrefix(expr, "@") {
		return bad("interval %q is neither a duration (30s, 1m, 1h30m), \"@every 5m\" nor a 5-field cron expression", src)
	}
	sched, err := cronParser.Parse("TZ=" + loc.String() + " " + expr)
	if err != nil {
		return bad("interval %q is not a valid cron expression: %s", src, cronMessage(err))
	}
	iv := Interval{src: src, cron: sched}
	if iv.Next(time.Now()).IsZero() {
		return bad("interval %q never fires", src)
	}
	return iv, nil
}

func fixed(src string, d time.Duration) (Interval, error) {
	if d < MinInterval {
		return Interval{}, fmt.Errorf("%w: interval %q is shorter than %s", ErrInterval, src, MinInterval)
	}
	return Interval{src: src, every: d}, nil
}

// cronMessage shortens robfig/cron's messages.
func cronMessage(err error) string {
	msg := err.Error()
	msg = strings.TrimPrefix(msg, "provided bad location ")
	return msg
}

// String returns the interval as given (trimmed).
func (iv Interval) String() string { return iv.src }

// Fixed returns the fixed interval, or 0 for a cron schedule.
func (iv Interval) Fixed() time.Duration { return iv.every }

// First returns the first slot of a generator created at t.
func (iv Interval) First(t time.Time) time.Time {
	if iv.every > 0 {
		return t.UTC().Truncate(time.Millisecond)
	}
	return iv.Next(t)
}

// Next returns the slot that follows slot s, or the zero time when a cron
// schedule has no slot within five years.
func (iv Interval) Next(s time.Time) time.Time {
	if iv.every > 0 {
		return s.Add(iv.every).UTC()
	}
	n := iv.cron.Next(s)
	if n.IsZero() {
		return n
	}
	return n.UTC()
}

// maxScan bounds the cron slots walked to find a catch-up slot.
const maxScan = 100_000

// lastBefore returns, for a next run s < cut, the latest slot in [s, cut)
// and the first slot at or after cut (zero when there is none).
func (iv Interval) lastBefore(s, cut time.Time) (last, next time.Time) {
	if iv.every > 0 {
		n := (cut.Sub(s) + iv.every - 1) / iv.every // slots in [s, cut), ≥ 1
		return s.Add((n - 1) * iv.every).UTC(), s.Add(n * iv.every).UTC()
	}
	// Widen a window back from cut until it holds a slot, so that long
	// downtimes do not walk every missed slot.
	start := s
	for w := time.Minute; cut.Add(-w).After(s); w *= 2 {
		if first := iv.Next(cut.Add(-w).Add(-time.Second)); !first.IsZero() && first.Before(cut) {
			start = first
			break
		}
	}
	last = start
	next = iv.Next(start)
	for i := 0; i < maxScan && !next.IsZero() && next.Before(cut); i++ {
		last, next = next, iv.Next(next)
	}
	return last, next
}

// Message is an interval error's text without the ErrInterval prefix, for
// the user.
func Message(err error) string {
	msg, _ := strings.CutPrefix(err.Error(), ErrInterval.Error()+": ")
	return msg
}
