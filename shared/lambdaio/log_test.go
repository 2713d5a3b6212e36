package lambdaio

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"strings"
	"testing"

	"github.com/aws/aws-lambda-go/lambdacontext"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func lines(t *testing.T, buf *bytes.Buffer) []map[string]any {
	t.Helper()
	var out []map[string]any
	for _, l := range strings.Split(strings.TrimSpace(buf.String()), "\n") {
		if l == "" {
			continue
		}
		var m map[string]any
		require.NoError(t, json.Unmarshal([]byte(l), &m), l)
		out = append(out, m)
	}
	return out
}

func TestLoggerRequestID(t *testing.T) {
	lambdaCtx := lambdacontext.NewContext(t.Context(), &lambdacontext.LambdaContext{AwsRequestID: "rid-1"})
	tests := []struct {
		name string
		ctx  context.Context
		log  func(l *slog.Logger, ctx context.Context)
		want map[string]any
	}{
		{
			name: "lambda context adds request_id",
			ctx:  lambdaCtx,
			log:  func(l *slog.Logger, ctx context.Context) { l.InfoContext(ctx, "hello", "tenant", "t1") },
			want: map[string]any{"level": "INFO", "msg": "hello", "tenant": "t1", "request_id": "rid-1"},
		},
		{
			name: "plain context has none",
			ctx:  t.Context(),
			log:  func(l *slog.Logger, ctx context.Context) { l.InfoContext(ctx, "hello") },
			want: map[string]any{"level": "INFO", "msg": "hello"},
		},
		{
			name: "with attrs keeps request_id",
			ctx:  lambdaCtx,
			log:  func(l *slog.Logger, ctx context.Context) { l.With("role", "filter").WarnContext(ctx, "w") },
			want: map[string]any{"level": "WARN", "msg": "w", "role": "filter", "request_id": "rid-1"},
		},
		{
			name: "request_id stays top-level inside a group",
			ctx:  lambdaCtx,
			log: func(l *slog.Logger, ctx context.Context) {
				l.With("role", "deliver").WithGroup("event").ErrorContext(ctx, "e", "id", "ev1")
			},
			want: map[string]any{"level": "ERROR", "msg": "e", "role": "deliver", "request_id": "rid-1", "event": map[string]any{"id": "ev1"}},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var buf bytes.Buffer
			tt.log(NewLogger(&buf, slog.LevelInfo), tt.ctx)
			got := lines(t, &buf)
			require.Len(t, got, 1)
			delete(got[0], "time")
			assert.Equal(t, tt.want, got[0])
		})
	}
}

func TestLoggerLevel(t *testing.T) {
	var buf bytes.Buffer
	l := NewLogger(&buf, slog.LevelWarn)
	l.InfoContext(t.Context(), "dropped")
	l.WarnContext(t.Context(), "kept")
	got := lines(t, &buf)
	require.Len(t, got, 1)
	assert.Equal(t, "kept", got[0]["msg"])
}

func TestParseLevel(t *testing.T) {
	tests := []struct {
		in      string
		want    slog.Level
		wantErr bool
	}{
		{"", slog.LevelInfo, false},
		{"DEBUG", slog.LevelDebug, false},
		{"info", slog.LevelInfo, false},
		{" WARN ", slog.LevelWarn, false},
		{"ERROR", slog.LevelError, false},
		{"LOUD", slog.LevelInfo, true},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := ParseLevel(tt.in)
			if tt.wantErr {
				require.Error(t, err)
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tt.want, got)
		})
	}
}
