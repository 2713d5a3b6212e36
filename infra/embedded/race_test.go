//go:build race

package embedded_test

import "time"

// raceSlack widens latency bounds under the race detector, which makes
// the pure-Go SQLite tens of times slower: a latency there measures the
// detector, not the design. It still catches a tenant waiting behind
// another's backlog (seconds).
const raceSlack = time.Second
