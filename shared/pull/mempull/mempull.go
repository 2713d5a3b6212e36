// Package mempull is an in-memory pull.Buffer for unit tests and examples.
// It passes the conformance suite pull/pulltest.
package mempull

import (
	"context"
	"maps"
	"slices"
	"sync"
	"time"

	"github.com/herokuevents/herokuevents/shared/event"
	"github.com/herokuevents/herokuevents/shared/pull"
)

// Buffer is an in-memory pull.Buffer. Safe for concurrent use.
type Buffer struct {
	retention time.Duration
	now       func() time.Time
	mu        sync.Mutex
	seq       int64
	subs      map[[2]string][]*kept // (tenant, subscription) → oldest first
}

type kept struct {
	seq      int64
	ev       event.Event
	at       time.Time
	until    time.Time
	receives int
}

var _ pull.Buffer = (*Buffer)(nil)

// New returns an empty buffer keeping events for retention
// (pull.DefaultRetention when ≤ 0) by the clock now (time.Now when nil).
func New(retention time.Duration, now func() time.Time) *Buffer {
	if retention <= 0 {
		retention = pull.DefaultRetention
	}
	if now == nil {
		now = time.Now
	}
	return &Buffer{retention: retention, now: now, subs: map[[2]string][]*kept{}}
}

// expire drops the expired events of k; b.mu is held.
func (b *Buffer) expire(k [2]string, now time.Time) []*kept {
	list := slices.DeleteFunc(b.subs[k], func(e *kept) bool { return !e.at.Add(b.retention).After(now) })
	b.subs[k] = list
	return list
}

// Put implements pull.Putter.
func (b *Buffer) Put(ctx context.Context, tenant, subscription string, evs ...event.Event) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	now := b.now()
	k := [2]string{tenant, subscription}
	list := b.expire(k, now)
	for _, ev := range evs {
		if slices.ContainsFunc(list, func(e *kept) bool { return e.ev.ID == ev.ID }) {
			continue
		}
		ev.Data = slices.Clone(ev.Data)
		ev.Extensions = maps.Clone(ev.Extensions)
		b.seq++
		list = append(list, &kept{seq: b.seq, ev: ev, at: now})
	}
	b.subs[k] = list
	return nil
}

// Lease implements pull.Buffer.
func (b *Buffer) Lease(ctx context.Context, tenant, subscription string, max int, visibility time.Duration) ([]pull.Leased, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	now := b.now()
	var out []pull.Leased
	for _, e := range b.expire([2]string{tenant, subscription}, now) {
		if len(out) >= max {
			break
		}
		if e.until.After(now) {
			continue
		}
		e.until, e.receives = now.Add(visibility), e.receives+1
		ev := e.ev
		ev.Data = slices.Clone(ev.Data)
		out = append(out, pull.Leased{Event: ev, Until: e.until, Receives: e.receives})
	}
	return out, nil
}

// Ack implements pull.Buffer.
func (b *Buffer) Ack(ctx context.Context, tenant, subscription string, ids ...string) ([]string, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	k := [2]string{tenant, subscription}
	var acked []string
	list := slices.DeleteFunc(b.expire(k, b.now()), func(e *kept) bool {
		if slices.Contains(ids, e.ev.ID) && !slices.Contains(acked, e.ev.ID) {
			acked = append(acked, e.ev.ID)
			return true
		}
		return false
	})
	b.subs[k] = list
	return acked, nil
}

// Backlog implements pull.Reader.
func (b *Buffer) Backlog(ctx context.Context, tenant, subscription string) (pull.Backlog, error) {
	if err := ctx.Err(); err != nil {
		return pull.Backlog{}, err
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	now := b.now()
	var out pull.Backlog
	for _, e := range b.expire([2]string{tenant, subscription}, now) {
		out.Pending++
		if e.until.After(now) {
			out.Leased++
		}
		if out.Oldest.IsZero() || e.at.Before(out.Oldest) {
			out.Oldest = e.at
		}
	}
	return out, nil
}

// Drop implements pull.Buffer.
func (b *Buffer) Drop(ctx context.Context, tenant, subscription string) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	delete(b.subs, [2]string{tenant, subscription})
	return nil
}
