package sqlitearchive

import (
	"context"
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/herokuevents/herokuevents/shared/archive"
	"github.com/herokuevents/herokuevents/shared/event"
)

// TestWriter: events kept in one instant get strictly increasing
// sequence numbers in Keep order, Flush waits for them, a subscription's
// retention sets the expiry, and Keep after Close drops.
func TestWriter(t *testing.T) {
	s, err := Open(filepath.Join(t.TempDir(), "archive.db"), archive.Limits{})
	require.NoError(t, err)
	defer s.Close()
	at := time.Now().Add(-time.Minute).Truncate(time.Second)
	w := archive.NewWriter(s, archive.WriterOptions{Now: func() time.Time { return at }})
	for i := range 5 {
		w.Keep("t", "s", 0, event.Event{ID: fmt.Sprint("e", i), Source: "/s", Type: "x"}, nil)
	}
	w.Keep("t", "short", 3*time.Hour, event.Event{ID: "r", Source: "/s", Type: "x"}, nil)
	require.NoError(t, w.Flush(t.Context()))

	p, err := s.Range(t.Context(), archive.Query{Tenant: "t", Subscription: "s"})
	require.NoError(t, err)
	require.Len(t, p.Records, 5)
	for i, r := range p.Records {
		assert.Equal(t, fmt.Sprint("e", i), r.Event.ID)
		assert.Equal(t, at.UnixNano()+int64(i), r.Seq, "strictly increasing from the accept time")
		assert.Equal(t, r.Accepted().Add(archive.DefaultRetention), r.Expires)
	}
	p, err = s.Range(t.Context(), archive.Query{Tenant: "t", Subscription: "short"})
	require.NoError(t, err)
	require.Len(t, p.Records, 1)
	assert.Equal(t, p.Records[0].Accepted().Add(3*time.Hour), p.Records[0].Expires)

	w.Keep("t", "s", 0, event.Event{ID: "last", Source: "/s", Type: "x"}, nil)
	require.NoError(t, w.Close(context.Background()))
	assert.Equal(t, int64(7), w.Written(), "Close appends what was buffered")
	w.Keep("t", "s", 0, event.Event{ID: "late", Source: "/s", Type: "x"}, nil)
	assert.Equal(t, int64(1), w.Dropped())
	assert.NoError(t, w.Flush(t.Context()), "a closed writer has nothing to flush")
}
