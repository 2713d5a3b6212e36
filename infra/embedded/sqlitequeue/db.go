// Package sqlitequeue implements durable queues (queue.Sender plus an SQS-like
// consumer) in one SQLite file, for the embedded single-process mode.
//
// Every queue of a DB lives in one table of one file (WAL): a message
// accepted by Send survives kill -9 and a power cut. All writes go through
// one writer goroutine that commits whatever operations are waiting
// together in one transaction (group commit), so concurrent senders and
// consumers share fsyncs. The connection stays at synchronous=NORMAL (a
// commit writes the WAL without syncing it); a group holding a send is
// made durable by an fdatasync of the WAL after its commit, before any of
// its senders hears back, which is what synchronous=FULL does, without
// switching the connection's mode between groups. The fsync runs beside
// the writer (sync): while the disk syncs, the writer gathers the next
// group, and commits it at once when it holds a send that a waiting
// consumer takes (urgent); a send handed to a waiting consumer goes to it
// at its commit (handoff.go), so a slow disk delays the senders' answers
// but not the deliveries. Claims and settlements (deletes) are not synced
// and hear back at their commit: a process crash loses none of them, a
// power cut at most the last ones, which only means messages are received
// again (see execLight). The process is expected to
// own the file alone: messages left in flight by a dead process are
// released with ReleaseInFlight at start, and that receive is not counted
// (a crash is not a failure of the message: only a handler's failure or
// timeout counts toward max receives).
package sqlitequeue

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net/url"
	"os"
	"runtime"
	"strconv"
	"sync"
	"sync/atomic"

	_ "modernc.org/sqlite" // driver "sqlite"

	"github.com/herokuevents/herokuevents/infra/embedded/sqlitefile"
	"github.com/herokuevents/herokuevents/shared/queue"
)

// ErrClosed is returned by operations on a closed DB.
var ErrClosed = errors.New("sqlitequeue: closed")

// ErrNotFound is returned (wrapped) by Redrive for ids that are not in the queue.
var ErrNotFound = errors.New("sqlitequeue: not found")

// schema creates the table of every queue's messages. tenant is the
// message's queue.AttrTenant and lane its lane within the tenant (see
// Queue.Lanes): claims go round-robin over them. claimed is 1 while a
// receive is not settled: the handler has not yet reported (nor timed
// out), so a message claimed at a crash is told apart from one that failed.
// grp is the message's queue.Message.Group ("" for none) and first_at when
// it was first claimed (unix µs, 0 before).
const schema = `
CREATE TABLE IF NOT EXISTS message (
	id         INTEGER PRIMARY KEY AUTOINCREMENT,
	queue      TEXT    NOT NULL,
	body       BLOB    NOT NULL,
	attrs      TEXT,
	sent_at    INTEGER NOT NULL,
	visible_at INTEGER NOT NULL,
	receives   INTEGER NOT NULL DEFAULT 0,
	tenant     TEXT    NOT NULL DEFAULT '',
	lane       TEXT    NOT NULL DEFAULT '',
	claimed    INTEGER NOT NULL DEFAULT 0,
	grp        TEXT    NOT NULL DEFAULT '',
	first_at   INTEGER NOT NULL DEFAULT 0
);
`

// indexes: message_group finds the head of an ordered group (groups.go);
// message_lane walks tenants and lanes and a lane's messages in
// the order they become visible (claims, see fair.go). An earlier
// version's (queue, visible_at) index is dropped: no statement needs it.
const indexes = `
CREATE INDEX IF NOT EXISTS message_lane ON message (queue, tenant, lane, visible_at);
CREATE INDEX IF NOT EXISTS message_group ON message (queue, grp, id) WHERE grp != '';
DROP INDEX IF EXISTS message_visible;
`

// migrate adds the columns a file made by an earlier version lacks, and
// fills them from what the rows hold.
func migrate(ctx context.Context, db *sql.DB) error {
	rows, err := db.QueryContext(ctx, `SELECT name FROM pragma_table_info('message')`)
	if err != nil {
		return err
	}
	have := map[string]bool{}
	for rows.Next() {
		var name string
		if err := rows.Scan(&name); err != nil {
			rows.Close()
			return err
		}
		have[name] = true
	}
	if err := errors.Join(rows.Err(), rows.Close()); err != nil {
		return err
	}
	steps := []struct{ column, add, fill string }{
		{"tenant", `ALTER TABLE message ADD COLUMN tenant TEXT NOT NULL DEFAULT ''`,
			`UPDATE message SET tenant = COALESCE(json_extract(attrs, '$.` + queue.AttrTenant + `'), '') WHERE attrs IS NOT NULL`},
		{"lane", `ALTER TABLE message ADD COLUMN lane TEXT NOT NULL DEFAULT ''`, ""},
		{"claimed", `ALTER TABLE message ADD COLUMN claimed INTEGER NOT NULL DEFAULT 0`,
			`UPDATE message SET claimed = 1 WHERE receives > 0 AND visible_at > ` + strconv.FormatInt(nowMicro(), 10)},
		{"grp", `ALTER TABLE message ADD COLUMN grp TEXT NOT NULL DEFAULT ''`, ""},
		{"first_at", `ALTER TABLE message ADD COLUMN first_at INTEGER NOT NULL DEFAULT 0`, ""},
	}
	for _, st := range steps {
		if have[st.column] {
			continue
		}
		if _, err := db.ExecContext(ctx, st.add); err != nil {
			return err
		}
		if st.fill != "" {
			if _, err := db.ExecContext(ctx, st.fill); err != nil {
				return err
			}
		}
	}
	return nil
}

// maxGroup bounds how many operations share one transaction.
const maxGroup = 256

// DB is one SQLite file holding any number of named queues. Safe for
// concurrent use. Close it after every consumer has stopped.
type DB struct {
	db   *sql.DB
	w    *wconn
	ops  chan *op
	stop chan struct{}
	done chan struct{}
	once sync.Once

	mu     sync.Mutex
	queues map[string]*Queue

	groups atomic.Int64 // groups run (each one transaction): for benchmarks
	synced atomic.Int64 // fsyncs of the WAL (each for one group or more): for benchmarks
	handed atomic.Int64 // messages handed to waiting consumers (handoff.go): for tests

	wal *os.File // the WAL, synced after a durable group's commit
	// syncWAL syncs wal: fdatasync (tests slow it or fail it).
	syncWAL func(*os.File) error
	// syncs carries the committed durable operations from the writer to
	// the syncer, which answers them once the WAL is synced (sync).
	syncs    chan []answer
	syncDone chan struct{}
	// unsynced counts the groups given to the syncer and not yet
	// answered; syncEnd gets a signal (kept if none waits) each time it
	// answers some.
	unsynced atomic.Int64
	syncEnd  chan struct{}
}

// answer is an operation's outcome, to be sent once it may be.
type answer struct {
	o    *op
	err  error
	last bool // the last of its group's
}

type op struct {
	ctx  context.Context
	fn   func(ctx context.Context, c *wconn) error
	done chan error
	// light: the operation's effects need not survive a power cut (see
	// execLight).
	light bool
	// rows, when set, are what fn inserts (a Send with no group): the
	// rows of consecutive such operations of a group are inserted
	// together (execSend).
	rows []sendRow
	// handed: every one of rows was handed to a waiting consumer (set
	// by the writer before done).
	handed bool
	// committed is the send's queue.Committed: the writer calls it
	// (and sets called) before it hands any of rows to a consumer.
	committed func()
	called    bool
}

// wconn is the writer's connection. It prepares each distinct statement
// once and reuses it: parsing SQL was a large part of the writer's time.
// Only the writer goroutine uses it.
type wconn struct {
	c     *sql.Conn
	stmts map[string]*sql.Stmt
}

// PrepareContext returns the cached prepared statement of query; callers
// must not close it.
func (w *wconn) PrepareContext(ctx context.Context, query string) (*sql.Stmt, error) {
	if st, ok := w.stmts[query]; ok {
		return st, nil
	}
	st, err := w.c.PrepareContext(ctx, query)
	if err != nil {
		return nil, err
	}
	w.stmts[query] = st
	return st, nil
}

func (w *wconn) ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error) {
	st, err := w.PrepareContext(ctx, query)
	if err != nil {
		return nil, err
	}
	return st.ExecContext(ctx, args...)
}

func (w *wconn) QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error) {
	st, err := w.PrepareContext(ctx, query)
	if err != nil {
		return nil, err
	}
	return st.QueryContext(ctx, args...)
}

func (w *wconn) QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row {
	st, err := w.PrepareContext(ctx, query)
	if err != nil {
		return w.c.QueryRowContext(ctx, query, args...)
	}
	return st.QueryRowContext(ctx, args...)
}

func (w *wconn) close() error {
	for _, st := range w.stmts {
		st.Close()
	}
	return w.c.Close()
}

// Open opens (creating if needed) the queue file at path.
func Open(path string) (*DB, error) {
	q := url.Values{}
	q.Add("_pragma", "journal_mode(WAL)")
	q.Add("_pragma", "synchronous(NORMAL)") // durable groups sync the WAL (run)
	q.Add("_pragma", "busy_timeout(10000)")
	db, err := sql.Open("sqlite", sqlitefile.DSN(path, q))
	if err != nil {
		return nil, fmt.Errorf("open queue db %s: %w", path, err)
	}
	db.SetMaxOpenConns(4)
	db.SetMaxIdleConns(4)
	ctx := context.Background()
	if _, err := db.ExecContext(ctx, schema); err != nil {
		db.Close()
		return nil, fmt.Errorf("create queue schema in %s: %w", path, err)
	}
	if err := migrate(ctx, db); err != nil {
		db.Close()
		return nil, fmt.Errorf("migrate queue schema in %s: %w", path, err)
	}
	if _, err := db.ExecContext(ctx, indexes); err != nil {
		db.Close()
		return nil, fmt.Errorf("create queue indexes in %s: %w", path, err)
	}
	w, err := db.Conn(ctx)
	if err != nil {
		db.Close()
		return nil, fmt.Errorf("open queue writer %s: %w", path, err)
	}
	// The WAL is there while a connection is open: the writer's is, for
	// the DB's life.
	var mode string
	if err := w.QueryRowContext(ctx, "PRAGMA journal_mode").Scan(&mode); err != nil || mode != "wal" {
		w.Close()
		db.Close()
		return nil, fmt.Errorf("open queue writer %s: journal mode %q: %v", path, mode, err)
	}
	wal, err := os.Open(path + "-wal")
	if err != nil {
		w.Close()
		db.Close()
		return nil, fmt.Errorf("open queue log %s: %w", path, err)
	}
	d := &DB{
		db:     db,
		wal:    wal,
		w:      &wconn{c: w, stmts: map[string]*sql.Stmt{}},
		ops:    make(chan *op),
		stop:   make(chan struct{}),
		done:   make(chan struct{}),
		queues: map[string]*Queue{},
		// A few groups may wait for their sync while the writer goes on;
		// beyond that, the writer waits for the disk.
		syncs:    make(chan []answer, syncBacklog),
		syncDone: make(chan struct{}),
		syncEnd:  make(chan struct{}, 1),
		syncWAL:  fdatasync,
	}
	go d.sync()
	go d.writer()
	return d, nil
}

// Close stops the writer and closes the file. Operations after Close fail
// with ErrClosed.
func (d *DB) Close() error {
	var err error
	d.once.Do(func() {
		close(d.stop)
		<-d.done
		err = errors.Join(d.w.close(), d.db.Close(), d.wal.Close())
	})
	return err
}

// Queue returns the queue called name (the same *Queue for the same name).
func (d *DB) Queue(name string) *Queue {
	d.mu.Lock()
	defer d.mu.Unlock()
	q, ok := d.queues[name]
	if !ok {
		q = &Queue{db: d, name: name, wake: make(chan struct{})}
		d.queues[name] = q
	}
	return q
}

// ReleaseInFlight makes every in-flight message of every queue visible at
// once and returns how many it released. Call it at start, before
// consuming: the handlers of those messages died with the process, so the
// receive that handed them out is given back (their Receives goes down by
// one). Messages a handler failed wait out their visibility timeout.
func (d *DB) ReleaseInFlight(ctx context.Context) (int, error) {
	var n int64
	err := d.exec(ctx, func(ctx context.Context, c *wconn) error {
		now := nowMicro()
		r, err := c.ExecContext(ctx, releaseAllSQL, now)
		if err != nil {
			return err
		}
		n, err = r.RowsAffected()
		return err
	})
	if err != nil {
		return 0, fmt.Errorf("release in-flight messages: %w", err)
	}
	d.mu.Lock()
	for _, q := range d.queues {
		q.notify()
	}
	d.mu.Unlock()
	return int(n), nil
}

// exec runs fn in the writer's transaction (shared with other waiting
// operations, isolated by a savepoint) and returns once it is committed or
// rolled back. It waits for the outcome even if ctx ends meanwhile, so the
// caller always knows whether fn's effects were committed.
func (d *DB) exec(ctx context.Context, fn func(ctx context.Context, c *wconn) error) error {
	return d.submit(&op{ctx: ctx, fn: fn, done: make(chan error, 1)})
}

// execLight is exec for an operation whose effects may be lost to a power
// cut (never to a crash of the process: a commit is in the operating
// system's hands before it returns): claims, and settling what was
// claimed. Losing one only means a message is received again, which
// at-least-once delivery allows (and messages in flight are released at
// start anyway). A light operation hears back at its group's commit
// (synchronous=NORMAL, without an fsync), even in a group with durable
// ones; the next sync of the WAL covers its frames too.
func (d *DB) execLight(ctx context.Context, fn func(ctx context.Context, c *wconn) error) error {
	return d.submit(&op{ctx: ctx, fn: fn, done: make(chan error, 1), light: true})
}

// execSend inserts rows (messages with no group) as one operation: all or
// none. Within a group, the rows of consecutive sends share INSERT
// statements; should that fail, each send runs alone.
// It reports whether waiting consumers were handed all the rows
// (handoff.go).
func (d *DB) execSend(ctx context.Context, rows []sendRow) (handed bool, err error) {
	fn := func(ctx context.Context, c *wconn) error {
		_, err := insertRows(ctx, c, nowMicro(), rows, false)
		return err
	}
	o := &op{ctx: ctx, fn: fn, done: make(chan error, 1), rows: rows, committed: queue.Committed(ctx)}
	err = d.submit(o)
	return err == nil && o.handed, err
}

func (d *DB) submit(o *op) error {
	ctx := o.ctx
	select {
	case d.ops <- o:
	case <-ctx.Done():
		return ctx.Err()
	case <-d.stop:
		return ErrClosed
	}
	return <-o.done
}

// syncBacklog is how many committed groups may wait for an fsync of the
// WAL while the writer commits the next.
const syncBacklog = 8

// sync answers the durable operations of committed groups once an fsync
// of the WAL that began after their commit has returned. It syncs for
// every group waiting at once: the writer commits the next groups while
// the disk syncs, so a slow fsync delays the answers of the senders
// waiting for it, never the commits (claims, deletes, sends handed to
// waiting consumers) of the groups behind it.
func (d *DB) sync() {
	defer close(d.syncDone)
	for batch := range d.syncs {
	gather:
		for {
			select {
			case more, ok := <-d.syncs:
				if !ok {
					break gather
				}
				batch = append(batch, more...)
			default:
				break gather
			}
		}
		d.synced.Add(1)
		err := d.syncWAL(d.wal)
		groups := 0
		for _, a := range batch {
			if a.err == nil && err != nil {
				a.err = fmt.Errorf("sync queue log: %w", err)
			}
			if a.last {
				groups++
			}
			a.o.done <- a.err
		}
		d.unsynced.Add(int64(-groups))
		select {
		case d.syncEnd <- struct{}{}:
		default:
		}
	}
}

// urgent reports whether a group should be committed without waiting for
// the sync in flight: when one of its sends can be handed to a consumer
// waiting for it (handoff.go), which then delivers it at once. Any other
// operation waits for the sync with those arriving meanwhile, as it would
// if the writer synced itself: many operations share a commit (its WAL
// frames cost about the same for one as for many), and a consumer busy
// with a backlog loses nothing by it.
func urgent(group []*op) bool {
	var seen *Queue // the rows of a send are mostly of one queue: ask it once
	for _, o := range group {
		for i := range o.rows {
			r := &o.rows[i]
			if r.delay > 0 || r.q == nil || r.q == seen {
				continue
			}
			if r.q.awaited() {
				return true
			}
			seen = r.q
		}
	}
	return false
}

func (d *DB) writer() {
	defer func() {
		close(d.syncs)
		<-d.syncDone
		close(d.done)
	}()
	for {
		var group []*op
		select {
		case o := <-d.ops:
			group = append(group, o)
		case <-d.stop:
			return
		}
		group = d.gather(group)
		// While the disk syncs, the group takes what arrives, unless it
		// is urgent; once the sync is done, what its senders send next.
		hurry := urgent(group)
	wait:
		for !hurry && d.unsynced.Load() > 0 && len(group) < maxGroup {
			select {
			case o := <-d.ops:
				group = append(group, o)
				hurry = urgent(group[len(group)-1:])
			case <-d.syncEnd:
				if d.unsynced.Load() == 0 {
					group = d.gather(group)
				}
			case <-d.stop:
				break wait
			}
		}
		d.run(group)
	}
}

// gather adds the operations waiting to group, up to maxGroup.
func (d *DB) gather(group []*op) []*op {
	yielded := false
	for len(group) < maxGroup {
		select {
		case o := <-d.ops:
			group = append(group, o)
		default:
			if yielded {
				return group
			}
			// Let the goroutines about to send an operation do it
			// before the group starts: a commit (its WAL frames, the
			// fsync after it) costs about the same for one operation as
			// for many, and the wait is one turn of the scheduler.
			yielded = true
			runtime.Gosched()
		}
	}
	return group
}

// run executes a group of operations in one transaction. Operations
// seldom fail, so it first runs them all without savepoints; only when one
// fails does it roll back and run the group again, each operation isolated
// by a savepoint (operations are written to be run again: they set, not
// accumulate, what they report).
func (d *DB) run(group []*op) {
	d.groups.Add(1)
	ctx := context.Background()
	errs := make([]error, len(group))
	for i, o := range group {
		errs[i] = o.ctx.Err()
	}
	ok, handed := d.runFast(ctx, group, errs)
	if !ok {
		for _, s := range handed {
			s.cancel()
		}
		handed = nil
		d.runIsolated(ctx, group, errs)
	}
	for _, s := range handed {
		s.mark()
		s.commit()
	}
	// Consumers get what was handed to them as soon as it is committed,
	// while the WAL syncs: a commit is in the operating system's hands, so
	// a crash of the process loses none of it, and what a consumer does
	// with a message (a delivery, then a delete, committed by a later
	// group) does not depend on its sender having heard back. Only the
	// sender's answer waits for the sync: an event is durable before its
	// 202, and its delivery does not wait for the disk. Should the sync
	// fail, the senders hear an error for messages that may be delivered
	// already, so a publisher's retry may deliver an event twice, which
	// at-least-once delivery allows. What their senders say of them comes
	// first: the writer called their queue.Committed (sent.commit), which
	// is how ingest logs an event's acceptance before its delivery.
	for _, s := range handed {
		d.handed.Add(int64(s.count()))
		s.deliver()
	}
	// The light operations, and those that failed, hear back now; the
	// others once the WAL is synced (sync), while the writer goes on.
	var durable []answer
	for i, o := range group {
		if errs[i] != nil || o.light {
			o.done <- errs[i]
			continue
		}
		durable = append(durable, answer{o: o})
	}
	if len(durable) > 0 {
		durable[len(durable)-1].last = true
		d.unsynced.Add(1)
		d.syncs <- durable
	}
}

// sent is what a committed group's sends handed to waiting consumers
// (handoff.go).
type sent struct {
	rows []sendRow
	from []*op // from[i] sent rows[i]
	ids  []int64
	now  int64
	hs   []*handoff
}

// cancel answers the takers with nothing: the group did not commit.
func (s sent) cancel() {
	for _, h := range s.hs {
		h.cancel()
	}
}

// mark sets op.handed of the sends whose rows were all handed over.
func (s sent) mark() {
	for _, o := range s.from {
		o.handed = true
	}
	for i, r := range s.rows {
		if r.until == 0 {
			s.from[i].handed = false
		}
	}
}

// commit calls the queue.Committed of the sends whose rows are handed
// over, before their consumers get them: what their senders say of them
// comes first.
func (s sent) commit() {
	for _, h := range s.hs {
		for _, i := range h.rows {
			if o := s.from[i]; o.committed != nil && !o.called {
				o.called = true
				o.committed()
			}
		}
	}
}

// count is how many messages s hands over.
func (s sent) count() int {
	n := 0
	for _, h := range s.hs {
		n += len(h.rows)
	}
	return n
}

// deliver hands the takers their messages.
func (s sent) deliver() {
	for _, h := range s.hs {
		h.deliver(s.rows, s.ids, s.now)
	}
}

// runFast runs the group's live operations in one transaction without
// savepoints and reports whether it committed, with the messages its
// sends handed to waiting consumers (handoff.go), to be delivered or,
// when it did not commit, cancelled.
func (d *DB) runFast(ctx context.Context, group []*op, errs []error) (bool, []sent) {
	var handed []sent
	if _, err := d.w.ExecContext(ctx, "BEGIN IMMEDIATE"); err != nil {
		return false, handed
	}
	for i := 0; i < len(group); {
		if errs[i] != nil {
			i++
			continue
		}
		if group[i].rows != nil {
			// The sends from here on, as one (a copy: the rows handed
			// over are inserted claimed here only; run again by
			// runIsolated, they are not).
			var (
				rows []sendRow
				from []*op
			)
			for ; i < len(group) && (errs[i] != nil || group[i].rows != nil); i++ {
				if errs[i] == nil {
					rows = append(rows, group[i].rows...)
					for range group[i].rows {
						from = append(from, group[i])
					}
				}
			}
			now := nowMicro()
			hs := handOff(rows, now)
			ids, err := insertRows(ctx, d.w, now, rows, len(hs) > 0)
			if len(hs) > 0 {
				handed = append(handed, sent{rows: rows, from: from, ids: ids, now: now, hs: hs})
			}
			if err != nil {
				d.rollback()
				return false, handed
			}
			continue
		}
		if err := group[i].fn(ctx, d.w); err != nil {
			d.rollback()
			return false, handed
		}
		i++
	}
	if _, err := d.w.ExecContext(ctx, "COMMIT"); err != nil {
		d.rollback()
		return false, handed
	}
	return true, handed
}

// runIsolated runs the group in one transaction, each operation in its own
// savepoint, so that a failing one leaves no trace and fails alone.
func (d *DB) runIsolated(ctx context.Context, group []*op, errs []error) {
	fail := func(err error) {
		for i := range group {
			if errs[i] == nil {
				errs[i] = err
			}
		}
	}
	if _, err := d.w.ExecContext(ctx, "BEGIN IMMEDIATE"); err != nil {
		fail(fmt.Errorf("begin: %w", err))
		return
	}
	for i, o := range group {
		if errs[i] != nil {
			continue
		}
		if _, err := d.w.ExecContext(ctx, "SAVEPOINT op"); err != nil {
			d.rollback()
			fail(fmt.Errorf("savepoint: %w", err))
			return
		}
		if err := o.fn(ctx, d.w); err != nil {
			errs[i] = err
			if _, err := d.w.ExecContext(ctx, "ROLLBACK TO op"); err != nil {
				d.rollback()
				fail(fmt.Errorf("rollback to savepoint: %w", err))
				return
			}
		}
		if _, err := d.w.ExecContext(ctx, "RELEASE op"); err != nil {
			d.rollback()
			fail(fmt.Errorf("release savepoint: %w", err))
			return
		}
	}
	if _, err := d.w.ExecContext(ctx, "COMMIT"); err != nil {
		d.rollback()
		fail(fmt.Errorf("commit: %w", err))
	}
}

func (d *DB) rollback() {
	// Best effort: the transaction may already be gone.
	_, _ = d.w.ExecContext(context.Background(), "ROLLBACK")
}
