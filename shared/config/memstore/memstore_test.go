package memstore_test

import (
	"errors"
	"testing"

	"github.com/herokuevents/herokuevents/shared/config"
	"github.com/herokuevents/herokuevents/shared/config/memstore"
	"github.com/herokuevents/herokuevents/shared/config/storetest"
)

func TestConformance(t *testing.T) {
	storetest.Run(t, func(*testing.T) config.Store { return memstore.New() })
}

func TestCopies(t *testing.T) {
	ctx := t.Context()
	s := memstore.New()
	body := []byte(`{"a":1}`)
	created, err := s.Create(ctx, config.Item{Tenant: "t", Kind: config.KindSubscription, ID: "1", Name: "one", Body: body})
	if err != nil {
		t.Fatal(err)
	}
	body[2], created.Body[2] = 'X', 'Y'
	got, err := s.Get(ctx, "t", config.KindSubscription, "one")
	if err != nil {
		t.Fatal(err)
	}
	if string(got.Body) != `{"a":1}` {
		t.Errorf("stored body = %s, changed through a caller's slice", got.Body)
	}
	items := s.Items()
	items[0].Body[2] = 'Z'
	if got := s.Items(); len(got) != 1 || string(got[0].Body) != `{"a":1}` {
		t.Errorf("Items = %v, changed through a snapshot", got)
	}
}

func TestItems(t *testing.T) {
	ctx := t.Context()
	s := memstore.New()
	for _, it := range []config.Item{
		{Tenant: "t2", Kind: config.KindSubscription, ID: "b"},
		{Kind: config.KindTenant, ID: "t2"},
		{Tenant: "t1", Kind: config.KindStream, ID: "a"},
		{Tenant: "t1", Kind: config.KindPublication, ID: "z"},
	} {
		if _, err := s.Create(ctx, it); err != nil {
			t.Fatal(err)
		}
	}
	var got []string
	for _, it := range s.Items() {
		got = append(got, it.Tenant+"/"+it.Kind+"/"+it.ID)
	}
	want := []string{
		"/" + config.KindTenant + "/t2",
		"t1/" + config.KindPublication + "/z",
		"t1/" + config.KindStream + "/a",
		"t2/" + config.KindSubscription + "/b",
	}
	if len(got) != len(want) {
		t.Fatalf("Items = %v, want %v", got, want)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("Items = %v, want %v", got, want)
			break
		}
	}
}

func TestClosed(t *testing.T) {
	s := memstore.New()
	if _, err := s.Create(t.Context(), config.Item{Tenant: "t", Kind: config.KindSubscription, ID: "1"}); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
	_, err := s.Get(t.Context(), "t", config.KindSubscription, "1")
	if !errors.Is(err, memstore.ErrClosed) || errors.Is(err, config.ErrNotFound) {
		t.Errorf("Get after Close = %v, want ErrClosed", err)
	}
	if got := s.Items(); got != nil {
		t.Errorf("Items after Close = %v, want nil", got)
	}
}
