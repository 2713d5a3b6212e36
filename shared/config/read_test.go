package config_test

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/herokuevents/herokuevents/shared/config"
	"github.com/herokuevents/herokuevents/shared/config/memstore"
)

type ordered struct {
	Name  string            `json:"name"`
	Order *config.Order     `json:"order,omitempty"`
	Tags  map[string]string `json:"tags,omitempty"`
}

func insertOrdered(t *testing.T, s config.Store, id, by string) config.Record[ordered] {
	t.Helper()
	r, err := config.Insert(t.Context(), s, config.Item{Tenant: "t", Kind: config.KindPublication, ID: id, Name: "n-" + id},
		ordered{Name: "n-" + id, Order: &config.Order{By: by}, Tags: map[string]string{"a": "1"}})
	require.NoError(t, err)
	return r
}

// Read decodes a cached item once and shares the record until the item is
// written through the cache; Load always decodes a copy of its own, so a
// read-modify-write cannot change what Read shares.
func TestReadSharesTheDecodedRecordUntilAWrite(t *testing.T) {
	ctx := t.Context()
	mem := memstore.New()
	defer mem.Close()
	s := config.Cached(mem, time.Minute)
	insertOrdered(t, s, "p-1", "subject")

	a, err := config.Read[ordered](ctx, s, "t", config.KindPublication, "p-1")
	require.NoError(t, err)
	b, err := config.Read[ordered](ctx, s, "t", config.KindPublication, "n-p-1")
	require.NoError(t, err)
	c, err := config.Read[ordered](ctx, s, "t", config.KindPublication, "p-1")
	require.NoError(t, err)
	assert.Equal(t, "subject", a.Value.Order.By)
	assert.Same(t, a.Value.Order, c.Value.Order, "decoded once for the id")
	assert.Equal(t, a.Value, b.Value, "by name too")

	// A read-modify-write through Load and Save.
	l, err := config.Load[ordered](ctx, s, "t", config.KindPublication, "p-1")
	require.NoError(t, err)
	assert.NotSame(t, a.Value.Order, l.Value.Order, "Load decodes its own copy")
	l.Value.Order.By = "data.id"
	l.Value.Tags["a"] = "2"
	again, err := config.Read[ordered](ctx, s, "t", config.KindPublication, "p-1")
	require.NoError(t, err)
	assert.Equal(t, "subject", again.Value.Order.By, "what Load returned is not shared")
	assert.Equal(t, "1", again.Value.Tags["a"])
	_, err = config.Save(ctx, s, l)
	require.NoError(t, err)

	after, err := config.Read[ordered](ctx, s, "t", config.KindPublication, "p-1")
	require.NoError(t, err)
	assert.Equal(t, "data.id", after.Value.Order.By, "the write dropped the decoded record")
	assert.Equal(t, int64(2), after.Version)
	assert.Equal(t, "subject", a.Value.Order.By, "a record read before the write is left as it was")

	// Other types decode the same item on their own.
	type name struct {
		Name string `json:"name"`
	}
	n, err := config.Read[name](ctx, s, "t", config.KindPublication, "p-1")
	require.NoError(t, err)
	assert.Equal(t, "n-p-1", n.Value.Name)

	require.NoError(t, s.Delete(ctx, "t", config.KindPublication, "p-1", 0))
	_, err = config.Read[ordered](ctx, s, "t", config.KindPublication, "p-1")
	require.ErrorIs(t, err, config.ErrNotFound)
	_, err = config.Read[ordered](ctx, s, "t", config.KindPublication, "p-1")
	require.ErrorIs(t, err, config.ErrNotFound, "the absence is cached too")
	insertOrdered(t, s, "p-1", "data.key")
	made, err := config.Read[ordered](ctx, s, "t", config.KindPublication, "p-1")
	require.NoError(t, err)
	assert.Equal(t, "data.key", made.Value.Order.By, "made again under the same id")
}

func TestReadAllSharesTheDecodedListUntilAWrite(t *testing.T) {
	ctx := t.Context()
	mem := memstore.New()
	defer mem.Close()
	s := config.Cached(mem, time.Minute)
	insertOrdered(t, s, "p-1", "subject")

	a, err := config.ReadAll[ordered](ctx, s, "t", config.KindPublication)
	require.NoError(t, err)
	b, err := config.ReadAll[ordered](ctx, s, "t", config.KindPublication)
	require.NoError(t, err)
	require.Len(t, a, 1)
	assert.Same(t, &a[0], &b[0], "decoded once")

	insertOrdered(t, s, "p-2", "data.id")
	c, err := config.ReadAll[ordered](ctx, s, "t", config.KindPublication)
	require.NoError(t, err)
	require.Len(t, c, 2, "the create dropped the decoded list")
	assert.Equal(t, "data.id", c[1].Value.Order.By)

	require.NoError(t, s.DeleteTenant(ctx, "t"))
	d, err := config.ReadAll[ordered](ctx, s, "t", config.KindPublication)
	require.NoError(t, err)
	assert.Empty(t, d)
}

// Writes made elsewhere are read once the cache's ttl passed.
func TestReadSeesOtherWritersAfterTheTTL(t *testing.T) {
	ctx := t.Context()
	mem := memstore.New()
	defer mem.Close()
	s := config.Cached(mem, 20*time.Millisecond)
	r := insertOrdered(t, mem, "p-1", "subject")
	_, err := config.Read[ordered](ctx, s, "t", config.KindPublication, "p-1")
	require.NoError(t, err)
	r.Value.Order = &config.Order{By: "data.id"}
	_, err = config.Save(ctx, mem, r)
	require.NoError(t, err)
	require.Eventually(t, func() bool {
		r, err := config.Read[ordered](ctx, s, "t", config.KindPublication, "p-1")
		return err == nil && r.Value.Order.By == "data.id"
	}, 2*time.Second, 5*time.Millisecond)
}

// From a store that is not cached, Read is Load: a copy of its own each
// time.
func TestReadOfAnUncachedStoreIsLoad(t *testing.T) {
	ctx := t.Context()
	s := memstore.New()
	defer s.Close()
	insertOrdered(t, s, "p-1", "subject")
	a, err := config.Read[ordered](ctx, s, "t", config.KindPublication, "p-1")
	require.NoError(t, err)
	b, err := config.Read[ordered](ctx, s, "t", config.KindPublication, "p-1")
	require.NoError(t, err)
	assert.Equal(t, a.Value, b.Value)
	assert.NotSame(t, a.Value.Order, b.Value.Order)
	all, err := config.ReadAll[ordered](ctx, s, "t", config.KindPublication)
	require.NoError(t, err)
	require.Len(t, all, 1)
	_, err = config.Read[ordered](ctx, s, "t", config.KindPublication, "p-2")
	require.ErrorIs(t, err, config.ErrNotFound)
}
