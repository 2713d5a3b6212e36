// Package sqlitededup is the embedded driver of dedup.Store: one SQLite
// file of the data dir (dedup.db, mode 0600).
//
// It is written with synchronous=FULL: a claim or a confirmation that
// returned is on disk, so a key survives a kill -9 or a power loss and the
// publish retried after it is answered as a duplicate. Only publishes with
// a key (an Idempotency-Key header, a CloudEvent) write to it.
//
// One row per key of a tenant: the event id, whether it is confirmed, the
// end of its window and the end of a pending claim's lease (unix µs). A
// claim reads and writes its row in one immediate transaction, so that of
// concurrent claims one wins. Rows whose window has passed are deleted at
// most once per PruneEvery by a claim (Prune).
package sqlitededup

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"sync"
	"time"

	_ "modernc.org/sqlite" // driver "sqlite"

	"github.com/herokuevents/herokuevents/infra/embedded/sqlitefile"
	"github.com/herokuevents/herokuevents/shared/dedup"
)

// PruneEvery is how often claims delete the rows whose window has passed.
const PruneEvery = time.Minute

const schema = `
CREATE TABLE IF NOT EXISTS dedup_key (
	tenant      TEXT    NOT NULL,
	key         TEXT    NOT NULL,
	event_id    TEXT    NOT NULL,
	done        INTEGER NOT NULL,
	until       INTEGER NOT NULL,
	lease_until INTEGER NOT NULL,
	PRIMARY KEY (tenant, key)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS dedup_key_until ON dedup_key (until);
`

// Store is a dedup.Store on a SQLite file. Safe for concurrent use.
type Store struct {
	db  *sql.DB
	now func() time.Time

	mu     sync.Mutex
	pruned time.Time
}

var _ dedup.Store = (*Store)(nil)

// Open opens (creating if needed, with mode 0600) the file at path. Its
// directory must exist. now is the clock (time.Now when nil).
func Open(path string, now func() time.Time) (*Store, error) {
	db, err := sqlitefile.Open(path, "publish keys", "FULL", schema)
	if err != nil {
		return nil, err
	}
	if now == nil {
		now = time.Now
	}
	return &Store{db: db, now: now}, nil
}

// Claim implements dedup.Store.
func (s *Store) Claim(ctx context.Context, tenant, key, eventID string, window time.Duration) (_ dedup.Result, err error) {
	s.maybePrune(ctx)
	now := s.now()
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return dedup.Result{}, fmt.Errorf("claim publish key: %w", err)
	}
	defer func() {
		if err != nil {
			_ = tx.Rollback()
		}
	}()
	var (
		first       string
		done        bool
		until, held int64
	)
	err = tx.QueryRowContext(ctx, `SELECT event_id, done, until, lease_until FROM dedup_key WHERE tenant = ? AND key = ?`,
		tenant, key).Scan(&first, &done, &until, &held)
	var res dedup.Result
	switch {
	case errors.Is(err, sql.ErrNoRows) || (err == nil && until <= now.UnixMicro()):
		_, err = tx.ExecContext(ctx, `INSERT OR REPLACE INTO dedup_key (tenant, key, event_id, done, until, lease_until)
			VALUES (?, ?, ?, 0, ?, ?)`, tenant, key, eventID,
			now.Add(dedup.WindowOrDefault(window)).UnixMicro(), now.Add(dedup.Lease).UnixMicro())
		res = dedup.Result{Outcome: dedup.Claimed, EventID: eventID}
	case err != nil:
	case done:
		res = dedup.Result{Outcome: dedup.Duplicate, EventID: first}
	case held > now.UnixMicro():
		res = dedup.Result{Outcome: dedup.InFlight, EventID: first}
	default: // a claim left by a crash: taken over
		_, err = tx.ExecContext(ctx, `UPDATE dedup_key SET lease_until = ? WHERE tenant = ? AND key = ?`,
			now.Add(dedup.Lease).UnixMicro(), tenant, key)
		res = dedup.Result{Outcome: dedup.Claimed, EventID: first}
	}
	if err != nil {
		return dedup.Result{}, fmt.Errorf("claim publish key: %w", err)
	}
	if err = tx.Commit(); err != nil {
		return dedup.Result{}, fmt.Errorf("claim publish key: %w", err)
	}
	return res, nil
}

// Confirm implements dedup.Store.
func (s *Store) Confirm(ctx context.Context, tenant, key, eventID string) error {
	if _, err := s.db.ExecContext(ctx, `UPDATE dedup_key SET done = 1 WHERE tenant = ? AND key = ? AND event_id = ?`,
		tenant, key, eventID); err != nil {
		return fmt.Errorf("confirm publish key: %w", err)
	}
	return nil
}

// Release implements dedup.Store.
func (s *Store) Release(ctx context.Context, tenant, key, eventID string) error {
	if _, err := s.db.ExecContext(ctx, `DELETE FROM dedup_key WHERE tenant = ? AND key = ? AND event_id = ? AND done = 0`,
		tenant, key, eventID); err != nil {
		return fmt.Errorf("release publish key: %w", err)
	}
	return nil
}

// Prune deletes the keys whose window has passed and returns how many.
func (s *Store) Prune(ctx context.Context) (int64, error) {
	r, err := s.db.ExecContext(ctx, `DELETE FROM dedup_key WHERE until <= ?`, s.now().UnixMicro())
	if err != nil {
		return 0, fmt.Errorf("prune publish keys: %w", err)
	}
	return r.RowsAffected()
}

// maybePrune prunes when the last prune is PruneEvery old. A failure is
// left for the next one: expired keys are ignored by Claim anyway.
func (s *Store) maybePrune(ctx context.Context) {
	now := s.now()
	s.mu.Lock()
	due := now.Sub(s.pruned) >= PruneEvery
	if due {
		s.pruned = now
	}
	s.mu.Unlock()
	if due {
		_, _ = s.Prune(ctx)
	}
}

// Close implements dedup.Store.
func (s *Store) Close() error { return s.db.Close() }
