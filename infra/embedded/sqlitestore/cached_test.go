package sqlitestore_test

import (
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/herokuevents/herokuevents/infra/embedded/sqlitestore"
	"github.com/herokuevents/herokuevents/shared/config"
	"github.com/herokuevents/herokuevents/shared/config/storetest"
)

// The read cache of the data plane keeps the Store contract for writes made
// through it.
func TestCachedConformance(t *testing.T) {
	storetest.Run(t, func(t *testing.T) config.Store {
		s, err := sqlitestore.Open(filepath.Join(t.TempDir(), "config.db"))
		require.NoError(t, err)
		return config.Cached(s, time.Minute)
	})
}

// Writes made elsewhere are seen once the ttl has passed.
func TestCachedSeesOtherWritersAfterTTL(t *testing.T) {
	ctx := t.Context()
	s, err := sqlitestore.Open(filepath.Join(t.TempDir(), "config.db"))
	require.NoError(t, err)
	defer s.Close()
	c := config.Cached(s, 50*time.Millisecond)
	_, err = c.Get(ctx, "t", "publication", "hook")
	require.ErrorIs(t, err, config.ErrNotFound)
	_, err = s.Create(ctx, config.Item{Tenant: "t", Kind: "publication", ID: "1", Name: "hook", Body: []byte(`{}`)})
	require.NoError(t, err)
	_, err = c.Get(ctx, "t", "publication", "hook")
	assert.ErrorIs(t, err, config.ErrNotFound, "served from the cache within the ttl")
	require.Eventually(t, func() bool {
		it, err := c.Get(ctx, "t", "publication", "hook")
		return err == nil && it.ID == "1"
	}, 2*time.Second, 10*time.Millisecond)
}
