package sqlitejournal

import "github.com/herokuevents/herokuevents/shared/journal"

// SetRetention changes the retention of an open journal (benchmarks: a
// journal opened without pruning, then pruned under a limit).
func (j *Journal) SetRetention(r journal.Retention) { j.o.Retention = r.WithDefaults() }
