package sqlitestore_test

import (
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/herokuevents/herokuevents/infra/embedded/sqlitestore"
	"github.com/herokuevents/herokuevents/shared/config"
	"github.com/herokuevents/herokuevents/shared/config/storetest"
)

func TestConformance(t *testing.T) {
	storetest.Run(t, func(t *testing.T) config.Store {
		s, err := sqlitestore.Open(filepath.Join(t.TempDir(), "config.db"))
		require.NoError(t, err)
		return s
	})
}
