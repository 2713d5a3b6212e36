package event_test

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/herokuevents/herokuevents/shared/event"
)

// TestNewID: New's ids are canonical UUIDv7 strings carrying the time they
// were made, and ids made one after another sort in that order (the
// delivery log's event index relies on it).
func TestNewID(t *testing.T) {
	before := time.Now().Truncate(time.Millisecond)
	prev := ""
	for range 1000 {
		ev := event.New("/src", "com.example.t", json.RawMessage(`{}`))
		id, err := uuid.Parse(ev.ID)
		require.NoError(t, err)
		require.Equal(t, id.String(), ev.ID, "canonical form")
		require.Equal(t, uuid.Version(7), id.Version())
		require.Equal(t, uuid.RFC4122, id.Variant())
		require.Greater(t, ev.ID, prev, "made later, sorts later")
		sec, nsec := id.Time().UnixTime()
		at := time.Unix(sec, nsec)
		assert.False(t, at.Before(before), "id time %v is before %v", at, before)
		assert.False(t, at.After(time.Now()), "id time %v is in the future", at)
		prev = ev.ID
	}
}
