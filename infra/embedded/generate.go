package embedded

import (
	"context"
	"time"

	"github.com/herokuevents/herokuevents/shared/config"
	"github.com/herokuevents/herokuevents/shared/generate"
)

// GenerateTick is how often the embedded mode ticks the generators, and
// GenerateWindow how far ahead each tick claims slots (queued with a delay
// up to their time). Ticking more often than the window keeps a new
// generator's first event (due at once) from waiting for the next tick.
const (
	GenerateTick   = 250 * time.Millisecond
	GenerateWindow = time.Second
)

func init() { Register(wireGenerate) }

// wireGenerate adds the "generate" subscription platform to the api and
// drives the generate role's Ticker from a ticker, as EventBridge Scheduler
// drives functions/generate on AWS.
func wireGenerate(_ context.Context, e *Env) error {
	e.SubscriptionPlatforms[config.PlatformGenerate] = generate.Platform(nil)
	t := generate.NewTicker(generate.Options{
		Store:  e.Store,
		Ingest: e.Queues.Queue(IngestQueue),
		Window: GenerateWindow,
		Logger: e.Logger.With("role", "generate"),
	})
	e.Go(func(ctx context.Context) error { return t.Loop(ctx, GenerateTick) })
	return nil
}
