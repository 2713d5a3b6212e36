// Package backoff is the retry schedule of queued work that a role retries
// by re-sending its message with a delay (the deliver role's deliveries,
// the partnernotify role's notifications): exponential backoff with
// jitter, a server's Retry-After honoured, and one decision after a failed
// attempt — re-queue after a delay, or give up once the attempts or the
// horizon are used up (the caller then dead-letters the message).
//
// Everything here is a pure function of its arguments (plus the jitter's
// randomness): it is safe for concurrent use and never sleeps.
package backoff

import (
	"fmt"
	"math/rand/v2"
	"strconv"
	"time"

	"github.com/herokuevents/herokuevents/shared/queue"
)

const (
	// DefaultBase is the backoff before the second attempt, before jitter.
	DefaultBase = 10 * time.Second
	// DefaultCap bounds a backoff delay before jitter.
	DefaultCap = 15 * time.Minute
	// MaxDelay is the longest delay a queue accepts (queue.MaxDelay, the
	// SQS limit); every delay, Retry-After included, is cut to it.
	MaxDelay = queue.MaxDelay
)

// Policy is exponential backoff: the delay before attempt n+1, after n
// failed attempts, is the ceiling min(Cap, Base·2^(n-1)) jittered. The
// zero value uses DefaultBase, DefaultCap and full jitter.
type Policy struct {
	Base time.Duration
	Cap  time.Duration
	// Jitter returns a duration in [0, d] for the ceiling d; nil means full
	// jitter (uniform in [0, d]). Set it to make delays deterministic
	// (tests) or to keep a floor (EqualJitter).
	Jitter func(d time.Duration) time.Duration
}

// Ceiling is the upper bound of the delay after failed attempts (≥ 1),
// before jitter.
func (p Policy) Ceiling(failed int) time.Duration {
	base, limit := p.Base, p.Cap
	if base <= 0 {
		base = DefaultBase
	}
	if limit <= 0 {
		limit = DefaultCap
	}
	d := base
	for i := 1; i < failed && d < limit; i++ {
		d *= 2
	}
	return min(d, limit)
}

// Delay returns the jittered delay after failed attempts (≥ 1), in
// [0, Ceiling(failed)].
func (p Policy) Delay(failed int) time.Duration {
	c := p.Ceiling(failed)
	if p.Jitter != nil {
		return min(max(p.Jitter(c), 0), c)
	}
	return time.Duration(rand.Int64N(int64(c) + 1))
}

// EqualJitter keeps a delay in [d/2, d]: half the ceiling, plus a random
// half.
func EqualJitter(d time.Duration) time.Duration { return d/2 + rand.N(d/2+1) }

// Spread returns the policy whose ceilings for the attempts-1 retries of
// attempts add up to horizon (Base = horizon/(2^retries-1), at least a
// second), with equal jitter, capped at MaxDelay: the retries of a message
// end about horizon after its first attempt.
func Spread(attempts int, horizon time.Duration) Policy {
	retries := min(max(attempts-1, 1), 62)
	base := horizon / time.Duration((int64(1)<<retries)-1)
	return Policy{Base: max(base, time.Second), Cap: MaxDelay, Jitter: EqualJitter}
}

// Limits end the retries of one message.
type Limits struct {
	// MaxAttempts bounds the attempts, the first included; ≤ 0 means no
	// bound.
	MaxAttempts int
	// Horizon is how long after the first attempt retries go on: no retry
	// is scheduled past it. 0 means no horizon.
	Horizon time.Duration
}

// Failure is a failed attempt of a message.
type Failure struct {
	// Attempt counts the attempts made before the failed one (the
	// message's attempt counter: 0 on the first attempt).
	Attempt int
	// FirstTry is when the first attempt was made; zero on the first
	// attempt, when it is now.
	FirstTry time.Time
	// RetryAfter is how long the server asked to wait (Retry-After); the
	// delay is at least that long, within MaxDelay and the horizon.
	RetryAfter time.Duration
}

// Decision is what to do after a failed attempt.
type Decision struct {
	// Attempts counts the attempts made, the failed one included: the
	// attempt counter of the re-sent message.
	Attempts int
	// FirstTry is when the first attempt was made, to carry in the re-sent
	// message.
	FirstTry time.Time
	// GiveUp: the limits are used up; dead-letter the message with Reason.
	GiveUp bool
	// Reason says why the retries ended: "gave up after 5 attempts" or
	// "gave up after 40 attempts: retry horizon 24h0m0s passed".
	Reason string
	// Delay is how long to wait before the next attempt (when !GiveUp).
	Delay time.Duration
}

// Next decides, at now, what follows the failure f under the limits l:
// give up when the attempts are used up or the horizon has passed;
// otherwise re-queue after the backoff delay, at least f.RetryAfter, at
// most MaxDelay and never past the horizon.
func (p Policy) Next(l Limits, f Failure, now time.Time) Decision {
	d := Decision{Attempts: f.Attempt + 1, FirstTry: f.FirstTry}
	if d.FirstTry.IsZero() {
		d.FirstTry = now
	}
	deadline := d.FirstTry.Add(l.Horizon)
	switch {
	case l.MaxAttempts > 0 && d.Attempts >= l.MaxAttempts:
		d.GiveUp, d.Reason = true, fmt.Sprintf("gave up after %d attempts", d.Attempts)
		return d
	case l.Horizon > 0 && !now.Before(deadline):
		d.GiveUp, d.Reason = true, fmt.Sprintf("gave up after %d attempts: retry horizon %s passed", d.Attempts, l.Horizon)
		return d
	}
	d.Delay = min(max(p.Delay(d.Attempts), f.RetryAfter), MaxDelay)
	if l.Horizon > 0 {
		d.Delay = min(d.Delay, deadline.Sub(now))
	}
	return d
}

// Message is the re-sent message of a decision to retry: body (the
// caller's message carrying Attempts and FirstTry) for tenant, with the
// queue.AttrTenant and queue.AttrAttempt attributes and the delay.
func (d Decision) Message(tenant string, body []byte) queue.Message {
	return queue.Message{
		Body: body,
		Attributes: map[string]string{
			queue.AttrTenant:  tenant,
			queue.AttrAttempt: strconv.Itoa(d.Attempts),
		},
		Delay: d.Delay,
	}
}
