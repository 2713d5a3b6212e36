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
