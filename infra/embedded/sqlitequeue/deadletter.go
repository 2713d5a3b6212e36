package sqlitequeue

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"

	"github.com/herokuevents/herokuevents/shared/queue"
)

// Pair is a dead-letter queue and the queue its messages came from, where
// Redrive sends them back. The source's name is DeadLetter.Queue.
type Pair struct {
	DLQ, Source *Queue
}

// DeadLetters implements queue.DeadLetters over pairs of queues of one DB,
// selecting a tenant's messages by their queue.AttrTenant attribute in SQL.
// Message ids are unique across the DB's queues. Redrive is atomic: the
// chosen messages change queue in one transaction (keeping their id), or
// nothing moves. Safe for concurrent use.
type DeadLetters struct {
	db    *DB
	pairs []Pair
}

var _ queue.DeadLetters = (*DeadLetters)(nil)

// NewDeadLetters returns the dead letters of pairs. It panics when pairs is
// empty or its queues belong to different DBs, which are wiring mistakes.
func NewDeadLetters(pairs ...Pair) *DeadLetters {
	if len(pairs) == 0 {
		panic("sqlitequeue: NewDeadLetters needs at least one pair")
	}
	db := pairs[0].DLQ.db
	for _, p := range pairs {
		if p.DLQ == nil || p.Source == nil || p.DLQ.db != db || p.Source.db != db {
			panic("sqlitequeue: the queues of NewDeadLetters must be of one DB")
		}
	}
	return &DeadLetters{db: db, pairs: slices.Clone(pairs)}
}

// tenantDeadLetters seeks the tenant's messages of a queue in the
// (queue, tenant, lane, visible_at) index.
const tenantDeadLetters = `SELECT ` + columns + ` FROM message WHERE queue = ? AND tenant = ?`

const reviveMessage = `UPDATE message SET queue = ?, body = ?, attrs = ?, lane = ?, receives = 0, claimed = 0, sent_at = ?, visible_at = ? WHERE id = ?`

// List returns up to limit of the tenant's dead letters, oldest first.
func (d *DeadLetters) List(ctx context.Context, tenant string, limit int) ([]queue.DeadLetter, error) {
	if limit < 1 || tenant == "" {
		return nil, nil
	}
	type found struct {
		id int64
		dl queue.DeadLetter
	}
	var all []found
	for _, p := range d.pairs {
		rows, err := d.db.db.QueryContext(ctx, tenantDeadLetters+` ORDER BY id LIMIT ?`, p.DLQ.name, tenant, limit)
		if err != nil {
			return nil, fmt.Errorf("list dead letters of %s in %s: %w", tenant, p.DLQ.name, err)
		}
		msgs, err := scan(rows)
		if err != nil {
			return nil, fmt.Errorf("list dead letters of %s in %s: %w", tenant, p.DLQ.name, err)
		}
		for _, m := range msgs {
			id, _ := strconv.ParseInt(m.ID, 10, 64)
			all = append(all, found{id: id, dl: queue.Describe(p.Source.name, m)})
		}
	}
	slices.SortFunc(all, func(a, b found) int { return int(min(max(a.id-b.id, -1), 1)) })
	out := make([]queue.DeadLetter, 0, min(limit, len(all)))
	for _, f := range all[:min(limit, len(all))] {
		out = append(out, f.dl)
	}
	return out, nil
}

// picked is a dead letter chosen by a Redrive or Purge, with the queue it
// goes back to.
type picked struct {
	msg queue.Message
	to  *Queue
}

// pick reads, within a transaction, the tenant's dead letters named by ids
// (all of them when ids is empty); a *queue.MissingError when an id is not
// one of them.
func (d *DeadLetters) pick(ctx context.Context, c *wconn, tenant string, ids []string) ([]picked, error) {
	want := map[string]bool{}
	for _, id := range ids {
		want[id] = true
	}
	var out []picked
	found := map[string]bool{}
	for _, p := range d.pairs {
		rows, err := c.QueryContext(ctx, tenantDeadLetters, p.DLQ.name, tenant)
		if err != nil {
			return nil, err
		}
		msgs, err := scan(rows)
		if err != nil {
			return nil, err
		}
		for _, m := range msgs {
			if len(ids) > 0 && !want[m.ID] {
				continue
			}
			found[m.ID] = true
			out = append(out, picked{msg: m, to: p.Source})
		}
	}
	if err := queue.Missing(ids, found); err != nil {
		return nil, err
	}
	return out, nil
}

// Redrive moves the tenant's dead letters named by ids (all of them when
// ids is empty) back to their source queues in one transaction, as fresh
// messages (queue.Revive) with the same id. An id that is not one of the
// tenant's dead letters makes it move nothing and return a
// *queue.MissingError.
func (d *DeadLetters) Redrive(ctx context.Context, tenant string, ids ...string) (int, error) {
	if tenant == "" {
		return 0, queue.Missing(ids, nil)
	}
	moved := 0
	woken := map[*Queue]bool{}
	err := d.db.exec(ctx, func(ctx context.Context, c *wconn) error {
		moved = 0
		clear(woken)
		moves, err := d.pick(ctx, c, tenant, ids)
		if err != nil {
			return err
		}
		now := nowMicro()
		for _, mv := range moves {
			fresh := queue.Revive(mv.msg)
			attrs, err := encodeAttrs(fresh.Attributes)
			if err != nil {
				return err
			}
			body := fresh.Body
			if body == nil {
				body = []byte{}
			}
			if _, err := c.ExecContext(ctx, reviveMessage, mv.to.name, body, attrs, mv.to.lane(fresh), now, now, mv.msg.ID); err != nil {
				return err
			}
			woken[mv.to] = true
			moved++
		}
		return nil
	})
	if err != nil {
		if missing := (*queue.MissingError)(nil); errors.As(err, &missing) {
			return 0, err
		}
		return 0, fmt.Errorf("redrive dead letters of %s: %w", tenant, err)
	}
	for q := range woken {
		q.notify()
	}
	return moved, nil
}

// Purge deletes the tenant's dead letters named by ids (all of them when
// ids is empty) in one transaction. An id that is not one of the tenant's
// dead letters makes it delete nothing and return a *queue.MissingError.
func (d *DeadLetters) Purge(ctx context.Context, tenant string, ids ...string) (int, error) {
	if tenant == "" {
		return 0, queue.Missing(ids, nil)
	}
	deleted := 0
	err := d.db.exec(ctx, func(ctx context.Context, c *wconn) error {
		deleted = 0
		gone, err := d.pick(ctx, c, tenant, ids)
		if err != nil {
			return err
		}
		for _, g := range gone {
			if _, err := c.ExecContext(ctx, `DELETE FROM message WHERE id = ?`, g.msg.ID); err != nil {
				return err
			}
			deleted++
		}
		return nil
	})
	if err != nil {
		if missing := (*queue.MissingError)(nil); errors.As(err, &missing) {
			return 0, err
		}
		return 0, fmt.Errorf("purge dead letters of %s: %w", tenant, err)
	}
	return deleted, nil
}
