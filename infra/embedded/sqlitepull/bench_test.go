package sqlitepull_test

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/herokuevents/herokuevents/infra/embedded/sqlitefile/sqlitefiletest"
	"github.com/herokuevents/herokuevents/infra/embedded/sqlitepull"
	"github.com/herokuevents/herokuevents/shared/event"
)

// benchPending is how many events other subscriptions have waiting in
// the buffer before a BenchmarkPutLeaseAck run (500 each of 100).
const benchPending = 50_000

const benchTenant = "8fb2a5b3-b6cb-437d-aea6-c1ef1afe772f"

var benchData = json.RawMessage(`{"seq":"e123","Context__c":{"string":"bench"},"CreatedById":"005Ws000001eUtGIAU","CreatedDate":1733842936}`)

// events is n events as the product makes them (event.New).
func events(n int) []event.Event {
	out := make([]event.Event, n)
	for i := range out {
		out[i] = event.New("/tenants/t/subscriptions/inbound", event.TypePublish, benchData)
	}
	return out
}

// benchTemplate is a closed buffer file of benchPending events, made once
// per process and copied into each benchmark run.
var benchTemplate = sqlitefiletest.Template("pull.db", func(path string) error {
	b, err := sqlitepull.Open(path, sqlitepull.Options{})
	if err != nil {
		return err
	}
	for i := range benchPending / 50 {
		if err := b.Put(context.Background(), benchTenant, fmt.Sprintf("0c9a1f0e-6a39-4a0f-9b8e-0b7f6f1f%04d", i%100), events(50)...); err != nil {
			return err
		}
	}
	return b.Close()
})

func TestMain(m *testing.M) {
	code := m.Run()
	sqlitefiletest.RemoveTemplates()
	os.Exit(code)
}

// BenchmarkPutLeaseAck measures events through a pull subscription (Put
// by the filter in batches of 50, leased 50 at a time and acknowledged)
// in a buffer where 100 other subscriptions have 50k events waiting:
// processor time and bytes written (the WAL, its checkpoints and any
// temporary file) per event.
func BenchmarkPutLeaseAck(b *testing.B) {
	tmpl, err := benchTemplate()
	require.NoError(b, err)
	path := filepath.Join(b.TempDir(), "pull.db")
	sqlitefiletest.Copy(b, tmpl, path)
	buf, err := sqlitepull.Open(path, sqlitepull.Options{})
	require.NoError(b, err)
	defer buf.Close()
	const sub = "aaaaaaaa-aaaa-4aaa-8aaa-aaaaaaaaaaaa"
	batches := make([][]event.Event, 0, b.N/50+1)
	n := 0
	for n < b.N {
		batches = append(batches, events(50))
		n += 50
	}
	ctx := b.Context()
	b.ResetTimer()
	m := sqlitefiletest.Start(b)
	for _, evs := range batches {
		require.NoError(b, buf.Put(ctx, benchTenant, sub, evs...))
		leased, err := buf.Lease(ctx, benchTenant, sub, 50, time.Minute)
		require.NoError(b, err)
		ids := make([]string, len(leased))
		for i, l := range leased {
			ids[i] = l.Event.ID
		}
		acked, err := buf.Ack(ctx, benchTenant, sub, ids...)
		require.NoError(b, err)
		require.Len(b, acked, len(evs))
	}
	m.Report(b, n, "event")
}
