package deliver

import (
	"math/rand/v2"
	"time"
)

// Retry defaults (DESIGN §5). A publication's RetryPolicy overrides
// DefaultMaxAttempts and DefaultHorizon when its fields are set.
const (
	// DefaultBase is the backoff before the second attempt, before jitter.
	DefaultBase = 10 * time.Second
	// DefaultCap bounds a backoff delay before jitter.
	DefaultCap = 15 * time.Minute
	// MaxDelay is the longest delay a queue accepts (SQS: 15 minutes);
	// every delay, Retry-After included, is cut to it.
	MaxDelay = 15 * time.Minute
	// DefaultHorizon is how long after the first attempt retries go on.
	DefaultHorizon = 24 * time.Hour
	// DefaultMaxAttempts bounds the attempts of one delivery; with the
	// default backoff (full jitter averaging 7.5 minutes once capped) it
	// lets DefaultHorizon be what normally ends retries.
	DefaultMaxAttempts = 200
)

// Backoff is exponential backoff with full jitter: the delay before attempt
// n+1, after n failed attempts, is uniform in [0, min(Cap, Base·2^(n-1))].
// The zero value uses DefaultBase and DefaultCap.
type Backoff struct {
	Base time.Duration
	Cap  time.Duration
	// Jitter returns a duration in [0, d]; nil means uniformly random.
	// Set it to make delays deterministic (tests).
	Jitter func(d time.Duration) time.Duration
}

// Ceiling is the upper bound of the delay after failed attempts (≥ 1),
// before jitter.
func (b Backoff) Ceiling(failed int) time.Duration {
	base, limit := b.Base, b.Cap
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

// Delay returns the jittered delay after failed attempts (≥ 1).
func (b Backoff) Delay(failed int) time.Duration {
	c := b.Ceiling(failed)
	if b.Jitter != nil {
		return min(max(b.Jitter(c), 0), c)
	}
	return time.Duration(rand.Int64N(int64(c) + 1))
}
