package partner

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/herokuevents/herokuevents/shared/backoff"
	"github.com/herokuevents/herokuevents/shared/config"
	"github.com/herokuevents/herokuevents/shared/metric"
	"github.com/herokuevents/herokuevents/shared/queue"
	"github.com/herokuevents/herokuevents/shared/secret"
	"github.com/herokuevents/herokuevents/shared/sink"
)

// DefaultConcurrency is how many notifications of a batch are sent at once.
const DefaultConcurrency = 10

// UserAgent is sent with every notification.
const UserAgent = "herokuevents-partnernotify"

// NotifierOptions configure a Notifier.
type NotifierOptions struct {
	// Store holds partners and add-ons. Required.
	Store config.Store
	// Sealer opens partner passwords. Required.
	Sealer secret.Sealer
	// Client sends notifications; it must be guarded (sink.Egress.Client).
	// Nil means a guarded client with no allow list.
	Client *http.Client
	// Requeue is the partner queue, used to schedule retries. Required.
	Requeue queue.Sender
	// Backoff, when its Base is set, replaces every partner's schedule
	// (tests use a short one). Otherwise a partner's retries are spaced so
	// that the backoff ceilings of its attempts add up to its horizon
	// (backoff.Spread).
	Backoff backoff.Policy
	// Concurrency bounds the notifications of one batch sent at once
	// (DefaultConcurrency when ≤ 0).
	Concurrency int
	// Metrics records Delivered, Failed and DeadLettered (dimension
	// Platform=partner); metric.Discard when nil.
	Metrics metric.Recorder
	// Logger gets one line per decision; slog.Default when nil.
	Logger *slog.Logger
}

// Notifier is the partnernotify role's queue.BatchHandler: it consumes the
// partner queue (JSON Notification bodies) and POSTs each payload to
// {base_url}/{resource_id}/events with Basic auth "partner id : api
// password". 200 acknowledges. 410 marks the add-on resource gone and
// stops. A destination the egress guard refuses is dead-lettered at once.
// Anything else is retried by re-sending the notification with a backoff
// delay until the partner's attempts are used up, then dead-lettered with
// the last status and body excerpt. Safe for use from any number of
// goroutines.
type Notifier struct {
	o   NotifierOptions
	reg *Registry
}

var _ queue.BatchHandler = (*Notifier)(nil)

// NewNotifier returns a Notifier, or an error when Store, Sealer or
// Requeue is missing.
func NewNotifier(o NotifierOptions) (*Notifier, error) {
	if o.Store == nil || o.Sealer == nil || o.Requeue == nil {
		return nil, errors.New("partner: NotifierOptions.Store, Sealer and Requeue are required")
	}
	if o.Client == nil {
		o.Client = sink.NewEgress(nil).Client(0)
	}
	if o.Concurrency <= 0 {
		o.Concurrency = DefaultConcurrency
	}
	if o.Metrics == nil {
		o.Metrics = metric.Discard
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	return &Notifier{o: o, reg: &Registry{Store: o.Store, Sealer: o.Sealer}}, nil
}

// Decisions logged per notification.
const (
	decisionDelivered  = "delivered"
	decisionRetry      = "retry"
	decisionDeadLetter = "dead_letter"
	decisionGone       = "gone"
	decisionSkipped    = "skipped"
	decisionRedeliver  = "redeliver"
)

// HandleBatch sends every notification of the batch, concurrently, and
// returns the failures: queue.Permanent ones to dead-letter, others to be
// redelivered (store, sealer or requeue failures).
func (n *Notifier) HandleBatch(ctx context.Context, msgs []queue.Message) queue.BatchResult {
	var (
		res queue.BatchResult
		mu  sync.Mutex
		wg  sync.WaitGroup
		sem = make(chan struct{}, n.o.Concurrency)
	)
	for _, m := range msgs {
		sem <- struct{}{}
		wg.Go(func() {
			defer func() { <-sem }()
			if err := n.handle(ctx, m); err != nil {
				mu.Lock()
				res.Fail(m.ID, err)
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	return res
}

func (n *Notifier) handle(ctx context.Context, m queue.Message) (err error) {
	defer func() {
		if err != nil {
			n.o.Metrics.Count(ctx, metric.Failed, 1, "Platform", "partner")
			if queue.IsPermanent(err) {
				n.o.Metrics.Count(ctx, metric.DeadLettered, 1, metric.DimReason, metric.ReasonPermanent)
			}
		}
	}()
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("notify message %s: panic: %v", m.ID, p)
			n.o.Logger.ErrorContext(ctx, "partner notification panicked", "message_id", m.ID, "decision", decisionRedeliver, "error", err)
		}
	}()
	var note Notification
	if err := json.Unmarshal(m.Body, &note); err != nil {
		err = queue.Permanent(fmt.Errorf("decode notification: %w", err))
		n.o.Logger.WarnContext(ctx, "partner notification", "message_id", m.ID, "decision", decisionDeadLetter, "reason", err.Error())
		return err
	}
	log := n.o.Logger.With(
		slog.String("notification", note.ID),
		slog.String("partner", note.Partner),
		slog.String("addon", note.Addon),
		slog.String("resource_id", note.ResourceID),
		slog.String("heroku_id", note.HerokuID),
		slog.String("event", note.Event),
		slog.Int("attempt", note.Attempt+1),
	)
	fail := func(err error) error {
		log.WarnContext(ctx, "partner notification", "decision", decisionDeadLetter, "reason", err.Error())
		return queue.Permanent(err)
	}
	if note.Partner == "" || note.ResourceID == "" || note.Payload == "" {
		return fail(errors.New("notification without partner, resource id or payload"))
	}
	reg := n.reg
	p, err := reg.Partner(ctx, note.Partner)
	switch {
	case errors.Is(err, config.ErrNotFound):
		return fail(fmt.Errorf("partner %s is not registered (destroyed?)", note.Partner))
	case err != nil:
		log.ErrorContext(ctx, "partner notification", "decision", decisionRedeliver, "error", err.Error())
		return err
	}
	if note.Addon != "" {
		addon, err := reg.Addon(ctx, note.Addon)
		switch {
		case errors.Is(err, config.ErrNotFound):
			// Detached since: the detach notification itself still goes out.
		case err != nil:
			log.ErrorContext(ctx, "partner notification", "decision", decisionRedeliver, "error", err.Error())
			return err
		case addon.Gone:
			log.InfoContext(ctx, "partner notification", "decision", decisionSkipped, "reason", "resource is gone: "+addon.GoneReason)
			return nil
		}
	}
	pass, err := reg.Password(ctx, p)
	switch {
	case errors.Is(err, secret.ErrOpen):
		return fail(err)
	case err != nil:
		log.ErrorContext(ctx, "partner notification", "decision", decisionRedeliver, "error", err.Error())
		return err
	}

	target := strings.TrimSuffix(p.BaseURL(), "/") + "/" + url.PathEscape(note.ResourceID) + "/events"
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, target, strings.NewReader(note.Payload))
	if err != nil {
		return fail(fmt.Errorf("build request to partner %s: %w", p.ID, err))
	}
	req.SetBasicAuth(p.ID, pass)
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/json")
	req.Header.Set("User-Agent", UserAgent)
	res := sink.Do(n.o.Client, req)
	log = log.With(slog.Int("status", res.Status), slog.Duration("duration", res.Latency))

	switch {
	case res.Status == http.StatusOK:
		log.InfoContext(ctx, "partner notification", "decision", decisionDelivered)
		n.o.Metrics.Count(ctx, metric.Delivered, 1, "Platform", "partner")
		return nil
	case res.Status == http.StatusGone:
		reason := fmt.Sprintf("partner answered 410 Gone at %s", time.Now().UTC().Format(time.RFC3339))
		if err := reg.MarkGone(ctx, note.Addon, reason); err != nil {
			log.ErrorContext(ctx, "partner notification", "decision", decisionRedeliver, "error", err.Error())
			return err
		}
		log.WarnContext(ctx, "partner notification", "decision", decisionGone, "reason", res.Reason())
		return nil
	case ctx.Err() != nil:
		log.WarnContext(ctx, "partner notification", "decision", decisionRedeliver, "error", res.Reason())
		return fmt.Errorf("notify partner %s: %s", p.ID, res.Reason())
	case res.Status == 0 && res.Class == sink.Permanent:
		return fail(fmt.Errorf("notify partner %s: %s", p.ID, res.Reason()))
	}
	return n.retry(ctx, log, note, p, res)
}

// retry schedules the next attempt or, when the partner's attempts are
// used up, dead-letters the notification with the last result.
func (n *Notifier) retry(ctx context.Context, log *slog.Logger, note Notification, p Partner, res sink.Result) error {
	next := n.backoff(p).Next(backoff.Limits{MaxAttempts: p.Retry.attempts()},
		backoff.Failure{Attempt: note.Attempt, FirstTry: note.FirstTry, RetryAfter: res.RetryAfter}, time.Now().UTC())
	if next.GiveUp {
		err := fmt.Errorf("%s to notify partner %s of %s for resource %s: last answer %s",
			next.Reason, p.ID, note.Event, note.ResourceID, res.Reason())
		log.WarnContext(ctx, "partner notification", "decision", decisionDeadLetter, "reason", err.Error())
		return queue.Permanent(err)
	}
	retried := note
	retried.Attempt, retried.FirstTry = next.Attempts, next.FirstTry
	body, err := json.Marshal(retried)
	if err != nil {
		return fmt.Errorf("encode notification: %w", err)
	}
	if err := n.o.Requeue.Send(ctx, next.Message(p.ID, body)); err != nil {
		if errors.Is(err, queue.ErrTooLarge) || errors.Is(err, queue.ErrInvalid) {
			// The queue will never carry this retry: only its own message fails.
			err = fmt.Errorf("requeue notification %s after %s: %w", note.ID, res.Reason(), err)
			log.WarnContext(ctx, "partner notification", "decision", decisionDeadLetter, "reason", err.Error())
			return queue.Permanent(err)
		}
		log.ErrorContext(ctx, "partner notification", "decision", decisionRedeliver, "error", err.Error(), "cause", res.Reason())
		return fmt.Errorf("requeue notification %s: %w", note.ID, err)
	}
	log.InfoContext(ctx, "partner notification", "decision", decisionRetry, "delay", next.Delay, "reason", res.Reason())
	n.o.Metrics.Count(ctx, metric.Failed, 1, "Platform", "partner")
	return nil
}

// backoff is the schedule of p's retries: Options.Backoff when its Base is
// set, otherwise ceilings that add up to the partner's horizon with equal
// jitter (backoff.Spread).
func (n *Notifier) backoff(p Partner) backoff.Policy {
	if n.o.Backoff.Base > 0 {
		return n.o.Backoff
	}
	return backoff.Spread(p.Retry.attempts(), p.Retry.horizon())
}
