// Package journal is the delivery log: the per-event history that answers
// "what happened to my event". Each role appends what it decided about an
// event as an Entry: ingest that it accepted it (or, for generated and
// Salesforce events, the filter role on their behalf), filter that a stream
// routed it or filtered it out and why, deliver every attempt to a
// publication and its outcome, and a dead letter set aside before any
// attempt.
//
// The port has two sides. A Writer appends entries in batches; the roles
// take one as an option (nil = no journal) and wrap it in an Async, so
// that the hot path only enqueues. A Reader lists a publication's
// attempts (`deliveries`) and an event's entries (`trace`); Summarize and
// HealthOf turn attempts into a publication's health over the last hour.
//
// Implementations: infra/embedded/sqlitejournal (a journal.db file of the
// data dir) and infra/aws/dynamojournal (a DynamoDB table with a TTL). Both
// pass journal/journaltest, are safe for concurrent use, never retry on
// their own (Async drops what it cannot write, counting it) and keep
// entries for a bounded time (Retention.Age, 7 days by default) and at most
// Retention.PerPublication attempts per publication, pruning the oldest.
//
// Retry (POST …/events/{id}/publications/{ref}/retry) needs the event's
// payload: the first attempt of each delivery keeps the event as it was
// delivered (Entry.Event, after the stream's filter), when it is at most
// MaxEventSize bytes of JSON. A delivery is retryable while that entry is
// retained.
package journal

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/herokuevents/herokuevents/shared/event"
)

// Stage is what happened to an event.
type Stage string

// Stages, in the order an event goes through them.
const (
	// Accepted: the event entered through a subscription or was published
	// straight to a publication (Via says how).
	Accepted Stage = "accepted"
	// Routed: a stream (Subscription → Publication) passed the event on.
	Routed Stage = "routed"
	// FilteredOut: a stream did not pass the event on; Reason says why
	// (its filter dropped it, or failed).
	FilteredOut Stage = "filtered_out"
	// Attempt: one delivery attempt to Publication; Outcome says how it
	// ended.
	Attempt Stage = "attempt"
	// DeadLettered: the event was set aside without an attempt (unknown or
	// disabled publication, a failing filter…); Reason says why.
	DeadLettered Stage = "dead_lettered"
)

// Outcome is the class of an attempt's result.
type Outcome string

// Outcomes of an attempt.
const (
	// Delivered: the target accepted the event.
	Delivered Outcome = "delivered"
	// Retry: the attempt failed and another is scheduled (NextAttempt) or
	// the queue will redeliver the message.
	Retry Outcome = "retry"
	// Dead: the attempt failed for good (permanent failure or retry
	// policy exhausted); the delivery is a dead letter.
	Dead Outcome = "dead_lettered"
	// Disabled: the target answered 410 Gone; the publication is disabled.
	Disabled Outcome = "disabled"
)

// FailedOutcomes are the outcomes of failed attempts.
var FailedOutcomes = []Outcome{Retry, Dead, Disabled}

// Failed reports whether o is the outcome of a failed attempt.
func (o Outcome) Failed() bool { return o != "" && o != Delivered }

// Ways an event is accepted (Entry.Via).
const (
	ViaPublish    = "publish"    // POSTed to the publish URL
	ViaGenerate   = "generate"   // emitted by a generator subscription
	ViaSalesforce = "salesforce" // received from a Salesforce subscription
)

// Limits of an entry's free text; Clip enforces them.
const (
	// ResponseSize is how much of a response body an attempt keeps.
	ResponseSize = 1 << 10
	// TextSize bounds Error and Reason.
	TextSize = 2 << 10
	// MaxEventSize is the largest event (as JSON) an attempt keeps for
	// retries; larger events are not kept (a DynamoDB item holds 400 KB).
	MaxEventSize = 256 << 10
)

// Entry is one record of an event's history. Tenant, EventID, Time and
// Stage are always set; the other fields depend on the stage.
type Entry struct {
	Tenant  string    `json:"tenant,omitempty"`
	EventID string    `json:"event_id,omitempty"`
	Time    time.Time `json:"time,omitzero"`
	Stage   Stage     `json:"stage,omitempty"`

	// Subscription and SubscriptionName: the subscription an accepted
	// event entered through, the source of a routed or filtered-out
	// stream. Ids are always set where known, names when the writer knew
	// them (readers resolve ids to current names).
	Subscription     string `json:"subscription,omitempty"`
	SubscriptionName string `json:"subscription_name,omitempty"`
	// Publication and PublicationName: the publication an event was
	// published to directly (accepted), the target of a stream, or the
	// target of an attempt or dead letter.
	Publication     string `json:"publication,omitempty"`
	PublicationName string `json:"publication_name,omitempty"`
	// Via is how an accepted event came in (ViaPublish, ViaGenerate,
	// ViaSalesforce).
	Via string `json:"via,omitempty"`
	// Reason explains a filtered-out or dead-lettered stage.
	Reason string `json:"reason,omitempty"`

	// Attempt is the attempt's number, from 1.
	Attempt int     `json:"attempt,omitempty"`
	Outcome Outcome `json:"outcome,omitempty"`
	// Status is the HTTP status answered, 0 when none (no response, or a
	// target that is not HTTP).
	Status int `json:"status,omitempty"`
	// Latency is how long the attempt took.
	Latency time.Duration `json:"-"`
	// Response is the start of the response body (ResponseSize bytes at
	// most, valid UTF-8).
	Response string `json:"response,omitempty"`
	// Error is why the attempt failed.
	Error string `json:"error,omitempty"`
	// NextAttempt is when the next attempt is scheduled (Retry).
	NextAttempt time.Time `json:"next_attempt,omitzero"`
	// FirstTry is when the delivery was first tried.
	FirstTry time.Time `json:"first_try,omitzero"`
	// Event is the event as delivered, kept by the first attempt of a
	// delivery so that it can be retried; nil otherwise. Readers return it
	// from Event only.
	Event *event.Event `json:"-"`
}

// ErrInvalid is wrapped by the error of an entry that misses a required
// field.
var ErrInvalid = errors.New("invalid journal entry")

// Check reports an entry drivers cannot store.
func (e Entry) Check() error {
	switch {
	case e.Tenant == "":
		return fmt.Errorf("%w: tenant is empty", ErrInvalid)
	case e.EventID == "":
		return fmt.Errorf("%w: event id is empty", ErrInvalid)
	case e.Time.IsZero():
		return fmt.Errorf("%w: time is zero", ErrInvalid)
	case e.Stage == "":
		return fmt.Errorf("%w: stage is empty", ErrInvalid)
	case e.Stage == Attempt && e.Publication == "":
		return fmt.Errorf("%w: attempt without publication", ErrInvalid)
	}
	return nil
}

// Clip returns e with its text cut to the limits (ResponseSize, TextSize;
// valid UTF-8), its time in UTC and its event dropped when larger than
// MaxEventSize.
func Clip(e Entry) Entry {
	e.Time = e.Time.UTC()
	e.Response = cut(e.Response, ResponseSize)
	e.Error = cut(e.Error, TextSize)
	e.Reason = cut(e.Reason, TextSize)
	if !e.NextAttempt.IsZero() {
		e.NextAttempt = e.NextAttempt.UTC()
	}
	if !e.FirstTry.IsZero() {
		e.FirstTry = e.FirstTry.UTC()
	}
	if e.Event != nil && EventSize(*e.Event) > MaxEventSize {
		e.Event = nil
	}
	return e
}

// EventSize is the size of ev as JSON, approximated from its parts
// (drivers check the size of what they store).
func EventSize(ev event.Event) int {
	n := len(ev.ID) + len(ev.Source) + len(ev.Type) + len(ev.Subject) + len(ev.DataContentType) + len(ev.Data) + 128
	for k, v := range ev.Extensions {
		n += len(k) + len(fmt.Sprint(v)) + 8
	}
	return n
}

// MarshalEvent encodes the event an entry keeps, without its id (the
// entry's EventID), or returns nil when it has none or it is larger than
// MaxEventSize as JSON.
func MarshalEvent(e Entry) ([]byte, error) {
	if e.Event == nil {
		return nil, nil
	}
	ev := *e.Event
	if ev.ID == e.EventID {
		ev.ID = ""
	}
	b, err := json.Marshal(ev)
	if err != nil {
		return nil, fmt.Errorf("encode event %s: %w", e.EventID, err)
	}
	if len(b) > MaxEventSize {
		return nil, nil
	}
	return b, nil
}

// UnmarshalEvent decodes what MarshalEvent encoded for an entry of event
// id; nil for nothing.
func UnmarshalEvent(b []byte, id string) (*event.Event, error) {
	if len(b) == 0 {
		return nil, nil
	}
	var ev event.Event
	if err := json.Unmarshal(b, &ev); err != nil {
		return nil, fmt.Errorf("decode kept event: %w", err)
	}
	if ev.ID == "" {
		ev.ID = id
	}
	return &ev, nil
}

func cut(s string, n int) string {
	if len(s) > n {
		s = s[:n]
	}
	return strings.ToValidUTF8(s, "") // a rune cut at the end goes
}

// Writer appends entries. Drivers write a batch in as few requests as they
// can; an error may leave part of a batch written. Safe for concurrent use.
type Writer interface {
	Append(ctx context.Context, entries ...Entry) error
}

// Query selects a publication's attempts.
type Query struct {
	// Limit is the most attempts returned (> 0).
	Limit int
	// Since, when set, leaves out attempts before it.
	Since time.Time
	// Outcomes, when not empty, keeps only attempts with one of them.
	Outcomes []Outcome
}

// Reader reads the journal. Safe for concurrent use.
type Reader interface {
	// Attempts returns the attempt entries of a tenant's publication (by
	// id) selected by q, newest first, without their Event.
	Attempts(ctx context.Context, tenant, publication string, q Query) ([]Entry, error)
	// Event returns every retained entry of an event, oldest first (entries
	// of the same time in the order they were appended), with the Event
	// of attempts that kept it.
	Event(ctx context.Context, tenant, eventID string) ([]Entry, error)
}

// Journal is a driver: both sides, retention and Close.
type Journal interface {
	Writer
	Reader
	// Prune enforces the driver's Retention now (drivers also enforce it
	// on their own schedule; reads never return entries older than
	// Retention.Age).
	Prune(ctx context.Context) error
	Close() error
}

// Retention bounds what a driver keeps.
type Retention struct {
	// Age is how long entries are kept; DefaultAge when 0.
	Age time.Duration
	// PerPublication is the most attempts kept per publication (the
	// oldest are pruned first); DefaultPerPublication when 0.
	PerPublication int
}

// Retention defaults.
const (
	DefaultAge            = 7 * 24 * time.Hour
	DefaultPerPublication = 10000
)

// WithDefaults returns r with its zero fields set to the defaults.
func (r Retention) WithDefaults() Retention {
	if r.Age <= 0 {
		r.Age = DefaultAge
	}
	if r.PerPublication <= 0 {
		r.PerPublication = DefaultPerPublication
	}
	return r
}

// detail is the stored form of an entry: the latency in microseconds.
type detail struct {
	Entry
	LatencyMicros int64 `json:"latency_us,omitempty"`
}

// UnmarshalDetail decodes what MarshalDetail encoded into an entry of
// tenant and event id.
func UnmarshalDetail(tenant, eventID string, b []byte) (Entry, error) {
	var d detail
	if err := json.Unmarshal(b, &d); err != nil {
		return Entry{}, fmt.Errorf("decode journal entry of event %s: %w", eventID, err)
	}
	e := d.Entry
	e.Tenant, e.EventID, e.Latency = tenant, eventID, time.Duration(d.LatencyMicros)*time.Microsecond
	return e, nil
}
