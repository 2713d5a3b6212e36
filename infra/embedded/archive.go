package embedded

import (
	"context"
	"fmt"
	"path/filepath"
	"time"

	"github.com/herokuevents/herokuevents/infra/embedded/sqlitearchive"
	"github.com/herokuevents/herokuevents/shared/archive"
	"github.com/herokuevents/herokuevents/shared/replay"
)

// ArchivePrune is how often expired archived events are removed.
const ArchivePrune = time.Hour

// openArchive opens archive.db (every accepted event of every
// subscription, for replay), its writer (the filter archives through it)
// and the replay runner.
func (s *Server) openArchive() error {
	var err error
	if s.archive, err = sqlitearchive.Open(filepath.Join(s.o.DataDir, "archive.db"), s.o.Archive); err != nil {
		return fmt.Errorf("open archive: %w", err)
	}
	s.archiver = archive.NewWriter(s.archive, archive.WriterOptions{Logger: s.o.Logger.With("role", "filter"), Now: s.o.ArchiveClock})
	s.replays = &replay.Runner{Archive: s.archive, Logger: s.o.Logger.With("role", "replay")}
	return nil
}

// runArchive runs the replays (resuming those a previous process left
// running) and prunes the archive hourly, until ctx ends.
func (s *Server) runArchive(ctx context.Context) error {
	go func() {
		t := time.NewTicker(ArchivePrune)
		defer t.Stop()
		for {
			if n, err := s.archive.Prune(ctx, time.Now()); err != nil && ctx.Err() == nil {
				s.o.Logger.WarnContext(ctx, "prune archive", "err", err)
			} else if n > 0 {
				s.o.Logger.InfoContext(ctx, "archive pruned", "count", n)
			}
			select {
			case <-ctx.Done():
				return
			case <-t.C:
			}
		}
	}()
	return s.replays.Run(ctx)
}

// closeArchive appends what the writer holds and closes archive.db.
func (s *Server) closeArchive() {
	if s.archiver != nil {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		_ = s.archiver.Close(ctx)
		cancel()
		s.archiver = nil
	}
	if s.archive != nil {
		s.archive.Close()
		s.archive = nil
	}
}
