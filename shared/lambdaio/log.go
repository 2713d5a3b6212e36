package lambdaio

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"strings"

	"github.com/aws/aws-lambda-go/lambdacontext"

	"github.com/herokuevents/herokuevents/shared/logjson"
)

// NewLogger returns a JSON slog logger writing to w (os.Stdout on Lambda)
// at level. Every record logged with a context that carries a Lambda
// invocation (the ctx given to a handler) gets a top-level "request_id"
// attribute, so roles just log with logger.InfoContext(ctx, ...).
func NewLogger(w io.Writer, level slog.Leveler) *slog.Logger {
	return slog.New(requestIDHandler{inner: logjson.Handler(w, level)})
}

// ParseLevel parses a LOG_LEVEL setting: DEBUG, INFO, WARN or ERROR (any
// case; empty means INFO).
func ParseLevel(s string) (slog.Level, error) {
	if strings.TrimSpace(s) == "" {
		return slog.LevelInfo, nil
	}
	var l slog.Level
	if err := l.UnmarshalText([]byte(strings.TrimSpace(s))); err != nil {
		return slog.LevelInfo, fmt.Errorf("parse log level %q: %w", s, err)
	}
	return l, nil
}

// requestIDHandler adds the Lambda request id found in the record's
// context. Attributes and groups added later are kept by the inner handler,
// so the id is attached before any group opens: it stays top-level.
type requestIDHandler struct {
	inner  slog.Handler
	groups bool // a group is open: the id must be added before it
	root   slog.Handler
	ops    []func(slog.Handler) slog.Handler
}

func (h requestIDHandler) Enabled(ctx context.Context, l slog.Level) bool {
	return h.inner.Enabled(ctx, l)
}

func (h requestIDHandler) Handle(ctx context.Context, r slog.Record) error {
	lc, ok := lambdacontext.FromContext(ctx)
	if !ok || lc.AwsRequestID == "" {
		return h.inner.Handle(ctx, r)
	}
	if !h.groups {
		r = r.Clone()
		r.AddAttrs(slog.String("request_id", lc.AwsRequestID))
		return h.inner.Handle(ctx, r)
	}
	// Rebuild the handler chain with the id added at the top level.
	inner := h.root.WithAttrs([]slog.Attr{slog.String("request_id", lc.AwsRequestID)})
	for _, op := range h.ops {
		inner = op(inner)
	}
	return inner.Handle(ctx, r)
}

func (h requestIDHandler) WithAttrs(attrs []slog.Attr) slog.Handler {
	return h.with(func(in slog.Handler) slog.Handler { return in.WithAttrs(attrs) }, false)
}

func (h requestIDHandler) WithGroup(name string) slog.Handler {
	if name == "" {
		return h
	}
	return h.with(func(in slog.Handler) slog.Handler { return in.WithGroup(name) }, true)
}

func (h requestIDHandler) with(op func(slog.Handler) slog.Handler, group bool) slog.Handler {
	root := h.root
	if root == nil {
		root = h.inner
	}
	ops := append(h.ops[:len(h.ops):len(h.ops)], op)
	return requestIDHandler{inner: op(h.inner), groups: h.groups || group, root: root, ops: ops}
}
