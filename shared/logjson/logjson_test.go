package logjson_test

import (
	"bytes"
	"encoding/json"
	"log/slog"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/herokuevents/herokuevents/shared/logjson"
)

func TestDurationsAreMilliseconds(t *testing.T) {
	var b bytes.Buffer
	logjson.New(&b, slog.LevelInfo).Info("delivery", "latency", 1500*time.Microsecond, "delay", 2*time.Minute,
		slog.Group("g", "took", 3*time.Nanosecond), "count", 3)
	var line map[string]any
	require.NoError(t, json.Unmarshal(b.Bytes(), &line))
	assert.InDelta(t, 1.5, line["latency"], 1e-9)
	assert.InDelta(t, 120000.0, line["delay"], 1e-9)
	assert.InDelta(t, 0.0, line["g"].(map[string]any)["took"], 1e-9)
	assert.InDelta(t, 3.0, line["count"], 0)
}

func TestLevel(t *testing.T) {
	var b bytes.Buffer
	logjson.New(&b, slog.LevelWarn).Info("quiet")
	assert.Empty(t, b.String())
}

// TestLogAttrs: LogAttrs writes the line slog.Logger.LogAttrs writes (but
// for its time), with the logger's own attributes, and nothing below the
// logger's level.
func TestLogAttrs(t *testing.T) {
	line := func(write func(l *slog.Logger)) map[string]any {
		var b bytes.Buffer
		write(logjson.New(&b, slog.LevelInfo).With("tenant", "t1"))
		if b.Len() == 0 {
			return nil
		}
		var m map[string]any
		require.NoError(t, json.Unmarshal(b.Bytes(), &m))
		delete(m, "time")
		return m
	}
	attrs := []slog.Attr{slog.String("event_id", "e1"), slog.Int("attempt", 2), slog.Duration("took", 1500*time.Microsecond)}
	want := line(func(l *slog.Logger) { l.LogAttrs(t.Context(), slog.LevelInfo, "delivery", attrs...) })
	got := line(func(l *slog.Logger) { logjson.LogAttrs(t.Context(), l, slog.LevelInfo, "delivery", attrs...) })
	require.NotNil(t, got)
	assert.Equal(t, want, got)
	assert.Equal(t, "t1", got["tenant"])
	assert.Nil(t, line(func(l *slog.Logger) { logjson.LogAttrs(t.Context(), l, slog.LevelDebug, "quiet", attrs...) }))
}
