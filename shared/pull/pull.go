// Package pull is the pull side of subscriptions: the app GETs the events
// of a subscription from HEROKUEVENTS_SUBSCRIBE_URL/{name} (Basic auth from
// the URL's userinfo, as the publish URL), as the original product's
// subscribe URL served them (reference heroku-events.md §6.2).
//
// A subscription created with --pull (or changed with subscriptions:update
// --pull) keeps every event it routes in a Buffer: the filter role puts
// each event of the subscription there beside its streams, so the buffer is
// one more sink of the subscription. The buffer is at least once: a pulled
// event is leased for a visibility timeout and stays until it is
// acknowledged (DELETE {url}/{name}/{event-id} or POST {url}/{name}/ack);
// an unacknowledged event is handed out again once its lease ends. What is
// kept is bounded in time (Retention, 24 h by default).
//
// shared/subscribe serves the subscribe URL over a Buffer.
//
// Drivers: infra/embedded/sqlitepull (a SQLite file of the data dir),
// infra/aws/dynamopull (a DynamoDB table with a lease attribute and a TTL)
// and mempull (tests). Every driver passes the conformance suite pulltest.
package pull

import (
	"context"
	"time"

	"github.com/herokuevents/herokuevents/shared/event"
)

// Defaults.
const (
	// DefaultRetention is how long an unacknowledged event is kept.
	DefaultRetention = 24 * time.Hour
	// DefaultVisibility is how long a pulled event is leased.
	DefaultVisibility = 30 * time.Second
	// MaxVisibility bounds the ?visibility= of a pull.
	MaxVisibility = 12 * time.Hour
	// MaxBatch is the most events one pull returns.
	MaxBatch = 100
	// DefaultBatch is the batch size of a batch pull without ?max=.
	DefaultBatch = 10
	// MaxWait bounds the long poll (?wait=), under API Gateway's 30 s.
	MaxWait = 20 * time.Second
	// MaxAck is the most ids one POST {url}/{name}/ack takes.
	MaxAck = 1000
)

// Leased is an event handed out by Lease.
type Leased struct {
	Event event.Event
	// Until is when the lease ends and the event may be handed out again.
	Until time.Time
	// Receives counts the times the event was leased, this one included.
	Receives int
}

// Backlog is what a subscription's buffer holds (unexpired events).
type Backlog struct {
	// Pending counts the events kept: available and leased.
	Pending int `json:"pending"`
	// Leased counts the events leased now (pulled, not yet acknowledged).
	Leased int `json:"leased"`
	// Oldest is when the oldest kept event was buffered (zero when none).
	Oldest time.Time `json:"oldest,omitzero"`
}

// Putter is what the filter role buffers events through.
type Putter interface {
	// Put keeps evs for the pull subscription (tenant, subscription id).
	// Putting an event id that is kept already changes nothing (the filter
	// redelivers at least once). When Put returns nil the events are
	// durable.
	Put(ctx context.Context, tenant, subscription string, evs ...event.Event) error
}

// Reader reports a subscription's backlog: subscriptions:info.
type Reader interface {
	Backlog(ctx context.Context, tenant, subscription string) (Backlog, error)
}

// Admin is what the api role needs of the buffer: the backlog shown by
// subscriptions:info, and dropping what a subscription kept when it is
// deleted or pull is turned off.
type Admin interface {
	Reader
	Drop(ctx context.Context, tenant, subscription string) error
}

// Buffer keeps the events of pull subscriptions. Implementations are safe
// for concurrent use, by several processes at once (two concurrent Leases
// never hand out the same event), and never return an event older than
// their retention.
type Buffer interface {
	Putter
	Reader
	// Lease hands out up to max available events of the subscription (never
	// leased, or whose lease has ended), oldest first, and leases each
	// until now + visibility.
	Lease(ctx context.Context, tenant, subscription string, max int, visibility time.Duration) ([]Leased, error)
	// Ack removes the events with these ids, leased or not, and returns
	// the ids that were kept (the others are unknown, acknowledged already
	// or expired).
	Ack(ctx context.Context, tenant, subscription string, ids ...string) ([]string, error)
	// Drop removes every event of the subscription (deleted, or pull
	// turned off).
	Drop(ctx context.Context, tenant, subscription string) error
}
