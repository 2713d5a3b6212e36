package sqlitequeue

// Groups returns how many groups (transactions) d's writer has run.
func Groups(d *DB) int64 { return d.groups.Load() }

// Synced returns how many of them were committed with an fsync
// (synchronous=FULL).
func Synced(d *DB) int64 { return d.synced.Load() }
