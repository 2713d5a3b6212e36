package sqlitejournal

import (
	"context"

	"github.com/herokuevents/herokuevents/shared/journal"
)

// SetRetention changes the retention of an open journal (benchmarks: a
// journal opened without pruning, then pruned under a limit).
func (j *Journal) SetRetention(r journal.Retention) { j.o.Retention = r.WithDefaults() }

// Rows counts the rows of the entry table.
func (j *Journal) Rows(ctx context.Context) (int, error) {
	var n int
	err := j.db.QueryRowContext(ctx, `SELECT COUNT(*) FROM entry`).Scan(&n)
	return n, err
}
