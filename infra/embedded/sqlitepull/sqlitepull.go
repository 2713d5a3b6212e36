// Package sqlitepull is the embedded driver of pull.Buffer: one SQLite file
// of the data dir (pull.db, mode 0600: it holds event payloads), written
// with synchronous=FULL so that an event the filter buffered, or a lease
// taken, outlives a kill -9 or a power loss (a pulled event that was not
// acknowledged comes back after its lease, even across a restart).
//
// One row per kept event; the AUTOINCREMENT seq orders them. A lease is
// the lease_until column (Unix ms): a Lease picks the oldest rows whose
// lease has ended and sets it, in one immediate transaction, so that two
// concurrent Leases never hand out the same event. Rows older than the
// retention are deleted by the Put that finds them.
package sqlitepull

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	_ "modernc.org/sqlite" // driver "sqlite"

	"github.com/herokuevents/herokuevents/infra/embedded/sqlitefile"
	"github.com/herokuevents/herokuevents/shared/event"
	"github.com/herokuevents/herokuevents/shared/pull"
)

const schema = `
CREATE TABLE IF NOT EXISTS pull_event (
	seq          INTEGER PRIMARY KEY AUTOINCREMENT,
	tenant       TEXT    NOT NULL,
	subscription TEXT    NOT NULL,
	event_id     TEXT    NOT NULL,
	kept_at      INTEGER NOT NULL,
	lease_until  INTEGER NOT NULL DEFAULT 0,
	receives     INTEGER NOT NULL DEFAULT 0,
	event        BLOB    NOT NULL
);
CREATE UNIQUE INDEX IF NOT EXISTS pull_event_id ON pull_event (tenant, subscription, event_id);
CREATE INDEX IF NOT EXISTS pull_event_seq ON pull_event (tenant, subscription, seq);
CREATE INDEX IF NOT EXISTS pull_event_kept ON pull_event (kept_at);
`

// Buffer is a pull.Buffer on a SQLite file. Safe for concurrent use.
type Buffer struct {
	db        *sql.DB
	retention time.Duration
	now       func() time.Time
}

var _ pull.Buffer = (*Buffer)(nil)

// Options configure a Buffer.
type Options struct {
	// Retention is how long an event is kept; pull.DefaultRetention when ≤ 0.
	Retention time.Duration
	// Now is the clock; time.Now when nil.
	Now func() time.Time
}

// Open opens (creating if needed, with mode 0600) the file at path. Its
// directory must exist.
func Open(path string, o Options) (*Buffer, error) {
	db, err := sqlitefile.Open(path, "pull buffer", "FULL", schema)
	if err != nil {
		return nil, err
	}
	if o.Retention <= 0 {
		o.Retention = pull.DefaultRetention
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	return &Buffer{db: db, retention: o.Retention, now: o.Now}, nil
}

// Close closes the file.
func (b *Buffer) Close() error { return b.db.Close() }

func (b *Buffer) cutoff(now time.Time) int64 { return now.Add(-b.retention).UnixMilli() }

// Put implements pull.Putter.
func (b *Buffer) Put(ctx context.Context, tenant, subscription string, evs ...event.Event) (err error) {
	if len(evs) == 0 {
		return ctx.Err()
	}
	tx, err := b.db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("buffer pulled events: %w", err)
	}
	defer func() {
		if err != nil {
			_ = tx.Rollback()
		}
	}()
	now := b.now()
	// Prepared once, not once per event (parsing was a quarter of Put's
	// processor time).
	ins, err := tx.PrepareContext(ctx, `INSERT INTO pull_event (tenant, subscription, event_id, kept_at, event)
			VALUES (?, ?, ?, ?, ?) ON CONFLICT (tenant, subscription, event_id) DO NOTHING`)
	if err != nil {
		return fmt.Errorf("buffer pulled events: %w", err)
	}
	defer ins.Close()
	for _, ev := range evs {
		body, err := json.Marshal(ev)
		if err != nil {
			return fmt.Errorf("encode event %s: %w", ev.ID, err)
		}
		if _, err := ins.ExecContext(ctx, tenant, subscription, ev.ID, now.UnixMilli(), body); err != nil {
			return fmt.Errorf("buffer event %s: %w", ev.ID, err)
		}
	}
	if _, err := tx.ExecContext(ctx, `DELETE FROM pull_event WHERE kept_at <= ?`, b.cutoff(now)); err != nil {
		return fmt.Errorf("expire pulled events: %w", err)
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("buffer pulled events: %w", err)
	}
	return nil
}

// Lease implements pull.Buffer.
func (b *Buffer) Lease(ctx context.Context, tenant, subscription string, max int, visibility time.Duration) (_ []pull.Leased, err error) {
	now := b.now()
	// A read first, outside the write lock: an empty buffer (most polls)
	// takes no lock.
	var one int
	switch err := b.db.QueryRowContext(ctx, `SELECT 1 FROM pull_event WHERE tenant = ? AND subscription = ? AND lease_until <= ? AND kept_at > ? LIMIT 1`,
		tenant, subscription, now.UnixMilli(), b.cutoff(now)).Scan(&one); {
	case errors.Is(err, sql.ErrNoRows):
		return nil, nil
	case err != nil:
		return nil, fmt.Errorf("lease pulled events: %w", err)
	}
	tx, err := b.db.BeginTx(ctx, nil)
	if err != nil {
		return nil, fmt.Errorf("lease pulled events: %w", err)
	}
	defer func() {
		if err != nil {
			_ = tx.Rollback()
		}
	}()
	until := now.Add(visibility)
	rows, err := tx.QueryContext(ctx, `UPDATE pull_event SET lease_until = ?, receives = receives + 1
		WHERE seq IN (SELECT seq FROM pull_event WHERE tenant = ? AND subscription = ? AND lease_until <= ? AND kept_at > ? ORDER BY seq LIMIT ?)
		RETURNING seq, receives, event`,
		until.UnixMilli(), tenant, subscription, now.UnixMilli(), b.cutoff(now), max)
	if err != nil {
		return nil, fmt.Errorf("lease pulled events: %w", err)
	}
	type row struct {
		seq int64
		l   pull.Leased
	}
	var got []row
	for rows.Next() {
		var r row
		var body []byte
		if err := rows.Scan(&r.seq, &r.l.Receives, &body); err != nil {
			rows.Close()
			return nil, fmt.Errorf("read pulled event: %w", err)
		}
		if err := json.Unmarshal(body, &r.l.Event); err != nil {
			rows.Close()
			return nil, fmt.Errorf("decode pulled event: %w", err)
		}
		r.l.Until = until
		got = append(got, r)
	}
	if err := rows.Close(); err != nil {
		return nil, fmt.Errorf("lease pulled events: %w", err)
	}
	if err := tx.Commit(); err != nil {
		return nil, fmt.Errorf("lease pulled events: %w", err)
	}
	// RETURNING gives no order: put them back in buffer order.
	out := make([]pull.Leased, len(got))
	for i := range got {
		for j := i + 1; j < len(got); j++ {
			if got[j].seq < got[i].seq {
				got[i], got[j] = got[j], got[i]
			}
		}
		out[i] = got[i].l
	}
	return out, nil
}

// Ack implements pull.Buffer.
func (b *Buffer) Ack(ctx context.Context, tenant, subscription string, ids ...string) (_ []string, err error) {
	if len(ids) == 0 {
		return nil, ctx.Err()
	}
	tx, err := b.db.BeginTx(ctx, nil)
	if err != nil {
		return nil, fmt.Errorf("acknowledge pulled events: %w", err)
	}
	defer func() {
		if err != nil {
			_ = tx.Rollback()
		}
	}()
	cutoff := b.cutoff(b.now())
	del, err := tx.PrepareContext(ctx, `DELETE FROM pull_event WHERE tenant = ? AND subscription = ? AND event_id = ? AND kept_at > ?`)
	if err != nil {
		return nil, fmt.Errorf("acknowledge pulled events: %w", err)
	}
	defer del.Close()
	var acked []string
	for _, id := range ids {
		res, err := del.ExecContext(ctx, tenant, subscription, id, cutoff)
		if err != nil {
			return nil, fmt.Errorf("acknowledge event %s: %w", id, err)
		}
		if n, _ := res.RowsAffected(); n > 0 {
			acked = append(acked, id)
		}
	}
	if err := tx.Commit(); err != nil {
		return nil, fmt.Errorf("acknowledge pulled events: %w", err)
	}
	return acked, nil
}

// Backlog implements pull.Reader.
func (b *Buffer) Backlog(ctx context.Context, tenant, subscription string) (pull.Backlog, error) {
	now := b.now()
	var out pull.Backlog
	var oldest sql.NullInt64
	if err := b.db.QueryRowContext(ctx, `SELECT count(*), coalesce(sum(lease_until > ?), 0), min(kept_at) FROM pull_event
		WHERE tenant = ? AND subscription = ? AND kept_at > ?`,
		now.UnixMilli(), tenant, subscription, b.cutoff(now)).Scan(&out.Pending, &out.Leased, &oldest); err != nil {
		return pull.Backlog{}, fmt.Errorf("count pulled events: %w", err)
	}
	if oldest.Valid {
		out.Oldest = time.UnixMilli(oldest.Int64).UTC()
	}
	return out, nil
}

// Drop implements pull.Buffer.
func (b *Buffer) Drop(ctx context.Context, tenant, subscription string) error {
	if _, err := b.db.ExecContext(ctx, `DELETE FROM pull_event WHERE tenant = ? AND subscription = ?`, tenant, subscription); err != nil {
		return fmt.Errorf("drop pulled events: %w", err)
	}
	return nil
}
