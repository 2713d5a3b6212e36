// Package archive keeps the accepted events of each subscription for a
// retention period, so that a window of them can be replayed through the
// subscription's streams (shared/replay, `herokuevents replay`).
//
// The filter role archives every event it routes (events published to
// inbound subscriptions, generated and Salesforce events all pass it)
// through a Writer: Keep stamps each event with a sequence number in
// accept order and returns at once; a background goroutine appends what
// gathered in batches, so the hot path pays a channel send per event.
//
// What is kept is bounded twice: by age (each record expires Retention
// after it was accepted: DefaultRetention, or the subscription's own
// retention, `--retention 72h`), and by size per tenant
// (Limits.MaxTenantBytes: once a tenant's archive holds that many bytes of
// events, newer events are not archived until older ones expire; Append
// reports ErrFull). Records are never changed once appended.
//
// Drivers: infra/embedded/sqlitearchive (archive.db in the data dir) and
// infra/aws/dynamoarchive (a DynamoDB table with a TTL). Every driver
// passes the conformance suite archivetest.
package archive

import (
	"context"
	"errors"
	"time"

	"github.com/herokuevents/herokuevents/shared/event"
)

// Defaults of Limits and of a Range page.
const (
	DefaultRetention      = 7 * 24 * time.Hour
	DefaultMaxTenantBytes = 1 << 30
	// MaxRetention is the longest retention a subscription may ask for.
	MaxRetention = 30 * 24 * time.Hour
	// MinRetention is the shortest.
	MinRetention = time.Hour
	DefaultPage  = 100
	MaxPage      = 1000
)

// ErrFull is returned by Append when some records were not kept because
// their tenant's archive holds Limits.MaxTenantBytes already.
var ErrFull = errors.New("archive full")

// Limits bound what a Store keeps.
type Limits struct {
	// Retention is how long a record is kept when it has no Expires of
	// its own; DefaultRetention when ≤ 0.
	Retention time.Duration
	// MaxTenantBytes bounds the bytes (Record.Size) of one tenant's
	// records; DefaultMaxTenantBytes when ≤ 0.
	MaxTenantBytes int64
}

// WithDefaults returns l with every unset field at its default.
func (l Limits) WithDefaults() Limits {
	if l.Retention <= 0 {
		l.Retention = DefaultRetention
	}
	if l.MaxTenantBytes <= 0 {
		l.MaxTenantBytes = DefaultMaxTenantBytes
	}
	return l
}

// Record is one archived event of a subscription.
type Record struct {
	Tenant string
	// Subscription is the subscription's id.
	Subscription string
	// Seq is the accept order: the time the event was accepted in Unix
	// nanoseconds, made strictly increasing by its Writer, so that a time
	// window is a range of sequence numbers. (Tenant, Subscription, Seq,
	// Event.ID) identifies a record: appending it again keeps one.
	Seq int64
	// Expires is when the record stops being kept; Accepted() plus
	// Limits.Retention when zero.
	Expires time.Time
	Event   event.Event
	// JSON, when set, is Event's JSON: a store keeps it rather than
	// encoding Event again.
	JSON []byte
}

// Accepted is the time the event was accepted (Seq as a time).
func (r Record) Accepted() time.Time { return time.Unix(0, r.Seq).UTC() }

// Size is what the record counts against its tenant's MaxTenantBytes: its
// data and attributes, roughly as stored.
func (r Record) Size() int64 {
	e := r.Event
	n := len(e.Data) + len(e.ID) + len(e.Source) + len(e.Type) + len(e.Subject) + len(e.DataContentType) + len(e.DataSchema) + 64
	for k, v := range e.Extensions {
		n += len(k) + 16
		if s, ok := v.(string); ok {
			n += len(s)
		}
	}
	return int64(n)
}

// Query selects records of one subscription.
type Query struct {
	Tenant       string
	Subscription string
	// From and To bound the accepted time: From ≤ accepted < To. A zero
	// From means the oldest kept, a zero To the newest.
	From, To time.Time
	// After is a Page.Next of a previous Range with the same window: the
	// records after it. "" starts at the beginning of the window.
	After string
	// Limit bounds the records of a page: DefaultPage when ≤ 0, at most
	// MaxPage.
	Limit int
}

// PageLimit returns q.Limit within (0, MaxPage], DefaultPage when unset.
func (q Query) PageLimit() int {
	switch {
	case q.Limit <= 0:
		return DefaultPage
	case q.Limit > MaxPage:
		return MaxPage
	}
	return q.Limit
}

// SeqRange returns the window of q as sequence numbers: lo ≤ seq < hi.
func (q Query) SeqRange() (lo, hi int64) {
	lo, hi = 0, 1<<63-1
	if !q.From.IsZero() {
		lo = max(q.From.UnixNano(), 0)
	}
	if !q.To.IsZero() {
		hi = max(q.To.UnixNano(), 0)
	}
	return lo, hi
}

// Page is one page of a Range.
type Page struct {
	// Records are in accept order (Seq, then event id).
	Records []Record
	// Next is the cursor of the following page (Query.After); "" when
	// this page is the last.
	Next string
}

// Reader reads an archive: replays and their counts.
type Reader interface {
	// Range returns the records of a window that have not expired, in
	// accept order, a page at a time.
	Range(ctx context.Context, q Query) (Page, error)
	// Count returns how many records of the window Range would return in
	// all (q.After and q.Limit are ignored).
	Count(ctx context.Context, q Query) (int, error)
}

// Store keeps archived events. Implementations are safe for concurrent
// use and retry transient errors only.
type Store interface {
	// Append keeps records, in order. A record already kept (same
	// tenant, subscription, Seq and event id) is kept once. Records that
	// would take their tenant beyond Limits.MaxTenantBytes are not kept:
	// the others are, and the error wraps ErrFull.
	Append(ctx context.Context, recs ...Record) error
	Reader
	// Prune removes the records expired at now and returns how many it
	// removed (a driver whose storage expires records itself, such as a
	// DynamoDB TTL, may return 0).
	Prune(ctx context.Context, now time.Time) (int, error)
	// Close releases the store's resources.
	Close() error
}

// Keeper is what the filter role archives events through (a *Writer).
// Keep never blocks: archiving does not slow routing.
type Keeper interface {
	// Keep archives ev, accepted now, for retention (Limits.Retention
	// when ≤ 0). encoded is ev's JSON when the caller has it at hand (nil:
	// the store encodes ev).
	Keep(tenant, subscription string, retention time.Duration, ev event.Event, encoded []byte)
}
