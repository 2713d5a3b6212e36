package queue_test

import (
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"

	"github.com/herokuevents/herokuevents/shared/queue"
)

// Later, Hold and Permanent mark a failure; wrapping keeps the mark, and
// a held failure is a Later one with its key.
func TestFailureMarks(t *testing.T) {
	base := errors.New("paused")
	tests := []struct {
		name      string
		err       error
		after     time.Duration
		later     bool
		key       string
		held      bool
		permanent bool
	}{
		{name: "plain", err: base},
		{name: "later", err: queue.Later(base, time.Minute), after: time.Minute, later: true},
		{name: "held", err: queue.Hold(base, time.Minute, "pub-1"), after: time.Minute, later: true, key: "pub-1", held: true},
		{name: "held, wrapped", err: fmt.Errorf("deliver: %w", queue.Hold(base, time.Minute, "pub-1")), after: time.Minute, later: true, key: "pub-1", held: true},
		{name: "held past the maximum delay", err: queue.Hold(base, time.Hour, "pub-1"), after: queue.MaxDelay, later: true, key: "pub-1", held: true},
		{name: "permanent", err: queue.Permanent(base), permanent: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			after, later := queue.RetryAfter(tt.err)
			assert.Equal(t, tt.later, later)
			assert.Equal(t, tt.after, after)
			key, held := queue.HeldFor(tt.err)
			assert.Equal(t, tt.held, held)
			assert.Equal(t, tt.key, key)
			assert.Equal(t, tt.permanent, queue.IsPermanent(tt.err))
			assert.ErrorIs(t, tt.err, base)
			assert.Contains(t, tt.err.Error(), "paused", "the text is the failure's")
		})
	}
	assert.NoError(t, queue.Hold(nil, time.Minute, "pub-1"))
}
