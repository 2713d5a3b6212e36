// Package generate is the generate role: event generators, i.e.
// subscriptions of platform "generate" with an interval and a Bloblang
// mapping (reference §3, §6.4). Platform validates and creates them through
// the api; Ticker emits their events on a schedule, driven by a ticker in
// the embedded mode and by an EventBridge Scheduler rate(1 minute) tick on
// AWS — the same code.
//
// # Scheduling
//
// A generator's stored item carries Index = config.IndexTime(next run), so a
// tick finds the due ones with config.Store.IndexedBefore (an index on
// next-run time, no table scan). A tick at time `at` claims every slot
// before at+Window: each due generator is advanced past those slots with a
// conditional write (config.Save at the version read), and only the tick
// whose write wins sends the slots' events, each with a queue delay up to its
// scheduled time, so a 1s generator ticked once a minute still fires every
// second, and each event's time is its scheduled slot.
//
// # Exactly once per slot
//
// Claim first, then send: two concurrent ticks read the same version, one
// write wins, the other gets config.ErrConflict and skips the generator, so
// no slot is emitted by two ticks. If the send then fails, the claim is
// rolled back with another conditional write and the tick returns the error
// (Lambda retries it; the embedded ticker retries next tick): the slots are
// emitted again with the same event ids, which are derived from (generator
// id, slot), so a partial send is a duplicate receivers drop by id — never
// a lost slot. Only when the rollback itself fails (the store is down too)
// are the slots of that claim lost; that is logged as an error.
//
// # Missed slots
//
// Slots that are late by at most Grace (one tick window by default) are
// emitted late, as usual. After downtime, the slots older than that are
// missed: of them only the latest is emitted, as one catch-up event per
// generator stamped with its own scheduled time; the others are skipped
// and logged with their count.
//
// # Mapping errors
//
// The mapping runs without input, once per slot, at claim time (so now()
// in a mapping is the tick's time; the event's time is the slot). A runtime
// error skips that slot's event, is logged and counted (metric
// GenerateErrors) and sets State.Status "failing" and State.LastError; it
// never fails the tick. A mapping that yields deleted() emits nothing.
package generate

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/google/uuid"

	"github.com/herokuevents/herokuevents/shared/config"
	"github.com/herokuevents/herokuevents/shared/envelope"
	"github.com/herokuevents/herokuevents/shared/event"
	"github.com/herokuevents/herokuevents/shared/metric"
	"github.com/herokuevents/herokuevents/shared/queue"
)

// Generator states (config.SourceState.Status).
const (
	StatusActive  = "active"
	StatusFailing = "failing"
	// StatusStopped: the generator's interval or mapping no longer parses;
	// it is not scheduled any more.
	StatusStopped = "stopped"
)

// MetricErrors counts mapping runs that failed.
const MetricErrors = "GenerateErrors"

// MaxSlots bounds the events one generator emits in one tick.
const MaxSlots = 1000

// idSpace is the UUID namespace of generated event ids.
var idSpace = uuid.MustParse("0d9f3a52-6c1e-4b7a-9e2f-5a8c7d1b3e60")

// EventID is the id of the event of generator gen at slot: stable, so a
// retried tick re-emits the same ids.
func EventID(gen string, slot time.Time) string {
	return uuid.NewSHA1(idSpace, []byte(gen+"@"+config.IndexTime(slot))).String()
}

// Options configure a Ticker.
type Options struct {
	// Store holds the generators. Required.
	Store config.Store
	// Ingest receives one event.Routed per generated event. Required.
	Ingest queue.Sender
	// Window is how far ahead of its time a tick claims slots: the period of
	// the tick (1 minute when zero). At most queue.MaxDelay.
	Window time.Duration
	// Grace is how late a slot may be and still be emitted; older slots are
	// missed (one catch-up event). Window when zero.
	Grace time.Duration
	// Limit is the page size of the due-generator query (100 when zero).
	Limit   int
	Logger  *slog.Logger
	Metrics metric.Recorder
	// Now is the clock for queue delays; time.Now when nil.
	Now func() time.Time
	// Compile compiles a generator's mapping (shared/mapping, cached):
	// the ticker itself does not link Bloblang. Required.
	Compile Compiler
}

// Compiler compiles a Bloblang mapping in the pure environment of
// shared/mapping (a *mapping.Cache's Get, adapted).
type Compiler func(src string) (Program, error)

// Program is a compiled mapping (*mapping.Mapping).
type Program interface {
	Apply(data []byte) (out []byte, deleted bool, err error)
}

// Ticker emits the events of due generators. Safe for concurrent use, also
// by several processes on the same store.
type Ticker struct {
	o Options
}

// New returns a Ticker, or an error without Store, Ingest or Compile.
func New(o Options) (*Ticker, error) {
	if o.Store == nil || o.Ingest == nil || o.Compile == nil {
		return nil, errors.New("new generate ticker: Options.Store, Ingest and Compile are required")
	}
	if o.Window <= 0 {
		o.Window = time.Minute
	}
	o.Window = min(o.Window, queue.MaxDelay)
	if o.Grace <= 0 {
		o.Grace = o.Window
	}
	if o.Limit <= 0 {
		o.Limit = 100
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	if o.Metrics == nil {
		o.Metrics = metric.Discard
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	return &Ticker{o: o}, nil
}

// Stats summarise one tick.
type Stats struct {
	Generators int // generators claimed and advanced
	Events     int // events sent
	Conflicts  int // generators another tick had claimed
	Errors     int // mapping runs that failed
	Skipped    int // missed slots not emitted (catch-up)
	Stopped    int // generators unscheduled because they no longer parse
}

// Tick runs one tick at time at (lambdaio.StartSchedule's signature).
func (t *Ticker) Tick(ctx context.Context, at time.Time) error {
	_, err := t.Run(ctx, at)
	return err
}

// Run claims and emits every slot before at+Window of every due generator.
// It returns an error when the store cannot be read or events cannot be
// queued (after rolling back that claim); the slots are then emitted by a
// later tick.
func (t *Ticker) Run(ctx context.Context, at time.Time) (Stats, error) {
	var st Stats
	at = at.UTC()
	horizon := at.Add(t.o.Window)
	upTo := config.IndexTime(horizon.Add(-time.Nanosecond)) // slots < horizon
	for limit := t.o.Limit; ; {
		items, err := t.o.Store.IndexedBefore(ctx, config.KindSubscription, upTo, limit)
		if err != nil {
			return st, fmt.Errorf("find due generators: %w", err)
		}
		claimed, ours := 0, 0
		for _, it := range items {
			if err := ctx.Err(); err != nil {
				return st, err
			}
			mine, ok, err := t.fire(ctx, it, at, horizon, &st)
			if err != nil {
				return st, err
			}
			if mine {
				ours++
			}
			if ok {
				claimed++
			}
		}
		switch {
		case limit <= 0 || len(items) < limit:
			// Every due item was seen.
		case claimed > 0:
			continue // claimed items left the range: the next page is new
		case ours < len(items):
			// A full page of other schedulers' subscriptions (the index is
			// shared by kind): look past them once, without a limit.
			limit = 0
			continue
		}
		break
	}
	if st.Generators > 0 || st.Conflicts > 0 {
		t.o.Logger.InfoContext(ctx, "generate tick", "at", at, "generators", st.Generators, "events", st.Events,
			"conflicts", st.Conflicts, "errors", st.Errors, "skipped", st.Skipped)
	}
	return st, nil
}

// Loop ticks every period until ctx is done (the embedded mode). Tick
// errors are logged and retried on the next tick.
func (t *Ticker) Loop(ctx context.Context, period time.Duration) error {
	tk := time.NewTicker(period)
	defer tk.Stop()
	for {
		if err := t.Tick(ctx, t.o.Now()); err != nil && ctx.Err() == nil {
			t.o.Logger.ErrorContext(ctx, "generate tick failed", "err", err)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-tk.C:
		}
	}
}

// fire claims one due generator and sends its events. mine reports a
// generator; ok a claim (or stop) that moved it out of the due range.
func (t *Ticker) fire(ctx context.Context, it config.Item, at, horizon time.Time, st *Stats) (mine, ok bool, err error) {
	var sub config.Subscription
	if err := json.Unmarshal(it.Body, &sub); err != nil {
		t.o.Logger.ErrorContext(ctx, "undecodable subscription", "tenant", it.Tenant, "subscription", it.ID, "err", err)
		return false, false, nil
	}
	if sub.Platform != config.PlatformGenerate {
		return false, false, nil // another scheduler's subscription
	}
	ok, err = t.claim(ctx, it, sub, at, horizon, st)
	return true, ok, err
}

// claim advances one due generator past the window by a conditional write,
// then sends the window's events; ok reports the write won.
func (t *Ticker) claim(ctx context.Context, it config.Item, sub config.Subscription, at, horizon time.Time, st *Stats) (ok bool, err error) {
	log := t.o.Logger.With("tenant", it.Tenant, "subscription", sub.ID, "name", sub.Name)
	rec := config.Record[config.Subscription]{Value: sub, Item: it, Version: it.Version}
	prev := rec
	if sub.State != nil {
		s := *sub.State
		prev.Value.State = &s
	}
	next, err := time.Parse(time.RFC3339Nano, it.Index)
	if err != nil {
		return t.stop(ctx, log, rec, fmt.Sprintf("unreadable next run %q", it.Index), st)
	}
	iv, err := ParseInterval(sub.Params.Interval)
	if err != nil {
		return t.stop(ctx, log, rec, Message(err), st)
	}
	m, err := t.o.Compile(sub.Params.Mapping)
	if err != nil {
		return t.stop(ctx, log, rec, err.Error(), st)
	}

	slots, next, skipped := plan(iv, next, at.Add(-t.o.Grace), horizon)
	if skipped > 0 {
		log.WarnContext(ctx, "missed slots: one catch-up event", "missed_from", it.Index, "skipped", skipped, "catch_up", slots[0])
	}
	state := config.SourceState{Status: StatusActive, CheckedAt: at, NextRun: next}
	if sub.State != nil {
		state.LastError = sub.State.LastError
	}
	var msgs, failures []queue.Message
	var ids []string
	failed := 0
	now := t.o.Now()
	for _, slot := range slots {
		msg, id, err := t.message(it.Tenant, sub, m, slot, now)
		if err != nil {
			failed++
			state.Status, state.LastError = StatusFailing, fmt.Sprintf("%s: %s", config.IndexTime(slot), err.Error())
			log.WarnContext(ctx, "mapping failed", "slot", slot, "event_id", EventID(sub.ID, slot), "err", err)
			if dead, derr := t.failed(it.Tenant, sub, slot, now, err); derr == nil {
				failures = append(failures, dead)
			}
			continue
		}
		if id == "" {
			continue // deleted()
		}
		msgs = append(msgs, msg)
		ids = append(ids, id)
	}
	rec.Value.State = &state
	rec.Item.Index = ""
	if !next.IsZero() {
		rec.Item.Index = config.IndexTime(next)
	}
	saved, err := config.Save(ctx, t.o.Store, rec)
	switch {
	case errors.Is(err, config.ErrConflict), errors.Is(err, config.ErrNotFound):
		st.Conflicts++
		log.InfoContext(ctx, "generator claimed elsewhere or deleted", "err", err)
		return false, nil
	case err != nil:
		return false, fmt.Errorf("claim generator %s: %w", sub.ID, err)
	}
	st.Generators++
	st.Errors += failed
	st.Skipped += skipped
	if failed > 0 {
		t.o.Metrics.Count(ctx, MetricErrors, failed, "Platform", config.PlatformGenerate)
	}
	if len(msgs)+len(failures) == 0 {
		return true, nil
	}
	if err := t.o.Ingest.Send(ctx, append(msgs, failures...)...); err != nil {
		prev.Item.Version, prev.Version = saved.Version, saved.Version
		if _, rerr := config.Save(ctx, t.o.Store, prev); rerr != nil {
			log.ErrorContext(ctx, "send failed and claim not rolled back: slots lost", "events", len(msgs),
				"first_event_id", ids[0], "err", err, "rollback_err", rerr)
		} else {
			log.WarnContext(ctx, "send failed: claim rolled back", "events", len(msgs), "first_event_id", ids[0], "err", err)
		}
		return true, fmt.Errorf("enqueue generated events of %s: %w", sub.ID, err)
	}
	if len(msgs) == 0 {
		return true, nil
	}
	st.Events += len(msgs)
	t.o.Metrics.Count(ctx, metric.Ingested, len(msgs), "Platform", config.PlatformGenerate)
	for i, id := range ids {
		log.InfoContext(ctx, "generated", "event_id", id, "slot", slots[i], "next_run", next)
	}
	return true, nil
}

// plan returns the slots to emit for a generator whose next run is s: at
// most one catch-up slot among those before cut, then every slot before
// horizon (at most MaxSlots in all), the new next run, and how many missed
// slots were skipped (counted exactly for fixed intervals, as 1+ for cron).
func plan(iv Interval, s, cut, horizon time.Time) (slots []time.Time, next time.Time, skipped int) {
	if s.Before(cut) {
		last, after := iv.lastBefore(s, cut)
		slots = append(slots, last)
		if every := iv.Fixed(); every > 0 {
			skipped = int(last.Sub(s) / every)
		} else if !last.Equal(s) {
			skipped = 1
		}
		s = after
	}
	for !s.IsZero() && s.Before(horizon) && len(slots) < MaxSlots {
		slots = append(slots, s)
		s = iv.Next(s)
	}
	return slots, s, skipped
}

// message runs the mapping for slot and builds the ingest message; id is
// "" when the mapping deleted the event.
func (t *Ticker) message(tenant string, sub config.Subscription, m Program, slot, now time.Time) (queue.Message, string, error) {
	data, deleted, err := m.Apply(nil)
	if err != nil {
		return queue.Message{}, "", err
	}
	if deleted {
		return queue.Message{}, "", nil
	}
	ev := event.Event{
		ID:              EventID(sub.ID, slot),
		Source:          event.Source(tenant, "subscriptions", sub.Name),
		Type:            event.TypeGenerate,
		Time:            slot.UTC(),
		DataContentType: "application/json",
		Data:            data,
	}
	r := event.Routed{Tenant: tenant, Subscription: sub.ID, Event: ev}
	body, err := json.Marshal(r)
	if err != nil {
		return queue.Message{}, "", fmt.Errorf("encode event: %w", err)
	}
	if err := envelope.CheckRouted(r, body); err != nil {
		return queue.Message{}, "", fmt.Errorf("the event of %d bytes of data cannot be delivered: %w", len(data), err)
	}
	return queue.Message{
		Body:       body,
		Attributes: map[string]string{queue.AttrTenant: tenant},
		Delay:      queue.ClampDelay(slot.Sub(now)),
	}, ev.ID, nil
}

// failed is the message that dead-letters the event of slot, which the
// mapping could not make (err): the event's attributes without data, with
// err as event.Routed.Error, for the filter to dead-letter.
func (t *Ticker) failed(tenant string, sub config.Subscription, slot, now time.Time, err error) (queue.Message, error) {
	body, merr := json.Marshal(event.Routed{Tenant: tenant, Subscription: sub.ID, Error: "generator " + sub.Name + ": " + err.Error(), Event: event.Event{
		ID:     EventID(sub.ID, slot),
		Source: event.Source(tenant, "subscriptions", sub.Name),
		Type:   event.TypeGenerate,
		Time:   slot.UTC(),
	}})
	if merr != nil {
		return queue.Message{}, fmt.Errorf("encode failed event: %w", merr)
	}
	return queue.Message{
		Body:       body,
		Attributes: map[string]string{queue.AttrTenant: tenant},
		Delay:      queue.ClampDelay(slot.Sub(now)),
	}, nil
}

// stop unschedules a generator that can no longer run (its interval or
// mapping does not parse any more), recording why.
func (t *Ticker) stop(ctx context.Context, log *slog.Logger, rec config.Record[config.Subscription], why string, st *Stats) (bool, error) {
	rec.Value.State = &config.SourceState{Status: StatusStopped, LastError: why}
	rec.Item.Index = ""
	if _, err := config.Save(ctx, t.o.Store, rec); err != nil {
		if errors.Is(err, config.ErrConflict) || errors.Is(err, config.ErrNotFound) {
			st.Conflicts++
			return false, nil
		}
		return false, fmt.Errorf("stop generator %s: %w", rec.Value.ID, err)
	}
	st.Stopped++
	log.ErrorContext(ctx, "generator stopped", "reason", why)
	return true, nil
}
