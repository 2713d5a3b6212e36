// Package generate is the "generate" platform: a subscription that emits
// the result of a Bloblang mapping on a schedule (reference §3, §4). Its
// runner ticks the generate role (shared/generate) in a long-running
// process; on AWS functions/generate does on a schedule.
package generate

import (
	"context"
	"errors"
	"time"

	"github.com/herokuevents/herokuevents/shared/config"
	gen "github.com/herokuevents/herokuevents/shared/generate"
	"github.com/herokuevents/herokuevents/shared/httpjson"
	"github.com/herokuevents/herokuevents/shared/platform"
)

// Tick is how often the runner ticks the generators, and Window how far
// ahead each tick claims slots (queued with a delay up to their time).
// Ticking more often than the window keeps a new generator's first event
// (due at once) from waiting for the next tick.
const (
	Tick   = 250 * time.Millisecond
	Window = time.Second
)

// Platform returns the generate platform.
func Platform() platform.Platform {
	return platform.Platform{
		Name: config.PlatformGenerate,
		Subscription: &platform.Source{
			Validate: validate,
			Polled:   true,
			Command: platform.Command{
				Use:   "generate NAME",
				What:  "event generator",
				Short: "Create an event generator: a subscription that emits the result of a Bloblang mapping on a schedule",
				Long: `Create an event generator: a subscription that emits the result of a Bloblang mapping on a schedule.

INTERVAL is a duration of at least 1s (30s, 1m, 1h30m, also "@every 5m"), which fires at once and then
every interval, or a 5-field cron expression ("*/5 * * * *"), in UTC unless prefixed with "TZ=Area/City ".
MAPPING runs without input; its result is the event's data. Stream the generator to a publication with
--target, or later with streams:create.`,
				Example: `  herokuevents generate my-generator -i 1m -m 'root.timestamp = timestamp_unix()' -a my-app
  herokuevents events:generate systemStatus -i 'TZ=Europe/London 0 9 * * 1-5' \
    -m 'root = {"status": "up", "created_at": timestamp_unix_milli()}' -t statusHook -a my-app`,
				Flags: []platform.Flag{
					{Name: "interval", Shorthand: "i", Usage: `schedule: a duration (1m), "@every 5m" or a cron expression (required)`, Required: true, NotEmpty: true},
					{Name: "mapping", Shorthand: "m", Usage: "Bloblang mapping that builds each event's data (required)", Required: true, NotEmpty: true},
				},
				Link: platform.LinkFlags{End: "t", Filter: "f"},
			},
		},
		Run: run,
	}
}

// validate: {name, interval, mapping, target?, filter?}. The interval must
// parse (gen.ParseInterval); the mapping must compile in the pure Bloblang
// environment (a compile error with its line and column) and run once
// without input, so that a mapping that can never produce an event is
// refused up front. The subscription is created with State.NextRun = the
// first slot, which the api turns into the item's Index.
func validate(_ context.Context, d platform.Deps, _ string, body []byte) (config.Subscription, error) {
	var req struct {
		platform.SubscriptionFields
		Interval *string `json:"interval"`
		Mapping  *string `json:"mapping"`
	}
	if err := httpjson.Decode(body, &req); err != nil {
		return config.Subscription{}, err
	}
	if req.Interval == nil {
		return config.Subscription{}, config.Invalid("interval is required.")
	}
	if req.Mapping == nil || *req.Mapping == "" {
		return config.Subscription{}, config.Invalid("mapping is required.")
	}
	iv, err := gen.ParseInterval(*req.Interval)
	if err != nil {
		return config.Subscription{}, config.Invalid("%s.", gen.Message(err))
	}
	if d.Compile == nil {
		return config.Subscription{}, errors.New("generate platform: Deps.Compile is required to check mappings")
	}
	m, err := d.Compile(*req.Mapping)
	if err != nil {
		return config.Subscription{}, config.Invalid("mapping: %s", err.Error())
	}
	if _, _, err := m.Apply(nil); err != nil {
		return config.Subscription{}, config.Invalid("mapping fails when run without input: %s", err.Error())
	}
	return config.Subscription{
		Params: config.Params{Interval: iv.String(), Mapping: *req.Mapping},
		State:  &config.SourceState{Status: gen.StatusActive, NextRun: iv.First(d.Clock()())},
	}, nil
}

// run ticks the generators every Tick until ctx is done, as EventBridge
// Scheduler drives functions/generate on AWS.
func run(ctx context.Context, d platform.Deps) error {
	if d.Ingest == nil || d.Compile == nil {
		return errors.New("generate runner: Deps.Ingest and Compile are required")
	}
	t, err := gen.New(gen.Options{
		Store:   d.Store,
		Ingest:  d.Ingest,
		Window:  Window,
		Compile: func(src string) (gen.Program, error) { return d.Compile(src) },
		Logger:  d.Log().With("role", "generate"),
		Metrics: d.Metrics,
	})
	if err != nil {
		return err
	}
	return t.Loop(ctx, Tick)
}
