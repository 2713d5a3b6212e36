// Package sqliterecent is the embedded driver of recent.Store: one SQLite
// file of the data dir (recent.db, mode 0600: it holds event payloads).
//
// It is a file of its own, not a table of the config store, because what it
// holds is best effort: it is written with synchronous=NORMAL (a power loss
// may lose the last events kept, never the configuration) and its writes
// never wait behind, or hold up, the config store's write lock.
//
// One row per kept event; the AUTOINCREMENT seq orders them. Keeping an
// event id again replaces its row with a new seq. A Keep deletes, in its
// own transaction, every row older than Limits.MaxAge, and the rows of a
// subscription beyond Limits.PerSubscription once it has kept a fifth of
// PerSubscription more events (evictEvery) since their last eviction, and
// at its first Keep after Open. A subscription thus holds at most
// PerSubscription + evictEvery - 1 rows; Latest never returns more than
// PerSubscription. Evicting every subscription at every Keep would cost
// two statements per subscription of a batch: with many tenants publishing
// round-robin, two per event.
package sqliterecent

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"sync"
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
	stmts  *sqlitefile.Statements // Keep's
	limits recent.Limits
	now    func() time.Time

	// mu serializes Keeps (SQLite would anyway) and guards kept.
	mu sync.Mutex
	// kept counts, per subscription Keep has written to since Open, the
	// events kept since its last eviction.
	kept map[sub]int
}

var _ recent.Store = (*Store)(nil)

// Open opens (creating if needed, with mode 0600) the file at path with
// limits l (defaults for zero fields). Its directory must exist.
func Open(path string, l recent.Limits) (*Store, error) {
	db, err := sqlitefile.Open(path, "recent events", "NORMAL", schema)
	if err != nil {
		return nil, err
	}
	stmts, err := sqlitefile.Prepare(context.Background(), db, slices.Concat(inserts.Statements(), replaces.Statements(), []string{oldestKeptSQL, evictSQL, expireSQL})...)
	if err != nil {
		db.Close()
		return nil, fmt.Errorf("open recent events %s: %w", path, err)
	}
	return &Store{db: db, stmts: stmts, limits: l.WithDefaults(), now: time.Now, kept: map[sub]int{}}, nil
}

// stored is the JSON of the event column.
type stored struct {
	Event event.Event `json:"event"`
}

// inserts is Keep's INSERT, 50 events per statement. OR FAIL, not OR
// REPLACE: REPLACE turns the NOT NULL checks of columns without a default
// into ABORT, and a multi-row statement that may abort makes SQLite keep a
// statement journal (a temporary file receiving the original of every page
// the statement changes: about 10 KB per event kept). Keep deletes the
// rows a REPLACE would have replaced first (replaceSQL) and rolls the
// whole transaction back on any error.
var inserts = sqlitefile.NewInserts(`INSERT OR FAIL INTO recent_event (tenant, subscription, event_id, kept_at, size, oversize, event) VALUES `, 7, 50)

// The statements Keep runs around its inserts.
const (
	// oldestKeptSQL is the seq of a subscription's ?3+1-th most recent
	// row: evictSQL deletes the rows before it. Two statements, not a
	// DELETE with this as its subquery: SQLite keeps a statement journal
	// for that one (about 60 KB each time a Keep evicts 50 rows).
	oldestKeptSQL = `SELECT seq FROM recent_event WHERE tenant = ? AND subscription = ? ORDER BY seq DESC LIMIT 1 OFFSET ?`
	evictSQL      = `DELETE FROM recent_event WHERE tenant = ? AND subscription = ? AND seq < ?`
	expireSQL     = `DELETE FROM recent_event WHERE kept_at < ?`
)

// replaces delete the rows of (tenant, subscription, event id) triples:
// the rows that keeping those events again replaces, 50 triples per
// statement. One statement serves the events of many subscriptions, so a
// batch spread over many tenants (one event each) costs a statement per
// 50 events, not one per subscription. Ids are bound as they are, not
// encoded: any string is an id.
var replaces = sqlitefile.NewInserts(`DELETE FROM recent_event WHERE (tenant, subscription, event_id) IN (VALUES `, 3, 50).WithTail(`)`)

// sub is a subscription of a tenant.
type sub struct{ tenant, subscription string }

// evictEvery is how many events a subscription keeps between evictions of
// its rows beyond PerSubscription: a fifth of PerSubscription (10 by
// default), at least 1.
func (s *Store) evictEvery() int { return max(1, s.limits.PerSubscription/5) }

// latest returns the entries of a Keep that stay once each is inserted in
// order replacing any row of its event id (of the same event id, the last
// one, in its place), and how many of them each subscription has.
func latest(entries []recent.Entry) ([]recent.Entry, map[sub]int) {
	type key struct {
		sub
		id string
	}
	last := make(map[key]int, len(entries))
	for i, e := range entries {
		last[key{sub{e.Tenant, e.Subscription}, e.Event.ID}] = i
	}
	subs := map[sub]int{}
	out := entries
	if len(last) < len(entries) {
		out = make([]recent.Entry, 0, len(last))
	}
	for i, e := range entries {
		k := key{sub{e.Tenant, e.Subscription}, e.Event.ID}
		if last[k] != i {
			continue
		}
		if len(last) < len(entries) {
			out = append(out, e)
		}
		subs[k.sub]++
	}
	return out, subs
}

// Keep implements recent.Store.
func (s *Store) Keep(ctx context.Context, entries ...recent.Entry) (err error) {
	if len(entries) == 0 {
		return ctx.Err()
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("keep recent events: %w", err)
	}
	defer func() {
		if err != nil {
			_ = tx.Rollback()
		}
	}()
	// Statements are prepared once (Open), not once per event.
	exec := s.stmts.Exec(ctx, tx)
	entries, touched := latest(entries)
	err = replaces.Run(len(entries), func(i int, args []any) ([]any, error) {
		e := entries[i]
		return append(args, e.Tenant, e.Subscription, e.Event.ID), nil
	}, exec)
	if err != nil {
		return fmt.Errorf("keep recent events: replace: %w", err)
	}
	err = inserts.Run(len(entries), func(i int, args []any) ([]any, error) {
		e := entries[i].Fit(s.limits.MaxEventBytes)
		if e.Kept.IsZero() {
			e.Kept = s.now()
		}
		body, err := json.Marshal(stored{Event: e.Event})
		if err != nil {
			return nil, fmt.Errorf("encode event %s: %w", e.Event.ID, err)
		}
		return append(args, e.Tenant, e.Subscription, e.Event.ID, e.Kept.UnixMicro(), e.Size, e.Oversize, body), nil
	}, exec)
	if err != nil {
		return fmt.Errorf("keep recent events: %w", err)
	}
	oldest, err := s.stmts.Stmt(ctx, tx, oldestKeptSQL)
	if err != nil {
		return fmt.Errorf("evict recent events: %w", err)
	}
	defer oldest.Close()
	var evicted []sub
	for k, n := range touched {
		if since, ok := s.kept[k]; ok && since+n < s.evictEvery() {
			continue // within PerSubscription + evictEvery - 1 rows
		}
		evicted = append(evicted, k)
		var seq int64
		switch err := oldest.QueryRowContext(ctx, k.tenant, k.subscription, s.limits.PerSubscription-1).Scan(&seq); {
		case errors.Is(err, sql.ErrNoRows): // no more than PerSubscription rows
			continue
		case err != nil:
			return fmt.Errorf("evict recent events: %w", err)
		}
		if err := exec(evictSQL, k.tenant, k.subscription, seq); err != nil {
			return fmt.Errorf("evict recent events: %w", err)
		}
	}
	if err := exec(expireSQL, s.cutoff()); err != nil {
		return fmt.Errorf("expire recent events: %w", err)
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("keep recent events: %w", err)
	}
	for k, n := range touched {
		s.kept[k] += n
	}
	for _, k := range evicted {
		s.kept[k] = 0
	}
	return nil
}

func (s *Store) cutoff() int64 { return s.now().Add(-s.limits.MaxAge).UnixMicro() }

// latestSQL is Latest's query: the ?4 most recent rows of a subscription
// kept since ?3, oldest first.
const latestSQL = `SELECT kept_at, size, oversize, event FROM (
		SELECT seq, kept_at, size, oversize, event FROM recent_event
		WHERE tenant = ? AND subscription = ? AND kept_at >= ? ORDER BY seq DESC LIMIT ?) ORDER BY seq`

// Latest implements recent.Store.
func (s *Store) Latest(ctx context.Context, tenant, subscription string, n int) ([]recent.Entry, error) {
	if n <= 0 || n > s.limits.PerSubscription {
		n = s.limits.PerSubscription
	}
	rows, err := s.db.QueryContext(ctx, latestSQL, tenant, subscription, s.cutoff(), n)
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
	if err := errors.Join(s.stmts.Close(), s.db.Close()); err != nil && !errors.Is(err, sql.ErrConnDone) {
		return fmt.Errorf("close recent events: %w", err)
	}
	return nil
}

// Forget deletes every kept event of tenant (a deprovisioned add-on).
func (s *Store) Forget(ctx context.Context, tenant string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, err := s.db.ExecContext(ctx, `DELETE FROM recent_event WHERE tenant = ?`, tenant); err != nil {
		return fmt.Errorf("forget tenant's recent events: %w", err)
	}
	for k := range s.kept {
		if k.tenant == tenant {
			delete(s.kept, k)
		}
	}
	return nil
}
