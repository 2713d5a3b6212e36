package queue_test

import (
	"context"
	"testing"

	"github.com/stretchr/testify/assert"

	"github.com/herokuevents/herokuevents/shared/queue"
)

type otherKey struct{}

func TestCommitted(t *testing.T) {
	assert.Nil(t, queue.Committed(t.Context()), "none without WithCommitted")
	n := 0
	ctx := queue.WithCommitted(context.WithValue(t.Context(), otherKey{}, 1), func() { n++ })
	fn := queue.Committed(ctx)
	if assert.NotNil(t, fn) {
		fn()
	}
	assert.Equal(t, 1, n)
}
