package ingest_test

import (
	"crypto/sha256"
	"encoding/hex"
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/herokuevents/herokuevents/shared/config"
)

func keyHash(k string) string {
	sum := sha256.Sum256([]byte(k))
	return hex.EncodeToString(sum[:])
}

// Ingest reads a tenant through the data plane's cache, decoded once per
// change (config.Read): a rotated key, or a tenant deleted and made again
// under the same id, is honoured at the next publish.
func TestCredentialsFollowTheStore(t *testing.T) {
	for name, wrap := range map[string]func(config.Store) config.Store{
		"store":  nil,
		"cached": func(s config.Store) config.Store { return config.Cached(s, time.Minute) },
	} {
		t.Run(name, func(t *testing.T) { credentialsFollowTheStore(t, wrap) })
	}
}

func credentialsFollowTheStore(t *testing.T, wrap func(config.Store) config.Store) {
	l := setupLimitedOn(t, 0, wrap)
	status := func(key string) int {
		return post(l.h, "out", "a", key, "application/json", payload, nil).Code
	}
	require.Equal(t, http.StatusAccepted, status("key-a"))

	_, err := config.Modify(t.Context(), l.st, "", config.KindTenant, "a", 3, func(r *config.Record[config.Tenant]) (bool, error) {
		r.Value.PublishKeyHash = keyHash("rotated")
		return true, nil
	})
	require.NoError(t, err)
	assert.Equal(t, http.StatusUnauthorized, status("key-a"), "the old key, after a rotation")
	assert.Equal(t, http.StatusAccepted, status("rotated"))

	it, err := l.st.Get(t.Context(), "", config.KindTenant, "a")
	require.NoError(t, err)
	require.NoError(t, l.st.Delete(t.Context(), "", config.KindTenant, "a", it.Version))
	assert.Equal(t, http.StatusUnauthorized, status("rotated"), "the tenant is gone")
	_, err = config.Insert(t.Context(), l.st, config.Item{Kind: config.KindTenant, ID: "a", Name: "app-a"},
		config.Tenant{ID: "a", App: "app-a", Plan: "basic", PublishKeyHash: keyHash("again")})
	require.NoError(t, err)
	assert.Equal(t, http.StatusUnauthorized, status("rotated"), "made again under the same id (version 1 again): the old key")
	assert.Equal(t, http.StatusAccepted, status("again"))
}
