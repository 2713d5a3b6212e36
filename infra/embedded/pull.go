package embedded

import (
	"fmt"
	"net/http"
	"net/url"
	"path/filepath"
	"strings"

	"github.com/herokuevents/herokuevents/infra/embedded/sqlitepull"
	"github.com/herokuevents/herokuevents/shared/dataaction"
	"github.com/herokuevents/herokuevents/shared/queue"
	"github.com/herokuevents/herokuevents/shared/secret"
	"github.com/herokuevents/herokuevents/shared/subscribe"
)

// pullFile holds the pull buffers (HEROKUEVENTS_SUBSCRIBE_URL).
const pullFile = "pull.db"

// openPull opens the pull buffers of the data dir.
func (s *Server) openPull() error {
	b, err := sqlitepull.Open(filepath.Join(s.o.DataDir, pullFile), sqlitepull.Options{Retention: s.o.PullRetention})
	if err != nil {
		return fmt.Errorf("open pull buffers: %w", err)
	}
	s.pull = b
	return nil
}

// mountInbound serves the subscribe URL (GET {base}/subscribe/{name}, the
// pull buffers) and the Data Cloud data action targets (POST
// {base}/dataactions/{tenant}/{subscription}), which enqueue on ingest.
func (s *Server) mountInbound(mux *http.ServeMux, sealer secret.Sealer, ingest queue.Sender) error {
	ph, err := subscribe.New(subscribe.Options{Store: s.cached, Buffer: s.pull, Logger: s.o.Logger.With("role", "pull")})
	if err != nil {
		return err
	}
	dh, err := dataaction.New(dataaction.Options{Store: s.cached, Sealer: sealer, Ingest: ingest,
		Logger: s.o.Logger.With("role", "ingest"), Metrics: s.metrics.Role("ingest")})
	if err != nil {
		return err
	}
	mux.Handle(subscribe.Path+"/", ph)
	mux.Handle(dataaction.Path+"/", dh)
	return nil
}

// subscribeURL is the subscribe URL of a saved publish URL: same
// credentials, path /subscribe (data dirs from before pull subscriptions
// have no HEROKUEVENTS_SUBSCRIBE_URL saved).
func subscribeURL(publishURL string) string {
	u, err := url.Parse(publishURL)
	if err != nil || u.User == nil {
		return ""
	}
	u.Path = strings.TrimSuffix(u.Path, "/publish") + subscribe.Path
	return u.String()
}

func (s *Server) closePull() {
	if s.pull != nil {
		s.pull.Close()
		s.pull = nil
	}
}
