package logtest_test

import (
	"encoding/json"
	"log/slog"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/herokuevents/herokuevents/shared/logtest"
)

func TestBufferConcurrent(t *testing.T) {
	var b logtest.Buffer
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			for range 100 {
				_, _ = b.Write([]byte("x"))
				_ = b.String()
			}
		})
	}
	wg.Wait()
	assert.Equal(t, strings.Repeat("x", 800), b.String())
}

func TestJSON(t *testing.T) {
	tests := []struct {
		name  string
		level slog.Leveler
		want  []string // messages kept
	}{
		{"default is info", nil, []string{"info", "warn"}},
		{"debug", slog.LevelDebug, []string{"debug", "info", "warn"}},
		{"warn", slog.LevelWarn, []string{"warn"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			log, b := logtest.JSON(tc.level)
			log.Debug("debug")
			log.Info("info", "tenant", "t1")
			log.Warn("warn")
			var got []string
			for line := range strings.Lines(b.String()) {
				var rec map[string]any
				require.NoError(t, json.Unmarshal([]byte(line), &rec), "one JSON object a line")
				got = append(got, rec["msg"].(string))
			}
			assert.Equal(t, tc.want, got)
		})
	}
}
