package journal

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"time"
)

// Window is the span a publication's health covers.
const Window = time.Hour

// HealthSample bounds the attempts HealthOf reads per publication; a
// publication with more attempts in the Window is summarised from its
// newest ones (Health.Sampled).
const HealthSample = 10000

// Health is the delivery health of a publication (or of several, for a
// subscription's targets) over the Window.
type Health struct {
	// Delivered and Failed count the attempts of the window.
	Delivered, Failed int
	// P50 and P99 are percentiles of the attempts' latencies.
	P50, P99 time.Duration
	// LastOutcome and LastAttemptAt describe the newest attempt.
	LastOutcome   Outcome
	LastAttemptAt time.Time
	// LastError and LastErrorAt describe the newest failed attempt still
	// retained, in the window or not.
	LastError   string
	LastErrorAt time.Time
	// Pending counts the deliveries waiting for a retry: their latest
	// attempt failed and scheduled another. OldestPending is the first
	// try of the oldest of them, NextRetry the soonest scheduled attempt.
	Pending       int
	OldestPending time.Time
	NextRetry     time.Time
	// Sampled is set when the window held more than HealthSample attempts
	// of a publication: the counts are of its newest ones.
	Sampled bool
}

// Failing reports whether the newest attempt failed or deliveries are
// waiting for a retry.
func (h Health) Failing() bool { return h.LastOutcome.Failed() || h.Pending > 0 }

// Summarize computes the health of attempts, in any order: counts, latency
// percentiles (nearest rank), the newest outcome and error, and the
// pending deliveries (see Pending). A delivery's retry scheduled long ago
// is only seen when its attempt is among attempts: callers read at least
// the last MaxDelay of attempts (HealthOf reads the Window).
func Summarize(attempts []Entry) Health {
	var h Health
	lat := make([]time.Duration, 0, len(attempts))
	for _, e := range attempts {
		if e.Stage != Attempt {
			continue
		}
		if e.Outcome == Delivered {
			h.Delivered++
		} else {
			h.Failed++
		}
		lat = append(lat, e.Latency)
		if e.Time.After(h.LastAttemptAt) || h.LastAttemptAt.IsZero() {
			h.LastAttemptAt, h.LastOutcome = e.Time, e.Outcome
		}
		if e.Outcome.Failed() && (e.Time.After(h.LastErrorAt) || h.LastErrorAt.IsZero()) {
			h.LastErrorAt, h.LastError = e.Time, errorOf(e)
		}
	}
	if len(lat) > 0 {
		slices.Sort(lat)
		h.P50, h.P99 = percentile(lat, 50), percentile(lat, 99)
	}
	for _, e := range Pending(attempts) {
		h.Pending++
		first := cmp.Or(e.FirstTry, e.Time)
		if h.OldestPending.IsZero() || first.Before(h.OldestPending) {
			h.OldestPending = first
		}
		if !e.NextAttempt.IsZero() && (h.NextRetry.IsZero() || e.NextAttempt.Before(h.NextRetry)) {
			h.NextRetry = e.NextAttempt
		}
	}
	return h
}

// errorOf is the one-line error of a failed attempt.
func errorOf(e Entry) string {
	if e.Error != "" {
		return e.Error
	}
	if e.Status != 0 {
		return fmt.Sprintf("HTTP %d", e.Status)
	}
	return string(e.Outcome)
}

// percentile returns the p-th percentile (nearest rank) of sorted values.
func percentile(sorted []time.Duration, p int) time.Duration {
	i := (len(sorted)*p + 99) / 100
	return sorted[max(i-1, 0)]
}

// Pending returns, newest first, the attempts that are the latest of their
// delivery (same publication and event) and ended in Retry: the
// deliveries scheduled but not finished.
func Pending(attempts []Entry) []Entry {
	latest := map[[2]string]Entry{}
	for _, e := range attempts {
		if e.Stage != Attempt {
			continue
		}
		k := [2]string{e.Publication, e.EventID}
		if cur, ok := latest[k]; !ok || newer(e, cur) {
			latest[k] = e
		}
	}
	var out []Entry
	for _, e := range latest {
		if e.Outcome == Retry {
			out = append(out, e)
		}
	}
	slices.SortFunc(out, func(a, b Entry) int { return b.Time.Compare(a.Time) })
	return out
}

// newer reports whether attempt a came after b of the same delivery.
func newer(a, b Entry) bool {
	if c := a.Time.Compare(b.Time); c != 0 {
		return c > 0
	}
	return a.Attempt > b.Attempt
}

// HealthOf reads the attempts of the tenant's publications (ids) over the
// Window before now and summarises them together; LastError falls back to
// the newest failed attempt retained before the window.
func HealthOf(ctx context.Context, r Reader, tenant string, publications []string, now time.Time) (Health, error) {
	var all []Entry
	sampled := false
	for _, p := range publications {
		got, err := r.Attempts(ctx, tenant, p, Query{Limit: HealthSample, Since: now.Add(-Window)})
		if err != nil {
			return Health{}, fmt.Errorf("read attempts of publication %s: %w", p, err)
		}
		sampled = sampled || len(got) >= HealthSample
		all = append(all, got...)
	}
	h := Summarize(all)
	h.Sampled = sampled
	if h.LastError != "" {
		return h, nil
	}
	for _, p := range publications {
		got, err := r.Attempts(ctx, tenant, p, Query{Limit: 1, Outcomes: FailedOutcomes})
		if err != nil {
			return Health{}, fmt.Errorf("read failed attempts of publication %s: %w", p, err)
		}
		for _, e := range got {
			if e.Time.After(h.LastErrorAt) {
				h.LastErrorAt, h.LastError = e.Time, errorOf(e)
			}
		}
	}
	return h, nil
}
