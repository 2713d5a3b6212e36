// Package recent keeps the most recent events of each subscription, so that
// a stream filter can be tried on real traffic before it is deployed (the
// dry-run of `streams:test`, POST /v1/tenants/{T}/streams/test).
//
// The filter role keeps every event it routes (events of inbound webhook
// subscriptions, generators and Salesforce subscriptions all reach it
// through the ingest queue) through a Writer: asynchronous, batched and
// best effort, so keeping never slows or fails an event. What is kept is
// bounded: the last Limits.PerSubscription events of each subscription,
// the data of each at most Limits.MaxEventBytes (a larger event is kept
// without its data, marked Oversize), none older than Limits.MaxAge. A
// tenant thus holds at most PerSubscription × MaxEventBytes per
// subscription, as Latest returns it; a driver may keep a few more rows
// until it evicts them (sqliterecent: up to a fifth more).
//
// Drivers: infra/embedded/sqliterecent (a file of the data dir),
// infra/aws/dynamorecent (a DynamoDB table with a TTL) and memrecent (tests).
// Every driver passes the conformance suite recenttest.
package recent

import (
	"context"
	"time"

	"github.com/herokuevents/herokuevents/shared/event"
)

// Defaults of Limits.
const (
	DefaultPerSubscription = 50
	DefaultMaxEventBytes   = 64 << 10
	DefaultMaxAge          = 7 * 24 * time.Hour
)

// Limits bound what a Store keeps.
type Limits struct {
	// PerSubscription is how many events of a subscription are kept (the
	// most recent ones); DefaultPerSubscription when ≤ 0.
	PerSubscription int
	// MaxEventBytes bounds the data of one kept event; a larger event is
	// kept without its data and marked Oversize. DefaultMaxEventBytes when ≤ 0.
	MaxEventBytes int
	// MaxAge is how long an event is kept; DefaultMaxAge when ≤ 0.
	MaxAge time.Duration
}

// WithDefaults returns l with every unset field at its default.
func (l Limits) WithDefaults() Limits {
	if l.PerSubscription <= 0 {
		l.PerSubscription = DefaultPerSubscription
	}
	if l.MaxEventBytes <= 0 {
		l.MaxEventBytes = DefaultMaxEventBytes
	}
	if l.MaxAge <= 0 {
		l.MaxAge = DefaultMaxAge
	}
	return l
}

// Entry is one kept event of a subscription.
type Entry struct {
	Tenant string
	// Subscription is the subscription's id.
	Subscription string
	Event        event.Event
	// Kept is when the event was kept (the store's clock when zero).
	Kept time.Time
	// Size is the length of the event's data as it arrived.
	Size int
	// Oversize reports that the data was larger than Limits.MaxEventBytes
	// and was not kept (Event.Data is empty).
	Oversize bool
}

// Fit applies the per-event limit: an entry whose data is larger than max
// bytes loses its data and is marked Oversize. Size is set either way.
func (e Entry) Fit(max int) Entry {
	e.Size = len(e.Event.Data)
	if e.Size > max {
		e.Event.Data, e.Oversize = nil, true
	}
	return e
}

// Store keeps the recent events of subscriptions. Implementations are safe
// for concurrent use.
type Store interface {
	// Keep stores entries (Entry.Fit applied), evicting the oldest events of
	// a subscription beyond Limits.PerSubscription. Keeping an event id
	// again makes it the subscription's most recent event.
	Keep(ctx context.Context, entries ...Entry) error
	Reader
	// Close releases the store's resources.
	Close() error
}

// Reader reads kept events: the api's dry-run.
type Reader interface {
	// Latest returns up to n of the most recent events of a subscription
	// that are younger than Limits.MaxAge, each event id once, oldest first.
	// n ≤ 0 means every kept event.
	Latest(ctx context.Context, tenant, subscription string, n int) ([]Entry, error)
}

// Keeper is what the filter role keeps events through (a *Writer). Keep
// never blocks and never fails: keeping is best effort.
type Keeper interface {
	Keep(tenant, subscription string, ev event.Event)
}
