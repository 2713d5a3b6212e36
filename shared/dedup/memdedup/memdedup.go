// Package memdedup is a dedup.Store in memory, for tests: it forgets
// everything when the process ends.
package memdedup

import (
	"context"
	"sync"
	"time"

	"github.com/herokuevents/herokuevents/shared/dedup"
)

// Store is a dedup.Store in memory. Safe for concurrent use.
type Store struct {
	mu   sync.Mutex
	keys map[[2]string]record
	now  func() time.Time
}

type record struct {
	eventID    string
	done       bool
	until      time.Time // end of the window
	leaseUntil time.Time // end of a pending claim's lease
}

var _ dedup.Store = (*Store)(nil)

// New returns an empty store on the clock now (time.Now when nil).
func New(now func() time.Time) *Store {
	if now == nil {
		now = time.Now
	}
	return &Store{keys: map[[2]string]record{}, now: now}
}

// Claim implements dedup.Store.
func (s *Store) Claim(ctx context.Context, tenant, key, eventID string, window time.Duration) (dedup.Result, error) {
	if err := ctx.Err(); err != nil {
		return dedup.Result{}, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	now, k := s.now(), [2]string{tenant, key}
	r, ok := s.keys[k]
	switch {
	case !ok || !now.Before(r.until):
		s.keys[k] = record{eventID: eventID, until: now.Add(dedup.WindowOrDefault(window)), leaseUntil: now.Add(dedup.Lease)}
		return dedup.Result{Outcome: dedup.Claimed, EventID: eventID}, nil
	case r.done:
		return dedup.Result{Outcome: dedup.Duplicate, EventID: r.eventID}, nil
	case now.Before(r.leaseUntil):
		return dedup.Result{Outcome: dedup.InFlight, EventID: r.eventID}, nil
	}
	r.leaseUntil = now.Add(dedup.Lease)
	s.keys[k] = r
	return dedup.Result{Outcome: dedup.Claimed, EventID: r.eventID}, nil
}

// Confirm implements dedup.Store.
func (s *Store) Confirm(ctx context.Context, tenant, key, eventID string) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	k := [2]string{tenant, key}
	if r, ok := s.keys[k]; ok && r.eventID == eventID {
		r.done = true
		s.keys[k] = r
	}
	return nil
}

// Release implements dedup.Store.
func (s *Store) Release(ctx context.Context, tenant, key, eventID string) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	k := [2]string{tenant, key}
	if r, ok := s.keys[k]; ok && r.eventID == eventID && !r.done {
		delete(s.keys, k)
	}
	return nil
}

// Close implements dedup.Store.
func (s *Store) Close() error { return nil }
