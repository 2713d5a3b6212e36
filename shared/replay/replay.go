// Package replay re-sends a window of a subscription's archived events
// (shared/archive): through the subscription's streams, filters re-applied,
// or to one publication, in accept order, at a capped rate. Each re-sent
// event keeps its original id and carries the extension attribute
// replayed = the replay's id (event.ExtReplayed).
//
// A replay is a Job stored in the configuration store (Kind), created by
// the api role (`herokuevents replay`), listed and cancelled there
// (`replays`, `replays:cancel`). A Runner moves it on one Step at a time:
// a step reads the next slice of the window (Rate × Slice events), hands
// each event to the filter role's handler (which routes it to the delivery
// queue) spaced 1/Rate apart, and saves the cursor and the counts. A step
// that fails is retried from the saved cursor: an event may be sent twice,
// never skipped (receivers de-duplicate on the id).
//
// Two drivers of the steps: in the embedded mode, Run, a goroutine of the
// serve process that finds running jobs in the store (so replays resume
// after a restart); on AWS, a self-continuing message on the ingest queue
// (Kicker, Steps): the filter function runs a step per message and queues
// the next one.
//
// Order: events are sent in accept order (per subscription, hence per
// key), one at a time. The delivery queue then delivers them as it
// delivers any event: in order per key for a publication with ordered
// lanes; for others, events of one key are at least 1/Rate apart.
package replay

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"math"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/herokuevents/herokuevents/shared/archive"
	"github.com/herokuevents/herokuevents/shared/config"
	"github.com/herokuevents/herokuevents/shared/event"
	"github.com/herokuevents/herokuevents/shared/queue"
)

// Kind is the configuration store kind of replay jobs.
const Kind = "replay"

// Job states.
const (
	StateRunning   = "running"
	StateDone      = "done"
	StateCancelled = "cancelled"
)

// Limits of a replay.
const (
	DefaultRate = 100.0
	MaxRate     = 1000.0
	MinRate     = 0.1
	// MaxRunning is how many replays of one tenant may run at once.
	MaxRunning = 3
	// DefaultSlice is how long one step sends.
	DefaultSlice = time.Second
	// KeepFinished is how long an ended replay stays listed: the api
	// forgets older ones when a replay is created.
	KeepFinished = 7 * 24 * time.Hour
)

// Job is one replay.
type Job struct {
	ID string `json:"id"`
	// Subscription is the subscription's id, SubscriptionName its name.
	Subscription     string `json:"subscription"`
	SubscriptionName string `json:"subscription_name,omitempty"`
	// Publication, when set, is the only publication replayed to (id).
	Publication     string `json:"publication,omitempty"`
	PublicationName string `json:"publication_name,omitempty"`
	// From ≤ accepted < To.
	From time.Time `json:"from"`
	To   time.Time `json:"to"`
	// Rate is the most events sent per second.
	Rate  float64 `json:"rate"`
	State string  `json:"state"`
	// Total is how many archived events the window holds (counted at the
	// first step; Counted says it was). Sent were handed to routing, Failed
	// could not be routed (a filter error, too large for the queue).
	Total   int    `json:"total"`
	Counted bool   `json:"counted,omitempty"`
	Sent    int    `json:"sent"`
	Failed  int    `json:"failed,omitempty"`
	Cursor  string `json:"cursor,omitempty"`
	// NextAt is when the next event is due (the rate's schedule).
	NextAt    time.Time `json:"next_at,omitzero"`
	LastError string    `json:"last_error,omitempty"`
	Created   time.Time `json:"created_at"`
	Started   time.Time `json:"started_at,omitzero"`
	Finished  time.Time `json:"finished_at,omitzero"`
}

// Item returns the store item of a new job (indexed while running, so that
// Run finds it).
func Item(tenant string, j Job) config.Item {
	it := config.Item{Tenant: tenant, Kind: Kind, ID: j.ID}
	if j.State == StateRunning {
		it.Index = config.IndexTime(j.Created)
	}
	return it
}

// Cancel stops a running job: its next step sends nothing. It returns the
// job; one that had already ended is returned unchanged with ok false.
func Cancel(ctx context.Context, s config.Store, tenant, id string, now time.Time) (j Job, ok bool, err error) {
	rec, err := config.Modify(ctx, s, tenant, Kind, id, 5, func(r *config.Record[Job]) (bool, error) {
		ok = r.Value.State == StateRunning
		if !ok {
			return false, nil
		}
		r.Value.State, r.Value.Finished, r.Item.Index = StateCancelled, now.UTC(), ""
		return true, nil
	})
	if err != nil {
		return Job{}, false, err
	}
	return rec.Value, ok, nil
}

// ParseTime reads a window bound: an RFC 3339 time, or a duration relative
// to now ("-1h", "-90m", "-2h30m"; "now" is now).
func ParseTime(s string, now time.Time) (time.Time, error) {
	s = strings.TrimSpace(s)
	if s == "now" {
		return now.UTC(), nil
	}
	if strings.HasPrefix(s, "-") || strings.HasPrefix(s, "+") {
		d, err := time.ParseDuration(s)
		if err != nil {
			return time.Time{}, fmt.Errorf("parse time %q: use RFC 3339 (2026-01-02T15:04:05Z) or a duration relative to now (-1h)", s)
		}
		return now.Add(d).UTC(), nil
	}
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		return time.Time{}, fmt.Errorf("parse time %q: use RFC 3339 (2026-01-02T15:04:05Z) or a duration relative to now (-1h)", s)
	}
	return t.UTC(), nil
}

// ParseRate reads a rate: "100", "100/s", "6000/m" (events per second).
func ParseRate(s string) (float64, error) {
	num, per, _ := strings.Cut(strings.TrimSpace(s), "/")
	f, err := strconv.ParseFloat(num, 64)
	unit := 1.0
	switch per {
	case "", "s":
	case "m":
		unit = 60
	case "h":
		unit = 3600
	default:
		err = errors.New("unit")
	}
	if err != nil || math.IsNaN(f) || math.IsInf(f, 0) {
		return 0, fmt.Errorf("parse rate %q: use events per second (100 or 100/s), or per minute (6000/m)", s)
	}
	return f / unit, nil
}

// Runner runs the steps of replays.
type Runner struct {
	Store   config.Store
	Archive archive.Reader
	// Route routes the replayed events (event.Routed with Replay set): the
	// filter role's handler.
	Route  queue.BatchHandler
	Logger *slog.Logger
	// Now, Sleep and Slice: time.Now, a timer and DefaultSlice when unset.
	Now   func() time.Time
	Sleep func(ctx context.Context, d time.Duration) error
	Slice time.Duration
	// Poll is how often Run looks for running jobs (1s when ≤ 0); Kick
	// wakes it at once.
	Poll time.Duration

	once sync.Once
	wake chan struct{}
}

func (r *Runner) init() {
	r.once.Do(func() {
		if r.Logger == nil {
			r.Logger = slog.Default()
		}
		if r.Now == nil {
			r.Now = time.Now
		}
		if r.Sleep == nil {
			r.Sleep = sleep
		}
		if r.Slice <= 0 {
			r.Slice = DefaultSlice
		}
		if r.Poll <= 0 {
			r.Poll = time.Second
		}
		r.wake = make(chan struct{}, 1)
	})
}

func sleep(ctx context.Context, d time.Duration) error {
	if d <= 0 {
		return ctx.Err()
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// errStop ends a step early: a transient routing failure.
var errStop = errors.New("stop")

// Step sends the next slice of a job and saves its progress. more reports
// that the job has more to send (call Step again); a job that is not
// running (done, cancelled, deleted) has none. On error nothing of the
// slice is recorded as sent: the next step sends it again.
func (r *Runner) Step(ctx context.Context, tenant, id string) (more bool, err error) {
	r.init()
	rec, err := config.Load[Job](ctx, r.Store, tenant, Kind, id)
	if errors.Is(err, config.ErrNotFound) {
		return false, nil
	}
	if err != nil {
		return true, fmt.Errorf("load replay %s: %w", id, err)
	}
	j := rec.Value
	if j.State != StateRunning {
		return false, nil
	}
	q := archive.Query{Tenant: tenant, Subscription: j.Subscription, From: j.From, To: j.To, After: j.Cursor}
	if !j.Counted {
		n, err := r.Archive.Count(ctx, q)
		if err != nil {
			return true, fmt.Errorf("count replay %s: %w", id, err)
		}
		j.Total, j.Counted, j.Started = n, true, r.Now().UTC()
		r.Logger.InfoContext(ctx, "replay started", "tenant", tenant, "replay", id, "subscription", j.SubscriptionName,
			"publication", j.PublicationName, "total", n, "rate", j.Rate)
	}
	rate := min(max(j.Rate, MinRate), MaxRate)
	q.Limit = max(1, int(math.Ceil(rate*r.Slice.Seconds())))
	page, err := r.Archive.Range(ctx, q)
	if err != nil {
		return true, fmt.Errorf("read replay %s: %w", id, err)
	}
	// The schedule goes on from the last step: event k of this step is
	// due at start + k/rate, and every event already due is routed in one
	// batch (routing one at a time would cap the rate at 1/latency).
	// A step that starts late (the time to save and load between steps)
	// catches up within a slice; later than that, the schedule restarts.
	start := r.Now()
	if !j.NextAt.IsZero() && start.Sub(j.NextAt) < r.Slice {
		start = j.NextAt
	}
	slot := func(k int) time.Time { return start.Add(time.Duration(float64(k) / rate * float64(time.Second))) }
	sent, failed := 0, 0
	var stepErr error
	for i := 0; i < len(page.Records) && stepErr == nil; {
		if err := r.Sleep(ctx, slot(i).Sub(r.Now())); err != nil {
			return true, err
		}
		k := i + 1
		for now := r.Now(); k < len(page.Records) && k-i < maxBatch && !slot(k).After(now); k++ {
		}
		f, err := r.send(ctx, tenant, j, page.Records[i:k])
		sent += k - i - f
		failed += f
		stepErr = err
		i = k
	}
	next := slot(len(page.Records))
	done := page.Next == "" && stepErr == nil
	rec, err = config.Modify(ctx, r.Store, tenant, Kind, id, 5, func(rec *config.Record[Job]) (bool, error) {
		v := &rec.Value
		if stepErr != nil { // the slice is sent again
			v.LastError = stepErr.Error()
			if v.Counted != j.Counted {
				v.Total, v.Counted, v.Started = j.Total, true, j.Started
			}
			return true, nil
		}
		v.Total, v.Counted, v.Started = j.Total, true, j.Started
		v.Sent += sent
		v.Failed += failed
		v.Cursor, v.NextAt = page.Next, next
		if done && v.State == StateRunning {
			v.State, v.Finished, rec.Item.Index = StateDone, r.Now().UTC(), ""
		}
		return true, nil
	})
	if err != nil {
		return true, fmt.Errorf("save replay %s: %w", id, err)
	}
	if stepErr != nil {
		return true, stepErr
	}
	if done {
		v := rec.Value
		r.Logger.InfoContext(ctx, "replay done", "tenant", tenant, "replay", id, "sent", v.Sent, "failed", v.Failed, "total", v.Total,
			"duration_ms", v.Finished.Sub(v.Started).Milliseconds())
	}
	return rec.Value.State == StateRunning, nil
}

// maxBatch bounds the events routed together.
const maxBatch = 100

// send routes archived events as replayed by j, in one batch, and returns
// how many failed permanently (logged). Those that fail otherwise are
// tried again a few times; then the error wraps errStop.
func (r *Runner) send(ctx context.Context, tenant string, j Job, recs []archive.Record) (failed int, err error) {
	msgs := make([]queue.Message, 0, len(recs))
	for i, a := range recs {
		ev := a.Event
		ev.Extensions = maps.Clone(ev.Extensions)
		if ev.Extensions == nil {
			ev.Extensions = map[string]any{}
		}
		ev.Extensions[event.ExtReplayed] = j.ID
		body, err := json.Marshal(event.Routed{Tenant: tenant, Subscription: j.Subscription, Event: ev,
			Replay: &event.Replay{ID: j.ID, Publication: j.Publication}})
		if err != nil {
			r.Logger.WarnContext(ctx, "replayed event not routed", "tenant", tenant, "replay", j.ID, "event_id", ev.ID, "err", err)
			failed++
			continue
		}
		msgs = append(msgs, queue.Message{ID: strconv.Itoa(i), Body: body, Attributes: map[string]string{queue.AttrTenant: tenant}})
	}
	var last error
	for attempt := range 3 {
		if len(msgs) == 0 {
			return failed, nil
		}
		res := r.Route.HandleBatch(ctx, msgs)
		again := map[string]bool{}
		for _, f := range res.Failures {
			if queue.IsPermanent(f.Err) {
				failed++
				r.Logger.WarnContext(ctx, "replayed event not routed", "tenant", tenant, "replay", j.ID, "message", f.ID, "err", f.Err)
				continue
			}
			again[f.ID], last = true, f.Err
		}
		msgs = slices.DeleteFunc(msgs, func(m queue.Message) bool { return !again[m.ID] })
		if len(msgs) > 0 {
			if err := r.Sleep(ctx, time.Duration(100<<attempt)*time.Millisecond); err != nil {
				return failed, err
			}
		}
	}
	if len(msgs) == 0 {
		return failed, nil
	}
	return failed, fmt.Errorf("%w: route %d replayed events: %w", errStop, len(msgs), last)
}

// Kick wakes Run: a job was created.
func (r *Runner) Kick(context.Context, string, string) error {
	r.init()
	select {
	case r.wake <- struct{}{}:
	default:
	}
	return nil
}

// Run runs every running job of the store, each in its own goroutine, step
// after step, until ctx ends: the embedded mode's driver. Jobs left
// running by a previous process are resumed from their cursor.
func (r *Runner) Run(ctx context.Context) error {
	r.init()
	var mu sync.Mutex
	running := map[string]bool{}
	var wg sync.WaitGroup
	defer wg.Wait()
	for {
		items, err := r.Store.IndexedBefore(ctx, Kind, config.IndexTime(r.Now().Add(time.Minute)), 0)
		if err != nil && ctx.Err() == nil {
			r.Logger.WarnContext(ctx, "list running replays", "err", err)
		}
		for _, it := range items {
			key := it.Tenant + "/" + it.ID
			mu.Lock()
			busy := running[key]
			running[key] = true
			mu.Unlock()
			if busy {
				continue
			}
			wg.Add(1)
			go func() {
				defer wg.Done()
				defer func() { mu.Lock(); delete(running, key); mu.Unlock() }()
				r.loop(ctx, it.Tenant, it.ID)
			}()
		}
		select {
		case <-ctx.Done():
			return nil
		case <-r.wake:
		case <-time.After(r.Poll):
		}
	}
}

func (r *Runner) loop(ctx context.Context, tenant, id string) {
	for ctx.Err() == nil {
		more, err := r.Step(ctx, tenant, id)
		if err != nil && ctx.Err() == nil {
			r.Logger.WarnContext(ctx, "replay step failed: retrying", "tenant", tenant, "replay", id, "err", err)
			_ = r.Sleep(ctx, time.Second)
			continue
		}
		if !more {
			return
		}
	}
}
