package sqlitequeue

// Groups returns how many groups (transactions) d's writer has run.
func Groups(d *DB) int64 { return d.groups.Load() }
