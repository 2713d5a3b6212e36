package local

import (
	"context"
	"time"

	"github.com/herokuevents/herokuevents/shared/config"
	"github.com/herokuevents/herokuevents/shared/generate"
)

// GenerateTick is how often the embedded mode ticks the generators; each
// tick claims the slots of the next GenerateTick, so events leave on time.
const GenerateTick = time.Second

func init() { Register(wireGenerate) }

// wireGenerate adds the "generate" subscription platform to the api and
// drives the generate role's Ticker from a ticker, as EventBridge Scheduler
// drives functions/generate on AWS.
func wireGenerate(_ context.Context, e *Env) error {
	e.SubscriptionPlatforms[config.PlatformGenerate] = generate.Platform(nil)
	t := generate.NewTicker(generate.Options{
		Store:  e.Store,
		Ingest: e.Queues.Queue(IngestQueue),
		Window: GenerateTick,
		Logger: e.Logger.With("role", "generate"),
	})
	e.Go(func(ctx context.Context) error { return t.Loop(ctx, GenerateTick) })
	return nil
}
