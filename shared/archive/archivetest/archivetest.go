// Package archivetest is the conformance suite of archive.Store: every
// driver runs Run.
package archivetest

import (
	"encoding/json"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/herokuevents/herokuevents/shared/archive"
	"github.com/herokuevents/herokuevents/shared/event"
)

// Open returns an empty store with limits l; the suite closes it.
type Open func(t *testing.T, l archive.Limits) archive.Store

// base is the accepted time of the suite's records: recent, so that none
// has expired with the default retention.
var base = time.Now().UTC().Truncate(time.Second).Add(-time.Hour)

// Rec returns the record of event id accepted at base + at.
func Rec(tenant, sub, id string, at time.Duration) archive.Record {
	return archive.Record{Tenant: tenant, Subscription: sub, Seq: base.Add(at).UnixNano(),
		Event: event.Event{ID: id, Source: "/s/" + sub, Type: "t", Subject: "k", Time: base, Data: json.RawMessage(`{"id":"` + id + `"}`)}}
}

func ids(recs []archive.Record) []string {
	var out []string
	for _, r := range recs {
		out = append(out, r.Event.ID)
	}
	return out
}

// all reads every page of q.
func all(t *testing.T, s archive.Store, q archive.Query) []archive.Record {
	t.Helper()
	var out []archive.Record
	for range 1000 {
		p, err := s.Range(t.Context(), q)
		require.NoError(t, err)
		out = append(out, p.Records...)
		if p.Next == "" {
			return out
		}
		q.After = p.Next
	}
	t.Fatal("Range never ended")
	return nil
}

// Run runs the suite.
func Run(t *testing.T, open Open) {
	store := func(t *testing.T, l archive.Limits) archive.Store {
		s := open(t, l)
		t.Cleanup(func() { s.Close() })
		return s
	}
	t.Run("accept order, window and pages", func(t *testing.T) {
		s := store(t, archive.Limits{})
		var recs []archive.Record
		for i := range 25 {
			recs = append(recs, Rec("t1", "s1", fmt.Sprintf("e%02d", i), time.Duration(i)*time.Second))
		}
		// appended in two batches, the second first: accept order is Seq
		require.NoError(t, s.Append(t.Context(), recs[10:]...))
		require.NoError(t, s.Append(t.Context(), recs[:10]...))
		tests := []struct {
			name     string
			from, to time.Duration
			limit    int
			want     []string
		}{
			{"whole", -time.Minute, time.Minute, 0, ids(recs)},
			{"pages of 4", -time.Minute, time.Minute, 4, ids(recs)},
			{"from inclusive, to exclusive", 5 * time.Second, 9 * time.Second, 3, ids(recs[5:9])},
			{"empty window", 30 * time.Second, time.Minute, 0, nil},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				q := archive.Query{Tenant: "t1", Subscription: "s1", From: base.Add(tt.from), To: base.Add(tt.to), Limit: tt.limit}
				got := all(t, s, q)
				assert.Equal(t, tt.want, ids(got))
				n, err := s.Count(t.Context(), q)
				require.NoError(t, err)
				assert.Equal(t, len(tt.want), n)
			})
		}
		t.Run("page size", func(t *testing.T) {
			p, err := s.Range(t.Context(), archive.Query{Tenant: "t1", Subscription: "s1", Limit: 7})
			require.NoError(t, err)
			assert.Len(t, p.Records, 7)
			assert.NotEmpty(t, p.Next)
		})
		t.Run("zero bounds", func(t *testing.T) {
			assert.Equal(t, ids(recs), ids(all(t, s, archive.Query{Tenant: "t1", Subscription: "s1"})))
		})
	})
	t.Run("event round trip", func(t *testing.T) {
		s := store(t, archive.Limits{})
		r := Rec("t1", "s1", "e1", 0)
		r.Event.Extensions = map[string]any{"color": "blue"}
		r.Event.DataSchema = "https://example.com/s"
		require.NoError(t, s.Append(t.Context(), r))
		got := all(t, s, archive.Query{Tenant: "t1", Subscription: "s1"})
		require.Len(t, got, 1)
		assert.Equal(t, r.Seq, got[0].Seq)
		assert.Equal(t, base, got[0].Accepted())
		assert.Equal(t, r.Event.ID, got[0].Event.ID)
		assert.Equal(t, r.Event.Subject, got[0].Event.Subject)
		assert.Equal(t, r.Event.DataSchema, got[0].Event.DataSchema)
		assert.Equal(t, "blue", got[0].Event.Extensions["color"])
		assert.JSONEq(t, string(r.Event.Data), string(got[0].Event.Data))
		assert.True(t, r.Event.Time.Equal(got[0].Event.Time))
		assert.Equal(t, "t1", got[0].Tenant)
		assert.Equal(t, "s1", got[0].Subscription)
	})
	t.Run("an event given with its JSON", func(t *testing.T) {
		s := store(t, archive.Limits{})
		r := Rec("t1", "s1", "e1", 0)
		r.Event.Subject = "<k>"
		js, err := json.Marshal(r.Event)
		require.NoError(t, err)
		r.JSON = js
		require.NoError(t, s.Append(t.Context(), r))
		got := all(t, s, archive.Query{Tenant: "t1", Subscription: "s1"})
		require.Len(t, got, 1)
		assert.Equal(t, "<k>", got[0].Event.Subject)
		assert.JSONEq(t, string(r.Event.Data), string(got[0].Event.Data))
		assert.True(t, r.Event.Time.Equal(got[0].Event.Time))
		assert.Nil(t, got[0].JSON, "a read record has its event only")
	})
	t.Run("appending again keeps one", func(t *testing.T) {
		s := store(t, archive.Limits{})
		r := Rec("t1", "s1", "e1", 0)
		require.NoError(t, s.Append(t.Context(), r))
		require.NoError(t, s.Append(t.Context(), r, Rec("t1", "s1", "e2", time.Second)))
		assert.Equal(t, []string{"e1", "e2"}, ids(all(t, s, archive.Query{Tenant: "t1", Subscription: "s1"})))
	})
	t.Run("tenants and subscriptions are apart", func(t *testing.T) {
		s := store(t, archive.Limits{})
		require.NoError(t, s.Append(t.Context(), Rec("t1", "s1", "a", 0), Rec("t2", "s1", "b", 0), Rec("t1", "s2", "c", 0)))
		for _, tt := range []struct{ tenant, sub, want string }{{"t1", "s1", "a"}, {"t2", "s1", "b"}, {"t1", "s2", "c"}} {
			assert.Equal(t, []string{tt.want}, ids(all(t, s, archive.Query{Tenant: tt.tenant, Subscription: tt.sub})))
		}
		assert.Empty(t, all(t, s, archive.Query{Tenant: "t2", Subscription: "s2"}))
	})
	t.Run("expired records are not read, and pruned", func(t *testing.T) {
		s := store(t, archive.Limits{Retention: 90 * time.Minute}) // base is an hour ago
		old := Rec("t1", "s1", "old", -time.Hour)                  // expires half an hour ago by the default
		short := Rec("t1", "s1", "short", 0)
		short.Expires = time.Now().Add(-time.Minute) // its subscription's retention ended
		long := Rec("t1", "s1", "long", -2*time.Hour)
		long.Expires = time.Now().Add(time.Hour)
		fresh := Rec("t1", "s1", "fresh", time.Second)
		require.NoError(t, s.Append(t.Context(), old, short, long, fresh))
		q := archive.Query{Tenant: "t1", Subscription: "s1"}
		assert.Equal(t, []string{"long", "fresh"}, ids(all(t, s, q)))
		n, err := s.Count(t.Context(), q)
		require.NoError(t, err)
		assert.Equal(t, 2, n)
		_, err = s.Prune(t.Context(), time.Now())
		require.NoError(t, err)
		assert.Equal(t, []string{"long", "fresh"}, ids(all(t, s, q)))
	})
	t.Run("bounded by size per tenant", func(t *testing.T) {
		one := Rec("t1", "s1", "e00", 0).Size()
		s := store(t, archive.Limits{MaxTenantBytes: 5*one + one/2})
		var recs []archive.Record
		for i := range 8 {
			recs = append(recs, Rec("t1", fmt.Sprint("s", i%2), fmt.Sprintf("e%02d", i), time.Duration(i)*time.Second))
		}
		require.NoError(t, s.Append(t.Context(), recs[:3]...))
		err := s.Append(t.Context(), recs[3:]...)
		require.True(t, errors.Is(err, archive.ErrFull), "err = %v", err)
		got := append(all(t, s, archive.Query{Tenant: "t1", Subscription: "s0"}), all(t, s, archive.Query{Tenant: "t1", Subscription: "s1"})...)
		assert.ElementsMatch(t, []string{"e00", "e01", "e02", "e03", "e04"}, ids(got), "the oldest five fit")
		// another tenant has its own budget
		require.NoError(t, s.Append(t.Context(), Rec("t2", "s1", "x", 0)))
	})
	t.Run("bounded by size per tenant in a batch of many tenants", func(t *testing.T) {
		one := Rec("t00", "s1", "e00", 0).Size()
		s := store(t, archive.Limits{MaxTenantBytes: 2*one + one/2})
		var recs []archive.Record
		for i := range 3 {
			for n := range 60 { // more tenants than one statement of a driver may read
				recs = append(recs, Rec(fmt.Sprintf("t%02d", n), "s1", fmt.Sprintf("e%02d", i), time.Duration(i)*time.Second))
			}
		}
		err := s.Append(t.Context(), recs...)
		require.True(t, errors.Is(err, archive.ErrFull), "err = %v", err)
		for n := range 60 {
			q := archive.Query{Tenant: fmt.Sprintf("t%02d", n), Subscription: "s1"}
			assert.Equal(t, []string{"e00", "e01"}, ids(all(t, s, q)), "tenant t%02d: the oldest two fit", n)
		}
		// each tenant's bytes were kept: it has no room left; a new tenant has
		err = s.Append(t.Context(), Rec("t59", "s1", "e03", 3*time.Second))
		require.True(t, errors.Is(err, archive.ErrFull), "err = %v", err)
		require.NoError(t, s.Append(t.Context(), Rec("t60", "s1", "e00", 0)))
	})
}
