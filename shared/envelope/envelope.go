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
	"sync"
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
			n += attrSize(k, v)
		}
	}
	return n
}

func attrSize(name, value string) int { return len(name) + len("String") + len(value) }

// fixedAttrs is the size of the attributes of Attributes that do not
// depend on the tenant.
var fixedAttrs = Size(0, Attributes(""))

// Fits checks a message body of n bytes of tenant: with the largest
// attributes it must fit queue.MaxBody.
func Fits(n int, tenant string) error {
	size := n + fixedAttrs // Size(n, Attributes(tenant)), without making the map
	if tenant != "" {
		size += attrSize(queue.AttrTenant, tenant)
	}
	if size > queue.MaxBody {
		return &Error{Size: size, Limit: queue.MaxBody}
	}
	return nil
}

// CheckDelivery checks that d, whose JSON is body, fits the delivery queue
// at its widest (retries, holds, rate slots, dead letter).
func CheckDelivery(d event.Delivery, body []byte) error {
	from, ok := deliveryLen(d)
	if !ok {
		return checkEncoded(body, d, d)
	}
	n, err := widen(body, from, widestLen(d.Tenant, d.Publication))
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
	n, err := widen(body, routedLen(r.Tenant, r.Subscription), widestLen(r.Tenant, ""))
	if err != nil {
		return err
	}
	return Fits(n, r.Tenant)
}

// widen returns the size of the widest delivery of the event encoded in
// body, whose envelope without the event encodes to from bytes and the
// widest delivery's to to bytes: the event's encoding is the same in every
// envelope, so only the envelopes are measured. Their lengths are computed
// field by field as encoding/json writes them (deliveryLen, widestLen),
// without encoding them; TestMeasureIsTheEncodedSize holds them to the
// encoding.
func widen(body []byte, from, to int) (int, error) {
	if to < from {
		return 0, errors.New("encode envelope: the widest delivery is smaller than the message")
	}
	return len(body) + to - from, nil
}

// checkEncoded is CheckDelivery measuring the envelopes by encoding them:
// what it does when one of d's times cannot be encoded (deliveryLen), so
// that the error is encoding/json's.
func checkEncoded(body []byte, d event.Delivery, to event.Delivery) error {
	d.Event, to.Event = event.Event{}, event.Event{}
	a, err := json.Marshal(d)
	if err != nil {
		return fmt.Errorf("encode envelope: %w", err)
	}
	b, err := json.Marshal(Widest(to))
	if err != nil {
		return fmt.Errorf("encode envelope: %w", err)
	}
	n, err := widen(body, len(a), len(b))
	if err != nil {
		return err
	}
	return Fits(n, d.Tenant)
}

// The lengths below are measured on first use, not at package init, which
// every function that links this package would pay in its cold start.
var (
	// emptyEvent is the length of the encoding of event.Event{}: the
	// event of the envelopes measured.
	emptyEvent = sync.OnceValue(func() int { return encodedLen(event.Event{}) })
	// widest is the length of Widest(event.Delivery{}) with an empty
	// event: a tenant "", a publication of idWidth bytes.
	widest = sync.OnceValue(func() int { return encodedLen(Widest(event.Delivery{})) })
)

func encodedLen(v any) int {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err)
	}
	return len(b)
}

// widestLen is the length of Widest(event.Delivery{Tenant: tenant,
// Publication: publication}) with an empty event.
func widestLen(tenant, publication string) int {
	pub := stringLen(publication)
	if len(publication) < idWidth {
		pub += idWidth - len(publication) // padded with x
	}
	return widest() + stringLen(tenant) - len(`""`) + pub - (idWidth + len(`""`))
}

// routedLen is the length of event.Routed{Tenant: tenant, Subscription:
// subscription} encoded.
func routedLen(tenant, subscription string) int {
	return len(`{"tenant":,"subscription":,"event":}`) + stringLen(tenant) + stringLen(subscription) + emptyEvent()
}

// deliveryLen is the length of d encoded with an empty event; false when
// one of its times cannot be encoded.
func deliveryLen(d event.Delivery) (int, bool) {
	n := len(`{"tenant":,"publication":,"event":,"attempt":}`) + stringLen(d.Tenant) + stringLen(d.Publication) + emptyEvent() + intLen(d.Attempt)
	for _, t := range []struct {
		name string
		t    time.Time
	}{{"first_try", d.FirstTry}, {"held_since", d.HeldSince}, {"rate_slot", d.RateSlot}} {
		if t.t.IsZero() {
			continue
		}
		var buf [64]byte
		b, err := t.t.AppendText(buf[:0])
		if err != nil {
			return 0, false
		}
		n += len(`,"":""`) + len(t.name) + len(b)
	}
	if d.Held != 0 {
		n += len(`,"held":`) + intLen(d.Held)
	}
	if d.Ordered {
		n += len(`,"ordered":true`)
	}
	if d.Key != "" {
		n += len(`,"key":`) + stringLen(d.Key)
	}
	return n, true
}

func intLen(i int) int {
	var buf [24]byte
	return len(strconv.AppendInt(buf[:0], int64(i), 10))
}

// stringLen is the length of s as encoding/json encodes it: quoted, and
// when s holds a byte that may be escaped (a control, a quote, a
// backslash, <, >, &, or any non-ASCII byte), measured by encoding it.
func stringLen(s string) int {
	for i := range len(s) {
		if c := s[i]; c < 0x20 || c >= 0x7f || c == '"' || c == '\\' || c == '<' || c == '>' || c == '&' {
			return encodedLen(s)
		}
	}
	return len(s) + len(`""`)
}
