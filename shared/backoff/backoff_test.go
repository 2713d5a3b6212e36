package backoff_test

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/herokuevents/herokuevents/shared/backoff"
	"github.com/herokuevents/herokuevents/shared/queue"
)

func exact(d time.Duration) time.Duration { return d }

func TestCeilingAndJitter(t *testing.T) {
	p := backoff.Policy{Base: time.Second, Cap: 8 * time.Second}
	assert.Equal(t, []time.Duration{1, 2, 4, 8, 8}, []time.Duration{
		p.Ceiling(1) / time.Second, p.Ceiling(2) / time.Second, p.Ceiling(3) / time.Second,
		p.Ceiling(4) / time.Second, p.Ceiling(1000) / time.Second,
	})
	for failed := 1; failed < 8; failed++ {
		for range 50 {
			d := p.Delay(failed)
			require.GreaterOrEqual(t, d, time.Duration(0))
			require.LessOrEqual(t, d, p.Ceiling(failed))
		}
	}
	assert.Equal(t, backoff.DefaultBase, backoff.Policy{}.Ceiling(1))
	assert.Equal(t, backoff.DefaultCap, backoff.Policy{}.Ceiling(1000))

	wild := backoff.Policy{Base: time.Second, Jitter: func(d time.Duration) time.Duration { return 10 * d }}
	assert.Equal(t, time.Second, wild.Delay(1), "a jitter beyond the ceiling is cut to it")
	for range 50 {
		d := backoff.EqualJitter(time.Minute)
		require.GreaterOrEqual(t, d, 30*time.Second)
		require.LessOrEqual(t, d, time.Minute)
	}
}

func TestSpreadAddsUpToTheHorizon(t *testing.T) {
	p := backoff.Spread(5, 15*time.Minute)
	var sum time.Duration
	for failed := 1; failed < 5; failed++ {
		sum += p.Ceiling(failed)
	}
	assert.Equal(t, 15*time.Minute, sum)
	assert.Equal(t, time.Second, backoff.Spread(20, time.Minute).Base, "at least a second")
	assert.Equal(t, backoff.MaxDelay, backoff.Spread(2, 72*time.Hour).Ceiling(1), "capped to what a queue accepts")
	assert.Positive(t, backoff.Spread(1, time.Minute).Base)
}

func TestNext(t *testing.T) {
	now := time.Date(2025, 1, 2, 3, 4, 5, 0, time.UTC)
	p := backoff.Policy{Base: 2 * time.Second, Cap: time.Minute, Jitter: exact}
	tests := []struct {
		name   string
		l      backoff.Limits
		f      backoff.Failure
		want   backoff.Decision
		reason string
	}{
		{name: "first failure", l: backoff.Limits{MaxAttempts: 5}, f: backoff.Failure{},
			want: backoff.Decision{Attempts: 1, FirstTry: now, Delay: 2 * time.Second}},
		{name: "fourth failure", l: backoff.Limits{MaxAttempts: 5}, f: backoff.Failure{Attempt: 3, FirstTry: now.Add(-time.Minute)},
			want: backoff.Decision{Attempts: 4, FirstTry: now.Add(-time.Minute), Delay: 16 * time.Second}},
		{name: "capped", f: backoff.Failure{Attempt: 20, FirstTry: now.Add(-time.Hour)},
			want: backoff.Decision{Attempts: 21, FirstTry: now.Add(-time.Hour), Delay: time.Minute}},
		{name: "retry-after wins when larger", f: backoff.Failure{RetryAfter: 2 * time.Minute},
			want: backoff.Decision{Attempts: 1, FirstTry: now, Delay: 2 * time.Minute}},
		{name: "retry-after cut to the queue limit", f: backoff.Failure{RetryAfter: 24 * time.Hour},
			want: backoff.Decision{Attempts: 1, FirstTry: now, Delay: backoff.MaxDelay}},
		{name: "never past the horizon", l: backoff.Limits{Horizon: time.Hour}, f: backoff.Failure{Attempt: 5, FirstTry: now.Add(-time.Hour + 30*time.Second), RetryAfter: 10 * time.Minute},
			want: backoff.Decision{Attempts: 6, FirstTry: now.Add(-time.Hour + 30*time.Second), Delay: 30 * time.Second}},
		{name: "attempts used up", l: backoff.Limits{MaxAttempts: 3, Horizon: time.Hour}, f: backoff.Failure{Attempt: 2, FirstTry: now.Add(-time.Minute)},
			want: backoff.Decision{Attempts: 3, FirstTry: now.Add(-time.Minute), GiveUp: true, Reason: "gave up after 3 attempts"}},
		{name: "horizon passed", l: backoff.Limits{MaxAttempts: 200, Horizon: time.Hour}, f: backoff.Failure{Attempt: 4, FirstTry: now.Add(-2 * time.Hour)},
			want: backoff.Decision{Attempts: 5, FirstTry: now.Add(-2 * time.Hour), GiveUp: true, Reason: "gave up after 5 attempts: retry horizon 1h0m0s passed"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			assert.Equal(t, tt.want, p.Next(tt.l, tt.f, now))
		})
	}
}

func TestDecisionMessage(t *testing.T) {
	d := backoff.Decision{Attempts: 3, Delay: 4 * time.Second}
	m := d.Message("t-1", []byte(`{}`))
	assert.Equal(t, queue.Message{Body: []byte(`{}`), Delay: 4 * time.Second,
		Attributes: map[string]string{queue.AttrTenant: "t-1", queue.AttrAttempt: "3"}}, m)
}
