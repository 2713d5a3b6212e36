package lambdaio

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestSchedule(t *testing.T) {
	at := time.Date(2026, 3, 4, 5, 6, 0, 0, time.UTC)
	var got time.Time
	fn := Schedule(func(_ context.Context, when time.Time) error { got = when; return nil })
	require.NoError(t, fn(t.Context(), events.EventBridgeEvent{Time: at}))
	assert.Equal(t, at, got)

	require.NoError(t, fn(t.Context(), events.EventBridgeEvent{}))
	assert.WithinDuration(t, time.Now(), got, time.Minute, "zero time means now")

	errTick := errors.New("tick failed")
	err := Schedule(func(context.Context, time.Time) error { return errTick })(t.Context(), events.EventBridgeEvent{})
	assert.ErrorIs(t, err, errTick, "a failed tick fails the invocation so EventBridge retries")
}
