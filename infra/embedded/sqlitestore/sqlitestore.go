// Package sqlitestore is the embedded driver of config.Store: one SQLite
// file (pure Go, modernc.org/sqlite) in WAL mode with synchronous=FULL, so a
// committed write survives a kill -9 of the process and a power loss.
//
// All items live in one table. SQLite enforces identity (tenant, kind, id)
// with the primary key and name uniqueness with a partial unique index on
// (tenant, kind, name) where name is not empty; versions are checked by
// conditional statements (UPDATE … WHERE version = ?), so two processes
// sharing the file stay consistent too.
package sqlitestore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net/url"
	"strings"

	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"

	"github.com/herokuevents/herokuevents/infra/embedded/sqlitefile"
	"github.com/herokuevents/herokuevents/shared/config"
)

// busyTimeoutMillis bounds how long a statement waits for another process's
// write lock before failing with SQLITE_BUSY.
const busyTimeoutMillis = 10000

// maxConns bounds the pool: readers run in parallel under WAL, writers are
// serialized by Store.write anyway.
const maxConns = 8

const schema = `
CREATE TABLE IF NOT EXISTS items (
	tenant  TEXT    NOT NULL,
	kind    TEXT    NOT NULL,
	id      TEXT    NOT NULL,
	name    TEXT    NOT NULL DEFAULT '',
	idx     TEXT    NOT NULL DEFAULT '',
	version INTEGER NOT NULL,
	body    BLOB    NOT NULL,
	PRIMARY KEY (tenant, kind, id)
);
CREATE UNIQUE INDEX IF NOT EXISTS items_name ON items (tenant, kind, name) WHERE name <> '';
CREATE INDEX IF NOT EXISTS items_idx ON items (kind, idx, tenant, id) WHERE idx <> '';
`

const columns = `tenant, kind, id, name, idx, version, body`

// Store is a config.Store on a SQLite file. It is safe for concurrent use by
// many goroutines; it never retries on its own (SQLite's busy timeout aside).
type Store struct {
	db *sql.DB
	// write is a one-slot semaphore serializing this process's writers, so
	// they queue in Go (honouring their contexts) instead of spinning on
	// SQLite's busy handler.
	write chan struct{}
}

var _ config.Store = (*Store)(nil)

// Open opens (creating if needed) the SQLite database file at path and
// prepares its schema. path is a file path (no "?", not ":memory:"); its
// directory must exist.
func Open(path string) (*Store, error) {
	if path == "" || path == ":memory:" || strings.ContainsRune(path, '?') {
		return nil, fmt.Errorf("open config store %q: need a file path without '?'", path)
	}
	q := url.Values{}
	q.Set("_busy_timeout", fmt.Sprint(busyTimeoutMillis))
	q.Set("_journal_mode", "WAL")
	q.Set("_synchronous", "FULL")
	q.Set("_txlock", "immediate")
	db, err := sql.Open("sqlite", sqlitefile.DSN(path, q))
	if err != nil {
		return nil, fmt.Errorf("open config store %s: %w", path, err)
	}
	db.SetMaxOpenConns(maxConns)
	db.SetMaxIdleConns(maxConns)
	if _, err := db.Exec(schema); err != nil {
		db.Close()
		return nil, fmt.Errorf("create config schema in %s: %w", path, err)
	}
	return &Store{db: db, write: make(chan struct{}, 1)}, nil
}

// lock takes the writer slot or gives up when ctx ends.
func (s *Store) lock(ctx context.Context) error {
	select {
	case s.write <- struct{}{}:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

func (s *Store) unlock() { <-s.write }

// Create implements config.Store.
func (s *Store) Create(ctx context.Context, it config.Item) (config.Item, error) {
	if err := s.lock(ctx); err != nil {
		return config.Item{}, fmt.Errorf("create %s %s: %w", it.Kind, it.ID, err)
	}
	defer s.unlock()
	it.Version = 1
	_, err := s.db.ExecContext(ctx,
		`INSERT INTO items (`+columns+`) VALUES (?, ?, ?, ?, ?, ?, ?)`,
		it.Tenant, it.Kind, it.ID, it.Name, it.Index, it.Version, body(it.Body))
	if err != nil {
		return config.Item{}, fmt.Errorf("create %s %s: %w", it.Kind, it.ID, translate(err))
	}
	return it, nil
}

// Update implements config.Store.
func (s *Store) Update(ctx context.Context, it config.Item) (config.Item, error) {
	if err := s.lock(ctx); err != nil {
		return config.Item{}, fmt.Errorf("update %s %s: %w", it.Kind, it.ID, err)
	}
	defer s.unlock()
	res, err := s.db.ExecContext(ctx,
		`UPDATE items SET name = ?, idx = ?, body = ?, version = version + 1
		 WHERE tenant = ? AND kind = ? AND id = ? AND version = ?`,
		it.Name, it.Index, body(it.Body), it.Tenant, it.Kind, it.ID, it.Version)
	if err != nil {
		return config.Item{}, fmt.Errorf("update %s %s: %w", it.Kind, it.ID, translate(err))
	}
	if err := s.affected(ctx, res, it.Tenant, it.Kind, it.ID); err != nil {
		return config.Item{}, fmt.Errorf("update %s %s version %d: %w", it.Kind, it.ID, it.Version, err)
	}
	it.Version++
	return it, nil
}

// Delete implements config.Store.
func (s *Store) Delete(ctx context.Context, tenant, kind, id string, version int64) error {
	if err := s.lock(ctx); err != nil {
		return fmt.Errorf("delete %s %s: %w", kind, id, err)
	}
	defer s.unlock()
	res, err := s.db.ExecContext(ctx,
		`DELETE FROM items WHERE tenant = ? AND kind = ? AND id = ? AND (? = 0 OR version = ?)`,
		tenant, kind, id, version, version)
	if err != nil {
		return fmt.Errorf("delete %s %s: %w", kind, id, translate(err))
	}
	if err := s.affected(ctx, res, tenant, kind, id); err != nil {
		return fmt.Errorf("delete %s %s version %d: %w", kind, id, version, err)
	}
	return nil
}

// affected explains a conditional write: nil when it changed a row, else
// ErrConflict when the item exists (its version differs) or ErrNotFound.
func (s *Store) affected(ctx context.Context, res sql.Result, tenant, kind, id string) error {
	n, err := res.RowsAffected()
	if err != nil {
		return err
	}
	if n > 0 {
		return nil
	}
	var one int
	err = s.db.QueryRowContext(ctx,
		`SELECT 1 FROM items WHERE tenant = ? AND kind = ? AND id = ?`, tenant, kind, id).Scan(&one)
	switch {
	case errors.Is(err, sql.ErrNoRows):
		return config.ErrNotFound
	case err != nil:
		return err
	default:
		return config.ErrConflict
	}
}

// DeleteTenant implements config.Store. It refuses the empty tenant, which
// scopes the global items (every tenant record).
func (s *Store) DeleteTenant(ctx context.Context, tenant string) error {
	if tenant == "" {
		return errors.New("delete tenant: empty tenant id")
	}
	if err := s.lock(ctx); err != nil {
		return fmt.Errorf("delete tenant %s: %w", tenant, err)
	}
	defer s.unlock()
	if _, err := s.db.ExecContext(ctx, `DELETE FROM items WHERE tenant = ?`, tenant); err != nil {
		return fmt.Errorf("delete tenant %s: %w", tenant, translate(err))
	}
	return nil
}

// Get implements config.Store.
func (s *Store) Get(ctx context.Context, tenant, kind, idOrName string) (config.Item, error) {
	if idOrName == "" {
		return config.Item{}, fmt.Errorf("get %s %q: %w", kind, idOrName, config.ErrNotFound)
	}
	it, err := scan(s.db.QueryRowContext(ctx,
		`SELECT `+columns+` FROM items WHERE tenant = ? AND kind = ? AND id = ?`, tenant, kind, idOrName))
	if errors.Is(err, sql.ErrNoRows) {
		it, err = scan(s.db.QueryRowContext(ctx,
			`SELECT `+columns+` FROM items WHERE tenant = ? AND kind = ? AND name = ?`, tenant, kind, idOrName))
	}
	if errors.Is(err, sql.ErrNoRows) {
		return config.Item{}, fmt.Errorf("get %s %s: %w", kind, idOrName, config.ErrNotFound)
	}
	if err != nil {
		return config.Item{}, fmt.Errorf("get %s %s: %w", kind, idOrName, err)
	}
	return it, nil
}

// List implements config.Store.
func (s *Store) List(ctx context.Context, tenant, kind string) ([]config.Item, error) {
	items, err := s.query(ctx,
		`SELECT `+columns+` FROM items WHERE tenant = ? AND kind = ? ORDER BY name, id`, tenant, kind)
	if err != nil {
		return nil, fmt.Errorf("list %s: %w", kind, err)
	}
	return items, nil
}

// IndexedBefore implements config.Store. A limit ≤ 0 means no limit.
func (s *Store) IndexedBefore(ctx context.Context, kind, upTo string, limit int) ([]config.Item, error) {
	if limit <= 0 {
		limit = -1 // SQLite: no limit
	}
	items, err := s.query(ctx,
		`SELECT `+columns+` FROM items WHERE kind = ? AND idx <> '' AND idx <= ?
		 ORDER BY idx, tenant, id LIMIT ?`, kind, upTo, limit)
	if err != nil {
		return nil, fmt.Errorf("list %s indexed before %s: %w", kind, upTo, err)
	}
	return items, nil
}

// Close implements config.Store.
func (s *Store) Close() error {
	if err := s.db.Close(); err != nil {
		return fmt.Errorf("close config store: %w", err)
	}
	return nil
}

func (s *Store) query(ctx context.Context, q string, args ...any) ([]config.Item, error) {
	rows, err := s.db.QueryContext(ctx, q, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var items []config.Item
	for rows.Next() {
		it, err := scan(rows)
		if err != nil {
			return nil, err
		}
		items = append(items, it)
	}
	return items, rows.Err()
}

func scan(row interface{ Scan(...any) error }) (config.Item, error) {
	var it config.Item
	err := row.Scan(&it.Tenant, &it.Kind, &it.ID, &it.Name, &it.Index, &it.Version, &it.Body)
	return it, err
}

// body keeps an empty body out of NULL.
func body(b []byte) []byte {
	if b == nil {
		return []byte{}
	}
	return b
}

// translate maps a uniqueness violation to config.ErrConflict.
func translate(err error) error {
	var se *sqlite.Error
	if errors.As(err, &se) {
		switch se.Code() {
		case sqlite3.SQLITE_CONSTRAINT_UNIQUE, sqlite3.SQLITE_CONSTRAINT_PRIMARYKEY:
			return fmt.Errorf("%w: %v", config.ErrConflict, err)
		}
	}
	return err
}
