// Package logjson is the one JSON log format of herokuevents (log/slog):
// every process writes its decisions as JSON lines, and durations are
// milliseconds (a float), never raw nanoseconds.
package logjson

import (
	"context"
	"io"
	"log/slog"
	"time"
)

// New returns a JSON logger writing to w at level.
func New(w io.Writer, level slog.Leveler) *slog.Logger {
	return slog.New(Handler(w, level))
}

// Handler returns the JSON handler behind New.
func Handler(w io.Writer, level slog.Leveler) slog.Handler {
	return slog.NewJSONHandler(w, &slog.HandlerOptions{Level: level, ReplaceAttr: ReplaceAttr})
}

// ReplaceAttr writes a time.Duration as its milliseconds.
func ReplaceAttr(_ []string, a slog.Attr) slog.Attr {
	if a.Value.Kind() == slog.KindDuration {
		return slog.Float64(a.Key, Milliseconds(a.Value.Duration()))
	}
	return a
}

// Milliseconds is d in milliseconds, to the microsecond.
func Milliseconds(d time.Duration) float64 {
	return float64(d.Round(time.Microsecond)) / float64(time.Millisecond)
}

// LogAttrs is l.LogAttrs without the line's source position, for lines
// written once per event: slog.Logger finds the caller's position (a walk
// of the stack, about a third of a line's cost) for the handlers that
// show it, and no handler of herokuevents does (HandlerOptions.AddSource
// is never set). The record goes to l's handler as slog.Logger would
// send it, with a zero PC.
func LogAttrs(ctx context.Context, l *slog.Logger, level slog.Level, msg string, attrs ...slog.Attr) {
	if !l.Enabled(ctx, level) {
		return
	}
	r := slog.NewRecord(time.Now(), level, msg, 0)
	r.AddAttrs(attrs...)
	_ = l.Handler().Handle(ctx, r)
}
