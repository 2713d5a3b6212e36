package api_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/herokuevents/herokuevents/shared/config"
	"github.com/herokuevents/herokuevents/shared/config/storetest"
)

// memStore is an in-memory config.Store for these tests: identity, name
// uniqueness and versions as the port documents them.
type memStore struct {
	mu    sync.Mutex
	items map[string]config.Item // key: tenant \x00 kind \x00 id
	fail  error                  // when set, every call fails with it
	// onDelete, when set, runs before every Delete (outside the lock).
	onDelete func(tenant, kind, id string)
}

func newMemStore() *memStore { return &memStore{items: map[string]config.Item{}} }

func key(tenant, kind, id string) string { return tenant + "\x00" + kind + "\x00" + id }

func clone(it config.Item) config.Item {
	it.Body = bytes.Clone(it.Body)
	return it
}

func (m *memStore) check(ctx context.Context) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	return m.fail
}

func (m *memStore) byName(tenant, kind, name string) (config.Item, bool) {
	if name == "" {
		return config.Item{}, false
	}
	for _, it := range m.items {
		if it.Tenant == tenant && it.Kind == kind && it.Name == name {
			return it, true
		}
	}
	return config.Item{}, false
}

func (m *memStore) Create(ctx context.Context, it config.Item) (config.Item, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if err := m.check(ctx); err != nil {
		return config.Item{}, err
	}
	if _, ok := m.items[key(it.Tenant, it.Kind, it.ID)]; ok {
		return config.Item{}, fmt.Errorf("create %s %s: %w", it.Kind, it.ID, config.ErrConflict)
	}
	if _, ok := m.byName(it.Tenant, it.Kind, it.Name); ok {
		return config.Item{}, fmt.Errorf("create %s %s: name %s: %w", it.Kind, it.ID, it.Name, config.ErrConflict)
	}
	it = clone(it)
	it.Version = 1
	m.items[key(it.Tenant, it.Kind, it.ID)] = it
	return clone(it), nil
}

func (m *memStore) Update(ctx context.Context, it config.Item) (config.Item, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if err := m.check(ctx); err != nil {
		return config.Item{}, err
	}
	old, ok := m.items[key(it.Tenant, it.Kind, it.ID)]
	if !ok {
		return config.Item{}, fmt.Errorf("update %s %s: %w", it.Kind, it.ID, config.ErrNotFound)
	}
	if old.Version != it.Version {
		return config.Item{}, fmt.Errorf("update %s %s: version %d is not %d: %w", it.Kind, it.ID, it.Version, old.Version, config.ErrConflict)
	}
	if other, ok := m.byName(it.Tenant, it.Kind, it.Name); ok && other.ID != it.ID {
		return config.Item{}, fmt.Errorf("update %s %s: name %s: %w", it.Kind, it.ID, it.Name, config.ErrConflict)
	}
	it = clone(it)
	it.Version = old.Version + 1
	m.items[key(it.Tenant, it.Kind, it.ID)] = it
	return clone(it), nil
}

func (m *memStore) Get(ctx context.Context, tenant, kind, idOrName string) (config.Item, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if err := m.check(ctx); err != nil {
		return config.Item{}, err
	}
	if it, ok := m.items[key(tenant, kind, idOrName)]; ok {
		return clone(it), nil
	}
	if it, ok := m.byName(tenant, kind, idOrName); ok {
		return clone(it), nil
	}
	return config.Item{}, fmt.Errorf("get %s %s: %w", kind, idOrName, config.ErrNotFound)
}

func (m *memStore) List(ctx context.Context, tenant, kind string) ([]config.Item, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if err := m.check(ctx); err != nil {
		return nil, err
	}
	var out []config.Item
	for _, it := range m.items {
		if it.Tenant == tenant && it.Kind == kind {
			out = append(out, clone(it))
		}
	}
	slices.SortFunc(out, func(a, b config.Item) int {
		if c := strings.Compare(a.Name, b.Name); c != 0 {
			return c
		}
		return strings.Compare(a.ID, b.ID)
	})
	return out, nil
}

func (m *memStore) Delete(ctx context.Context, tenant, kind, id string, version int64) error {
	m.mu.Lock()
	hook := m.onDelete
	m.mu.Unlock()
	if hook != nil {
		hook(tenant, kind, id)
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if err := m.check(ctx); err != nil {
		return err
	}
	old, ok := m.items[key(tenant, kind, id)]
	if !ok {
		return fmt.Errorf("delete %s %s: %w", kind, id, config.ErrNotFound)
	}
	if version > 0 && old.Version != version {
		return fmt.Errorf("delete %s %s: %w", kind, id, config.ErrConflict)
	}
	delete(m.items, key(tenant, kind, id))
	return nil
}

func (m *memStore) DeleteTenant(ctx context.Context, tenant string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if err := m.check(ctx); err != nil {
		return err
	}
	if tenant == "" {
		return errors.New("delete tenant: the empty tenant scopes the global items")
	}
	for k, it := range m.items {
		if it.Tenant == tenant {
			delete(m.items, k)
		}
	}
	return nil
}

func (m *memStore) IndexedBefore(ctx context.Context, kind, upTo string, limit int) ([]config.Item, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if err := m.check(ctx); err != nil {
		return nil, err
	}
	var out []config.Item
	for _, it := range m.items {
		if it.Kind == kind && it.Index != "" && it.Index <= upTo {
			out = append(out, clone(it))
		}
	}
	slices.SortFunc(out, func(a, b config.Item) int {
		if c := strings.Compare(a.Index, b.Index); c != 0 {
			return c
		}
		return strings.Compare(key(a.Tenant, a.Kind, a.ID), key(b.Tenant, b.Kind, b.ID))
	})
	if limit > 0 && len(out) > limit {
		out = out[:limit]
	}
	return out, nil
}

func (m *memStore) Close() error { return nil }

// snapshot returns every stored item, sorted, for before/after comparisons.
func (m *memStore) snapshot() []config.Item {
	m.mu.Lock()
	defer m.mu.Unlock()
	out := make([]config.Item, 0, len(m.items))
	for _, it := range m.items {
		out = append(out, clone(it))
	}
	slices.SortFunc(out, func(a, b config.Item) int {
		return strings.Compare(key(a.Tenant, a.Kind, a.ID), key(b.Tenant, b.Kind, b.ID))
	})
	return out
}

func (m *memStore) setOnDelete(f func(tenant, kind, id string)) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.onDelete = f
}

func (m *memStore) setFail(err error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.fail = err
}

// TestMemStoreConformance keeps the fake honest.
func TestMemStoreConformance(t *testing.T) {
	storetest.Run(t, func(*testing.T) config.Store { return newMemStore() })
}
