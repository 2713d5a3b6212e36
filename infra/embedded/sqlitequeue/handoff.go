package sqlitequeue

import (
	"bytes"
	"maps"
	"slices"
	"strconv"
	"time"

	"github.com/herokuevents/herokuevents/shared/queue"
)

// Hand-off. A consumer that found nothing to claim waits for a send
// (gather); while it waits it offers itself as a taker. The writer,
// inserting the messages of sends with no group that are visible at once,
// inserts those the taker may take (lanes it allows, one lane when its
// batches are pure, up to its batch size) already claimed for it, in the
// same transaction, and hands them over once that transaction has
// committed. Such a message is claimed exactly as a claim would have
// claimed it (one receive, hidden for the taker's visibility timeout,
// given back at the next start if the process dies), without a claim's
// transaction and walk: when consumers keep up, a message costs the
// writer its send and its delete only.
//
// Fairness is unchanged: a consumer waits only when its last claim found
// nothing it may take, so there is no backlog for the hand-off to jump.

// taker is a waiting consumer's offer.
type taker struct {
	max        int   // batch size
	visibility int64 // µs
	allow      func(Lane) bool
	pure       bool
	// got receives one answer per reservation, once the send's
	// transaction has ended.
	got chan handed
}

// handed is a taker's answer: the messages claimed for it (none when
// the send failed or it could take none), and whether they were all the
// messages the sends at hand made visible in its queue.
type handed struct {
	msgs     []claimed
	complete bool
}

func newTaker(s queue.Settings, allow func(Lane) bool, pure bool) *taker {
	return &taker{max: s.BatchSize, visibility: s.VisibilityTimeout.Microseconds(), allow: allow, pure: pure, got: make(chan handed, 1)}
}

// offer makes t a taker of the queue's next sends.
func (q *Queue) offer(t *taker) {
	q.tmu.Lock()
	defer q.tmu.Unlock()
	q.takers = append(q.takers, t)
}

// awaited reports whether a consumer waits for the queue's next sends.
func (q *Queue) awaited() bool {
	q.tmu.Lock()
	defer q.tmu.Unlock()
	return len(q.takers) > 0
}

// withdraw takes t's offer back. It returns false when the writer has
// reserved t already: t.got will then get its answer.
func (q *Queue) withdraw(t *taker) bool {
	q.tmu.Lock()
	defer q.tmu.Unlock()
	i := slices.Index(q.takers, t)
	if i < 0 {
		return false
	}
	q.takers = slices.Delete(q.takers, i, i+1)
	return true
}

// reserve takes the longest-waiting taker off the queue's offers.
func (q *Queue) reserve() *taker {
	q.tmu.Lock()
	defer q.tmu.Unlock()
	if len(q.takers) == 0 {
		return nil
	}
	t := q.takers[0]
	q.takers = slices.Delete(q.takers, 0, 1)
	return t
}

// handoff is what one reserved taker gets from a group of sends: the
// indexes of the rows claimed for it.
type handoff struct {
	t        *taker
	rows     []int
	complete bool // every row of the taker's queue is in rows
}

// handOff reserves the takers waiting on the queues of rows (inserted at
// now) and marks the rows each takes as claimed until now + its
// visibility timeout. The caller inserts the rows, then calls deliver
// after its transaction committed, or cancel when it did not.
func handOff(rows []sendRow, now int64) []*handoff {
	var out []*handoff
	var byQueue map[*Queue]*handoff // nil value: no taker waits
	for i := range rows {
		r := &rows[i]
		if r.delay > 0 || r.q == nil {
			continue
		}
		h, seen := byQueue[r.q]
		if !seen {
			if byQueue == nil {
				byQueue = map[*Queue]*handoff{}
			}
			if t := r.q.reserve(); t != nil {
				h = &handoff{t: t}
				out = append(out, h)
			}
			byQueue[r.q] = h
		}
		if h == nil || len(h.rows) >= h.t.max {
			continue
		}
		k := Lane{Tenant: r.tenant, Lane: r.lane}
		if len(h.rows) > 0 && h.t.pure {
			if first := rows[h.rows[0]]; first.tenant != k.Tenant || first.lane != k.Lane {
				continue
			}
		} else if h.t.allow != nil && !h.t.allow(k) {
			continue
		}
		r.until = now + h.t.visibility
		h.rows = append(h.rows, i)
	}
	for q, h := range byQueue {
		if h == nil {
			continue
		}
		h.complete = true
		for _, r := range rows {
			if r.q == q && r.until == 0 {
				h.complete = false
				break
			}
		}
	}
	return out
}

// deliver hands the taker its messages: rows were inserted at now with
// the row ids ids.
func (h *handoff) deliver(rows []sendRow, ids []int64, now int64) {
	got := make([]claimed, 0, len(h.rows))
	at := time.UnixMicro(now)
	for _, i := range h.rows {
		r := rows[i]
		m := queue.Message{ID: strconv.FormatInt(ids[i], 10), Body: bytes.Clone(r.body), Attributes: maps.Clone(r.attributes),
			Receives: 1, SentAt: at, FirstReceived: at}
		if m.Body == nil {
			m.Body = []byte{}
		}
		got = append(got, claimed{msg: m, lane: Lane{Tenant: r.tenant, Lane: r.lane}})
	}
	h.t.got <- handed{msgs: got, complete: h.complete}
}

// cancel answers the taker with nothing: it claims as usual.
func (h *handoff) cancel() { h.t.got <- handed{} }
