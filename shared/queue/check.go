package queue

import (
	"errors"
	"fmt"
	"time"
)

// MaxDelay is the longest Delay (the SQS limit); drivers cap longer delays
// to it so both modes behave alike.
const MaxDelay = 15 * time.Minute

// MaxAttributes is the most attributes a message may carry (the SQS limit).
const MaxAttributes = 10

// ErrTooLarge is returned (wrapped) by Send when a message body is larger
// than MaxBody. It is not worth retrying.
var ErrTooLarge = errors.New("message too large")

// ErrInvalid is returned (wrapped) by Send for a message a driver cannot
// carry, such as too many or badly named attributes. It is not worth retrying.
var ErrInvalid = errors.New("invalid message")

// Check validates messages before sending: bodies of at most MaxBody bytes
// (ErrTooLarge), at most MaxAttributes attributes whose names are 1..256 of
// [A-Za-z0-9_.-] (ErrInvalid). Drivers call it so every mode rejects the same
// messages; the error names the index of the first bad message.
func Check(msgs ...Message) error {
	for i, m := range msgs {
		if len(m.Body) > MaxBody {
			return fmt.Errorf("message %d: body of %d bytes exceeds %d: %w", i, len(m.Body), MaxBody, ErrTooLarge)
		}
		if len(m.Attributes) > MaxAttributes {
			return fmt.Errorf("message %d: %d attributes exceed %d: %w", i, len(m.Attributes), MaxAttributes, ErrInvalid)
		}
		for name := range m.Attributes {
			if !validAttrName(name) {
				return fmt.Errorf("message %d: attribute name %q: %w", i, name, ErrInvalid)
			}
		}
	}
	return nil
}

// ClampDelay bounds d to [0, MaxDelay].
func ClampDelay(d time.Duration) time.Duration {
	return min(max(d, 0), MaxDelay)
}

func validAttrName(name string) bool {
	if name == "" || len(name) > 256 {
		return false
	}
	for _, c := range []byte(name) {
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9', c == '_', c == '-', c == '.':
		default:
			return false
		}
	}
	return true
}
