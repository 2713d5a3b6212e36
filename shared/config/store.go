// Package config holds the resource model of herokuevents (tenants,
// subscriptions, publications, streams, authorizations) and the Store port
// that persists it.
//
// Drivers: infra/embedded/sqlitestore and infra/aws/dynamostore. Every
// driver passes the conformance suite in storetest.
package config

import (
	"context"
	"errors"
)

var (
	// ErrNotFound: no item with that id or name.
	ErrNotFound = errors.New("not found")
	// ErrConflict: the id or name is taken, or the version did not match.
	ErrConflict = errors.New("conflict")
)

// Item is one stored record. The store treats Body as opaque JSON and
// enforces identity, name uniqueness and versions only.
type Item struct {
	// Tenant scopes the item; "" for global items (tenants, partners).
	Tenant string
	// Kind is the resource kind, e.g. KindSubscription.
	Kind string
	// ID is unique per (Tenant, Kind).
	ID string
	// Name, when not empty, is unique per (Tenant, Kind).
	Name string
	// Index, when not empty, is a sortable key that IndexedBefore finds
	// across tenants without scanning (e.g. a generator's next run time).
	Index string
	// Version is set by the store: 1 on create, +1 on every update.
	Version int64
	// Body is the resource as JSON.
	Body []byte
}

// Store persists items. Implementations are safe for concurrent use and
// never retry on their own beyond transient transport errors; ErrConflict is
// the caller's to handle (re-read and retry, or report).
type Store interface {
	// Create stores a new item with Version 1. ErrConflict when the id or
	// the name is taken within (Tenant, Kind).
	Create(ctx context.Context, it Item) (Item, error)
	// Update replaces an item whose stored Version equals it.Version and
	// returns it with the next version. ErrNotFound when absent; ErrConflict
	// on a version mismatch or when a new name is taken.
	Update(ctx context.Context, it Item) (Item, error)
	// Get finds an item by id, or else by name. ErrNotFound when neither matches.
	Get(ctx context.Context, tenant, kind, idOrName string) (Item, error)
	// List returns every item of a kind of a tenant, ordered by name then id.
	List(ctx context.Context, tenant, kind string) ([]Item, error)
	// Delete removes an item. With version > 0 the stored version must match
	// (ErrConflict otherwise). ErrNotFound when absent.
	Delete(ctx context.Context, tenant, kind, id string, version int64) error
	// DeleteTenant removes every item scoped to tenant (not the tenant item itself,
	// which is global). Drivers refuse the empty tenant.
	DeleteTenant(ctx context.Context, tenant string) error
	// IndexedBefore returns up to limit items of kind, across tenants, whose
	// Index is not empty and ≤ upTo, in ascending Index order. It may lag
	// recent writes briefly (dynamostore reads an eventually consistent
	// index), so treat results as candidates and claim each with Update at
	// its Version. A limit ≤ 0 means no limit.
	IndexedBefore(ctx context.Context, kind, upTo string, limit int) ([]Item, error)
	// Close releases the store's resources.
	Close() error
}
