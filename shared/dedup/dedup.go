// Package dedup remembers the idempotency keys of publishes, so that a
// client that publishes again after losing the answer (a broken connection,
// a timeout, a crash of the server) gets the first event's id back and the
// event is enqueued once.
//
// A publish to the publish URL has a key when it carries an Idempotency-Key
// header, or when it is a CloudEvent (its source and id, which the
// CloudEvents spec makes unique per event). Keys are scoped to a tenant and
// the publication or subscription posted to (Key), and remembered for a
// window (DefaultWindow) from the first publish.
//
// # Ordering: claim, enqueue, confirm
//
// The ingest role claims a key before it enqueues and confirms it after:
//
//  1. Claim records the key as pending with the event's id and a lease
//     (Lease). A key already confirmed is a Duplicate (answer 202 with its
//     id, enqueue nothing); a key pending under a live lease is InFlight
//     (another request is enqueueing it: answer 409, the client retries).
//  2. The event is enqueued. If the enqueue fails, Release forgets the
//     pending key, so that the client's retry (after its 503) claims it
//     afresh.
//  3. Confirm marks the key accepted.
//
// A crash between 1 and 3 leaves the key pending; once its lease has
// passed, the next publish with that key takes the claim over (Claimed,
// with the first event's id) and enqueues its event under that id. So an
// event is never lost to a recorded key whose enqueue did not happen; the
// price is that a crash after the enqueue but before Confirm may enqueue
// the event twice, both copies with the same CloudEvent id, which the
// at-least-once delivery contract already asks receivers to de-duplicate.
// Recording the key only after the enqueue would make two concurrent
// publishes of one key (a client retrying on a timeout while the first
// request still runs) both enqueue, with different ids: a double delivery
// nobody could de-duplicate.
//
// Drivers: infra/embedded/sqlitededup (a file of the data dir, durable
// across kill -9), infra/aws/dynamodedup (a DynamoDB table with a TTL,
// conditional writes) and memdedup (tests). Every driver passes the
// conformance suite deduptest.
package dedup

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"time"
	"unicode"
	"unicode/utf8"
)

// DefaultWindow is how long a key is remembered when no window is set.
const DefaultWindow = time.Hour

// Lease is how long a pending claim belongs to the request that made it.
// It exceeds the longest a publish request may run (the ingest function's
// timeout, 29 s; the embedded server's write timeout), so a live request
// never loses its claim; a claim left by a crash is taken over after it.
const Lease = 30 * time.Second

// MaxKeyLength is the longest Idempotency-Key header accepted, in bytes.
const MaxKeyLength = 255

// HeaderIdempotencyKey is the request header carrying a client's key.
const HeaderIdempotencyKey = "Idempotency-Key"

// Outcome is what a Claim found.
type Outcome int

const (
	// Claimed: the key is this caller's. Enqueue the event under
	// Result.EventID (the caller's id, or the first event's id when a
	// claim left by a crash was taken over), then Confirm, or Release if
	// the enqueue failed.
	Claimed Outcome = iota + 1
	// Duplicate: the event of Result.EventID was accepted with this key
	// within the window. Enqueue nothing.
	Duplicate
	// InFlight: another request holds the key (pending, lease not
	// passed) for Result.EventID. Enqueue nothing; the client retries.
	InFlight
)

func (o Outcome) String() string {
	switch o {
	case Claimed:
		return "claimed"
	case Duplicate:
		return "duplicate"
	case InFlight:
		return "in_flight"
	}
	return fmt.Sprintf("Outcome(%d)", int(o))
}

// Result is the outcome of a Claim and the event id that goes with it.
type Result struct {
	Outcome Outcome
	EventID string
}

// Store remembers claimed keys. Implementations are safe for concurrent
// use by many processes sharing the store (AWS: many Lambda instances):
// of concurrent Claims of one key, exactly one is Claimed. Errors are the
// store's (I/O, a cancelled context); a Store does not retry beyond what
// its client does, and the caller answers such a publish 503.
type Store interface {
	// Claim records key (from Key) of tenant as pending for eventID, to be
	// remembered for window (DefaultWindow when ≤ 0) from now, unless the
	// key is remembered already: see Outcome. A key whose window has
	// passed is claimed anew. A pending claim whose Lease has passed is
	// taken over: Claimed with the first event's id and a new lease.
	Claim(ctx context.Context, tenant, key, eventID string, window time.Duration) (Result, error)
	// Confirm marks the pending claim of key for eventID accepted. It does
	// nothing (nil) when the key no longer holds eventID.
	Confirm(ctx context.Context, tenant, key, eventID string) error
	// Release forgets the pending claim of key for eventID (its enqueue
	// failed). It does nothing (nil) when the key is confirmed or holds
	// another event id.
	Release(ctx context.Context, tenant, key, eventID string) error
	// Close releases the store's resources.
	Close() error
}

// Key is the stored form of a publish's key: the hex SHA-256 of the
// publication or subscription id it was posted to (scope), the kind of key
// (KindHeader, KindCloudEvent) and the key itself. Its length is fixed
// whatever the client sent, and the client's key is not stored as such.
func Key(scope, kind, key string) string {
	h := sha256.New()
	for _, s := range []string{scope, kind, key} {
		fmt.Fprintf(h, "%d:%s", len(s), s)
	}
	return hex.EncodeToString(h.Sum(nil))
}

// Kinds of keys, so that a header and a CloudEvent never share one.
const (
	KindHeader     = "header"
	KindCloudEvent = "cloudevent"
)

// CloudEventKey is the key of a CloudEvent: its source and id.
func CloudEventKey(source, id string) string {
	return fmt.Sprintf("%d:%s%s", len(source), source, id)
}

// ErrInvalidKey is wrapped by CheckKey's errors.
var ErrInvalidKey = errors.New("invalid Idempotency-Key")

// CheckKey accepts an Idempotency-Key header value: 1 to MaxKeyLength
// bytes of UTF-8 without control characters.
func CheckKey(k string) error {
	switch {
	case k == "":
		return fmt.Errorf("%w: it is empty", ErrInvalidKey)
	case len(k) > MaxKeyLength:
		return fmt.Errorf("%w: it is %d bytes long, the limit is %d", ErrInvalidKey, len(k), MaxKeyLength)
	case !utf8.ValidString(k):
		return fmt.Errorf("%w: it is not UTF-8", ErrInvalidKey)
	}
	for _, r := range k {
		if unicode.IsControl(r) {
			return fmt.Errorf("%w: it holds the control character %U", ErrInvalidKey, r)
		}
	}
	return nil
}

// WindowOrDefault is w, or DefaultWindow when w ≤ 0.
func WindowOrDefault(w time.Duration) time.Duration {
	if w <= 0 {
		return DefaultWindow
	}
	return w
}
