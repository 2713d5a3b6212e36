package embedded

import (
	"fmt"
	"path/filepath"

	"github.com/herokuevents/herokuevents/infra/embedded/sqlitededup"
)

// dedupFile holds the publish keys (Idempotency-Key, CloudEvent
// source+id) seen within the de-duplication window.
const dedupFile = "dedup.db"

// openDedup opens the publish keys of the data dir.
func (s *Server) openDedup() error {
	d, err := sqlitededup.Open(filepath.Join(s.o.DataDir, dedupFile), nil)
	if err != nil {
		return fmt.Errorf("open publish keys: %w", err)
	}
	s.dedup = d
	return nil
}

func (s *Server) closeDedup() {
	if s.dedup != nil {
		s.dedup.Close()
		s.dedup = nil
	}
}
