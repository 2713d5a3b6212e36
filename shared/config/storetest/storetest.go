// Package storetest is the conformance suite of config.Store. Every driver
// calls Run from its own tests:
//
//	func TestConformance(t *testing.T) {
//		storetest.Run(t, func(t *testing.T) config.Store { return openFresh(t) })
//	}
//
// open must return an empty store that no other test uses; Run calls it once
// per subtest and closes each store it opens with t.Cleanup. Subtests do not
// run in parallel with each other, but several of them use many goroutines on
// one store, so drivers must be safe for concurrent use.
package storetest

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/herokuevents/herokuevents/shared/config"
)

// Run runs every conformance test against stores made by open.
func Run(t *testing.T, open func(t *testing.T) config.Store) {
	t.Helper()
	fresh := func(t *testing.T) config.Store {
		t.Helper()
		s := open(t)
		require.NotNil(t, s, "open returned a nil store")
		t.Cleanup(func() { assert.NoError(t, s.Close(), "close store") })
		return s
	}
	tests := []struct {
		name string
		run  func(t *testing.T, s config.Store)
	}{
		{"CreateAndGet", testCreateAndGet},
		{"CreateConflicts", testCreateConflicts},
		{"GetPrefersID", testGetPrefersID},
		{"UpdateVersions", testUpdateVersions},
		{"UpdateNames", testUpdateNames},
		{"List", testList},
		{"Delete", testDelete},
		{"DeleteTenant", testDeleteTenant},
		{"IndexedBefore", testIndexedBefore},
		{"IndexedBeforeFollowsWrites", testIndexedBeforeFollowsWrites},
		{"ConcurrentUpdateOneWinner", testConcurrentUpdate},
		{"ConcurrentCreateOneWinner", testConcurrentCreate},
		{"ConcurrentReadModifyWrite", testReadModifyWrite},
		{"BodyRoundTrip", testBody},
		{"CanceledContext", testCanceled},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) { tc.run(t, fresh(t)) })
	}
}

const (
	tenantA = "11111111-1111-4111-8111-111111111111"
	tenantB = "22222222-2222-4222-8222-222222222222"
	kindSub = config.KindSubscription
	kindPub = config.KindPublication
	// kindNone is a kind nothing is stored under.
	kindNone = "nothing"
)

func item(tenant, kind, id, name string) config.Item {
	return config.Item{
		Tenant: tenant, Kind: kind, ID: id, Name: name,
		Body: fmt.Appendf(nil, `{"id":%q,"name":%q}`, id, name),
	}
}

func mustCreate(t *testing.T, s config.Store, it config.Item) config.Item {
	t.Helper()
	got, err := s.Create(t.Context(), it)
	require.NoError(t, err, "create %s/%s/%s", it.Tenant, it.Kind, it.ID)
	return got
}

// requireSame asserts that got is want as stored with version v.
func requireSame(t *testing.T, want config.Item, v int64, got config.Item) {
	t.Helper()
	want.Version = v
	require.Equal(t, want.Tenant, got.Tenant, "tenant")
	require.Equal(t, want.Kind, got.Kind, "kind")
	require.Equal(t, want.ID, got.ID, "id")
	require.Equal(t, want.Name, got.Name, "name")
	require.Equal(t, want.Index, got.Index, "index")
	require.Equal(t, want.Version, got.Version, "version")
	require.Equal(t, string(want.Body), string(got.Body), "body")
}

func ids(items []config.Item) []string {
	out := make([]string, len(items))
	for i, it := range items {
		out[i] = it.ID
	}
	return out
}

func testCreateAndGet(t *testing.T, s config.Store) {
	ctx := t.Context()
	in := item(tenantA, kindSub, "sub-1", "orders")
	in.Index = "2026-01-01T00:00:00Z"
	in.Version = 42 // ignored: the store sets 1
	created, err := s.Create(ctx, in)
	require.NoError(t, err)
	requireSame(t, in, 1, created)

	global := config.Item{Kind: config.KindTenant, ID: tenantA, Name: "my-app", Body: []byte(`{"app":"my-app"}`)}
	createdGlobal := mustCreate(t, s, global)
	requireSame(t, global, 1, createdGlobal)

	tests := []struct {
		name         string
		tenant, kind string
		key          string
		want         *config.Item
	}{
		{"by id", tenantA, kindSub, "sub-1", &in},
		{"by name", tenantA, kindSub, "orders", &in},
		{"global by id", "", config.KindTenant, tenantA, &global},
		{"global by name", "", config.KindTenant, "my-app", &global},
		{"unknown key", tenantA, kindSub, "nope", nil},
		{"other tenant by id", tenantB, kindSub, "sub-1", nil},
		{"other tenant by name", tenantB, kindSub, "orders", nil},
		{"other kind by id", tenantA, kindPub, "sub-1", nil},
		{"other kind by name", tenantA, kindPub, "orders", nil},
		{"global not visible from tenant", tenantA, config.KindTenant, tenantA, nil},
		{"empty key", tenantA, kindSub, "", nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := s.Get(t.Context(), tc.tenant, tc.kind, tc.key)
			if tc.want == nil {
				require.ErrorIs(t, err, config.ErrNotFound)
				return
			}
			require.NoError(t, err)
			requireSame(t, *tc.want, 1, got)
		})
	}
}

func testCreateConflicts(t *testing.T, s config.Store) {
	mustCreate(t, s, item(tenantA, kindSub, "sub-1", "orders"))
	mustCreate(t, s, item(tenantA, kindSub, "sub-2", ""))

	tests := []struct {
		name     string
		it       config.Item
		conflict bool
	}{
		{"same id", item(tenantA, kindSub, "sub-1", "other"), true},
		{"same id without name", item(tenantA, kindSub, "sub-1", ""), true},
		{"same name", item(tenantA, kindSub, "sub-9", "orders"), true},
		{"same id and name", item(tenantA, kindSub, "sub-1", "orders"), true},
		{"name equal to a taken id is fine", item(tenantA, kindSub, "sub-3", "sub-1"), false},
		{"another empty name", item(tenantA, kindSub, "sub-4", ""), false},
		{"same id in another tenant", item(tenantB, kindSub, "sub-1", "x"), false},
		{"same name in another tenant", item(tenantB, kindSub, "sub-5", "orders"), false},
		{"same id and name in another kind", item(tenantA, kindPub, "sub-1", "orders"), false},
		{"same id and name globally", item("", kindSub, "sub-1", "orders"), false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := s.Create(t.Context(), tc.it)
			if tc.conflict {
				require.ErrorIs(t, err, config.ErrConflict)
				require.NotErrorIs(t, err, config.ErrNotFound)
				return
			}
			require.NoError(t, err)
			requireSame(t, tc.it, 1, got)
		})
	}

	// The losers changed nothing.
	got, err := s.Get(t.Context(), tenantA, kindSub, "orders")
	require.NoError(t, err)
	requireSame(t, item(tenantA, kindSub, "sub-1", "orders"), 1, got)
	_, err = s.Get(t.Context(), tenantA, kindSub, "sub-9")
	require.ErrorIs(t, err, config.ErrNotFound)
	list, err := s.List(t.Context(), tenantA, kindSub)
	require.NoError(t, err)
	assert.Equal(t, []string{"sub-2", "sub-4", "sub-1", "sub-3"}, ids(list))
}

func testGetPrefersID(t *testing.T, s config.Store) {
	a := mustCreate(t, s, item(tenantA, kindSub, "alpha", "beta"))
	b := mustCreate(t, s, item(tenantA, kindSub, "beta", "gamma"))

	got, err := s.Get(t.Context(), tenantA, kindSub, "beta")
	require.NoError(t, err)
	assert.Equal(t, b.ID, got.ID, "an id match wins over a name match")

	got, err = s.Get(t.Context(), tenantA, kindSub, "gamma")
	require.NoError(t, err)
	assert.Equal(t, b.ID, got.ID)

	got, err = s.Get(t.Context(), tenantA, kindSub, "alpha")
	require.NoError(t, err)
	assert.Equal(t, a.ID, got.ID)
}

func testUpdateVersions(t *testing.T, s config.Store) {
	ctx := t.Context()
	v1 := mustCreate(t, s, item(tenantA, kindSub, "sub-1", "orders"))

	next := v1
	next.Body = []byte(`{"changed":true}`)
	next.Index = "2026-05-01T00:00:00Z"
	v2, err := s.Update(ctx, next)
	require.NoError(t, err)
	requireSame(t, next, 2, v2)
	stored, err := s.Get(ctx, tenantA, kindSub, "sub-1")
	require.NoError(t, err)
	requireSame(t, next, 2, stored)

	tests := []struct {
		name    string
		mutate  func(it *config.Item)
		wantErr error
	}{
		{"stale version", func(it *config.Item) { it.Version = 1 }, config.ErrConflict},
		{"future version", func(it *config.Item) { it.Version = 3 }, config.ErrConflict},
		{"zero version", func(it *config.Item) { it.Version = 0 }, config.ErrConflict},
		{"absent id", func(it *config.Item) { it.ID = "sub-404" }, config.ErrNotFound},
		{"absent id with stale version", func(it *config.Item) { it.ID = "sub-404"; it.Version = 1 }, config.ErrNotFound},
		{"other tenant", func(it *config.Item) { it.Tenant = tenantB }, config.ErrNotFound},
		{"other kind", func(it *config.Item) { it.Kind = kindPub }, config.ErrNotFound},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			it := v2
			it.Body = []byte(`{"lost":true}`)
			tc.mutate(&it)
			_, err := s.Update(t.Context(), it)
			require.ErrorIs(t, err, tc.wantErr)
			other := config.ErrConflict
			if tc.wantErr == config.ErrConflict {
				other = config.ErrNotFound
			}
			require.NotErrorIs(t, err, other)
		})
	}
	stored, err = s.Get(ctx, tenantA, kindSub, "sub-1")
	require.NoError(t, err)
	requireSame(t, next, 2, stored)
	_, err = s.Get(ctx, tenantB, kindSub, "sub-1")
	require.ErrorIs(t, err, config.ErrNotFound, "a failed update creates nothing")

	// Versions keep counting.
	cur := stored
	for want := int64(3); want <= 5; want++ {
		cur, err = s.Update(ctx, cur)
		require.NoError(t, err)
		require.Equal(t, want, cur.Version)
	}
}

func testUpdateNames(t *testing.T, s config.Store) {
	ctx := t.Context()
	sub1 := mustCreate(t, s, item(tenantA, kindSub, "sub-1", "orders"))
	sub2 := mustCreate(t, s, item(tenantA, kindSub, "sub-2", "invoices"))
	mustCreate(t, s, item(tenantB, kindSub, "sub-9", "archive"))

	t.Run("same name keeps it", func(t *testing.T) {
		it := sub1
		it.Body = []byte(`{"same":"name"}`)
		got, err := s.Update(t.Context(), it)
		require.NoError(t, err)
		sub1 = got
		byName, err := s.Get(t.Context(), tenantA, kindSub, "orders")
		require.NoError(t, err)
		requireSame(t, it, 2, byName)
	})

	t.Run("rename to a taken name", func(t *testing.T) {
		it := sub1
		it.Name = "invoices"
		_, err := s.Update(t.Context(), it)
		require.ErrorIs(t, err, config.ErrConflict)
		got, err := s.Get(t.Context(), tenantA, kindSub, "invoices")
		require.NoError(t, err)
		requireSame(t, sub2, 1, got)
		got, err = s.Get(t.Context(), tenantA, kindSub, "orders")
		require.NoError(t, err)
		requireSame(t, sub1, 2, got)
	})

	t.Run("rename to a name taken in another tenant", func(t *testing.T) {
		it := sub2
		it.Name = "archive"
		got, err := s.Update(t.Context(), it)
		require.NoError(t, err)
		requireSame(t, it, 2, got)
		sub2 = got
	})

	t.Run("rename frees the old name", func(t *testing.T) {
		it := sub1
		it.Name = "orders-v2"
		got, err := s.Update(t.Context(), it)
		require.NoError(t, err)
		requireSame(t, it, 3, got)
		sub1 = got

		_, err = s.Get(t.Context(), tenantA, kindSub, "orders")
		require.ErrorIs(t, err, config.ErrNotFound)
		byName, err := s.Get(t.Context(), tenantA, kindSub, "orders-v2")
		require.NoError(t, err)
		require.Equal(t, "sub-1", byName.ID)

		again := mustCreate(t, s, item(tenantA, kindSub, "sub-3", "orders"))
		byName, err = s.Get(t.Context(), tenantA, kindSub, "orders")
		require.NoError(t, err)
		requireSame(t, again, 1, byName)
	})

	t.Run("clearing the name frees it", func(t *testing.T) {
		it := sub2
		it.Name = ""
		got, err := s.Update(t.Context(), it)
		require.NoError(t, err)
		requireSame(t, it, 3, got)
		sub2 = got
		_, err = s.Get(t.Context(), tenantA, kindSub, "archive")
		require.ErrorIs(t, err, config.ErrNotFound)
		mustCreate(t, s, item(tenantA, kindSub, "sub-4", "archive"))
	})

	t.Run("naming an unnamed item", func(t *testing.T) {
		it := sub2
		it.Name = "named-again"
		got, err := s.Update(t.Context(), it)
		require.NoError(t, err)
		requireSame(t, it, 4, got)
		byName, err := s.Get(t.Context(), tenantA, kindSub, "named-again")
		require.NoError(t, err)
		require.Equal(t, "sub-2", byName.ID)
	})

	t.Run("stale rename changes nothing", func(t *testing.T) {
		it := sub1
		it.Version = 1
		it.Name = "stale"
		_, err := s.Update(t.Context(), it)
		require.ErrorIs(t, err, config.ErrConflict)
		_, err = s.Get(t.Context(), tenantA, kindSub, "stale")
		require.ErrorIs(t, err, config.ErrNotFound)
		got, err := s.Get(t.Context(), tenantA, kindSub, "orders-v2")
		require.NoError(t, err)
		require.Equal(t, int64(3), got.Version)
	})

	list, err := s.List(ctx, tenantA, kindSub)
	require.NoError(t, err)
	names := make([]string, len(list))
	for i, it := range list {
		names[i] = it.Name
	}
	assert.Equal(t, []string{"archive", "named-again", "orders", "orders-v2"}, names)
}

func testList(t *testing.T, s config.Store) {
	ctx := t.Context()
	empty, err := s.List(ctx, tenantA, kindSub)
	require.NoError(t, err)
	require.Empty(t, empty)

	created := map[string]config.Item{}
	for _, it := range []config.Item{
		item(tenantA, kindSub, "c", "bravo"),
		item(tenantA, kindSub, "a", "charlie"),
		item(tenantA, kindSub, "b", "alpha"),
		item(tenantA, kindSub, "z", ""),
		item(tenantA, kindSub, "y", ""),
		item(tenantA, kindPub, "p", "alpha"),
		item(tenantB, kindSub, "d", "alpha"),
		item("", kindSub, "g", "global"),
	} {
		created[it.Tenant+"/"+it.Kind+"/"+it.ID] = mustCreate(t, s, it)
	}

	tests := []struct {
		name         string
		tenant, kind string
		want         []string
	}{
		{"by name then id", tenantA, kindSub, []string{"y", "z", "b", "c", "a"}},
		{"other kind", tenantA, kindPub, []string{"p"}},
		{"other tenant", tenantB, kindSub, []string{"d"}},
		{"global", "", kindSub, []string{"g"}},
		{"unknown tenant", "33333333-3333-4333-8333-333333333333", kindSub, nil},
		{"unknown kind", tenantA, kindNone, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := s.List(t.Context(), tc.tenant, tc.kind)
			require.NoError(t, err)
			require.Equal(t, len(tc.want), len(got), "items: %v", ids(got))
			for i, it := range got {
				require.Equal(t, tc.want[i], it.ID, "position %d", i)
				requireSame(t, created[tc.tenant+"/"+tc.kind+"/"+it.ID], 1, it)
			}
		})
	}

	t.Run("many items", func(t *testing.T) {
		// Enough to need several pages in drivers that page.
		const n = 60
		var want []string
		for i := range n {
			id := fmt.Sprintf("m-%03d", i)
			it := item(tenantB, kindPub, id, fmt.Sprintf("n-%03d", n-i))
			it.Body = make([]byte, 2048)
			for j := range it.Body {
				it.Body[j] = byte('a' + (i+j)%26)
			}
			mustCreate(t, s, it)
			want = append([]string{id}, want...)
		}
		got, err := s.List(t.Context(), tenantB, kindPub)
		require.NoError(t, err)
		require.Equal(t, want, ids(got))
		for _, it := range got {
			require.Len(t, it.Body, 2048)
		}
	})
}

func testDelete(t *testing.T, s config.Store) {
	ctx := t.Context()
	sub1 := mustCreate(t, s, item(tenantA, kindSub, "sub-1", "orders"))
	sub2 := mustCreate(t, s, item(tenantA, kindSub, "sub-2", "invoices"))
	sub2, err := s.Update(ctx, sub2)
	require.NoError(t, err)
	mustCreate(t, s, item(tenantB, kindSub, "sub-1", "orders"))

	t.Run("wrong version", func(t *testing.T) {
		for _, v := range []int64{1, 3, 99} {
			err := s.Delete(t.Context(), tenantA, kindSub, "sub-2", v)
			require.ErrorIs(t, err, config.ErrConflict, "version %d", v)
		}
		got, err := s.Get(t.Context(), tenantA, kindSub, "invoices")
		require.NoError(t, err)
		require.Equal(t, int64(2), got.Version)
	})

	t.Run("absent", func(t *testing.T) {
		tests := []struct {
			name             string
			tenant, kind, id string
			version          int64
		}{
			{"unknown id", tenantA, kindSub, "sub-404", 0},
			{"unknown id with version", tenantA, kindSub, "sub-404", 1},
			{"by name is not by id", tenantA, kindSub, "orders", 0},
			{"other kind", tenantA, kindPub, "sub-1", 0},
			{"unknown tenant", "33333333-3333-4333-8333-333333333333", kindSub, "sub-1", 0},
		}
		for _, tc := range tests {
			t.Run(tc.name, func(t *testing.T) {
				err := s.Delete(t.Context(), tc.tenant, tc.kind, tc.id, tc.version)
				require.ErrorIs(t, err, config.ErrNotFound)
			})
		}
	})

	t.Run("with version", func(t *testing.T) {
		require.NoError(t, s.Delete(t.Context(), tenantA, kindSub, "sub-2", sub2.Version))
		_, err := s.Get(t.Context(), tenantA, kindSub, "sub-2")
		require.ErrorIs(t, err, config.ErrNotFound)
		_, err = s.Get(t.Context(), tenantA, kindSub, "invoices")
		require.ErrorIs(t, err, config.ErrNotFound)
	})

	t.Run("without version", func(t *testing.T) {
		require.NoError(t, s.Delete(t.Context(), tenantA, kindSub, "sub-1", 0))
		_, err := s.Get(t.Context(), tenantA, kindSub, "sub-1")
		require.ErrorIs(t, err, config.ErrNotFound)
		_, err = s.Get(t.Context(), tenantA, kindSub, "orders")
		require.ErrorIs(t, err, config.ErrNotFound)
		require.ErrorIs(t, s.Delete(t.Context(), tenantA, kindSub, "sub-1", 0), config.ErrNotFound, "twice")
		require.ErrorIs(t, s.Delete(t.Context(), tenantA, kindSub, "sub-1", sub1.Version), config.ErrNotFound, "twice with version")
	})

	t.Run("names and ids are free again", func(t *testing.T) {
		mustCreate(t, s, item(tenantA, kindSub, "sub-1", "invoices"))
		mustCreate(t, s, item(tenantA, kindSub, "sub-2", "orders"))
		got, err := s.Get(t.Context(), tenantA, kindSub, "orders")
		require.NoError(t, err)
		require.Equal(t, "sub-2", got.ID)
	})

	got, err := s.Get(ctx, tenantB, kindSub, "orders")
	require.NoError(t, err, "the other tenant's item is untouched")
	require.Equal(t, "sub-1", got.ID)
}

func testDeleteTenant(t *testing.T, s config.Store) {
	const perTenant = 8 // items per kind per tenant
	ctx := t.Context()
	for _, tn := range []string{tenantA, tenantB} {
		mustCreate(t, s, config.Item{Kind: config.KindTenant, ID: tn, Name: "app-" + tn[:4], Body: []byte(`{}`)})
		for i := range perTenant {
			for _, kind := range []string{kindSub, kindPub, config.KindStream, config.KindAuthorization} {
				it := item(tn, kind, fmt.Sprintf("%s-%02d", kind, i), fmt.Sprintf("n%02d", i))
				it.Index = fmt.Sprintf("2026-01-01T00:00:%02dZ", i)
				mustCreate(t, s, it)
			}
		}
	}

	require.Error(t, s.DeleteTenant(ctx, ""), "the empty tenant scopes the global items")
	_, err := s.Get(ctx, "", config.KindTenant, tenantA)
	require.NoError(t, err, "refusing the empty tenant deleted nothing")

	require.NoError(t, s.DeleteTenant(ctx, tenantA))
	require.NoError(t, s.DeleteTenant(ctx, tenantA), "deleting again is fine")
	require.NoError(t, s.DeleteTenant(ctx, "33333333-3333-4333-8333-333333333333"), "unknown tenant")

	for _, kind := range []string{kindSub, kindPub, config.KindStream, config.KindAuthorization} {
		got, err := s.List(ctx, tenantA, kind)
		require.NoError(t, err)
		require.Empty(t, got, "tenant A %s", kind)
		got, err = s.List(ctx, tenantB, kind)
		require.NoError(t, err)
		require.Len(t, got, perTenant, "tenant B %s", kind)
		_, err = s.Get(ctx, tenantA, kind, "n00")
		require.ErrorIs(t, err, config.ErrNotFound)
	}
	for _, tn := range []string{tenantA, tenantB} {
		_, err := s.Get(ctx, "", config.KindTenant, tn)
		require.NoError(t, err, "the global tenant item %s stays", tn)
	}

	indexed, err := s.IndexedBefore(ctx, kindSub, "9999", 1000)
	require.NoError(t, err)
	require.Len(t, indexed, perTenant)
	for _, it := range indexed {
		require.Equal(t, tenantB, it.Tenant)
	}

	// Names and ids are free again.
	again := mustCreate(t, s, item(tenantA, kindSub, kindSub+"-00", "n01"))
	got, err := s.Get(ctx, tenantA, kindSub, "n01")
	require.NoError(t, err)
	requireSame(t, again, 1, got)
}

func testIndexedBefore(t *testing.T, s config.Store) {
	seed := []struct {
		tenant, kind, id, index string
	}{
		{tenantA, kindSub, "a1", "2026-01-01T00:00:03Z"},
		{tenantB, kindSub, "b1", "2026-01-01T00:00:01Z"},
		{tenantA, kindSub, "a2", "2026-01-01T00:00:05Z"},
		{tenantB, kindSub, "b2", "2026-01-01T00:00:02Z"},
		{tenantA, kindSub, "a3", ""},
		{tenantB, kindSub, "b3", ""},
		{tenantA, kindSub, "a4", "2026-01-01T00:00:09Z"},
		{"", kindSub, "g1", "2026-01-01T00:00:04Z"},
		{tenantA, kindPub, "p1", "2026-01-01T00:00:00Z"},
	}
	for _, sd := range seed {
		it := item(sd.tenant, sd.kind, sd.id, "name-"+sd.id)
		it.Index = sd.index
		mustCreate(t, s, it)
	}

	tests := []struct {
		name  string
		kind  string
		upTo  string
		limit int
		want  []string
	}{
		{"all due", kindSub, "2026-01-01T00:00:05Z", 100, []string{"b1", "b2", "a1", "g1", "a2"}},
		{"upTo is inclusive", kindSub, "2026-01-01T00:00:03Z", 100, []string{"b1", "b2", "a1"}},
		{"limit", kindSub, "2026-01-01T00:00:05Z", 2, []string{"b1", "b2"}},
		{"limit one", kindSub, "9999", 1, []string{"b1"}},
		{"no limit", kindSub, "9999", 0, []string{"b1", "b2", "a1", "g1", "a2", "a4"}},
		{"everything", kindSub, "9999", 100, []string{"b1", "b2", "a1", "g1", "a2", "a4"}},
		{"nothing due", kindSub, "2026-01-01T00:00:00Z", 100, nil},
		{"other kind", kindPub, "9999", 100, []string{"p1"}},
		{"unknown kind", kindNone, "9999", 100, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := s.IndexedBefore(t.Context(), tc.kind, tc.upTo, tc.limit)
			require.NoError(t, err)
			require.Equal(t, tc.want, nonNil(ids(got)))
			for _, it := range got {
				require.Equal(t, tc.kind, it.Kind)
				require.Equal(t, int64(1), it.Version)
				require.Equal(t, "name-"+it.ID, it.Name)
				require.JSONEq(t, fmt.Sprintf(`{"id":%q,"name":%q}`, it.ID, it.Name), string(it.Body))
			}
		})
	}

	t.Run("many due", func(t *testing.T) {
		// Enough to need several pages in drivers that page.
		const n = 60
		for i := range n {
			it := item(tenantB, config.KindStream, fmt.Sprintf("s%03d", i), "")
			it.Index = fmt.Sprintf("2026-02-01T00:%02d:%02dZ", (n-1-i)/60, (n-1-i)%60)
			it.Body = make([]byte, 1024)
			mustCreate(t, s, it)
		}
		got, err := s.IndexedBefore(t.Context(), config.KindStream, "9999", n-10)
		require.NoError(t, err)
		require.Len(t, got, n-10)
		for i, it := range got {
			require.Equal(t, fmt.Sprintf("s%03d", n-1-i), it.ID)
		}
	})
}

func nonNil(s []string) []string {
	if len(s) == 0 {
		return nil
	}
	return s
}

func testIndexedBeforeFollowsWrites(t *testing.T, s config.Store) {
	ctx := t.Context()
	var items []config.Item
	for i, idx := range []string{"0001", "0002", "0003", ""} {
		it := item(tenantA, kindSub, fmt.Sprintf("s%d", i), "")
		it.Index = idx
		items = append(items, mustCreate(t, s, it))
	}
	due := func() []string {
		t.Helper()
		got, err := s.IndexedBefore(ctx, kindSub, "0005", 10)
		require.NoError(t, err)
		return nonNil(ids(got))
	}
	require.Equal(t, []string{"s0", "s1", "s2"}, due())

	steps := []struct {
		name string
		i    int
		idx  string
		want []string
	}{
		{"moved later", 0, "0004", []string{"s1", "s2", "s0"}},
		{"moved past upTo", 1, "0009", []string{"s2", "s0"}},
		{"cleared", 2, "", []string{"s0"}},
		{"set", 3, "0000", []string{"s3", "s0"}},
		{"moved earlier", 1, "0001", []string{"s3", "s1", "s0"}},
	}
	for _, st := range steps {
		t.Run(st.name, func(t *testing.T) {
			it := items[st.i]
			it.Index = st.idx
			got, err := s.Update(t.Context(), it)
			require.NoError(t, err)
			require.Equal(t, st.idx, got.Index)
			items[st.i] = got
			require.Equal(t, st.want, due())
			stored, err := s.Get(t.Context(), tenantA, kindSub, it.ID)
			require.NoError(t, err)
			require.Equal(t, st.idx, stored.Index)
		})
	}

	t.Run("deleted", func(t *testing.T) {
		require.NoError(t, s.Delete(t.Context(), tenantA, kindSub, "s1", 0))
		require.Equal(t, []string{"s3", "s0"}, due())
	})
}

const workers = 8

func testConcurrentUpdate(t *testing.T, s config.Store) {
	base := mustCreate(t, s, item(tenantA, kindSub, "gen-1", "generator"))
	base.Index = "0001"

	var (
		wg    sync.WaitGroup
		mu    sync.Mutex
		wins  []config.Item
		other []error
	)
	start := make(chan struct{})
	for w := range workers {
		wg.Go(func() {
			it := base
			it.Body = fmt.Appendf(nil, `{"worker":%d}`, w)
			it.Index = fmt.Sprintf("00%02d", w+10)
			<-start
			got, err := s.Update(t.Context(), it)
			mu.Lock()
			defer mu.Unlock()
			switch {
			case err == nil:
				wins = append(wins, got)
			case errors.Is(err, config.ErrConflict):
			default:
				other = append(other, err)
			}
		})
	}
	close(start)
	wg.Wait()
	require.Empty(t, other, "errors other than ErrConflict")
	require.Len(t, wins, 1, "exactly one update of version 1 wins")
	require.Equal(t, int64(2), wins[0].Version)

	stored, err := s.Get(t.Context(), tenantA, kindSub, "generator")
	require.NoError(t, err)
	requireSame(t, wins[0], 2, stored)
	due, err := s.IndexedBefore(t.Context(), kindSub, "9999", 10)
	require.NoError(t, err)
	require.Len(t, due, 1)
	require.Equal(t, wins[0].Index, due[0].Index)
}

func testConcurrentCreate(t *testing.T, s config.Store) {
	var (
		wg    sync.WaitGroup
		mu    sync.Mutex
		wins  []string
		other []error
	)
	start := make(chan struct{})
	for w := range workers {
		wg.Go(func() {
			<-start
			got, err := s.Create(t.Context(), item(tenantA, kindPub, "pub-"+strconv.Itoa(w), "target"))
			mu.Lock()
			defer mu.Unlock()
			switch {
			case err == nil:
				wins = append(wins, got.ID)
			case errors.Is(err, config.ErrConflict):
			default:
				other = append(other, err)
			}
		})
	}
	close(start)
	wg.Wait()
	require.Empty(t, other, "errors other than ErrConflict")
	require.Len(t, wins, 1, "exactly one create of a name wins")

	list, err := s.List(t.Context(), tenantA, kindPub)
	require.NoError(t, err)
	require.Equal(t, wins, ids(list), "the losers left nothing behind")
	got, err := s.Get(t.Context(), tenantA, kindPub, "target")
	require.NoError(t, err)
	require.Equal(t, wins[0], got.ID)
}

// testReadModifyWrite is how callers use versions: re-read and retry on
// ErrConflict. No increment may be lost.
func testReadModifyWrite(t *testing.T, s config.Store) {
	const perWorker = 3
	mustCreate(t, s, config.Item{Tenant: tenantA, Kind: kindSub, ID: "counter", Body: []byte("0")})

	var wg sync.WaitGroup
	errs := make(chan error, workers)
	for range workers {
		wg.Go(func() {
			for range perWorker {
				if err := increment(t.Context(), s); err != nil {
					errs <- err
					return
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		require.NoError(t, err)
	}
	got, err := s.Get(t.Context(), tenantA, kindSub, "counter")
	require.NoError(t, err)
	require.Equal(t, strconv.Itoa(workers*perWorker), string(got.Body))
	require.Equal(t, int64(1+workers*perWorker), got.Version)
}

func increment(ctx context.Context, s config.Store) error {
	for attempt := 0; attempt < 1000; attempt++ {
		it, err := s.Get(ctx, tenantA, kindSub, "counter")
		if err != nil {
			return err
		}
		n, err := strconv.Atoi(string(it.Body))
		if err != nil {
			return fmt.Errorf("parse counter %q: %w", it.Body, err)
		}
		it.Body = []byte(strconv.Itoa(n + 1))
		_, err = s.Update(ctx, it)
		if errors.Is(err, config.ErrConflict) {
			continue
		}
		return err
	}
	return errors.New("increment: too many conflicts")
}

func testBody(t *testing.T, s config.Store) {
	every := make([]byte, 256)
	for i := range every {
		every[i] = byte(i)
	}
	large := make([]byte, 200<<10)
	for i := range large {
		large[i] = byte(i*7 + i/251)
	}
	tests := []struct {
		name string
		body []byte
	}{
		{"json as written", []byte("{\"b\": 1,\n  \"a\" : [ 1.50, 1e3 ],\"a\":\"dup\", \"s\":\"\\u00e9 é \\ud83d\\ude00\"}  \n")},
		{"not normalised", []byte(`{"z":null,"y":{},"x":[]}`)},
		{"every byte", every},
		{"large", large},
		{"single byte", []byte("0")},
	}
	for i, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			it := config.Item{Tenant: tenantA, Kind: kindSub, ID: fmt.Sprintf("body-%d", i), Name: fmt.Sprintf("b%d", i), Body: tc.body}
			created := mustCreate(t, s, it)
			require.Equal(t, tc.body, created.Body)
			got, err := s.Get(t.Context(), tenantA, kindSub, it.ID)
			require.NoError(t, err)
			require.Equal(t, tc.body, got.Body, "after create")

			rev := make([]byte, len(tc.body))
			for j, b := range tc.body {
				rev[len(tc.body)-1-j] = b
			}
			got.Body = rev
			updated, err := s.Update(t.Context(), got)
			require.NoError(t, err)
			require.Equal(t, rev, updated.Body)
			got, err = s.Get(t.Context(), tenantA, kindSub, it.Name)
			require.NoError(t, err)
			require.Equal(t, rev, got.Body, "after update")
		})
	}

	t.Run("in lists", func(t *testing.T) {
		list, err := s.List(t.Context(), tenantA, kindSub)
		require.NoError(t, err)
		require.Len(t, list, len(tests))
		for _, it := range list {
			require.NotEmpty(t, it.Body)
		}
		require.Len(t, list[2].Body, 256)
		require.Equal(t, byte(0), list[2].Body[255])
	})

	t.Run("empty body", func(t *testing.T) {
		created := mustCreate(t, s, config.Item{Tenant: tenantB, Kind: kindSub, ID: "empty"})
		require.Empty(t, created.Body)
		got, err := s.Get(t.Context(), tenantB, kindSub, "empty")
		require.NoError(t, err)
		require.Empty(t, got.Body)
	})
}

func testCanceled(t *testing.T, s config.Store) {
	mustCreate(t, s, item(tenantA, kindSub, "sub-1", "orders"))
	ctx, cancel := context.WithCancel(t.Context())
	cancel()

	calls := []struct {
		name string
		call func() error
	}{
		{"Get", func() error { _, err := s.Get(ctx, tenantA, kindSub, "sub-1"); return err }},
		{"List", func() error { _, err := s.List(ctx, tenantA, kindSub); return err }},
		{"Create", func() error { _, err := s.Create(ctx, item(tenantA, kindSub, "sub-2", "")); return err }},
		{"IndexedBefore", func() error { _, err := s.IndexedBefore(ctx, kindSub, "9", 1); return err }},
	}
	for _, c := range calls {
		t.Run(c.name, func(t *testing.T) {
			err := c.call()
			require.ErrorIs(t, err, context.Canceled)
			require.NotErrorIs(t, err, config.ErrNotFound)
			require.NotErrorIs(t, err, config.ErrConflict)
		})
	}
	_, err := s.Get(t.Context(), tenantA, kindSub, "sub-2")
	require.ErrorIs(t, err, config.ErrNotFound)
}
