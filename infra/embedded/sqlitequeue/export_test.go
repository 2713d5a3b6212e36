package sqlitequeue

import "os"

// SetSync makes d sync its WAL with sync, which gets fdatasync to call
// when it means to. Call it before using d.
func SetSync(d *DB, sync func(fdatasync func() error) error) {
	d.syncWAL = func(f *os.File) error { return sync(func() error { return fdatasync(f) }) }
}

// Groups returns how many groups (transactions) d's writer has run.
func Groups(d *DB) int64 { return d.groups.Load() }

// Synced returns how many of them were committed with an fsync
// (synchronous=FULL).
func Synced(d *DB) int64 { return d.synced.Load() }

// Handed returns how many messages d's sends handed to waiting consumers.
func Handed(d *DB) int64 { return d.handed.Load() }

// Waiting returns how many consumers of q wait for a send to hand its
// messages over.
func Waiting(q *Queue) int {
	q.tmu.Lock()
	defer q.tmu.Unlock()
	return len(q.takers)
}
