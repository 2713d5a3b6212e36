// Package logtest captures what code under test writes from several
// goroutines (its JSON logs, a command's output) for the test to read.
package logtest

import (
	"bytes"
	"log/slog"
	"sync"

	"github.com/herokuevents/herokuevents/shared/logjson"
)

// Buffer is a bytes.Buffer that is safe for concurrent use: writers may run
// on other goroutines while the test reads String. The zero value is ready.
type Buffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

// Write appends p.
func (b *Buffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

// String returns everything written so far.
func (b *Buffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// JSON returns a logger writing JSON lines into a new Buffer at level and
// above (nil: Info), as the mains configure slog, and the Buffer.
func JSON(level slog.Leveler) (*slog.Logger, *Buffer) {
	b := &Buffer{}
	return logjson.New(b, level), b
}
