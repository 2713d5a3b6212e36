package sqlitequeue

import (
	"context"
	"database/sql"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"sync"
	"time"

	"github.com/herokuevents/herokuevents/infra/embedded/sqlitefile"
	"github.com/herokuevents/herokuevents/shared/queue"
)

// Queue is one named queue of a DB. It implements queue.Sender and the
// consumer side (Receive/Delete, or Consume). Safe for concurrent use.
type Queue struct {
	db   *DB
	name string

	wmu  sync.Mutex
	wake chan struct{} // closed and replaced on every notify
	gen  uint64        // notifies so far

	lmu        sync.Mutex
	laneOf     func(queue.Message) string
	maxBatches int

	rmu sync.Mutex // held by the writer during a claim
	rr  cursor

	tmu    sync.Mutex
	takers []*taker // consumers waiting for a send (handoff.go)
}

var _ queue.Sender = (*Queue)(nil)

// Name returns the queue's name.
func (q *Queue) Name() string { return q.name }

// Stats counts a queue's messages by state.
type Stats struct {
	Visible  int // ready to be received
	InFlight int // received and not yet deleted nor visible again
	Delayed  int // sent with a Delay that has not yet passed
}

func nowMicro() int64 { return time.Now().UnixMicro() }

// The statements of the hot path. Each one's plan is checked by a test
// (plan_test.go): it must look messages up by primary key or seek an
// index, never walk a queue's backlog. Statements given message ids keep
// SQLite off the queue's indexes with +queue: given "queue = ?", its
// planner walks (queue, visible_at) and filters by id, a cost that grows
// with the backlog.
const (
	sendSQL    = `INSERT INTO message (queue, body, attrs, sent_at, visible_at, tenant, lane, grp) VALUES (?, ?, ?, ?, ?, ?, ?, ?)`
	deleteSQL  = `DELETE FROM message WHERE +queue = ? AND id IN (SELECT value FROM json_each(?)) RETURNING grp`
	unclaimSQL = `UPDATE message SET visible_at = ?, receives = max(receives - 1, 0), claimed = 0
		WHERE +queue = ? AND id IN (SELECT value FROM json_each(?))`
	depthSQL = `SELECT COUNT(*) FROM message WHERE queue = ?`
	// failedSQL marks messages a handler failed: their receive counts and
	// they wait out their visibility timeout.
	failedSQL = `UPDATE message SET claimed = 0 WHERE +queue = ? AND id IN (SELECT value FROM json_each(?))`
	// releaseSQL and releaseAllSQL give back the unsettled receives of a
	// dead process (at start: not on the hot path).
	releaseSQL    = `UPDATE message SET visible_at = ?1, receives = max(receives - 1, 0), claimed = 0 WHERE queue = ?2 AND claimed = 1 AND visible_at > ?1`
	releaseAllSQL = `UPDATE message SET visible_at = ?1, receives = max(receives - 1, 0), claimed = 0 WHERE claimed = 1 AND visible_at > ?1`
	// wakeHeldSQL seeks the tenant's messages.
	wakeHeldSQL = `UPDATE message SET visible_at = ?1
		WHERE queue = ?2 AND tenant = ?3 AND +visible_at > ?1 AND +visible_at < ?5 AND claimed = 0
		AND (receives = 0 OR grp != '')
		AND json_extract(attrs, '$.` + queue.AttrHeld + `') = ?4`
)

// sendRows is the most messages one INSERT statement of Send holds.
const sendRows = 16

// sendMany is the INSERT of 1..sendRows messages with no group (sendSQL's
// columns and the claim's) with that many rows of values.
var sendMany = sqlitefile.NewInserts(`INSERT INTO message (queue, body, attrs, sent_at, visible_at, tenant, lane, grp, receives, claimed, first_at) VALUES `, sendColumns, sendRows)

// sendColumns are the values of a row of sendMany.
const sendColumns = 11

// sendRow is a message to insert with no group.
type sendRow struct {
	q          *Queue
	body       []byte
	attrs      any // encodeAttrs
	attributes map[string]string
	delay      int64
	tenant     string
	lane       string
	// until, when not 0, is when the claim of a consumer the row is
	// handed to ends (handoff.go): it is inserted claimed.
	until int64
}

// insertRows inserts rows, sent at now, sendRows per statement: a
// statement's fixed cost (binding, stepping, the driver) is paid once. A
// row with until set is inserted claimed (one receive, visible at until).
// It returns the rows' ids when ids is set.
func insertRows(ctx context.Context, c *wconn, now int64, rows []sendRow, ids bool) ([]int64, error) {
	var out []int64
	if ids {
		out = make([]int64, 0, len(rows))
	}
	err := sendMany.Run(len(rows), func(i int, args []any) ([]any, error) {
		r := rows[i]
		body := r.body
		if body == nil {
			body = []byte{}
		}
		if r.until != 0 {
			return append(args, r.q.name, body, r.attrs, now, r.until, r.tenant, r.lane, "", 1, 1, now), nil
		}
		return append(args, r.q.name, body, r.attrs, now, now+r.delay, r.tenant, r.lane, "", 0, 0, 0), nil
	}, func(query string, args ...any) error {
		res, err := c.ExecContext(ctx, query, args...)
		if err != nil || !ids {
			return err
		}
		// One statement's rows get consecutive ids (AUTOINCREMENT:
		// each new row's is one more than the largest ever used).
		last, err := res.LastInsertId()
		if err != nil {
			return err
		}
		n := int64(len(args) / sendColumns)
		for id := last - n + 1; id <= last; id++ {
			out = append(out, id)
		}
		return nil
	})
	return out, err
}

// Send queues msgs in one transaction: all or none. Bodies larger than
// queue.MaxBody fail with queue.ErrTooLarge and nothing is queued. Delay
// (capped to queue.MaxDelay) postpones the first delivery. Consumers of this
// queue in the same process are woken at once.
func (q *Queue) Send(ctx context.Context, msgs ...queue.Message) error {
	if len(msgs) == 0 {
		return nil
	}
	if err := queue.Check(msgs...); err != nil {
		return fmt.Errorf("send to %s: %w", q.name, err)
	}
	attrs := make([]any, len(msgs))
	lanes := make([]string, len(msgs))
	for i, m := range msgs {
		lanes[i] = q.lane(m)
		a, err := encodeAttrs(m.Attributes)
		if err != nil {
			return fmt.Errorf("send to %s: %w", q.name, err)
		}
		attrs[i] = a
	}
	grouped := false
	for _, m := range msgs {
		grouped = grouped || m.Group != ""
	}
	if !grouped {
		rows := make([]sendRow, len(msgs))
		for i, m := range msgs {
			rows[i] = sendRow{q: q, body: m.Body, attrs: attrs[i], attributes: m.Attributes, delay: queue.ClampDelay(m.Delay).Microseconds(),
				tenant: m.Attributes[queue.AttrTenant], lane: lanes[i]}
		}
		handed, err := q.db.execSend(ctx, rows)
		if err != nil {
			return fmt.Errorf("send %d messages to %s: %w", len(msgs), q.name, err)
		}
		if !handed {
			q.notify() // unless waiting consumers have them all
		}
		return nil
	}
	err := q.db.exec(ctx, func(ctx context.Context, c *wconn) error {
		now := nowMicro()
		stmt, err := c.PrepareContext(ctx, sendSQL)
		if err != nil {
			return err
		}
		for i, m := range msgs {
			body := m.Body
			if body == nil {
				body = []byte{}
			}
			visible := now + queue.ClampDelay(m.Delay).Microseconds()
			if m.Group != "" {
				behind, err := q.waiting(ctx, c, m.Group)
				if err != nil {
					return err
				}
				if behind {
					visible = parked
				}
			}
			if _, err := stmt.ExecContext(ctx, q.name, body, attrs[i], now, visible, m.Attributes[queue.AttrTenant], lanes[i], m.Group); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("send %d messages to %s: %w", len(msgs), q.name, err)
	}
	q.notify()
	return nil
}

// Receive claims up to max (1..10) visible messages at once: each becomes
// invisible for visibility, its Receives count goes up by one and its ID is
// set. It returns at once, with no messages if none is visible. Claimed
// messages not deleted before visibility ends are received again.
func (q *Queue) Receive(ctx context.Context, max int, visibility time.Duration) ([]queue.Message, error) {
	if max < 1 || max > 10 {
		return nil, fmt.Errorf("receive from %s: max %d: must be 1..10", q.name, max)
	}
	if visibility < 0 {
		return nil, fmt.Errorf("receive from %s: negative visibility timeout", q.name)
	}
	got, _, err := q.claim(ctx, max, visibility, nil, false)
	msgs := make([]queue.Message, len(got))
	for i, c := range got {
		msgs[i] = c.msg
	}
	return msgs, err
}

// claim is Receive of the messages of lanes allow allows (nil: all), of one
// lane only when pure, with their lanes; when it claims none, it also
// returns the earliest time (unix µs) at which a message of an allowed
// lane may become visible, 0 when none is known (see walk).
func (q *Queue) claim(ctx context.Context, max int, visibility time.Duration, allow func(Lane) bool, pure bool) ([]claimed, int64, error) {
	var (
		got  []claimed
		next int64
	)
	err := q.db.execLight(ctx, func(ctx context.Context, c *wconn) error {
		var err error
		got, next, err = q.walk(ctx, c, max, visibility.Microseconds(), allow, pure)
		return err
	})
	if err != nil {
		return nil, 0, fmt.Errorf("receive from %s: %w", q.name, err)
	}
	slices.SortFunc(got, func(a, b claimed) int { return compareIDs(a.msg.ID, b.msg.ID) })
	return got, next, nil
}

// unclaim undoes a claim of messages never handed to a handler.
func (q *Queue) unclaim(ctx context.Context, msgs []queue.Message) error {
	ids, err := idsJSON(ids(msgs))
	if err != nil {
		return err
	}
	err = q.db.execLight(ctx, func(ctx context.Context, c *wconn) error {
		_, err := c.ExecContext(ctx, unclaimSQL, nowMicro(), q.name, ids)
		return err
	})
	if err != nil {
		return fmt.Errorf("unclaim %d messages of %s: %w", len(msgs), q.name, err)
	}
	q.notify()
	return nil
}

// Delete removes messages by ID in one statement. Unknown IDs are ignored.
func (q *Queue) Delete(ctx context.Context, ids ...string) error {
	return q.settle(ctx, ids, nil)
}

// settle deletes the messages done and marks those failed as failed
// receives (they come back after their visibility timeout), in one
// transaction.
func (q *Queue) settle(ctx context.Context, done, failed []string) error {
	if len(done) == 0 && len(failed) == 0 {
		return nil
	}
	del, err := idsJSON(done)
	if err != nil {
		return fmt.Errorf("delete from %s: %w", q.name, err)
	}
	fail, err := idsJSON(failed)
	if err != nil {
		return fmt.Errorf("mark failures of %s: %w", q.name, err)
	}
	unparked := false
	err = q.db.execLight(ctx, func(ctx context.Context, c *wconn) error {
		if len(done) > 0 {
			var err error
			if unparked, err = q.delete(ctx, c, del); err != nil {
				return err
			}
		}
		if len(failed) > 0 {
			if _, err := c.ExecContext(ctx, failedSQL, q.name, fail); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("delete %d messages from %s (%d failed): %w", len(done), q.name, len(failed), err)
	}
	if unparked {
		q.notify() // the next message of a group is visible
	}
	return nil
}

// Len returns how many messages the queue holds, in any state (a count
// over an index: the metrics' depth gauge).
func (q *Queue) Len(ctx context.Context) (int, error) {
	var n int
	if err := q.db.db.QueryRowContext(ctx, depthSQL, q.name).Scan(&n); err != nil {
		return 0, fmt.Errorf("count messages of %s: %w", q.name, err)
	}
	return n, nil
}

// Stats counts the queue's messages by state.
func (q *Queue) Stats(ctx context.Context) (Stats, error) {
	var s Stats
	now := nowMicro()
	err := q.db.db.QueryRowContext(ctx, `SELECT
		COALESCE(SUM(visible_at <= ?1), 0),
		COALESCE(SUM(visible_at > ?1 AND receives > 0), 0),
		COALESCE(SUM(visible_at > ?1 AND receives = 0), 0)
		FROM message WHERE queue = ?2`, now, q.name).Scan(&s.Visible, &s.InFlight, &s.Delayed)
	if err != nil {
		return Stats{}, fmt.Errorf("count messages of %s: %w", q.name, err)
	}
	return s, nil
}

// ReleaseInFlight makes every in-flight message of the queue visible at once
// and returns how many it released, giving back the receive that handed
// each out (DB.ReleaseInFlight). The process owns the file alone, so at
// start anything in flight belongs to a dead process.
func (q *Queue) ReleaseInFlight(ctx context.Context) (int, error) {
	var n int64
	err := q.db.exec(ctx, func(ctx context.Context, c *wconn) error {
		now := nowMicro()
		r, err := c.ExecContext(ctx, releaseSQL, now, q.name)
		if err != nil {
			return err
		}
		n, err = r.RowsAffected()
		return err
	})
	if err != nil {
		return 0, fmt.Errorf("release in-flight messages of %s: %w", q.name, err)
	}
	q.notify()
	return int(n), nil
}

// WakeHeld makes the tenant's delayed messages held for key visible at
// once (the deliveries held for a paused publication, when it resumes) and
// returns how many: those sent with queue.AttrHeld set to key, and the
// heads of ordered groups a consumer failed with queue.Hold for key (held
// in their place). Messages in flight, and the messages parked behind a
// group's head, are left alone.
func (q *Queue) WakeHeld(ctx context.Context, tenant, key string) (int, error) {
	var n int64
	err := q.db.exec(ctx, func(ctx context.Context, c *wconn) error {
		now := nowMicro()
		r, err := c.ExecContext(ctx, wakeHeldSQL, now, q.name, tenant, key, int64(parked))
		if err != nil {
			return err
		}
		n, err = r.RowsAffected()
		return err
	})
	if err != nil {
		return 0, fmt.Errorf("wake held messages of %s: %w", q.name, err)
	}
	if n > 0 {
		q.notify()
	}
	return int(n), nil
}

// List returns up to limit messages of the queue, oldest first, without
// receiving them (ID, Body, Attributes incl. queue.AttrReason for dead
// letters, Receives so far, SentAt). Meant for dead-letter queues.
func (q *Queue) List(ctx context.Context, limit int) ([]queue.Message, error) {
	if limit < 1 {
		return nil, nil
	}
	rows, err := q.db.db.QueryContext(ctx, `SELECT `+columns+` FROM message WHERE queue = ? ORDER BY id LIMIT ?`, q.name, limit)
	if err != nil {
		return nil, fmt.Errorf("list %s: %w", q.name, err)
	}
	msgs, err := scan(rows)
	if err != nil {
		return nil, fmt.Errorf("list %s: %w", q.name, err)
	}
	return msgs, nil
}

// Redrive moves messages of this (dead-letter) queue to another queue, as new
// messages without the queue.AttrReason attribute, and returns how many it
// moved. With no ids it moves every message. Moving to a queue of the same DB
// is atomic; to any other Sender it sends then deletes (a crash in between
// duplicates, never loses). IDs not in the queue are reported with
// ErrNotFound after the others were moved.
func (q *Queue) Redrive(ctx context.Context, to queue.Sender, ids ...string) (int, error) {
	if to == nil {
		return 0, fmt.Errorf("redrive %s: no target queue", q.name)
	}
	moved := 0
	if len(ids) == 0 {
		for {
			batch, err := q.List(ctx, 100)
			if err != nil {
				return moved, fmt.Errorf("redrive %s: %w", q.name, err)
			}
			if len(batch) == 0 {
				return moved, nil
			}
			n, err := q.redrive(ctx, to, batch)
			moved += n
			if err != nil {
				return moved, err
			}
		}
	}
	js, err := idsJSON(ids)
	if err != nil {
		return 0, fmt.Errorf("redrive %s: %w", q.name, err)
	}
	rows, err := q.db.db.QueryContext(ctx, `SELECT `+columns+` FROM message
		WHERE +queue = ? AND id IN (SELECT value FROM json_each(?)) ORDER BY id`, q.name, js)
	if err != nil {
		return 0, fmt.Errorf("redrive %s: %w", q.name, err)
	}
	found, err := scan(rows)
	if err != nil {
		return 0, fmt.Errorf("redrive %s: %w", q.name, err)
	}
	for start := 0; start < len(found); start += 100 {
		n, err := q.redrive(ctx, to, found[start:min(start+100, len(found))])
		moved += n
		if err != nil {
			return moved, err
		}
	}
	if len(found) < len(ids) {
		have := map[string]bool{}
		for _, m := range found {
			have[m.ID] = true
		}
		var missing []string
		for _, id := range ids {
			if !have[id] {
				missing = append(missing, id)
			}
		}
		return moved, fmt.Errorf("redrive %s: messages %v: %w", q.name, missing, ErrNotFound)
	}
	return moved, nil
}

func (q *Queue) redrive(ctx context.Context, to queue.Sender, msgs []queue.Message) (int, error) {
	if tq, ok := to.(*Queue); ok && tq.db == q.db {
		js, err := idsJSON(ids(msgs))
		if err != nil {
			return 0, err
		}
		var n int64
		err = q.db.exec(ctx, func(ctx context.Context, c *wconn) error {
			now := nowMicro()
			r, err := c.ExecContext(ctx, `UPDATE message
				SET queue = ?, receives = 0, sent_at = ?, visible_at = ?, attrs = json_remove(attrs, '$.`+queue.AttrReason+`')
				WHERE +queue = ? AND id IN (SELECT value FROM json_each(?))`, tq.name, now, now, q.name, js)
			if err != nil {
				return err
			}
			n, err = r.RowsAffected()
			return err
		})
		if err != nil {
			return 0, fmt.Errorf("redrive %d messages from %s to %s: %w", len(msgs), q.name, tq.name, err)
		}
		tq.notify()
		return int(n), nil
	}
	out := make([]queue.Message, len(msgs))
	for i, m := range msgs {
		attrs := maps.Clone(m.Attributes)
		delete(attrs, queue.AttrReason)
		out[i] = queue.Message{Body: m.Body, Attributes: attrs}
	}
	if err := to.Send(ctx, out...); err != nil {
		return 0, fmt.Errorf("redrive %d messages from %s: %w", len(msgs), q.name, err)
	}
	if err := q.Delete(ctx, ids(msgs)...); err != nil {
		return len(msgs), fmt.Errorf("redrive %d messages from %s: %w", len(msgs), q.name, err)
	}
	return len(msgs), nil
}

// waiter returns a channel closed at the next notify.
func (q *Queue) waiter() (<-chan struct{}, uint64) {
	q.wmu.Lock()
	defer q.wmu.Unlock()
	return q.wake, q.gen
}

// notify wakes every consumer waiting on the queue.
func (q *Queue) notify() {
	q.wmu.Lock()
	defer q.wmu.Unlock()
	close(q.wake)
	q.wake = make(chan struct{})
	q.gen++
}

// columns are the columns scan reads, in its order.
const columns = `id, body, attrs, sent_at, receives, grp, first_at`

func scan(rows *sql.Rows) ([]queue.Message, error) {
	defer rows.Close()
	var msgs []queue.Message
	for rows.Next() {
		var (
			id       int64
			body     []byte
			attrs    sql.NullString
			sentAt   int64
			receives int
			grp      string
			firstAt  int64
		)
		if err := rows.Scan(&id, &body, &attrs, &sentAt, &receives, &grp, &firstAt); err != nil {
			return nil, err
		}
		m := queue.Message{ID: strconv.FormatInt(id, 10), Body: body, Receives: receives, SentAt: time.UnixMicro(sentAt), Group: grp}
		if firstAt > 0 {
			m.FirstReceived = time.UnixMicro(firstAt)
		}
		if attrs.Valid && attrs.String != "" {
			var err error
			if m.Attributes, err = decodeAttrs(attrs.String); err != nil {
				return nil, fmt.Errorf("decode attributes of message %d: %w", id, err)
			}
		}
		msgs = append(msgs, m)
	}
	return msgs, rows.Err()
}

func ids(msgs []queue.Message) []string {
	out := make([]string, len(msgs))
	for i, m := range msgs {
		out[i] = m.ID
	}
	return out
}

func compareIDs(a, b string) int {
	x, _ := strconv.ParseInt(a, 10, 64)
	y, _ := strconv.ParseInt(b, 10, 64)
	return int(min(max(x-y, -1), 1))
}
