package deliver

import (
	"time"

	"github.com/herokuevents/herokuevents/shared/backoff"
)

// Retry defaults (DESIGN §5). A publication's RetryPolicy overrides
// DefaultMaxAttempts and DefaultHorizon when its fields are set.
const (
	// DefaultBase is the backoff before the second attempt, before jitter.
	DefaultBase = backoff.DefaultBase
	// DefaultCap bounds a backoff delay before jitter.
	DefaultCap = backoff.DefaultCap
	// MaxDelay is the longest delay a queue accepts (SQS: 15 minutes);
	// every delay, Retry-After included, is cut to it.
	MaxDelay = backoff.MaxDelay
	// DefaultHorizon is how long after the first attempt retries go on.
	DefaultHorizon = 24 * time.Hour
	// DefaultMaxAttempts bounds the attempts of one delivery; with the
	// default backoff (full jitter averaging 7.5 minutes once capped) it
	// lets DefaultHorizon be what normally ends retries.
	DefaultMaxAttempts = 200
)

// Backoff is exponential backoff with full jitter (backoff.Policy): the
// delay before attempt n+1, after n failed attempts, is uniform in
// [0, min(Cap, Base·2^(n-1))]. The zero value uses DefaultBase and
// DefaultCap.
type Backoff = backoff.Policy
