// Package event defines the CloudEvents-shaped envelope that travels on every
// queue of herokuevents, and the queue messages that carry it between roles.
package event

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/google/uuid"
)

// Event types emitted by herokuevents sources.
const (
	TypePublish       = "com.herokuevents.publish"
	TypeGenerate      = "com.herokuevents.generate"
	TypePlatformEvent = "com.salesforce.platformevent"
	TypeCDC           = "com.salesforce.cdc"
)

// Event is a CloudEvents 1.0 event. Data is the payload exactly as received
// (for Salesforce events: the Avro-JSON form with union wrapping).
// ID is assigned once at ingestion and is stable across retries.
//
// DataSchema is the dataschema attribute (an absolute URI) when the sender
// gave one. Extensions are the extension attributes by name (CheckExtension
// states the rules): a string, a bool or an integer (after a JSON round trip
// an integer is a float64 with no fraction); they travel with the event and
// are delivered as they came.
type Event struct {
	ID              string          `json:"id"`
	Source          string          `json:"source"`
	Type            string          `json:"type"`
	Subject         string          `json:"subject,omitempty"`
	Time            time.Time       `json:"time"`
	DataContentType string          `json:"datacontenttype,omitempty"`
	DataSchema      string          `json:"dataschema,omitempty"`
	Data            json.RawMessage `json:"data,omitempty"`
	Extensions      map[string]any  `json:"extensions,omitempty"`
}

// ErrInvalid is wrapped by every validation error of this package.
var ErrInvalid = errors.New("invalid event")

// New returns an event with a fresh id and the current time. The id is a
// UUIDv7 (RFC 9562) in canonical form: its leading 48 bits are the Unix
// time in milliseconds, so ids made one after another sort and index
// close together (the delivery log keys its event index by them).
func New(source, typ string, data json.RawMessage) Event {
	return Event{
		ID:              uuid.Must(uuid.NewV7()).String(),
		Source:          source,
		Type:            typ,
		Time:            time.Now().UTC(),
		DataContentType: "application/json",
		Data:            data,
	}
}

// Validate checks the attributes CloudEvents 1.0 requires.
func (e Event) Validate() error {
	switch {
	case e.ID == "":
		return fmt.Errorf("%w: id is empty", ErrInvalid)
	case e.Source == "":
		return fmt.Errorf("%w: source is empty", ErrInvalid)
	case e.Type == "":
		return fmt.Errorf("%w: type is empty", ErrInvalid)
	}
	return nil
}

// Source returns the CloudEvents source URI-reference for a tenant's
// subscription (or publication, for direct publishes): "/tenants/T/subscriptions/NAME".
func Source(tenant, kind, name string) string {
	return "/tenants/" + tenant + "/" + kind + "/" + name
}

// Routed is the body of a message on the ingest queue: an event that entered
// through a subscription and must be routed through that subscription's streams.
type Routed struct {
	Tenant       string `json:"tenant"`
	Subscription string `json:"subscription"` // subscription id
	Event        Event  `json:"event"`
	// Error, when set, says why the source could not make the event (a
	// generator's mapping over a limit): Event has its attributes but no
	// data, and the filter dead-letters it with Error as the reason, so
	// that the failure shows where every other failed event does.
	Error string `json:"error,omitempty"`
	// Replay, when set, marks an event re-sent by a replay (shared/replay):
	// the filter routes it again without archiving it, keeping it among
	// the recent events or buffering it for pulling.
	Replay *Replay `json:"replay,omitempty"`
}

// ExtReplayed is the extension attribute a replayed event carries: the
// replay's id. Its id is the original event's.
const ExtReplayed = "replayed"

// Replay says which replay re-sends a Routed event, and where to.
type Replay struct {
	ID string `json:"id"`
	// Publication, when set, is the only publication the event goes to:
	// through the filter of the subscription's stream to it when there is
	// one, unfiltered otherwise.
	Publication string `json:"publication,omitempty"`
}

// Delivery is the body of a message on the delivery queue: an event bound for
// one publication. Attempt counts delivery attempts already made (0 on the first).
type Delivery struct {
	Tenant      string    `json:"tenant"`
	Publication string    `json:"publication"` // publication id
	Event       Event     `json:"event"`
	Attempt     int       `json:"attempt"`
	FirstTry    time.Time `json:"first_try,omitzero"`
	// Held counts the times the delivery was held back because its
	// publication is paused (no attempt made), since HeldSince.
	Held      int       `json:"held,omitempty"`
	HeldSince time.Time `json:"held_since,omitzero"`
	// RateSlot is the time the publication's rate limit gave the delivery
	// when it had to wait longer than a moment: it was re-queued until then.
	RateSlot time.Time `json:"rate_slot,omitzero"`
	// Ordered marks the delivery of an ordered publication, in the lane
	// of Key (config.Order): it travels in its queue Group and is retried
	// in place.
	Ordered bool   `json:"ordered,omitempty"`
	Key     string `json:"key,omitempty"`
}

// Group is the queue group of an ordered delivery: its tenant,
// publication and key; "" for an unordered one.
func (d Delivery) Group() string {
	if !d.Ordered {
		return ""
	}
	return d.Tenant + "/" + d.Publication + "/" + d.Key
}

// LastData splits js, the JSON of an event as encoding/json writes it
// whose last member is its data (it has no extension attributes): data,
// and head, what precedes the data member (not its closing brace). The
// data member is the first `,"data":` (a quote in a string is escaped, so
// only a member can be that). ok is false when js does not end so.
func LastData(js []byte) (data json.RawMessage, head []byte, ok bool) {
	const key = `,"data":`
	i := bytes.Index(js, []byte(key))
	if i < 0 || len(js) == 0 || js[len(js)-1] != '}' || i+len(key) > len(js)-1 {
		return nil, nil, false
	}
	return js[i+len(key) : len(js)-1 : len(js)-1], js[:i], true
}
