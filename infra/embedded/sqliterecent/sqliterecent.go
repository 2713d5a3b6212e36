// Package sqliterecent is the embedded driver of recent.Store: one SQLite
// file of the data dir (recent.db, mode 0600: it holds event payloads).
//
// It is a file of its own, not a table of the config store, because what it
// holds is best effort: it is written with synchronous=NORMAL (a power loss
// may lose the last events kept, never the configuration) and its writes
// never wait behind, or hold up, the config store's write lock.
//
// One row per kept event; the AUTOINCREMENT seq orders them. Keeping an
// event id again replaces its row with a new seq. After each Keep, the
// rows of a subscription beyond Limits.PerSubscription and every row older
// than Limits.MaxAge are deleted in the same transaction.
package sqliterecent

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
	"github.com/herokuevents/herokuevents/shared/recent"
)

const schema = `
CREATE TABLE IF NOT EXISTS recent_event (
	seq          INTEGER PRIMARY KEY AUTOINCREMENT,
	tenant       TEXT    NOT NULL,
	subscription TEXT    NOT NULL,
	event_id     TEXT    NOT NULL,
	kept_at      INTEGER NOT NULL,
	size         INTEGER NOT NULL,
	oversize     INTEGER NOT NULL,
	event        BLOB    NOT NULL
);
CREATE UNIQUE INDEX IF NOT EXISTS recent_event_id ON recent_event (tenant, subscription, event_id);
CREATE INDEX IF NOT EXISTS recent_event_seq ON recent_event (tenant, subscription, seq);
CREATE INDEX IF NOT EXISTS recent_event_kept ON recent_event (kept_at);
`

// Store is a recent.Store on a SQLite file. Safe for concurrent use.
type Store struct {
	db     *sql.DB
	limits recent.Limits
	now    func() time.Time
}

var _ recent.Store = (*Store)(nil)

// Open opens (creating if needed, with mode 0600) the file at path with
// limits l (defaults for zero fields). Its directory must exist.
func Open(path string, l recent.Limits) (*Store, error) {
	db, err := sqlitefile.Open(path, "recent events", "NORMAL", schema)
	if err != nil {
		return nil, err
	}
	return &Store{db: db, limits: l.WithDefaults(), now: time.Now}, nil
}

// stored is the JSON of the event column.
type stored struct {
	Event event.Event `json:"event"`
}

// inserts is Keep's INSERT, 50 events per statement. Rows are inserted in
// order: of two with the same event id, the later replaces the earlier
// (and takes a new seq), as separate statements would.
var inserts = sqlitefile.NewInserts(`INSERT OR REPLACE INTO recent_event (tenant, subscription, event_id, kept_at, size, oversize, event) VALUES `, 7, 50)

// The statements Keep runs after its inserts.
const (
	evictSQL = `DELETE FROM recent_event WHERE tenant = ?1 AND subscription = ?2 AND seq <
			(SELECT seq FROM recent_event WHERE tenant = ?1 AND subscription = ?2 ORDER BY seq DESC LIMIT 1 OFFSET ?3)`
	expireSQL = `DELETE FROM recent_event WHERE kept_at < ?`
)

// Keep implements recent.Store.
func (s *Store) Keep(ctx context.Context, entries ...recent.Entry) (err error) {
	if len(entries) == 0 {
		return ctx.Err()
	}
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("keep recent events: %w", err)
	}
	defer func() {
		if err != nil {
			_ = tx.Rollback()
		}
	}()
	// Statements are prepared once per transaction, not once per event.
	exec := sqlitefile.Prepared(ctx, tx)
	touched := map[[2]string]bool{}
	err = inserts.Run(len(entries), func(i int, args []any) ([]any, error) {
		e := entries[i].Fit(s.limits.MaxEventBytes)
		if e.Kept.IsZero() {
			e.Kept = s.now()
		}
		body, err := json.Marshal(stored{Event: e.Event})
		if err != nil {
			return nil, fmt.Errorf("encode event %s: %w", e.Event.ID, err)
		}
		touched[[2]string{e.Tenant, e.Subscription}] = true
		return append(args, e.Tenant, e.Subscription, e.Event.ID, e.Kept.UnixMicro(), e.Size, e.Oversize, body), nil
	}, exec)
	if err != nil {
		return fmt.Errorf("keep recent events: %w", err)
	}
	for k := range touched {
		if err := exec(evictSQL, k[0], k[1], s.limits.PerSubscription-1); err != nil {
			return fmt.Errorf("evict recent events: %w", err)
		}
	}
	if err := exec(expireSQL, s.cutoff()); err != nil {
		return fmt.Errorf("expire recent events: %w", err)
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("keep recent events: %w", err)
	}
	return nil
}

func (s *Store) cutoff() int64 { return s.now().Add(-s.limits.MaxAge).UnixMicro() }

// Latest implements recent.Store.
func (s *Store) Latest(ctx context.Context, tenant, subscription string, n int) ([]recent.Entry, error) {
	if n <= 0 || n > s.limits.PerSubscription {
		n = s.limits.PerSubscription
	}
	rows, err := s.db.QueryContext(ctx, `SELECT kept_at, size, oversize, event FROM (
		SELECT seq, kept_at, size, oversize, event FROM recent_event
		WHERE tenant = ? AND subscription = ? AND kept_at >= ? ORDER BY seq DESC LIMIT ?) ORDER BY seq`,
		tenant, subscription, s.cutoff(), n)
	if err != nil {
		return nil, fmt.Errorf("list recent events: %w", err)
	}
	defer rows.Close()
	var out []recent.Entry
	for rows.Next() {
		var (
			kept, size int64
			oversize   bool
			body       []byte
		)
		if err := rows.Scan(&kept, &size, &oversize, &body); err != nil {
			return nil, fmt.Errorf("list recent events: %w", err)
		}
		var st stored
		if err := json.Unmarshal(body, &st); err != nil {
			return nil, fmt.Errorf("decode recent event: %w", err)
		}
		out = append(out, recent.Entry{Tenant: tenant, Subscription: subscription, Event: st.Event,
			Kept: time.UnixMicro(kept).UTC(), Size: int(size), Oversize: oversize})
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list recent events: %w", err)
	}
	return out, nil
}

// Close implements recent.Store.
func (s *Store) Close() error {
	if err := s.db.Close(); err != nil && !errors.Is(err, sql.ErrConnDone) {
		return fmt.Errorf("close recent events: %w", err)
	}
	return nil
}

// Forget deletes every kept event of tenant (a deprovisioned add-on).
func (s *Store) Forget(ctx context.Context, tenant string) error {
	if _, err := s.db.ExecContext(ctx, `DELETE FROM recent_event WHERE tenant = ?`, tenant); err != nil {
		return fmt.Errorf("forget tenant's recent events: %w", err)
	}
	return nil
}
