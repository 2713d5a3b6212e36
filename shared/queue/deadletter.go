package queue

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"strconv"
	"strings"
	"time"

	"github.com/herokuevents/herokuevents/shared/event"
)

// DeadLetter is one dead-lettered message of a tenant, as the tenant sees it.
type DeadLetter struct {
	// ID names the message in its dead-letter queue; opaque, only good for
	// Redrive on the same DeadLetters.
	ID string
	// Queue is the queue the message came from and is redriven to
	// ("ingest", "delivery").
	Queue string
	// Reason is why it was dead-lettered (the AttrReason attribute).
	Reason string
	// Attempt is the attempts made before it was dead-lettered (the
	// AttrAttempt attribute, or the body's attempt).
	Attempt int
	// EventID is the id of the event the message carries ("" if its body
	// cannot be read).
	EventID string
	// Subscription is the subscription id of an ingest message
	// (event.Routed); Publication the publication id of a delivery message
	// (event.Delivery).
	Subscription string
	Publication  string
	// FirstTry is when delivery was first tried (event.Delivery.FirstTry),
	// zero when unknown.
	FirstTry time.Time
	// DeadLetteredAt is when the message entered the dead-letter queue.
	DeadLetteredAt time.Time
}

// DeadLetters lists and redrives the dead letters of one tenant across the
// dead-letter queues of a deployment, each paired with its source queue.
// Messages are told apart by their AttrTenant attribute: a tenant never sees
// nor moves another tenant's messages, and messages without the attribute
// belong to no tenant.
//
// Implementations: infra/embedded/sqlitequeue.DeadLetters and
// infra/aws/sqsqueue.DeadLetters; both pass deadlettertest. They are safe for
// concurrent use and do not retry: callers (the CLI's user) retry.
type DeadLetters interface {
	// List returns up to limit of the tenant's dead letters, oldest first
	// when the driver can tell.
	List(ctx context.Context, tenant string, limit int) ([]DeadLetter, error)
	// Redrive moves the tenant's dead letters named by ids (every one of
	// the tenant's when ids is empty) back to their source queues as fresh
	// messages (see Revive) and returns how many it moved. When an id is not
	// a dead letter of the tenant (unknown, already redriven, another
	// tenant's), it moves nothing and returns a *MissingError, which matches
	// ErrNotFound. A move is send-then-delete where it cannot be atomic: a
	// failure in between duplicates a message, never loses one.
	Redrive(ctx context.Context, tenant string, ids ...string) (int, error)
	// Purge deletes the tenant's dead letters named by ids (every one of
	// the tenant's when ids is empty) for good and returns how many it
	// deleted. When an id is not a dead letter of the tenant, it deletes
	// nothing and returns a *MissingError, as Redrive does.
	Purge(ctx context.Context, tenant string, ids ...string) (int, error)
}

// ErrNotFound is matched by the error of Redrive for ids that are not dead
// letters of the tenant.
var ErrNotFound = errors.New("dead letter not found")

// MissingError lists the ids Redrive did not find.
type MissingError struct {
	IDs []string
}

func (e *MissingError) Error() string {
	return fmt.Sprintf("dead letters %s: %s", strings.Join(e.IDs, ", "), ErrNotFound)
}

// Is reports whether target is ErrNotFound.
func (e *MissingError) Is(target error) bool { return target == ErrNotFound }

// Missing returns a *MissingError for the ids not in found, or nil.
func Missing(ids []string, found map[string]bool) error {
	var missing []string
	seen := map[string]bool{}
	for _, id := range ids {
		if !found[id] && !seen[id] {
			missing = append(missing, id)
			seen[id] = true
		}
	}
	if len(missing) == 0 {
		return nil
	}
	return &MissingError{IDs: missing}
}

// deadBody is the union of the bodies herokuevents queues: event.Routed on
// the ingest queue, event.Delivery on the delivery queue.
type deadBody struct {
	event.Delivery
	Subscription string `json:"subscription"`
}

// Describe summarises dead-letter message m of the queue called source.
// A body that is not JSON leaves the event fields empty.
func Describe(source string, m Message) DeadLetter {
	d := DeadLetter{
		ID:             m.ID,
		Queue:          source,
		Reason:         m.Attributes[AttrReason],
		DeadLetteredAt: m.SentAt,
	}
	var b deadBody
	if json.Unmarshal(m.Body, &b) == nil {
		d.EventID = b.Event.ID
		d.Subscription = b.Subscription
		d.Publication = b.Publication
		d.FirstTry = b.FirstTry
		d.Attempt = b.Attempt
	}
	if n, err := strconv.Atoi(m.Attributes[AttrAttempt]); err == nil {
		d.Attempt = n
	}
	if d.Reason == "" {
		d.Reason = "no reason recorded (moved by the queue's redrive policy)"
	}
	return d
}

// Revive returns the message to send back to the source queue for dead
// letter m: its body and attributes without AttrReason, AttrAttempt reset to
// "0", and, for a delivery body, attempt 0 and no first_try, so that the
// publication's retry policy starts afresh. Other bodies are kept byte for
// byte. The result has no ID, Delay or Receives.
func Revive(m Message) Message {
	attrs := maps.Clone(m.Attributes)
	if attrs == nil {
		attrs = map[string]string{}
	}
	delete(attrs, AttrReason)
	attrs[AttrAttempt] = "0"
	return Message{Body: reviveBody(m.Body), Attributes: attrs}
}

func reviveBody(body []byte) []byte {
	var fields map[string]json.RawMessage
	if json.Unmarshal(body, &fields) != nil {
		return body
	}
	if _, ok := fields["publication"]; !ok {
		return body
	}
	_, hasAttempt := fields["attempt"]
	_, hasFirst := fields["first_try"]
	if !hasFirst && (!hasAttempt || bytes.Equal(bytes.TrimSpace(fields["attempt"]), []byte("0"))) {
		return body
	}
	fields["attempt"] = json.RawMessage("0")
	delete(fields, "first_try")
	out, err := json.Marshal(fields)
	if err != nil {
		return body
	}
	return out
}
