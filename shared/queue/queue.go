// Package queue is the port between roles: at-least-once message queues with
// the contract of SQS feeding Lambda (batches, visibility timeout, partial
// batch failures, redelivery, max receives then a dead-letter queue).
//
// Drivers: infra/embedded/sqlitequeue (durable, one process) and
// infra/aws/sqsqueue. Every driver passes the conformance suite in queuetest.
package queue

import (
	"context"
	"errors"
	"fmt"
	"time"
)

// Message attribute names set by herokuevents.
const (
	AttrTenant  = "tenant"
	AttrAttempt = "attempt"
	// AttrReason carries why a message was dead-lettered.
	AttrReason = "reason"
	// AttrHeld marks a message held back without an attempt (a delivery
	// to a paused publication: the publication's id), so that the
	// embedded mode can wake it when the publication resumes.
	AttrHeld = "held"
)

// MaxBody is the largest message body (the SQS limit).
const MaxBody = 1 << 20

// Message is one queued message.
type Message struct {
	// ID is assigned by the driver on receive; empty when sending.
	ID   string
	Body []byte
	// Attributes are small string metadata (tenant, attempt, reason).
	Attributes map[string]string
	// Delay postpones the first delivery (at most 15 minutes on SQS).
	Delay time.Duration
	// Receives is how many times this message has been received, including
	// this time (1 on the first delivery). Set by the driver on receive.
	Receives int
	// SentAt is when the message was queued. Set by the driver on receive
	// (SQS SentTimestamp); ignored when sending.
	SentAt time.Time
	// Group orders messages (ordered delivery lanes): the messages of one
	// non-empty Group are handed out in the order they were sent, and none
	// while an earlier one of its group is in flight or waiting to be
	// retried; a failed message is retried in place (see Later), so a later
	// one never passes it. Only queues made for it honour Group: any
	// sqlitequeue queue, an SQS FIFO queue (its MessageGroupId). Set by the
	// driver on receive too.
	Group string
	// FirstReceived is when the message was received the first time. Set
	// by the driver on receive (SQS ApproximateFirstReceiveTimestamp).
	FirstReceived time.Time
}

// Sender enqueues messages. Send returns nil only when every message is
// durably queued; on error none, some or all may have been queued (callers
// retry the whole call; consumers tolerate duplicates). Safe for concurrent use.
type Sender interface {
	Send(ctx context.Context, msgs ...Message) error
}

// SenderFunc adapts a function to Sender.
type SenderFunc func(ctx context.Context, msgs ...Message) error

// Send calls f.
func (f SenderFunc) Send(ctx context.Context, msgs ...Message) error { return f(ctx, msgs...) }

// BatchHandler consumes a batch of up to 10 messages. It returns the
// messages that failed; every other message counts as processed and is
// deleted. A failure wrapped with Permanent is dead-lettered at once with its
// reason; any other failure is redelivered after the visibility timeout until
// the queue's max receives, then dead-lettered.
type BatchHandler interface {
	HandleBatch(ctx context.Context, msgs []Message) BatchResult
}

// BatchHandlerFunc adapts a function to BatchHandler.
type BatchHandlerFunc func(ctx context.Context, msgs []Message) BatchResult

// HandleBatch calls f.
func (f BatchHandlerFunc) HandleBatch(ctx context.Context, msgs []Message) BatchResult {
	return f(ctx, msgs)
}

// BatchResult lists the failed messages of a batch.
type BatchResult struct {
	Failures []Failure
}

// Failure is one failed message of a batch.
type Failure struct {
	ID  string
	Err error
}

// Fail records a failure of message id.
func (r *BatchResult) Fail(id string, err error) {
	r.Failures = append(r.Failures, Failure{ID: id, Err: err})
}

type permanentError struct{ err error }

func (p permanentError) Error() string { return p.err.Error() }
func (p permanentError) Unwrap() error { return p.err }

// Permanent marks err as not worth retrying: the message is dead-lettered
// at once, keeping err's text as the reason.
func Permanent(err error) error {
	if err == nil {
		return nil
	}
	return permanentError{err}
}

// Later marks err as a failure to retry in place after d: the message is
// not re-sent but becomes visible again d from now (instead of after its
// visibility timeout), keeping its place in its Group. Consumers apply it
// with a visibility change (SQS ChangeMessageVisibility, capped at
// MaxDelay). Max receives still apply.
func Later(err error, d time.Duration) error {
	if err == nil {
		return nil
	}
	return laterError{err: err, after: ClampDelay(d)}
}

type laterError struct {
	err   error
	after time.Duration
}

func (l laterError) Error() string { return l.err.Error() }
func (l laterError) Unwrap() error { return l.err }

// RetryAfter returns the delay err was marked with by Later.
func RetryAfter(err error) (time.Duration, bool) {
	var l laterError
	if errors.As(err, &l) {
		return l.after, true
	}
	return 0, false
}

// Hold is Later for a message held back without an attempt until key
// (a paused publication) resumes: it stays in its place, like Later's,
// and a queue that wakes held messages (the embedded one's WakeHeld)
// makes it visible as soon as key is woken, as it does the messages sent
// with AttrHeld set to key. Elsewhere it is Later.
func Hold(err error, d time.Duration, key string) error {
	if err == nil {
		return nil
	}
	return heldError{laterError: laterError{err: err, after: ClampDelay(d)}, key: key}
}

type heldError struct {
	laterError
	key string
}

func (h heldError) Unwrap() error { return h.laterError }

// HeldFor returns the key err was marked with by Hold.
func HeldFor(err error) (string, bool) {
	var h heldError
	if errors.As(err, &h) {
		return h.key, true
	}
	return "", false
}

// IsPermanent reports whether err was marked with Permanent.
func IsPermanent(err error) bool {
	var p permanentError
	return errors.As(err, &p)
}

// Settings are the SQS→Lambda numbers of one queue and its consumer; the
// embedded mode reads them from template.yaml so both modes agree.
type Settings struct {
	BatchSize         int           // messages per batch (≤ 10)
	BatchWindow       time.Duration // how long to gather a batch
	VisibilityTimeout time.Duration // how long a received message stays hidden
	MaxReceives       int           // receives before dead-lettering
	Concurrency       int           // concurrent batches
}

// Validate checks the settings are usable.
func (s Settings) Validate() error {
	if s.BatchSize < 1 || s.BatchSize > 10 {
		return fmt.Errorf("batch size %d: must be 1..10", s.BatchSize)
	}
	if s.VisibilityTimeout <= 0 || s.MaxReceives < 1 || s.Concurrency < 1 {
		return errors.New("visibility timeout, max receives and concurrency must be positive")
	}
	return nil
}
