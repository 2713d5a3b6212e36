package config_test

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/herokuevents/herokuevents/shared/config"
	"github.com/herokuevents/herokuevents/shared/config/memstore"
)

func TestSalesforceUsageCountsTheLastDay(t *testing.T) {
	now := time.Date(2026, 12, 2, 20, 30, 0, 0, time.UTC)
	tests := []struct {
		name  string
		adds  map[time.Duration]int64 // age → events
		want  int64
		nkeys int
	}{
		{"none", nil, 0, 0},
		{"this hour", map[time.Duration]int64{0: 3, time.Minute: 2}, 5, 1},
		{"23 hours ago counts", map[time.Duration]int64{23 * time.Hour: 7, 0: 1}, 8, 2},
		{"over a day ago does not", map[time.Duration]int64{24*time.Hour + 10*time.Minute: 9, 0: 1}, 1, 2},
		{"two days ago is dropped", map[time.Duration]int64{48 * time.Hour: 9, 0: 1}, 1, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var u config.SalesforceUsage
			for age, n := range tt.adds {
				u.Add(now.Add(-age), n)
			}
			u.Add(now, 0)
			assert.Equal(t, tt.want, u.Last24h(now))
			assert.Len(t, u.Hours, max(tt.nkeys, 1))
		})
	}

	t.Run("stored per tenant and org", func(t *testing.T) {
		s := memstore.New()
		defer s.Close()
		require.NoError(t, config.AddSalesforceUsage(t.Context(), s, "t1", "org-a", now, 4))
		require.NoError(t, config.AddSalesforceUsage(t.Context(), s, "t1", "org-a", now, 6))
		require.NoError(t, config.AddSalesforceUsage(t.Context(), s, "t1", "org-b", now, 1))
		u, err := config.LoadSalesforceUsage(t.Context(), s, "t1", "org-a")
		require.NoError(t, err)
		assert.EqualValues(t, 10, u.Last24h(now))
		u, err = config.LoadSalesforceUsage(t.Context(), s, "t2", "org-a")
		require.NoError(t, err)
		assert.Zero(t, u.Last24h(now))
	})
}
