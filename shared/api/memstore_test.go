package api_test

import (
	"context"
	"sync"
	"testing"

	"github.com/herokuevents/herokuevents/shared/config"
	"github.com/herokuevents/herokuevents/shared/config/memstore"
	"github.com/herokuevents/herokuevents/shared/config/storetest"
)

// memStore is memstore.Store with the faults these tests inject: every call
// failing, and a hook run before every Delete.
type memStore struct {
	*memstore.Store
	mu   sync.Mutex
	fail error // when set, every call fails with it
	// onDelete, when set, runs before every Delete (outside the lock).
	onDelete func(tenant, kind, id string)
}

func newMemStore() *memStore { return &memStore{Store: memstore.New()} }

func (m *memStore) check(ctx context.Context) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.fail
}

func (m *memStore) Create(ctx context.Context, it config.Item) (config.Item, error) {
	if err := m.check(ctx); err != nil {
		return config.Item{}, err
	}
	return m.Store.Create(ctx, it)
}

func (m *memStore) Update(ctx context.Context, it config.Item) (config.Item, error) {
	if err := m.check(ctx); err != nil {
		return config.Item{}, err
	}
	return m.Store.Update(ctx, it)
}

func (m *memStore) Get(ctx context.Context, tenant, kind, idOrName string) (config.Item, error) {
	if err := m.check(ctx); err != nil {
		return config.Item{}, err
	}
	return m.Store.Get(ctx, tenant, kind, idOrName)
}

func (m *memStore) List(ctx context.Context, tenant, kind string) ([]config.Item, error) {
	if err := m.check(ctx); err != nil {
		return nil, err
	}
	return m.Store.List(ctx, tenant, kind)
}

func (m *memStore) Delete(ctx context.Context, tenant, kind, id string, version int64) error {
	m.mu.Lock()
	hook := m.onDelete
	m.mu.Unlock()
	if hook != nil {
		hook(tenant, kind, id)
	}
	if err := m.check(ctx); err != nil {
		return err
	}
	return m.Store.Delete(ctx, tenant, kind, id, version)
}

func (m *memStore) DeleteTenant(ctx context.Context, tenant string) error {
	if err := m.check(ctx); err != nil {
		return err
	}
	return m.Store.DeleteTenant(ctx, tenant)
}

func (m *memStore) IndexedBefore(ctx context.Context, kind, upTo string, limit int) ([]config.Item, error) {
	if err := m.check(ctx); err != nil {
		return nil, err
	}
	return m.Store.IndexedBefore(ctx, kind, upTo, limit)
}

// snapshot returns every stored item, sorted, for before/after comparisons.
func (m *memStore) snapshot() []config.Item { return m.Items() }

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
