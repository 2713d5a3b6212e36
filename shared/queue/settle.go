package queue

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"strconv"
	"unicode/utf8"
)

// MaxReason is the longest dead-letter reason kept, in bytes; longer error
// texts are cut at a rune boundary and end with "…".
const MaxReason = 1024

// ErrNoDLQ is returned by Settle when a message must be dead-lettered but no
// dead-letter queue was given.
var ErrNoDLQ = errors.New("no dead-letter queue")

// Settle decides the fate of the failures of a handled batch, the same way
// for the embedded consumer and the Lambda SQS adapter.
//
// A failure whose error is marked Permanent, or whose message has been
// received s.MaxReceives times or more, is sent to dlq with the original
// attributes plus AttrReason (the error text, cut to MaxReason bytes); such a
// message counts as done, like every message not listed in res, and the caller
// deletes it (or, on Lambda, leaves it out of batchItemFailures). The other
// failures are returned: the caller leaves them on the queue to be redelivered
// after their visibility timeout. Failures whose ID is not in msgs are ignored;
// a message failed twice counts once (first error wins); a nil Err counts as a
// retryable failure.
//
// Dead letters go out in one dlq.Send call. When it fails (or dlq is nil and
// something must be dead-lettered), those failures are returned as well, so
// nothing is deleted without being dead-lettered, and the error is returned
// beside them: callers still honour the returned failures. Settle does not
// retry; the redelivered messages come back to it later. It logs one line per
// dead-lettered message with slog.Default. Safe for concurrent use.
func Settle(ctx context.Context, msgs []Message, res BatchResult, s Settings, dlq Sender) ([]Failure, error) {
	if len(res.Failures) == 0 {
		return nil, nil
	}
	byID := make(map[string]int, len(msgs))
	for i, m := range msgs {
		byID[m.ID] = i
	}
	var (
		retry []Failure
		dead  []Failure
		out   []Message
		seen  = make(map[string]bool, len(res.Failures))
	)
	for _, f := range res.Failures {
		i, ok := byID[f.ID]
		if !ok || seen[f.ID] {
			continue
		}
		seen[f.ID] = true
		m := msgs[i]
		permanent := IsPermanent(f.Err)
		if !permanent && m.Receives < s.MaxReceives {
			retry = append(retry, f)
			continue
		}
		reason := Reason(f.Err)
		if !permanent {
			reason = fmt.Sprintf("max receives (%d) reached: %s", s.MaxReceives, reason)
		}
		attrs := make(map[string]string, len(m.Attributes)+1)
		maps.Copy(attrs, m.Attributes)
		attrs[AttrReason] = Reason(errors.New(reason))
		dead = append(dead, f)
		out = append(out, Message{Body: m.Body, Attributes: attrs})
	}
	if len(out) == 0 {
		return retry, nil
	}
	if dlq == nil {
		return append(retry, dead...), fmt.Errorf("dead-letter %d messages: %w", len(out), ErrNoDLQ)
	}
	if err := dlq.Send(ctx, out...); err != nil {
		return append(retry, dead...), fmt.Errorf("dead-letter %d messages: %w", len(out), err)
	}
	for i, f := range dead {
		m := msgs[byID[f.ID]]
		slog.WarnContext(ctx, "message dead-lettered",
			"message_id", f.ID,
			"tenant", m.Attributes[AttrTenant],
			"attempt", m.Attributes[AttrAttempt],
			"receives", strconv.Itoa(m.Receives),
			"permanent", IsPermanent(f.Err),
			"reason", out[i].Attributes[AttrReason])
	}
	return retry, nil
}

// Reason is the dead-letter reason for err: its text cut to MaxReason bytes
// at a rune boundary ("unknown error" for nil).
func Reason(err error) string {
	if err == nil {
		return "unknown error"
	}
	s := err.Error()
	if len(s) <= MaxReason {
		return s
	}
	const ellipsis = "…"
	cut := MaxReason - len(ellipsis)
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut] + ellipsis
}
