// Package memrecent is an in-memory recent.Store for unit tests and
// examples. It passes the conformance suite recent/recenttest.
package memrecent

import (
	"context"
	"errors"
	"maps"
	"slices"
	"sync"
	"time"

	"github.com/herokuevents/herokuevents/shared/recent"
)

// ErrClosed is returned by every call after Close.
var ErrClosed = errors.New("recent store closed")

// Store is an in-memory recent.Store. Safe for concurrent use.
type Store struct {
	limits recent.Limits
	mu     sync.Mutex
	subs   map[[2]string][]recent.Entry // (tenant, subscription) → oldest first
	closed bool
}

var _ recent.Store = (*Store)(nil)

// New returns an empty store with limits l (defaults for zero fields).
func New(l recent.Limits) *Store {
	return &Store{limits: l.WithDefaults(), subs: map[[2]string][]recent.Entry{}}
}

// Keep implements recent.Store.
func (s *Store) Keep(ctx context.Context, entries ...recent.Entry) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return ErrClosed
	}
	for _, e := range entries {
		e = e.Fit(s.limits.MaxEventBytes)
		if e.Kept.IsZero() {
			e.Kept = time.Now().UTC()
		}
		e.Event.Data = slices.Clone(e.Event.Data)
		e.Event.Extensions = maps.Clone(e.Event.Extensions)
		k := [2]string{e.Tenant, e.Subscription}
		list := slices.DeleteFunc(s.subs[k], func(o recent.Entry) bool { return o.Event.ID == e.Event.ID })
		list = append(list, e)
		if over := len(list) - s.limits.PerSubscription; over > 0 {
			list = slices.Delete(list, 0, over)
		}
		s.subs[k] = list
	}
	return nil
}

// Latest implements recent.Store.
func (s *Store) Latest(ctx context.Context, tenant, subscription string, n int) ([]recent.Entry, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return nil, ErrClosed
	}
	cutoff := time.Now().Add(-s.limits.MaxAge)
	var out []recent.Entry
	for _, e := range s.subs[[2]string{tenant, subscription}] {
		if e.Kept.After(cutoff) {
			e.Event.Data = slices.Clone(e.Event.Data)
			e.Event.Extensions = maps.Clone(e.Event.Extensions)
			out = append(out, e)
		}
	}
	if n > 0 && len(out) > n {
		out = out[len(out)-n:]
	}
	return out, nil
}

// Close implements recent.Store.
func (s *Store) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.closed = true
	return nil
}
