//go:build !race

package embedded_test

// raceSlack: no race detector, latency bounds as specified.
const raceSlack = 0
