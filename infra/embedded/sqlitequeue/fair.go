package sqlitequeue

import (
	"context"
	"database/sql"
	"sync"

	"github.com/herokuevents/herokuevents/shared/queue"
)

// Fairness. Every message belongs to a tenant (its queue.AttrTenant) and,
// within it, to a lane (what the queue's lane function says, such as the
// publication of a delivery; "" by default). A claim walks tenants in
// round-robin order, starting after the tenant it served last, and within
// a tenant its lanes in round-robin order, taking the visible messages of
// each lane in the order they became visible: a tenant with a backlog of
// 20,000 messages delays another tenant's new message by at most one claim.
// Each step of the walk is an index seek (plan_test.go), and a claim visits
// at most maxVisits lanes. A consumer may also cap the batches a lane has
// in flight (Lanes): a lane beyond its cap takes another batch only while
// as many slots as the cap stay free for the other lanes. So a lane alone
// uses the whole consumer but for that reserve, and a slow lane (a slow
// endpoint, a costly filter) never holds the slots the other lanes need;
// batches then hold the messages of one lane each (a batch waits for its
// slowest message: a fast lane's message in a slow lane's batch would
// hold the fast lane's share as long).

// maxVisits bounds the lanes one claim looks at; the next claim goes on
// where it stopped.
const maxVisits = 64

// The statements of the walk. tenantAfterSQL and laneAfterSQL return the
// first tenant (lane of a tenant) after the given one, wrapping around to
// the first (NULL when there is none): two index seeks in one statement.
const (
	tenantAfterSQL = `SELECT COALESCE(
		(SELECT tenant FROM message WHERE queue = ?1 AND tenant > ?2 ORDER BY tenant LIMIT 1),
		(SELECT tenant FROM message WHERE queue = ?1 AND tenant >= '' ORDER BY tenant LIMIT 1))`
	laneAfterSQL = `SELECT COALESCE(
		(SELECT lane FROM message WHERE queue = ?1 AND tenant = ?2 AND lane > ?3 ORDER BY lane LIMIT 1),
		(SELECT lane FROM message WHERE queue = ?1 AND tenant = ?2 AND lane >= '' ORDER BY lane LIMIT 1))`
	claimLaneSQL = `UPDATE message SET visible_at = ?1, receives = receives + 1, claimed = 1,
		first_at = CASE WHEN first_at = 0 THEN ?6 ELSE first_at END
		WHERE id IN (SELECT id FROM message WHERE queue = ?2 AND tenant = ?3 AND lane = ?4 AND visible_at <= ?6 ORDER BY visible_at LIMIT ?5)
		RETURNING ` + columns
	laneNextSQL = `SELECT MIN(visible_at) FROM message WHERE queue = ? AND tenant = ? AND lane = ?`
)

// Lane names a lane of a queue: a tenant and a lane within it.
type Lane struct {
	Tenant, Lane string
}

// Lanes sets how the queue's messages are put in lanes and how many
// batches of one lane a consumer (Consume) keeps in flight: lane names a
// message's lane within its tenant (nil: one lane per tenant), computed
// when it is sent; maxBatches caps the batches holding messages of one
// lane (0: no cap). Set it before the queue is used; a message keeps the
// lane it was sent with, also through dead-lettering and redrive when the
// dead-letter queue has the same lane function.
//
// With a cap, a lane at its cap takes another batch only while, counting
// it, maxBatches of the consumer's slots stay free: the reserve the other
// lanes find free at once.
func (q *Queue) Lanes(lane func(queue.Message) string, maxBatches int) {
	q.lmu.Lock()
	defer q.lmu.Unlock()
	q.laneOf, q.maxBatches = lane, maxBatches
}

// lane returns the lane of m within its tenant.
func (q *Queue) lane(m queue.Message) string {
	q.lmu.Lock()
	f := q.laneOf
	q.lmu.Unlock()
	if f == nil {
		return ""
	}
	return f(m)
}

func (q *Queue) laneCap() int {
	q.lmu.Lock()
	defer q.lmu.Unlock()
	return q.maxBatches
}

// cursor is where the round-robin walk of a queue stands: the tenant
// served last and, per tenant, its lane served last.
type cursor struct {
	tenant string
	lanes  map[string]string
}

// claimed is a claimed message and its lane.
type claimed struct {
	msg  queue.Message
	lane Lane
}

// walk claims up to max visible messages round-robin over tenants and
// lanes, leaving out lanes allow refuses (nil allows all), from the first
// lane that has some only when pure. It returns them
// and, when it claimed none, the earliest time (unix µs) a message of an
// allowed lane may become visible, 0 when none is known (when it claimed
// some, the lanes it looked at before the first). Run inside the writer.
func (q *Queue) walk(ctx context.Context, c *wconn, max int, visibility int64, allow func(Lane) bool, pure bool) ([]claimed, int64, error) {
	q.rmu.Lock()
	defer q.rmu.Unlock()
	if q.rr.lanes == nil {
		q.rr.lanes = map[string]string{}
	}
	now := nowMicro()
	var (
		got   []claimed
		next  int64
		visit int
	)
	t, ok, err := q.after(ctx, c, tenantAfterSQL, q.name, q.rr.tenant)
	firstT := t
	for ok && err == nil && len(got) < max && visit < maxVisits {
		var (
			l      string
			lok    bool
			firstL string
		)
		l, lok, err = q.after(ctx, c, laneAfterSQL, q.name, t, q.rr.lanes[t])
		firstL = l
		for lok && err == nil && len(got) < max && visit < maxVisits {
			visit++
			k := Lane{Tenant: t, Lane: l}
			if allow == nil || allow(k) {
				var msgs []queue.Message
				msgs, err = q.claimLane(ctx, c, k, max-len(got), now, visibility)
				if err != nil {
					return nil, 0, err
				}
				for _, m := range msgs {
					got = append(got, claimed{msg: m, lane: k})
				}
				if len(msgs) > 0 {
					q.rr.lanes[t] = l
					if pure {
						q.rr.tenant = t
						return got, 0, nil
					}
				}
				if len(got) == 0 {
					// Only a claim that found nothing needs to know
					// when to look again: one that found messages
					// waits for its batch window at most.
					var n sql.NullInt64
					if err := c.QueryRowContext(ctx, laneNextSQL, q.name, t, l).Scan(&n); err != nil {
						return nil, 0, err
					}
					if n.Valid && (next == 0 || n.Int64 < next) {
						next = n.Int64
					}
				}
			}
			if len(got) >= max {
				break
			}
			l, lok, err = q.after(ctx, c, laneAfterSQL, q.name, t, l)
			if l == firstL {
				break
			}
		}
		q.rr.tenant = t
		if len(got) >= max || err != nil {
			break
		}
		t, ok, err = q.after(ctx, c, tenantAfterSQL, q.name, t)
		if t == firstT {
			break
		}
	}
	if err != nil {
		return nil, 0, err
	}
	if visit >= maxVisits && len(got) < max {
		next = now // lanes not looked at yet
	}
	return got, next, nil
}

// after runs query (tenantAfterSQL or laneAfterSQL) with args: the
// value after the last of args, wrapping around; ok is false when there
// is none.
func (q *Queue) after(ctx context.Context, c *wconn, query string, args ...any) (string, bool, error) {
	var v sql.NullString
	if err := c.QueryRowContext(ctx, query, args...).Scan(&v); err != nil {
		return "", false, err
	}
	return v.String, v.Valid, nil
}

// claimLane claims up to n visible messages of lane k.
func (q *Queue) claimLane(ctx context.Context, c *wconn, k Lane, n int, now, visibility int64) ([]queue.Message, error) {
	// Hidden from the moment of the claim, not of the walk's start.
	rows, err := c.QueryContext(ctx, claimLaneSQL, nowMicro()+visibility, q.name, k.Tenant, k.Lane, n, now)
	if err != nil {
		return nil, err
	}
	return scan(rows)
}

// inFlight counts, for one consumer, the batches in flight per lane.
type inFlight struct {
	q     *Queue
	max   int // 0: no cap
	slots int // the consumer's concurrency

	mu      sync.Mutex
	batches map[Lane]int
	total   int
}

func newInFlight(q *Queue, slots int) *inFlight {
	return &inFlight{q: q, max: q.laneCap(), slots: slots, batches: map[Lane]int{}}
}

// allow reports whether a batch holding the messages of lanes in may take
// messages of lane k: with no cap, always; with a cap, when the batch
// holds k's, or when it holds none yet and k has fewer than max batches
// in flight or, this batch counted, max slots stay free.
func (f *inFlight) allow(in map[Lane]bool) func(Lane) bool {
	if f.max <= 0 {
		return nil
	}
	return func(k Lane) bool {
		if len(in) > 0 {
			return in[k]
		}
		f.mu.Lock()
		defer f.mu.Unlock()
		return f.batches[k] < f.max || f.slots-f.total-1 >= f.max
	}
}

// pure reports whether batches hold the messages of one lane each.
func (f *inFlight) pure() bool { return f.max > 0 }

// take counts a batch holding messages of lanes.
func (f *inFlight) take(lanes map[Lane]bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	for k := range lanes {
		f.batches[k]++
	}
	f.total++
}

// done uncounts a finished batch; when a lane was at its cap, consumers
// are woken to take its waiting messages.
func (f *inFlight) done(lanes map[Lane]bool) {
	f.mu.Lock()
	full := f.max > 0 && f.slots-f.total-1 < f.max // lanes at their cap were refused
	f.total--
	for k := range lanes {
		if f.max > 0 && f.batches[k] >= f.max {
			full = true
		}
		if f.batches[k]--; f.batches[k] <= 0 {
			delete(f.batches, k)
		}
	}
	f.mu.Unlock()
	if full {
		f.q.notify()
	}
}
