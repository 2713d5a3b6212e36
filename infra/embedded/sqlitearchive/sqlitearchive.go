// Package sqlitearchive is the embedded driver of archive.Store: one SQLite
// file of the data dir (archive.db, 0600), opened with sqlitefile.Open.
//
// A record is a row with a unique index on (tenant, subscription, seq,
// event id), so a window of a subscription is a range of that index; a second table
// keeps each tenant's byte count, which Append checks against
// Limits.MaxTenantBytes and Prune lowers. Writes use synchronous=NORMAL:
// archiving is best effort (the events themselves are durable in the
// queues), and a power cut may lose the last appends, never the file.
package sqlitearchive

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"
	"time"

	_ "modernc.org/sqlite" // the database/sql driver

	"github.com/herokuevents/herokuevents/infra/embedded/sqlitefile"
	"github.com/herokuevents/herokuevents/shared/archive"
	"github.com/herokuevents/herokuevents/shared/event"
)

const schema = `
CREATE TABLE IF NOT EXISTS archive (
	tenant       TEXT    NOT NULL,
	subscription TEXT    NOT NULL,
	seq          INTEGER NOT NULL,
	event_id     TEXT    NOT NULL,
	expires      INTEGER NOT NULL, -- unix nanoseconds
	size         INTEGER NOT NULL,
	event        BLOB    NOT NULL -- JSON of event.Event
); -- a rowid table: its rows are large (WITHOUT ROWID suits small rows)
CREATE UNIQUE INDEX IF NOT EXISTS archive_key ON archive (tenant, subscription, seq, event_id);
CREATE INDEX IF NOT EXISTS archive_expires ON archive (expires);
CREATE TABLE IF NOT EXISTS tenant_bytes (
	tenant TEXT PRIMARY KEY,
	bytes  INTEGER NOT NULL
) WITHOUT ROWID;
`

// Store is an archive.Store in an SQLite file. Safe for concurrent use.
type Store struct {
	db     *sql.DB
	stmts  *sqlitefile.Statements // appendMany's
	limits archive.Limits
	now    func() time.Time
}

var _ archive.Store = (*Store)(nil)

// Open opens (creating it if needed) the archive file at path with limits
// l (the archive package's defaults for zero fields).
func Open(path string, l archive.Limits) (*Store, error) {
	db, err := sqlitefile.Open(path, "archive", "NORMAL", schema)
	if err != nil {
		return nil, err
	}
	stmts, err := sqlitefile.Prepare(context.Background(), db, slices.Concat(inserts.Statements(), tenantBytesReads.Statements(), tenantBytesSaves.Statements())...)
	if err != nil {
		db.Close()
		return nil, fmt.Errorf("open archive %s: %w", path, err)
	}
	return &Store{db: db, stmts: stmts, limits: l.WithDefaults(), now: time.Now}, nil
}

// Close implements archive.Store.
func (s *Store) Close() error { return errors.Join(s.stmts.Close(), s.db.Close()) }

func (s *Store) expires(r archive.Record) int64 {
	if !r.Expires.IsZero() {
		return r.Expires.UnixNano()
	}
	return r.Accepted().Add(s.limits.Retention).UnixNano()
}

// Append implements archive.Store: one transaction. Its rows go in
// multi-row INSERTs (appendMany); when one of them was archived already (a
// write retried after it committed), that transaction is rolled back and
// the records are appended a row at a time (appendEach), which counts only
// the rows it adds against their tenant's bytes.
func (s *Store) Append(ctx context.Context, recs ...archive.Record) error {
	if len(recs) == 0 {
		return ctx.Err()
	}
	full, ok, err := s.appendMany(ctx, recs)
	if err == nil && !ok {
		full, err = s.appendEach(ctx, recs)
	}
	if err != nil {
		return fmt.Errorf("append to archive: %w", err)
	}
	if full > 0 {
		return fmt.Errorf("append to archive: %d of %d events not kept: %w", full, len(recs), archive.ErrFull)
	}
	return nil
}

// admit returns the bytes r's tenant has archived (b, from used, which
// holds r's tenant), r's size and the JSON of its event to keep; body is
// nil when r would take the tenant over its MaxTenantBytes.
func (s *Store) admit(used tenantBytes, r archive.Record) (b, size int64, body []byte, err error) {
	b = used[r.Tenant] // loaded (tenantBytes.load)
	size = r.Size()
	if b+size > s.limits.MaxTenantBytes {
		return b, size, nil, nil
	}
	if body = r.JSON; body == nil {
		if body, err = json.Marshal(r.Event); err != nil {
			return 0, 0, nil, fmt.Errorf("encode event %s: %w", r.Event.ID, err)
		}
	}
	return b, size, body, nil
}

const insertSQL = `INSERT OR IGNORE INTO archive (tenant, subscription, seq, event_id, expires, size, event) VALUES `

// inserts is appendMany's INSERT: up to 50 rows per statement.
var inserts = sqlitefile.NewInserts(insertSQL, 7, 50)

// tenantBytesReads read the archived bytes of tenants and tenantBytesSaves
// set them, 50 tenants per statement: a batch of events of many tenants
// (500 apps publishing round-robin) costs two statements per 50 tenants,
// not two per tenant.
var (
	tenantBytesReads = sqlitefile.NewInserts(`SELECT tenant, bytes FROM tenant_bytes WHERE tenant IN (VALUES `, 1, 50).WithTail(`)`)
	tenantBytesSaves = sqlitefile.NewInserts(`INSERT INTO tenant_bytes (tenant, bytes) VALUES `, 2, 50).
				WithTail(` ON CONFLICT (tenant) DO UPDATE SET bytes = excluded.bytes`)
)

// tenantBytes reads and updates each tenant's archived bytes in tx.
type tenantBytes map[string]int64

// load reads the bytes of the tenants of recs.
func (u tenantBytes) load(ctx context.Context, tx *sql.Tx, stmts *sqlitefile.Statements, recs []archive.Record) error {
	var tenants []string
	for _, r := range recs {
		if _, ok := u[r.Tenant]; !ok {
			u[r.Tenant] = 0 // none archived unless read below
			tenants = append(tenants, r.Tenant)
		}
	}
	err := tenantBytesReads.Run(len(tenants), func(i int, args []any) ([]any, error) {
		return append(args, tenants[i]), nil
	}, func(query string, args ...any) error {
		st, err := stmts.Stmt(ctx, tx, query)
		if err != nil {
			return err
		}
		return u.read(ctx, st, args)
	})
	if err != nil {
		return fmt.Errorf("read tenant size: %w", err)
	}
	return nil
}

func (u tenantBytes) read(ctx context.Context, st *sql.Stmt, args []any) error {
	rows, err := st.QueryContext(ctx, args...)
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		var (
			tenant string
			b      int64
		)
		if err := rows.Scan(&tenant, &b); err != nil {
			return err
		}
		u[tenant] = b
	}
	return rows.Err()
}

func (u tenantBytes) save(ctx context.Context, tx *sql.Tx, stmts *sqlitefile.Statements) error {
	tenants := slices.Collect(maps.Keys(u))
	return tenantBytesSaves.Run(len(tenants), func(i int, args []any) ([]any, error) {
		return append(args, tenants[i], u[tenants[i]]), nil
	}, stmts.Exec(ctx, tx))
}

// appendMany appends recs counting each against its tenant's bytes, 50
// rows to a statement, and commits when every row was added (ok); it cannot
// tell which rows a statement skipped, so otherwise it rolls back.
func (s *Store) appendMany(ctx context.Context, recs []archive.Record) (full int, ok bool, err error) {
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return 0, false, err
	}
	defer tx.Rollback() //nolint:errcheck // after Commit it is a no-op
	used := tenantBytes{}
	if err := used.load(ctx, tx, s.stmts, recs); err != nil {
		return 0, false, err
	}
	type row struct {
		r    archive.Record
		size int64
		body []byte
	}
	rows := make([]row, 0, len(recs))
	for _, r := range recs {
		b, size, body, err := s.admit(used, r)
		if err != nil {
			return 0, false, err
		}
		if body == nil {
			full++
			continue
		}
		rows = append(rows, row{r: r, size: size, body: body})
		used[r.Tenant] = b + size
	}
	exec := s.stmts.Results(ctx, tx)
	var added int64
	err = inserts.Run(len(rows), func(i int, args []any) ([]any, error) {
		r := rows[i]
		return append(args, r.r.Tenant, r.r.Subscription, r.r.Seq, r.r.Event.ID, s.expires(r.r), r.size, r.body), nil
	}, func(query string, args ...any) error {
		res, err := exec(query, args...)
		if err != nil {
			return err
		}
		n, err := res.RowsAffected()
		added += n
		return err
	})
	if err != nil || added < int64(len(rows)) {
		return 0, false, err
	}
	if err := used.save(ctx, tx, s.stmts); err != nil {
		return 0, false, err
	}
	return full, true, tx.Commit()
}

// appendEach appends recs a row at a time, counting only the rows it adds
// against their tenant's bytes.
func (s *Store) appendEach(ctx context.Context, recs []archive.Record) (full int, err error) {
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return 0, err
	}
	defer tx.Rollback() //nolint:errcheck // after Commit it is a no-op
	ins, err := tx.PrepareContext(ctx, insertSQL+`(?, ?, ?, ?, ?, ?, ?)`)
	if err != nil {
		return 0, err
	}
	defer ins.Close()
	used := tenantBytes{}
	if err := used.load(ctx, tx, s.stmts, recs); err != nil {
		return 0, err
	}
	for _, r := range recs {
		b, size, body, err := s.admit(used, r)
		if err != nil {
			return 0, err
		}
		if body == nil {
			full++
			continue
		}
		res, err := ins.ExecContext(ctx, r.Tenant, r.Subscription, r.Seq, r.Event.ID, s.expires(r), size, body)
		if err != nil {
			return 0, err
		}
		if n, _ := res.RowsAffected(); n == 1 {
			used[r.Tenant] = b + size
		}
	}
	if err := used.save(ctx, tx, s.stmts); err != nil {
		return 0, err
	}
	return full, tx.Commit()
}

// cursor is Page.Next: the key of the last record of a page.
func cursor(seq int64, id string) string { return strconv.FormatInt(seq, 10) + "/" + id }

func parseCursor(c string) (int64, string, error) {
	seq, id, ok := strings.Cut(c, "/")
	n, err := strconv.ParseInt(seq, 10, 64)
	if !ok || err != nil {
		return 0, "", fmt.Errorf("read archive: bad cursor %q", c)
	}
	return n, id, nil
}

// window is the WHERE clause of a query and its arguments.
func (s *Store) window(q archive.Query) (string, []any, error) {
	lo, hi := q.SeqRange()
	where := `tenant = ? AND subscription = ? AND seq >= ? AND seq < ? AND expires > ?`
	args := []any{q.Tenant, q.Subscription, lo, hi, s.now().UnixNano()}
	if q.After != "" {
		seq, id, err := parseCursor(q.After)
		if err != nil {
			return "", nil, err
		}
		where += ` AND (seq, event_id) > (?, ?)`
		args = append(args, seq, id)
	}
	return where, args, nil
}

// Range implements archive.Reader.
func (s *Store) Range(ctx context.Context, q archive.Query) (archive.Page, error) {
	where, args, err := s.window(q)
	if err != nil {
		return archive.Page{}, err
	}
	limit := q.PageLimit()
	rows, err := s.db.QueryContext(ctx, `SELECT seq, event_id, expires, event FROM archive WHERE `+where+
		` ORDER BY seq, event_id LIMIT ?`, append(args, limit+1)...)
	if err != nil {
		return archive.Page{}, fmt.Errorf("read archive: %w", err)
	}
	defer rows.Close()
	var p archive.Page
	for rows.Next() {
		var r archive.Record
		var id string
		var exp int64
		var body []byte
		if err := rows.Scan(&r.Seq, &id, &exp, &body); err != nil {
			return archive.Page{}, fmt.Errorf("read archive: %w", err)
		}
		if len(p.Records) == limit {
			last := p.Records[limit-1]
			p.Next = cursor(last.Seq, last.Event.ID)
			break
		}
		var ev event.Event
		if err := json.Unmarshal(body, &ev); err != nil {
			return archive.Page{}, fmt.Errorf("read archive: decode event %s: %w", id, err)
		}
		r.Tenant, r.Subscription, r.Expires, r.Event = q.Tenant, q.Subscription, time.Unix(0, exp).UTC(), ev
		p.Records = append(p.Records, r)
	}
	if err := rows.Err(); err != nil {
		return archive.Page{}, fmt.Errorf("read archive: %w", err)
	}
	return p, nil
}

// Count implements archive.Reader.
func (s *Store) Count(ctx context.Context, q archive.Query) (int, error) {
	q.After = ""
	where, args, err := s.window(q)
	if err != nil {
		return 0, err
	}
	var n int
	if err := s.db.QueryRowContext(ctx, `SELECT count(*) FROM archive WHERE `+where, args...).Scan(&n); err != nil {
		return 0, fmt.Errorf("count archive: %w", err)
	}
	return n, nil
}

// Prune implements archive.Store.
func (s *Store) Prune(ctx context.Context, now time.Time) (int, error) {
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return 0, fmt.Errorf("prune archive: %w", err)
	}
	defer tx.Rollback()
	rows, err := tx.QueryContext(ctx, `DELETE FROM archive WHERE expires <= ? RETURNING tenant, size`, now.UnixNano())
	if err != nil {
		return 0, fmt.Errorf("prune archive: %w", err)
	}
	freed := map[string]int64{}
	n := 0
	for rows.Next() {
		var tenant string
		var size int64
		if err := rows.Scan(&tenant, &size); err != nil {
			rows.Close()
			return 0, fmt.Errorf("prune archive: %w", err)
		}
		freed[tenant] += size
		n++
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return 0, fmt.Errorf("prune archive: %w", err)
	}
	for tenant, b := range freed {
		if _, err := tx.ExecContext(ctx, `UPDATE tenant_bytes SET bytes = max(bytes - ?, 0) WHERE tenant = ?`, b, tenant); err != nil {
			return 0, fmt.Errorf("prune archive: %w", err)
		}
	}
	if err := tx.Commit(); err != nil {
		return 0, fmt.Errorf("prune archive: %w", err)
	}
	return n, nil
}

// Forget removes every record of tenant (a deprovisioned add-on).
func (s *Store) Forget(ctx context.Context, tenant string) error {
	for _, q := range []string{`DELETE FROM archive WHERE tenant = ?`, `DELETE FROM tenant_bytes WHERE tenant = ?`} {
		if _, err := s.db.ExecContext(ctx, q, tenant); err != nil {
			return fmt.Errorf("forget archived events: %w", err)
		}
	}
	return nil
}
