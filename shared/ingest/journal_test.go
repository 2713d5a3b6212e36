package ingest_test

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"net/http"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/herokuevents/herokuevents/infra/embedded/sqlitejournal"
	"github.com/herokuevents/herokuevents/shared/config"
	"github.com/herokuevents/herokuevents/shared/config/memstore"
	"github.com/herokuevents/herokuevents/shared/ingest"
	"github.com/herokuevents/herokuevents/shared/journal"
)

// TestJournalRecordsAcceptance: each accepted event is in the delivery
// log with where it entered; refused ones are not.
func TestJournalRecordsAcceptance(t *testing.T) {
	ctx := t.Context()
	st := memstore.New()
	t.Cleanup(func() { st.Close() })
	sum := sha256.Sum256([]byte(key))
	_, err := config.Insert(ctx, st, config.Item{Kind: config.KindTenant, ID: tenant, Name: "my-app"},
		config.Tenant{ID: tenant, App: "my-app", PublishKeyHash: hex.EncodeToString(sum[:])})
	require.NoError(t, err)
	_, err = config.Insert(ctx, st, config.Item{Tenant: tenant, Kind: config.KindSubscription, ID: "sub-1", Name: "inbound"},
		config.Subscription{ID: "sub-1", Name: "inbound", Platform: config.PlatformWebhook})
	require.NoError(t, err)
	_, err = config.Insert(ctx, st, config.Item{Tenant: tenant, Kind: config.KindPublication, ID: "pub-1", Name: "systemStatus"},
		config.Publication{ID: "pub-1", Name: "systemStatus", Platform: config.PlatformWebhook})
	require.NoError(t, err)
	j, err := sqlitejournal.Open(filepath.Join(t.TempDir(), "journal.db"), sqlitejournal.Options{PruneEvery: -1})
	require.NoError(t, err)
	t.Cleanup(func() { _ = j.Close() })
	h, err := ingest.New(ingest.Options{Store: st, Ingest: &recorder{}, Delivery: &recorder{}, Journal: j})
	require.NoError(t, err)

	tests := []struct {
		name, target string
		sub, pub     string
	}{
		{name: "subscription", target: "inbound", sub: "sub-1"},
		{name: "publication", target: "systemStatus", pub: "pub-1"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res := post(h, tt.target, tenant, key, "application/json", `{"a":1}`, nil)
			require.Equal(t, http.StatusAccepted, res.Code, res.Body.String())
			var acc ingest.Accepted
			require.NoError(t, json.Unmarshal(res.Body.Bytes(), &acc))
			got, err := j.Event(ctx, tenant, acc.ID)
			require.NoError(t, err)
			require.Len(t, got, 1)
			e := got[0]
			assert.Equal(t, journal.Accepted, e.Stage)
			assert.Equal(t, journal.ViaPublish, e.Via)
			assert.Equal(t, tt.sub, e.Subscription)
			assert.Equal(t, tt.pub, e.Publication)
			if tt.sub != "" {
				assert.Equal(t, tt.target, e.SubscriptionName)
			} else {
				assert.Equal(t, tt.target, e.PublicationName)
			}
		})
	}
	t.Run("refused", func(t *testing.T) {
		res := post(h, "inbound", tenant, key, "application/json", `[1]`, nil)
		require.Equal(t, http.StatusBadRequest, res.Code)
		res = post(h, "nobody", tenant, key, "application/json", `{}`, nil)
		require.Equal(t, http.StatusNotFound, res.Code)
		got, err := j.Attempts(ctx, tenant, "pub-1", journal.Query{Limit: 10})
		require.NoError(t, err)
		assert.Empty(t, got)
	})
}
