package embedded

import (
	"context"
	"fmt"
	"path/filepath"
	"time"

	"github.com/herokuevents/herokuevents/infra/embedded/sqlitejournal"
	"github.com/herokuevents/herokuevents/shared/journal"
)

// openJournal opens the delivery log (journal.db in the data dir) and the
// async writer the roles append to, unless o.NoJournal.
func (s *Server) openJournal(o Options) error {
	s.openTenantLog(o) // the entries are also the tenants' log lines
	if o.NoJournal {
		return nil
	}
	j, err := sqlitejournal.Open(filepath.Join(o.DataDir, "journal.db"), sqlitejournal.Options{
		Retention: o.Journal, Logger: o.Logger.With("role", "journal"),
	})
	if err != nil {
		return fmt.Errorf("open delivery log: %w", err)
	}
	s.journal = j
	s.jw = journal.NewAsync(s.views.logs.Journal(j), journal.AsyncOptions{Logger: o.Logger.With("role", "journal")})
	return nil
}

// journalWriter is what the roles append to; nil without a journal.
func (s *Server) journalWriter() journal.Writer {
	if s.jw == nil {
		return nil
	}
	return s.jw
}

// journalReader is what the api reads; nil without a journal.
func (s *Server) journalReader() journal.Reader {
	if s.journal == nil {
		return nil
	}
	return s.journal
}

// closeJournal writes what the roles appended, then closes the file
// (and ships the tenants' last lines).
func (s *Server) closeJournal() {
	if s.jw != nil {
		_ = s.jw.Close()
		s.jw = nil
	}
	s.closeTenantLog()
	if s.journal != nil {
		if err := s.journal.Close(); err != nil {
			s.o.Logger.Error("close delivery log", "err", err)
		}
		s.journal = nil
	}
}

// FlushJournal waits until the delivery log holds what the roles appended
// so far (tests read it right after an event).
func (s *Server) FlushJournal(ctx context.Context) error {
	if s.jw == nil {
		return nil
	}
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	return s.jw.Flush(ctx)
}
