package sqlitequeue

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"math"
	"time"

	"github.com/herokuevents/herokuevents/shared/queue"
)

// Ordered groups (queue.Message.Group). A message sent to a group that
// already has a message in the queue (in flight, waiting for a retry, or
// itself parked) is parked: its visible_at is far in the future, so no
// claim sees it, and the claim path stays the same index seek as for
// every other message. Deleting a group's head (handled, or
// dead-lettered) makes the next message of the group, by id (send order),
// visible at once. A failed head is retried in place (queue.Later sets its
// visible_at; a plain failure waits out its visibility timeout): it stays
// the head, so nothing of its group passes it.

// parked is the visible_at of a message waiting behind its group's head.
const parked = math.MaxInt64 / 2

const (
	// groupWaitingSQL seeks message_group: does the group hold a message?
	groupWaitingSQL = `SELECT 1 FROM message WHERE queue = ?1 AND grp = ?2 AND grp != '' LIMIT 1`
	// unparkSQL makes a group's new head visible.
	unparkSQL = `UPDATE message SET visible_at = ?1
		WHERE id = (SELECT id FROM message WHERE queue = ?2 AND grp = ?3 AND grp != '' ORDER BY id LIMIT 1) AND visible_at = ?4`
	// laterSQL settles a failed receive with its own next visible time;
	// held (?4, "" for none) sets or clears the key a WakeHeld wakes it by.
	laterSQL = `UPDATE message SET claimed = 0, visible_at = ?1,
		attrs = CASE WHEN ?4 = '' THEN json_remove(attrs, '$.` + queue.AttrHeld + `')
			ELSE json_set(coalesce(attrs, '{}'), '$.` + queue.AttrHeld + `', ?4) END
		WHERE +queue = ?2 AND id = ?3`
)

// waiting reports whether group has a message in the queue. Run inside
// the writer.
func (q *Queue) waiting(ctx context.Context, c *wconn, group string) (bool, error) {
	var one int
	err := c.QueryRowContext(ctx, groupWaitingSQL, q.name, group).Scan(&one)
	switch {
	case errors.Is(err, sql.ErrNoRows):
		return false, nil
	case err != nil:
		return false, err
	}
	return true, nil
}

// delete deletes the messages of ids (a JSON array) and makes the next
// message of each of their groups visible; it reports whether it made one
// visible (the caller wakes the consumers once committed). Run inside the
// writer.
func (q *Queue) delete(ctx context.Context, c *wconn, ids string) (bool, error) {
	rows, err := c.QueryContext(ctx, deleteSQL, q.name, ids)
	if err != nil {
		return false, err
	}
	var groups []string
	for rows.Next() {
		var g string
		if err := rows.Scan(&g); err != nil {
			rows.Close()
			return false, err
		}
		if g != "" {
			groups = append(groups, g)
		}
	}
	if err := errors.Join(rows.Err(), rows.Close()); err != nil {
		return false, err
	}
	now := nowMicro()
	unparked := false
	for _, g := range groups {
		r, err := c.ExecContext(ctx, unparkSQL, now, q.name, g, int64(parked))
		if err != nil {
			return false, err
		}
		if n, err := r.RowsAffected(); err == nil && n > 0 {
			unparked = true
		}
	}
	return unparked, nil
}

// ChangeVisibility makes a received message visible again d from now
// (SQS ChangeMessageVisibility): how a consumer retries it in place. Its
// receive is settled (it no longer counts as in flight at a restart).
func (q *Queue) ChangeVisibility(ctx context.Context, id string, d time.Duration) error {
	return q.later(ctx, map[string]comeback{id: {after: d}})
}

// comeback is how a failed receive comes back: after its delay, and woken by
// WakeHeld for held when set (queue.Hold).
type comeback struct {
	after time.Duration
	held  string
}

// later settles failed receives with their own delays.
func (q *Queue) later(ctx context.Context, delays map[string]comeback) error {
	if len(delays) == 0 {
		return nil
	}
	err := q.db.exec(ctx, func(ctx context.Context, c *wconn) error {
		now := nowMicro()
		for id, r := range delays {
			if _, err := c.ExecContext(ctx, laterSQL, now+queue.ClampDelay(r.after).Microseconds(), q.name, id, r.held); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("change visibility of %d messages of %s: %w", len(delays), q.name, err)
	}
	q.notify()
	return nil
}
