// Package envelope tells whether an event can travel the queues: the
// messages that carry it (event.Routed on the ingest queue, event.Delivery
// on the delivery queue, retried, held and rate-slotted by the deliver role,
// and finally dead-lettered with a reason) are measured at their largest,
// with the real envelope types and the attributes SQS counts, against
// queue.MaxBody. Ingest refuses (413) what does not fit, so an accepted
// event can always be delivered or dead-lettered; the filter, the generator
// and the Salesforce subscriber check what they make the same way.
package envelope

import (
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"

	"github.com/herokuevents/herokuevents/shared/event"
	"github.com/herokuevents/herokuevents/shared/order"
	"github.com/herokuevents/herokuevents/shared/queue"
)

// ErrTooLarge is wrapped by every error of this package (it wraps
// queue.ErrTooLarge).
var ErrTooLarge = fmt.Errorf("event cannot be queued: %w", queue.ErrTooLarge)

// Error is an event too large for the queues.
type Error struct {
	// Size is the largest queue message of the event, in bytes as SQS
	// counts them (body and attributes); Limit is queue.MaxBody.
	Size, Limit int
}

func (e *Error) Error() string {
	return fmt.Sprintf("its largest queue message would be %d bytes (envelope and attributes included), over the %d-byte limit", e.Size, e.Limit)
}

// Unwrap makes errors.Is(err, ErrTooLarge) and queue.ErrTooLarge hold.
func (e *Error) Unwrap() error { return ErrTooLarge }

// idWidth is the width of the ids the deliver role may write into a
// delivery: publication ids are UUIDs.
const idWidth = 36

// LongestTime encodes to the longest RFC 3339 text a time.Time has: what
// Widest sets every time to.
var LongestTime = time.Date(9999, 12, 31, 23, 59, 59, 999999999, time.FixedZone("", -(23*3600+59*60)))

// widestKey is the longest JSON encoding of an ordering key: order.MaxKey
// bytes, each written as a six-character escape.
var widestKey = strings.Repeat("\x00", order.MaxKey)

// Widest returns d as large as the filter and the deliver role can make
// it: every counter at its widest, every time at its longest, the
// publication id at least as wide as an id, an ordering key at its widest
// encoding (the publication may be ordered: its key is computed after
// ingest checked the event). Only the event is kept.
func Widest(d event.Delivery) event.Delivery {
	d.Attempt, d.Held = math.MaxInt, math.MaxInt
	d.FirstTry, d.HeldSince, d.RateSlot = LongestTime, LongestTime, LongestTime
	d.Ordered, d.Key = true, widestKey
	if len(d.Publication) < idWidth {
		d.Publication += strings.Repeat("x", idWidth-len(d.Publication))
	}
	return d
}

// Attributes returns the attributes a message of tenant may carry at
// their largest: those herokuevents sets, and the dead-letter reason.
func Attributes(tenant string) map[string]string {
	return map[string]string{
		queue.AttrTenant:  tenant,
		queue.AttrAttempt: strconv.Itoa(math.MaxInt),
		queue.AttrHeld:    strings.Repeat("x", idWidth),
		queue.AttrReason:  strings.Repeat("x", queue.MaxReason),
	}
}

// Size is the size of a message as SQS counts it: the body, and each
// attribute's name, data type ("String") and value.
func Size(body int, attrs map[string]string) int {
	n := body
	for k, v := range attrs {
		if v != "" {
			n += len(k) + len("String") + len(v)
		}
	}
	return n
}

// Fits checks a message body of n bytes of tenant: with the largest
// attributes it must fit queue.MaxBody.
func Fits(n int, tenant string) error {
	if size := Size(n, Attributes(tenant)); size > queue.MaxBody {
		return &Error{Size: size, Limit: queue.MaxBody}
	}
	return nil
}

// CheckDelivery checks that d, whose JSON is body, fits the delivery queue
// at its widest (retries, holds, rate slots, dead letter).
func CheckDelivery(d event.Delivery, body []byte) error {
	n, err := widen(body, d, d)
	if err != nil {
		return err
	}
	return Fits(n, d.Tenant)
}

// CheckRouted checks that r, whose JSON is body, fits the ingest queue and
// that the delivery the filter makes of its event, for any publication,
// fits the delivery queue at its widest.
func CheckRouted(r event.Routed, body []byte) error {
	if err := Fits(len(body), r.Tenant); err != nil {
		return err
	}
	n, err := widen(body, event.Routed{Tenant: r.Tenant, Subscription: r.Subscription}, event.Delivery{Tenant: r.Tenant})
	if err != nil {
		return err
	}
	return Fits(n, r.Tenant)
}

// widen returns the size of the widest delivery of the event encoded in
// body, whose envelope without the event is from: the event's encoding is
// the same in every envelope, so only the envelopes are encoded.
func widen(body []byte, from any, to event.Delivery) (int, error) {
	if d, ok := from.(event.Delivery); ok {
		d.Event = event.Event{}
		from = d
	}
	to.Event = event.Event{}
	a, err := json.Marshal(from)
	if err != nil {
		return 0, fmt.Errorf("encode envelope: %w", err)
	}
	b, err := json.Marshal(Widest(to))
	if err != nil {
		return 0, fmt.Errorf("encode envelope: %w", err)
	}
	if len(b) < len(a) {
		return 0, errors.New("encode envelope: the widest delivery is smaller than the message")
	}
	return len(body) + len(b) - len(a), nil
}
