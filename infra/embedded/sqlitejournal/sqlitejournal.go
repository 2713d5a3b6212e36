// Package sqlitejournal is the embedded driver of journal.Journal: one
// SQLite file (journal.db in the data dir, mode 0600) in WAL mode with
// synchronous=NORMAL. The delivery log is an aid, not the source of truth:
// a power loss may lose its last committed entries (never the events, which
// live in the queues), and that buys it cheap commits.
//
// One table holds every entry: the columns a query selects on (tenant,
// event id, publication, stage, outcome, time in Unix nanoseconds) and the
// rest as JSON (journal.MarshalDetail without those), plus the event kept
// by first attempts; an event's entries before its attempts (accepted,
// routed, filtered out) appended together share a row (fold.go). Two
// indexes serve trace (tenant, event id) and deliveries (tenant,
// publication, time of attempts), keyed by small
// integers: the event index by an event id's UUIDv7 time where it has one
// (eventKey), so that appends stay at its end. Retention is
// enforced by Prune, which the Journal runs every PruneEvery and at Open
// and Close: entries older than Retention.Age go (found in append order,
// which is about time order: an entry appended after a younger one may
// outlive its age a little), and each publication keeps its newest
// Retention.PerPublication attempts. Reads never return entries older than
// Retention.Age, pruned or not.
package sqlitejournal

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/google/uuid"
	_ "modernc.org/sqlite" // driver "sqlite"

	"github.com/herokuevents/herokuevents/infra/embedded/sqlitefile"
	"github.com/herokuevents/herokuevents/shared/journal"
)

const schema = `
CREATE TABLE IF NOT EXISTS entry (
	seq         INTEGER PRIMARY KEY,
	ekey        INTEGER NOT NULL,
	pkey        INTEGER NOT NULL,
	tenant      TEXT    NOT NULL,
	event_id    TEXT    NOT NULL,
	publication TEXT    NOT NULL DEFAULT '',
	stage       TEXT    NOT NULL,
	outcome     TEXT    NOT NULL DEFAULT '',
	at          INTEGER NOT NULL,
	detail      BLOB    NOT NULL,
	event       BLOB
);
CREATE INDEX IF NOT EXISTS entry_event ON entry (ekey);
CREATE INDEX IF NOT EXISTS entry_attempt ON entry (pkey, at) WHERE stage = 'attempt';
`

// DefaultPruneEvery is how often a Journal prunes on its own.
const DefaultPruneEvery = time.Minute

// Options configure a Journal.
type Options struct {
	// Retention bounds what is kept (journal defaults for zero fields).
	Retention journal.Retention
	// PruneEvery is how often retention is enforced in the background
	// (DefaultPruneEvery when 0; never when < 0: call Prune).
	PruneEvery time.Duration
	// Now is the clock; time.Now when nil.
	Now func() time.Time
	// Logger gets a line per failed background prune; slog.Default when nil.
	Logger *slog.Logger
}

// Journal is a journal.Journal on a SQLite file. Safe for concurrent use.
type Journal struct {
	db    *sql.DB
	stmts *sqlitefile.Statements // Append's inserts
	o     Options
	// write serializes this process's writers (Append, Prune) in Go,
	// honouring their contexts, rather than in SQLite's busy handler.
	write chan struct{}

	mu      sync.Mutex
	touched map[[2]string]bool // tenant, publication with attempts since the last prune

	stop chan struct{}
	done chan struct{}
	once sync.Once
}

var _ journal.Journal = (*Journal)(nil)

// Open opens (creating if needed, mode 0600) the journal file at path,
// prunes it, and starts pruning every PruneEvery.
func Open(path string, o Options) (*Journal, error) {
	if path == "" || path == ":memory:" || strings.ContainsRune(path, '?') {
		return nil, fmt.Errorf("open journal %q: need a file path without '?'", path)
	}
	o.Retention = o.Retention.WithDefaults()
	if o.PruneEvery == 0 {
		o.PruneEvery = DefaultPruneEvery
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("open journal %s: %w", path, err)
	}
	f.Close()
	q := url.Values{}
	q.Add("_pragma", "journal_mode(WAL)")
	q.Add("_pragma", "synchronous(NORMAL)")
	q.Add("_pragma", "busy_timeout(10000)")
	// No cache_size of its own (SQLite's default, 2 MB). modernc.org/sqlite
	// builds SQLite with SQLITE_ENABLE_MEMORY_MANAGEMENT: every connection
	// of the process draws on one page-cache pool, which a connection's
	// cache_size only enlarges, and the busiest connection (the queue's
	// writer) takes most of it. 16 MB here made the process 25-40 MB
	// larger and that writer's cache twice as large, which a commit after
	// a b-tree rebalance walks whole (sqlite3PcacheTruncate), for no gain
	// in appends: they touch the ends of the indexes (eventKey; pkey and
	// time).
	q.Set("_txlock", "immediate")
	db, err := sql.Open("sqlite", sqlitefile.DSN(path, q))
	if err != nil {
		return nil, fmt.Errorf("open journal %s: %w", path, err)
	}
	db.SetMaxOpenConns(4)
	db.SetMaxIdleConns(4)
	if _, err := db.Exec(schema); err != nil {
		db.Close()
		return nil, fmt.Errorf("create journal schema in %s: %w", path, err)
	}
	for _, side := range []string{"-wal", "-shm"} {
		if err := os.Chmod(path+side, 0o600); err != nil && !errors.Is(err, os.ErrNotExist) {
			db.Close()
			return nil, fmt.Errorf("open journal %s: %w", path, err)
		}
	}
	stmts, err := sqlitefile.Prepare(context.Background(), db, inserts.Statements()...)
	if err != nil {
		db.Close()
		return nil, fmt.Errorf("open journal %s: %w", path, err)
	}
	j := &Journal{db: db, stmts: stmts, o: o, write: make(chan struct{}, 1), touched: map[[2]string]bool{}, stop: make(chan struct{}), done: make(chan struct{})}
	if err := j.pruneAll(context.Background()); err != nil {
		stmts.Close()
		db.Close()
		return nil, err
	}
	go j.run()
	return j, nil
}

func (j *Journal) run() {
	defer close(j.done)
	if j.o.PruneEvery < 0 {
		<-j.stop
		return
	}
	t := time.NewTicker(j.o.PruneEvery)
	defer t.Stop()
	for {
		select {
		case <-j.stop:
			return
		case <-t.C:
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			if err := j.Prune(ctx); err != nil {
				j.o.Logger.Error("prune journal", "err", err)
			}
			cancel()
		}
	}
}

// Close prunes, stops the background pruning and closes the file.
func (j *Journal) Close() error {
	var err error
	j.once.Do(func() {
		close(j.stop)
		<-j.done
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		err = errors.Join(j.Prune(ctx), j.stmts.Close(), j.db.Close())
	})
	return err
}

func (j *Journal) lock(ctx context.Context) error {
	select {
	case j.write <- struct{}{}:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

func (j *Journal) unlock() { <-j.write }

func nanos(t time.Time) int64 { return t.UnixNano() }

// key is the 64-bit FNV-1a hash of a tenant and an event id or a
// publication: the indexes hold these small keys rather than the strings
// (the queries check the strings too).
func key(tenant, id string) int64 {
	const prime = 1099511628211
	h := uint64(14695981039346656037) // FNV-1a offset basis
	for i := 0; i < len(tenant); i++ {
		h = (h ^ uint64(tenant[i])) * prime
	}
	h *= prime // the 0 byte between
	for i := 0; i < len(id); i++ {
		h = (h ^ uint64(id[i])) * prime
	}
	return int64(h)
}

// eventKey is the entry_event index's key of an event id. The ids
// herokuevents makes are UUIDv7 (event.New), whose first 48 bits are the
// time in milliseconds: for such an id (in lower-case canonical form, as
// made) the key is that time followed by 16 bits of key(tenant, id), so
// that entries appended about in time order land at the end of the index
// instead of at a random page each (each page a batch touches is written
// whole to the WAL). Any other id (Salesforce's, generators', a
// CloudEvent's own) is keyed by key(tenant, id). v7 reports the first case,
// whose rows written before this scheme were keyed by key(tenant, id) too.
func eventKey(tenant, id string) (k int64, v7 bool) {
	h := key(tenant, id)
	ms, ok := uuidV7Time(id)
	if !ok {
		return h, false
	}
	return int64(ms<<16 | uint64(h)&0xffff), true
}

// uuidV7Time returns the 48-bit millisecond time of a UUIDv7 in lower-case
// canonical form (8-4-4-4-12 hex digits, version 7, RFC 9562 variant).
func uuidV7Time(id string) (uint64, bool) {
	if len(id) != 36 || strings.ToLower(id) != id { // 36 characters: the canonical form only
		return 0, false
	}
	u, err := uuid.Parse(id)
	if err != nil || u.Version() != 7 || u.Variant() != uuid.RFC4122 {
		return 0, false
	}
	sec, nsec := u.Time().UnixTime() // the leading 48 bits, in milliseconds
	return uint64(sec)*1000 + uint64(nsec)/1e6, true
}

// detail encodes what the columns do not hold.
func detail(e journal.Entry) ([]byte, error) {
	e.Time, e.Stage, e.Publication, e.Outcome = time.Time{}, "", "", ""
	return journal.MarshalDetail(e)
}

// entry decodes a row.
func entry(tenant, eventID, publication, stage, outcome string, at int64, d []byte) (journal.Entry, error) {
	e, err := journal.UnmarshalDetail(tenant, eventID, d)
	if err != nil {
		return e, err
	}
	e.Time, e.Stage, e.Publication, e.Outcome = time.Unix(0, at).UTC(), journal.Stage(stage), publication, journal.Outcome(outcome)
	return e, nil
}

// Append implements journal.Writer: the batch in one transaction, or
// nothing when an entry is invalid.
func (j *Journal) Append(ctx context.Context, entries ...journal.Entry) error {
	rows, err := fold(entries)
	if err != nil {
		return fmt.Errorf("append to journal: %w", err)
	}
	if len(rows) == 0 {
		return nil
	}
	if err := j.lock(ctx); err != nil {
		return fmt.Errorf("append to journal: %w", err)
	}
	defer j.unlock()
	tx, err := j.db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("append to journal: %w", err)
	}
	defer tx.Rollback() //nolint:errcheck // after Commit it is a no-op
	// Many entries per INSERT statement, each prepared once (Open).
	touched := map[[2]string]bool{}
	err = inserts.Run(len(rows), func(i int, args []any) ([]any, error) {
		r := rows[i]
		e := r.e
		if e.Stage == journal.Attempt {
			touched[[2]string{e.Tenant, e.Publication}] = true
		}
		ekey, _ := eventKey(e.Tenant, e.EventID)
		stage, publication, outcome := string(e.Stage), e.Publication, string(e.Outcome)
		if r.folded != nil { // each entry's are in the detail
			stage, publication, outcome = foldedStage, "", ""
		}
		return append(args, ekey, key(e.Tenant, publication), e.Tenant, e.EventID, publication,
			stage, outcome, nanos(r.at), r.detail, r.event), nil
	}, j.stmts.Exec(ctx, tx))
	if err != nil {
		return fmt.Errorf("append to journal: %w", err)
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("append to journal: %w", err)
	}
	j.mu.Lock()
	for k := range touched {
		j.touched[k] = true
	}
	j.mu.Unlock()
	return nil
}

// inserts is Append's INSERT, 50 entries per statement. OR FAIL rather
// than the default ABORT: a failing statement keeps its earlier rows, so
// SQLite keeps no statement journal (a temporary file receiving the
// original of every page each statement changes, about 1.6 KB per entry),
// and Append rolls the whole transaction back on any error anyway.
var inserts = sqlitefile.NewInserts(`INSERT OR FAIL INTO entry (ekey, pkey, tenant, event_id, publication, stage, outcome, at, detail, event) VALUES `, 10, 50)

// cutoff is the oldest time still retained.
func (j *Journal) cutoff() int64 { return nanos(j.o.Now().Add(-j.o.Retention.Age)) }

// Attempts implements journal.Reader.
func (j *Journal) Attempts(ctx context.Context, tenant, publication string, q journal.Query) ([]journal.Entry, error) {
	since := j.cutoff()
	if !q.Since.IsZero() {
		since = max(since, nanos(q.Since))
	}
	query := `SELECT event_id, outcome, at, detail FROM entry WHERE pkey = ? AND stage = 'attempt' AND at >= ? AND tenant = ? AND publication = ?`
	args := []any{key(tenant, publication), since, tenant, publication}
	if len(q.Outcomes) > 0 {
		query += ` AND outcome IN (?` + strings.Repeat(`, ?`, len(q.Outcomes)-1) + `)`
		for _, o := range q.Outcomes {
			args = append(args, string(o))
		}
	}
	query += ` ORDER BY at DESC, seq DESC LIMIT ?`
	args = append(args, max(q.Limit, 0))
	rows, err := j.db.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, fmt.Errorf("read attempts of publication %s: %w", publication, err)
	}
	defer rows.Close()
	var out []journal.Entry
	for rows.Next() {
		var id, outcome string
		var at int64
		var d []byte
		if err := rows.Scan(&id, &outcome, &at, &d); err != nil {
			return nil, fmt.Errorf("read attempts of publication %s: %w", publication, err)
		}
		e, err := entry(tenant, id, publication, string(journal.Attempt), outcome, at, d)
		if err != nil {
			return nil, err
		}
		out = append(out, e)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("read attempts of publication %s: %w", publication, err)
	}
	return out, nil
}

// Event implements journal.Reader.
func (j *Journal) Event(ctx context.Context, tenant, eventID string) ([]journal.Entry, error) {
	// An event whose key is its UUIDv7 time may have older entries under
	// the hash (written before that scheme): look both up.
	ekey, v7 := eventKey(tenant, eventID)
	old := ekey
	if v7 {
		old = key(tenant, eventID)
	}
	cutoff := j.cutoff()
	rows, err := j.db.QueryContext(ctx, eventQuery, ekey, old, tenant, eventID, cutoff)
	if err != nil {
		return nil, fmt.Errorf("read journal of event %s: %w", eventID, err)
	}
	defer rows.Close()
	var read []placed
	for rows.Next() {
		var publication, stage, outcome string
		var seq, at int64
		var d, ev []byte
		if err := rows.Scan(&seq, &publication, &stage, &outcome, &at, &d, &ev); err != nil {
			return nil, fmt.Errorf("read journal of event %s: %w", eventID, err)
		}
		if stage == foldedStage {
			es, err := unfold(tenant, eventID, d, cutoff)
			if err != nil {
				return nil, err
			}
			for _, e := range es {
				read = append(read, placed{e, seq})
			}
			continue
		}
		e, err := entry(tenant, eventID, publication, stage, outcome, at, d)
		if err != nil {
			return nil, err
		}
		if e.Event, err = journal.UnmarshalEvent(ev, eventID); err != nil {
			return nil, fmt.Errorf("read journal of event %s: %w", eventID, err)
		}
		read = append(read, placed{e, seq})
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("read journal of event %s: %w", eventID, err)
	}
	return inOrder(read), nil
}

// eventQuery is Event's SELECT: its arguments are the event's key, its
// key before the UUIDv7 scheme (the same for other ids), tenant, event id
// and the cutoff.
const eventQuery = `SELECT seq, publication, stage, outcome, at, detail, event FROM entry
	WHERE ekey IN (?, ?) AND tenant = ? AND event_id = ? AND at >= ? ORDER BY at, seq`

// Prune implements journal.Journal: it deletes the entries older than
// Retention.Age and, for each publication with attempts appended since
// the last prune, its attempts beyond the newest Retention.PerPublication.
func (j *Journal) Prune(ctx context.Context) error {
	j.mu.Lock()
	touched := j.touched
	j.touched = map[[2]string]bool{}
	j.mu.Unlock()
	err := j.prune(ctx, touched)
	if err != nil {
		j.mu.Lock()
		for k := range touched {
			j.touched[k] = true
		}
		j.mu.Unlock()
	}
	return err
}

// pruneAll prunes every publication over its limit (at Open: the touched
// set of an earlier process is lost).
func (j *Journal) pruneAll(ctx context.Context) error {
	rows, err := j.db.QueryContext(ctx,
		`SELECT tenant, publication FROM entry WHERE stage = 'attempt' GROUP BY pkey HAVING COUNT(*) > ?`,
		j.o.Retention.PerPublication)
	if err != nil {
		return fmt.Errorf("prune journal: %w", err)
	}
	over := map[[2]string]bool{}
	for rows.Next() {
		var k [2]string
		if err := rows.Scan(&k[0], &k[1]); err != nil {
			rows.Close()
			return fmt.Errorf("prune journal: %w", err)
		}
		over[k] = true
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return fmt.Errorf("prune journal: %w", err)
	}
	return j.prune(ctx, over)
}

func (j *Journal) prune(ctx context.Context, pubs map[[2]string]bool) error {
	if err := j.lock(ctx); err != nil {
		return fmt.Errorf("prune journal: %w", err)
	}
	defer j.unlock()
	// Entries are appended in about time order: the old ones are the
	// first rows up to the first that is young enough.
	if _, err := j.db.ExecContext(ctx, `DELETE FROM entry WHERE seq < COALESCE(
		(SELECT seq FROM entry WHERE at >= ? ORDER BY seq LIMIT 1),
		(SELECT MAX(seq) + 1 FROM entry))`, j.cutoff()); err != nil {
		return fmt.Errorf("prune journal: %w", err)
	}
	for k := range pubs {
		if err := j.prunePublication(ctx, k[0], k[1]); err != nil {
			return fmt.Errorf("prune journal of publication %s: %w", k[1], err)
		}
	}
	return nil
}

// prunePublication deletes the attempts of a publication beyond its
// newest Retention.PerPublication. The newest attempt to go is found in
// the entry_attempt index alone (pruneCutSQL: (pkey, at) and the seq in
// every index entry), not by reading each row for its tenant and
// publication: that read was most of a walk that covers, at each prune, a
// minute of a busy publication's attempts. Counting by key alone, two
// publications whose keys collide (the 64-bit hash of a tenant's and a
// publication's server-made ids) would share one limit; the deletes still
// check the strings, so nothing of another publication is deleted.
func (j *Journal) prunePublication(ctx context.Context, tenant, publication string) error {
	pk := key(tenant, publication)
	var at, seq int64
	err := j.db.QueryRowContext(ctx, pruneCutSQL, pk, j.o.Retention.PerPublication).Scan(&at, &seq)
	if errors.Is(err, sql.ErrNoRows) {
		return nil // within its limit
	}
	if err != nil {
		return err
	}
	_, err = j.db.ExecContext(ctx, pruneDeleteSQL, pk, at, seq, tenant, publication)
	return err
}

const (
	// pruneCutSQL is the newest attempt beyond the limit of a
	// publication's key: its time and seq.
	pruneCutSQL = `SELECT at, seq FROM entry WHERE pkey = ? AND stage = 'attempt' ORDER BY at DESC, seq DESC LIMIT 1 OFFSET ?`
	// pruneDeleteSQL deletes the attempts of a publication from that one
	// back.
	pruneDeleteSQL = `DELETE FROM entry WHERE seq IN (SELECT seq FROM entry
		WHERE pkey = ?1 AND stage = 'attempt' AND at <= ?2 AND (at < ?2 OR seq <= ?3) AND tenant = ?4 AND publication = ?5)`
)

// Forget deletes every entry of tenant (a deprovisioned add-on).
func (j *Journal) Forget(ctx context.Context, tenant string) error {
	if err := j.lock(ctx); err != nil {
		return fmt.Errorf("forget tenant in journal: %w", err)
	}
	defer j.unlock()
	if _, err := j.db.ExecContext(ctx, `DELETE FROM entry WHERE tenant = ?`, tenant); err != nil {
		return fmt.Errorf("forget tenant in journal: %w", err)
	}
	return nil
}
