package config

import (
	"context"
	"errors"
	"sync"
	"time"
)

// Cached returns a Store that serves Get and List from memory for up to ttl
// after a read, and passes every other call through. Writes made through it
// drop the cached entries of their (tenant, kind) at once; writes made
// elsewhere (another process, another Lambda) are seen within ttl.
//
// The data plane (ingest, filter, deliver) reads the same tenant,
// publication and streams for every event; a short ttl (a second or two)
// takes those reads off the store (SQLite, or DynamoDB read units) at the
// price of that much staleness. The management API uses the store itself.
// Safe for concurrent use.
func Cached(s Store, ttl time.Duration) Store {
	return &cached{Store: s, ttl: ttl, entries: map[cacheKey]cacheEntry{}}
}

// maxCached bounds the entries kept; past it the cache starts over.
const maxCached = 10000

type cached struct {
	Store
	ttl     time.Duration
	mu      sync.Mutex
	entries map[cacheKey]cacheEntry
}

type cacheKey struct {
	op, tenant, kind, key string
}

type cacheEntry struct {
	item    Item
	items   []Item
	err     error
	expires time.Time
	// decoded holds what Read and ReadAll decoded of item or items, by
	// the type decoded into (reflect.Type → Record[T] or []Record[T]):
	// it lives and goes with the entry, so a write that drops the entry
	// drops it too.
	decoded *sync.Map
}

func (c *cached) lookup(k cacheKey) (cacheEntry, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	e, ok := c.entries[k]
	if !ok || time.Now().After(e.expires) {
		return cacheEntry{}, false
	}
	return e, true
}

func (c *cached) keep(k cacheKey, e cacheEntry) cacheEntry {
	e.expires = time.Now().Add(c.ttl)
	e.decoded = &sync.Map{}
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.entries) >= maxCached {
		clear(c.entries)
	}
	c.entries[k] = e
	return e
}

func (c *cached) forget(tenant, kind string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for k := range c.entries {
		if k.tenant == tenant && (kind == "" || k.kind == kind) {
			delete(c.entries, k)
		}
	}
}

// Get serves a cached item, or a cached ErrNotFound, within ttl.
func (c *cached) Get(ctx context.Context, tenant, kind, idOrName string) (Item, error) {
	k := cacheKey{"get", tenant, kind, idOrName}
	if e, ok := c.lookup(k); ok {
		return cloneItem(e.item), e.err
	}
	it, err := c.Store.Get(ctx, tenant, kind, idOrName)
	if err == nil || isNotFound(err) {
		c.keep(k, cacheEntry{item: cloneItem(it), err: err})
	}
	return it, err
}

// getShared is Get for Read: the cached item itself (not a copy), with
// the entry's decoded values; decoded is nil when the item was not cached.
func (c *cached) getShared(ctx context.Context, tenant, kind, idOrName string) (it Item, decoded *sync.Map, err error) {
	k := cacheKey{"get", tenant, kind, idOrName}
	if e, ok := c.lookup(k); ok {
		return e.item, e.decoded, e.err
	}
	it, err = c.Store.Get(ctx, tenant, kind, idOrName)
	if err == nil || isNotFound(err) {
		e := c.keep(k, cacheEntry{item: cloneItem(it), err: err})
		return e.item, e.decoded, e.err
	}
	return it, nil, err
}

// listShared is List for ReadAll, as getShared is Get for Read.
func (c *cached) listShared(ctx context.Context, tenant, kind string) (items []Item, decoded *sync.Map, err error) {
	k := cacheKey{"list", tenant, kind, ""}
	if e, ok := c.lookup(k); ok {
		return e.items, e.decoded, nil
	}
	items, err = c.Store.List(ctx, tenant, kind)
	if err != nil {
		return nil, nil, err
	}
	e := c.keep(k, cacheEntry{items: cloneItems(items)})
	return e.items, e.decoded, nil
}

// List serves a cached listing within ttl.
func (c *cached) List(ctx context.Context, tenant, kind string) ([]Item, error) {
	k := cacheKey{"list", tenant, kind, ""}
	if e, ok := c.lookup(k); ok {
		return cloneItems(e.items), nil
	}
	items, err := c.Store.List(ctx, tenant, kind)
	if err == nil {
		c.keep(k, cacheEntry{items: cloneItems(items)})
	}
	return items, err
}

func (c *cached) Create(ctx context.Context, it Item) (Item, error) {
	defer c.forget(it.Tenant, it.Kind)
	return c.Store.Create(ctx, it)
}

func (c *cached) Update(ctx context.Context, it Item) (Item, error) {
	defer c.forget(it.Tenant, it.Kind)
	return c.Store.Update(ctx, it)
}

func (c *cached) Delete(ctx context.Context, tenant, kind, id string, version int64) error {
	defer c.forget(tenant, kind)
	return c.Store.Delete(ctx, tenant, kind, id, version)
}

func (c *cached) DeleteTenant(ctx context.Context, tenant string) error {
	defer c.forget(tenant, "")
	return c.Store.DeleteTenant(ctx, tenant)
}

func isNotFound(err error) bool { return err != nil && errors.Is(err, ErrNotFound) }

func cloneItem(it Item) Item {
	it.Body = append([]byte(nil), it.Body...)
	return it
}

func cloneItems(items []Item) []Item {
	out := make([]Item, len(items))
	for i, it := range items {
		out[i] = cloneItem(it)
	}
	return out
}
