// Package memstore is an in-memory config.Store: what unit tests and
// examples use instead of a database. It keeps every promise of the port —
// identity per (tenant, kind, id), names unique per (tenant, kind), versions,
// List and IndexedBefore order, canceled contexts — and passes the
// conformance suite config/storetest, so a test that passes on it passes on
// the embedded (infra/embedded/sqlitestore) and AWS (infra/aws/dynamostore)
// drivers too.
//
// Nothing is persisted: the items live as long as the Store. IndexedBefore
// is consistent with every write (a driver may lag).
package memstore

import (
	"bytes"
	"cmp"
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"

	"github.com/herokuevents/herokuevents/shared/config"
)

// ErrClosed is returned by every call after Close.
var ErrClosed = errors.New("config store closed")

// Store is an in-memory config.Store. The zero value is not usable; call New.
// A Store is safe for concurrent use; every call is atomic, and items are
// copied in and out, so callers may keep or change what they pass and get.
type Store struct {
	mu     sync.RWMutex
	items  map[key]config.Item
	names  map[key]string // (tenant, kind, name) → id, for named items
	closed bool
}

var _ config.Store = (*Store)(nil)

// key identifies an item by (tenant, kind, id), or a name by (tenant, kind, name).
type key struct{ tenant, kind, id string }

// New returns an empty Store.
func New() *Store {
	return &Store{items: map[key]config.Item{}, names: map[key]string{}}
}

// Create implements config.Store.
func (s *Store) Create(ctx context.Context, it config.Item) (config.Item, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.usable(ctx); err != nil {
		return config.Item{}, fmt.Errorf("create %s %s: %w", it.Kind, it.ID, err)
	}
	k := key{it.Tenant, it.Kind, it.ID}
	if _, ok := s.items[k]; ok {
		return config.Item{}, fmt.Errorf("create %s %s: id taken: %w", it.Kind, it.ID, config.ErrConflict)
	}
	if _, ok := s.named(it.Tenant, it.Kind, it.Name); ok {
		return config.Item{}, fmt.Errorf("create %s %s: name %s taken: %w", it.Kind, it.ID, it.Name, config.ErrConflict)
	}
	it = clone(it)
	it.Version = 1
	s.put(it)
	return clone(it), nil
}

// Update implements config.Store.
func (s *Store) Update(ctx context.Context, it config.Item) (config.Item, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.usable(ctx); err != nil {
		return config.Item{}, fmt.Errorf("update %s %s: %w", it.Kind, it.ID, err)
	}
	k := key{it.Tenant, it.Kind, it.ID}
	old, ok := s.items[k]
	if !ok {
		return config.Item{}, fmt.Errorf("update %s %s: %w", it.Kind, it.ID, config.ErrNotFound)
	}
	if old.Version != it.Version {
		return config.Item{}, fmt.Errorf("update %s %s: version %d, stored %d: %w", it.Kind, it.ID, it.Version, old.Version, config.ErrConflict)
	}
	if id, ok := s.named(it.Tenant, it.Kind, it.Name); ok && id != it.ID {
		return config.Item{}, fmt.Errorf("update %s %s: name %s taken: %w", it.Kind, it.ID, it.Name, config.ErrConflict)
	}
	s.remove(old)
	it = clone(it)
	it.Version = old.Version + 1
	s.put(it)
	return clone(it), nil
}

// Get implements config.Store.
func (s *Store) Get(ctx context.Context, tenant, kind, idOrName string) (config.Item, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	if err := s.usable(ctx); err != nil {
		return config.Item{}, fmt.Errorf("get %s %s: %w", kind, idOrName, err)
	}
	if idOrName != "" {
		if it, ok := s.items[key{tenant, kind, idOrName}]; ok {
			return clone(it), nil
		}
		if id, ok := s.named(tenant, kind, idOrName); ok {
			return clone(s.items[key{tenant, kind, id}]), nil
		}
	}
	return config.Item{}, fmt.Errorf("get %s %q: %w", kind, idOrName, config.ErrNotFound)
}

// List implements config.Store.
func (s *Store) List(ctx context.Context, tenant, kind string) ([]config.Item, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	if err := s.usable(ctx); err != nil {
		return nil, fmt.Errorf("list %s: %w", kind, err)
	}
	var out []config.Item
	for k, it := range s.items {
		if k.tenant == tenant && k.kind == kind {
			out = append(out, clone(it))
		}
	}
	slices.SortFunc(out, func(a, b config.Item) int {
		return cmp.Or(strings.Compare(a.Name, b.Name), strings.Compare(a.ID, b.ID))
	})
	return out, nil
}

// Delete implements config.Store.
func (s *Store) Delete(ctx context.Context, tenant, kind, id string, version int64) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.usable(ctx); err != nil {
		return fmt.Errorf("delete %s %s: %w", kind, id, err)
	}
	old, ok := s.items[key{tenant, kind, id}]
	if !ok {
		return fmt.Errorf("delete %s %s: %w", kind, id, config.ErrNotFound)
	}
	if version > 0 && old.Version != version {
		return fmt.Errorf("delete %s %s: version %d, stored %d: %w", kind, id, version, old.Version, config.ErrConflict)
	}
	s.remove(old)
	return nil
}

// DeleteTenant implements config.Store. It refuses the empty tenant, which
// scopes the global items (every tenant record).
func (s *Store) DeleteTenant(ctx context.Context, tenant string) error {
	if tenant == "" {
		return errors.New("delete tenant: empty tenant id")
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.usable(ctx); err != nil {
		return fmt.Errorf("delete tenant %s: %w", tenant, err)
	}
	for k, it := range s.items {
		if k.tenant == tenant {
			s.remove(it)
		}
	}
	return nil
}

// IndexedBefore implements config.Store: items of kind whose Index is not
// empty and ≤ upTo, by Index then tenant then id. A limit ≤ 0 means no limit.
func (s *Store) IndexedBefore(ctx context.Context, kind, upTo string, limit int) ([]config.Item, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	if err := s.usable(ctx); err != nil {
		return nil, fmt.Errorf("list %s indexed before %s: %w", kind, upTo, err)
	}
	var out []config.Item
	for k, it := range s.items {
		if k.kind == kind && it.Index != "" && it.Index <= upTo {
			out = append(out, it)
		}
	}
	slices.SortFunc(out, func(a, b config.Item) int {
		return cmp.Or(strings.Compare(a.Index, b.Index), strings.Compare(a.Tenant, b.Tenant), strings.Compare(a.ID, b.ID))
	})
	if limit > 0 && len(out) > limit {
		out = out[:limit]
	}
	for i := range out {
		out[i] = clone(out[i])
	}
	return out, nil
}

// Close implements config.Store: the items are dropped and every later call
// fails with ErrClosed. Closing twice is not an error.
func (s *Store) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.closed = true
	clear(s.items)
	clear(s.names)
	return nil
}

// Items returns a copy of every stored item, global ones included, ordered
// by tenant, kind and id: a snapshot for tests to assert what a call
// changed (or that it changed nothing). It returns nil after Close.
func (s *Store) Items() []config.Item {
	s.mu.RLock()
	defer s.mu.RUnlock()
	if s.closed {
		return nil
	}
	out := make([]config.Item, 0, len(s.items))
	for _, it := range s.items {
		out = append(out, clone(it))
	}
	slices.SortFunc(out, func(a, b config.Item) int {
		return cmp.Or(strings.Compare(a.Tenant, b.Tenant), strings.Compare(a.Kind, b.Kind), strings.Compare(a.ID, b.ID))
	})
	return out
}

// usable returns why a call cannot run: ctx ended or the store is closed.
// The caller holds s.mu.
func (s *Store) usable(ctx context.Context) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if s.closed {
		return ErrClosed
	}
	return nil
}

// named returns the id of the item named name in (tenant, kind). The caller
// holds s.mu.
func (s *Store) named(tenant, kind, name string) (string, bool) {
	if name == "" {
		return "", false
	}
	id, ok := s.names[key{tenant, kind, name}]
	return id, ok
}

// put stores it and its name. The caller holds s.mu for writing.
func (s *Store) put(it config.Item) {
	s.items[key{it.Tenant, it.Kind, it.ID}] = it
	if it.Name != "" {
		s.names[key{it.Tenant, it.Kind, it.Name}] = it.ID
	}
}

// remove drops it and its name. The caller holds s.mu for writing.
func (s *Store) remove(it config.Item) {
	delete(s.items, key{it.Tenant, it.Kind, it.ID})
	if it.Name != "" {
		delete(s.names, key{it.Tenant, it.Kind, it.Name})
	}
}

// clone copies the body of it (nil becomes empty, as the drivers return
// it), so the store and its callers share no memory.
func clone(it config.Item) config.Item {
	it.Body = bytes.Clone(it.Body)
	if it.Body == nil {
		it.Body = []byte{}
	}
	return it
}
