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

// The statements of a claim and its confirmation, prepared once by Open
// (parsing them was about a fifth of a keyed publish's processor time).
const (
	readSQL     = `SELECT event_id, done, until, lease_until FROM dedup_key WHERE tenant = ? AND key = ?`
	claimSQL    = `INSERT OR REPLACE INTO dedup_key (tenant, key, event_id, done, until, lease_until) VALUES (?, ?, ?, 0, ?, ?)`
	takeOverSQL = `UPDATE dedup_key SET lease_until = ? WHERE tenant = ? AND key = ?`
	confirmSQL  = `UPDATE dedup_key SET done = 1 WHERE tenant = ? AND key = ? AND event_id = ?`
	releaseSQL  = `DELETE FROM dedup_key WHERE tenant = ? AND key = ? AND event_id = ? AND done = 0`
)

// Store is a dedup.Store on a SQLite file. Safe for concurrent use.
type Store struct {
	db  *sql.DB
	now func() time.Time
	// stmts are the statements above, prepared.
	read, claim, takeOver, confirm, release *sql.Stmt

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
	s := &Store{db: db, now: now}
	for _, p := range []struct {
		stmt **sql.Stmt
		sql  string
	}{{&s.read, readSQL}, {&s.claim, claimSQL}, {&s.takeOver, takeOverSQL}, {&s.confirm, confirmSQL}, {&s.release, releaseSQL}} {
		if *p.stmt, err = db.Prepare(p.sql); err != nil {
			s.Close()
			return nil, fmt.Errorf("open publish keys: %w", err)
		}
	}
	return s, nil
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
	err = tx.StmtContext(ctx, s.read).QueryRowContext(ctx, tenant, key).Scan(&first, &done, &until, &held)
	var res dedup.Result
	switch {
	case errors.Is(err, sql.ErrNoRows) || (err == nil && until <= now.UnixMicro()):
		_, err = tx.StmtContext(ctx, s.claim).ExecContext(ctx, tenant, key, eventID,
			now.Add(dedup.WindowOrDefault(window)).UnixMicro(), now.Add(dedup.Lease).UnixMicro())
		res = dedup.Result{Outcome: dedup.Claimed, EventID: eventID}
	case err != nil:
	case done:
		res = dedup.Result{Outcome: dedup.Duplicate, EventID: first}
	case held > now.UnixMicro():
		res = dedup.Result{Outcome: dedup.InFlight, EventID: first}
	default: // a claim left by a crash: taken over
		_, err = tx.StmtContext(ctx, s.takeOver).ExecContext(ctx, now.Add(dedup.Lease).UnixMicro(), tenant, key)
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
	if _, err := s.confirm.ExecContext(ctx, tenant, key, eventID); err != nil {
		return fmt.Errorf("confirm publish key: %w", err)
	}
	return nil
}

// Release implements dedup.Store.
func (s *Store) Release(ctx context.Context, tenant, key, eventID string) error {
	if _, err := s.release.ExecContext(ctx, tenant, key, eventID); err != nil {
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
func (s *Store) Close() error {
	for _, st := range []*sql.Stmt{s.read, s.claim, s.takeOver, s.confirm, s.release} {
		if st != nil {
			st.Close()
		}
	}
	return s.db.Close()
}
