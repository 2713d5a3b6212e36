package config_test

import (
	"context"
	"errors"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/herokuevents/herokuevents/shared/config"
	"github.com/herokuevents/herokuevents/shared/config/memstore"
)

type counter struct {
	N    int    `json:"n"`
	Note string `json:"note"`
}

// interfering makes the first n updates fail with ErrConflict after a
// concurrent writer changed the note, as a racing process would.
type interfering struct {
	config.Store
	mu sync.Mutex
	n  int
}

func (s *interfering) Update(ctx context.Context, it config.Item) (config.Item, error) {
	s.mu.Lock()
	interfere := s.n > 0
	if interfere {
		s.n--
	}
	s.mu.Unlock()
	if !interfere {
		return s.Store.Update(ctx, it)
	}
	r, err := config.Load[counter](ctx, s.Store, it.Tenant, it.Kind, it.ID)
	if err != nil {
		return config.Item{}, err
	}
	r.Value.Note += "!"
	if _, err := config.Save(ctx, s.Store, r); err != nil {
		return config.Item{}, err
	}
	return config.Item{}, config.ErrConflict
}

func newCounter(t *testing.T) (config.Store, config.Record[counter]) {
	t.Helper()
	s := memstore.New()
	t.Cleanup(func() { _ = s.Close() })
	r, err := config.Insert(t.Context(), s, config.Item{Tenant: "t1", Kind: "counter", ID: "c1", Name: "hits"}, counter{})
	require.NoError(t, err)
	return s, r
}

func increment(calls *int) func(*config.Record[counter]) (bool, error) {
	return func(r *config.Record[counter]) (bool, error) {
		*calls++
		r.Value.N++
		return true, nil
	}
}

func TestModify(t *testing.T) {
	errStop := errors.New("stop")
	tests := []struct {
		name      string
		conflicts int // updates that lose to a concurrent writer
		tries     int
		change    func(*config.Record[counter]) (bool, error)
		wantErr   error
		wantCalls int
		want      counter // stored afterwards
		wantVer   int64
	}{
		{name: "writes the change", tries: 3, wantCalls: 1, want: counter{N: 1}, wantVer: 2},
		{name: "re-reads after a conflict and keeps the other write", conflicts: 2, tries: 3,
			wantCalls: 3, want: counter{N: 1, Note: "!!"}, wantVer: 4},
		{name: "gives up after tries conflicts", conflicts: 5, tries: 3,
			wantErr: config.ErrConflict, wantCalls: 3, want: counter{Note: "!!!"}, wantVer: 4},
		{name: "zero tries still tries once", tries: 0, wantCalls: 1, want: counter{N: 1}, wantVer: 2},
		{name: "nothing to write", tries: 3, wantCalls: 1, want: counter{}, wantVer: 1,
			change: func(*config.Record[counter]) (bool, error) { return false, nil }},
		{name: "change error stops without saving", tries: 3, wantErr: errStop, wantCalls: 1, want: counter{}, wantVer: 1,
			change: func(r *config.Record[counter]) (bool, error) { r.Value.N = 99; return true, errStop }},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			base, _ := newCounter(t)
			s := &interfering{Store: base, n: tc.conflicts}
			calls := 0
			change := increment(&calls)
			if tc.change != nil {
				change = func(r *config.Record[counter]) (bool, error) { calls++; return tc.change(r) }
			}
			got, err := config.Modify(t.Context(), s, "t1", "counter", "hits", tc.tries, change)
			assert.Equal(t, tc.wantCalls, calls, "calls of change")
			stored, lerr := config.Load[counter](t.Context(), base, "t1", "counter", "c1")
			require.NoError(t, lerr)
			assert.Equal(t, tc.want, stored.Value)
			assert.Equal(t, tc.wantVer, stored.Version)
			if tc.wantErr != nil {
				require.ErrorIs(t, err, tc.wantErr)
				return
			}
			require.NoError(t, err)
			assert.Equal(t, stored.Version, got.Version, "the returned record is the stored one")
			assert.Equal(t, stored.Value, got.Value)
		})
	}
}

func TestModifyIndex(t *testing.T) {
	s, _ := newCounter(t)
	_, err := config.Modify(t.Context(), s, "t1", "counter", "c1", 1, func(r *config.Record[counter]) (bool, error) {
		r.Item.Index = "2030-01-01"
		return true, nil
	})
	require.NoError(t, err)
	due, err := s.IndexedBefore(t.Context(), "counter", "2031", 0)
	require.NoError(t, err)
	require.Len(t, due, 1)
	assert.Equal(t, "c1", due[0].ID)
}

func TestModifyNotFound(t *testing.T) {
	s, _ := newCounter(t)
	calls := 0
	_, err := config.Modify(t.Context(), s, "t1", "counter", "nope", 3, increment(&calls))
	require.ErrorIs(t, err, config.ErrNotFound)
	assert.Zero(t, calls)

	// Deleted between the read and the write.
	_, err = config.Modify(t.Context(), s, "t1", "counter", "c1", 3, func(r *config.Record[counter]) (bool, error) {
		require.NoError(t, s.Delete(t.Context(), "t1", "counter", "c1", 0))
		r.Value.N++
		return true, nil
	})
	require.ErrorIs(t, err, config.ErrNotFound)
}

func TestModifyConcurrent(t *testing.T) {
	s, _ := newCounter(t)
	const writers = 8
	var wg sync.WaitGroup
	errs := make([]error, writers)
	for i := range writers {
		wg.Go(func() {
			_, errs[i] = config.Modify(t.Context(), s, "t1", "counter", "c1", 100, func(r *config.Record[counter]) (bool, error) {
				r.Value.N++
				return true, nil
			})
		})
	}
	wg.Wait()
	for _, err := range errs {
		require.NoError(t, err)
	}
	r, err := config.Load[counter](t.Context(), s, "t1", "counter", "c1")
	require.NoError(t, err)
	assert.Equal(t, writers, r.Value.N, "no increment is lost")
	assert.Equal(t, int64(writers+1), r.Version)
}
