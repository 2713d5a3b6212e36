package sqlitededup_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/herokuevents/herokuevents/infra/embedded/sqlitededup"
	"github.com/herokuevents/herokuevents/infra/embedded/sqlitefile/sqlitefiletest"
	"github.com/herokuevents/herokuevents/shared/dedup"
	"github.com/herokuevents/herokuevents/shared/event"
)

// benchKeys is how many keys the store holds before a
// BenchmarkClaimConfirm run.
const benchKeys = 20_000

const benchTenant = "8fb2a5b3-b6cb-437d-aea6-c1ef1afe772f"

// benchTemplate is a closed store file of benchKeys confirmed keys, made
// once per process and copied into each benchmark run.
var benchTemplate = sqlitefiletest.Template("dedup.db", func(path string) error {
	s, err := sqlitededup.Open(path, nil)
	if err != nil {
		return err
	}
	for i := range benchKeys {
		if err := claimConfirm(context.Background(), s, i); err != nil {
			return err
		}
	}
	return s.Close()
})

func TestMain(m *testing.M) {
	code := m.Run()
	sqlitefiletest.RemoveTemplates()
	os.Exit(code)
}

// claimConfirm is what a publish with an Idempotency-Key does to the
// store: claim its key, confirm it once the event is accepted.
func claimConfirm(ctx context.Context, s *sqlitededup.Store, i int) error {
	key := dedup.Key("770a7934-ee08-4062-86f9-04ffa095b900", dedup.KindHeader, fmt.Sprint("order-", i))
	id := event.New("/s", event.TypePublish, nil).ID
	if _, err := s.Claim(ctx, benchTenant, key, id, time.Hour); err != nil {
		return err
	}
	return s.Confirm(ctx, benchTenant, key, id)
}

// BenchmarkClaimConfirmMany measures a publish's key (a claim and its
// confirmation, two durable commits) in a store of 20k keys: processor
// time and bytes written (the WAL, its checkpoints and any temporary
// file) per key.
func BenchmarkClaimConfirmMany(b *testing.B) {
	tmpl, err := benchTemplate()
	require.NoError(b, err)
	path := filepath.Join(b.TempDir(), "dedup.db")
	sqlitefiletest.Copy(b, tmpl, path)
	s, err := sqlitededup.Open(path, nil)
	require.NoError(b, err)
	defer s.Close()
	b.ResetTimer()
	m := sqlitefiletest.Start(b)
	for i := range b.N {
		require.NoError(b, claimConfirm(b.Context(), s, benchKeys+i))
	}
	m.Report(b, b.N, "key")
}
