package config_test

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/herokuevents/herokuevents/shared/config"
	"github.com/herokuevents/herokuevents/shared/config/memstore"
)

// A Store keeps opaque JSON items with identity, unique names and versions:
// a write at a stale version fails with ErrConflict, a missing id or name
// with ErrNotFound. memstore is the in-memory Store of unit tests; the
// embedded and AWS modes use sqlitestore and dynamostore the same way.
func ExampleStore() {
	ctx := context.Background()
	var s config.Store = memstore.New()
	defer s.Close()

	const tenant = "11111111-1111-4111-8111-111111111111"
	created, err := s.Create(ctx, config.Item{
		Tenant: tenant, Kind: config.KindSubscription, ID: "sub-1", Name: "orders",
		Body: []byte(`{"platform":"webhook"}`),
	})
	if err != nil {
		panic(err)
	}
	fmt.Println("created", created.Name, "version", created.Version)

	// Names are unique per tenant and kind.
	_, err = s.Create(ctx, config.Item{Tenant: tenant, Kind: config.KindSubscription, ID: "sub-2", Name: "orders"})
	fmt.Println("same name again:", errors.Is(err, config.ErrConflict))

	// Get takes the id or the name.
	got, err := s.Get(ctx, tenant, config.KindSubscription, "orders")
	if err != nil {
		panic(err)
	}
	fmt.Println("got", got.ID, string(got.Body))

	// An update names the version it read; the store bumps it.
	got.Body = []byte(`{"platform":"generate"}`)
	updated, err := s.Update(ctx, got)
	if err != nil {
		panic(err)
	}
	fmt.Println("updated to version", updated.Version)

	// A writer still holding version 1 lost the race: re-read and retry.
	_, err = s.Update(ctx, got)
	fmt.Println("stale update:", errors.Is(err, config.ErrConflict))

	if err := s.Delete(ctx, tenant, config.KindSubscription, "sub-1", updated.Version); err != nil {
		panic(err)
	}
	_, err = s.Get(ctx, tenant, config.KindSubscription, "sub-1")
	fmt.Println("after delete:", errors.Is(err, config.ErrNotFound))

	// Output:
	// created orders version 1
	// same name again: true
	// got sub-1 {"platform":"webhook"}
	// updated to version 2
	// stale update: true
	// after delete: true
}

// Insert, Load and Modify store typed resources as JSON items; Modify is the
// read-modify-write that re-reads and retries when another writer won.
func ExampleModify() {
	ctx := context.Background()
	s := memstore.New()
	defer s.Close()

	const tenant = "11111111-1111-4111-8111-111111111111"
	_, err := config.Insert(ctx, s,
		config.Item{Tenant: tenant, Kind: config.KindSubscription, ID: "sub-1", Name: "ticker"},
		config.Subscription{ID: "sub-1", Name: "ticker", Platform: config.PlatformGenerate, Params: config.Params{Interval: "1m"}})
	if err != nil {
		panic(err)
	}

	next := time.Date(2026, 1, 1, 0, 1, 0, 0, time.UTC)
	r, err := config.Modify(ctx, s, tenant, config.KindSubscription, "ticker", 3,
		func(r *config.Record[config.Subscription]) (bool, error) {
			r.Value.Params.Interval = "5m"
			r.Item.Index = config.IndexTime(next) // found by IndexedBefore once due
			return true, nil
		})
	if err != nil {
		panic(err)
	}
	fmt.Println(r.Value.Name, r.Value.Params.Interval, "version", r.Version)

	due, err := s.IndexedBefore(ctx, config.KindSubscription, config.IndexTime(next), 10)
	if err != nil {
		panic(err)
	}
	fmt.Println("due:", len(due), due[0].Name)

	// Output:
	// ticker 5m version 2
	// due: 1 ticker
}
