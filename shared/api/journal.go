package api

import (
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"math"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/herokuevents/herokuevents/shared/config"
	"github.com/herokuevents/herokuevents/shared/event"
	"github.com/herokuevents/herokuevents/shared/journal"
	"github.com/herokuevents/herokuevents/shared/queue"
)

// Delivery-log limits of the API.
const (
	// DefaultDeliveries is how many attempts a listing returns without
	// ?n=; MaxDeliveries the most it may ask for.
	DefaultDeliveries = 20
	MaxDeliveries     = 1000
	// maxEventIDLength bounds the event ids the routes take.
	maxEventIDLength = 256
)

// Statuses a delivery listing may ask for (?status=).
const (
	StatusDelivered = "delivered"
	StatusFailed    = "failed"
	StatusPending   = "pending"
)

// journalRoutes mounts the delivery-log routes ("what happened to my
// event"): a publication's attempts, an event's trace and, with a delivery
// queue, the retry of one event's delivery.
func (s *Server) journalRoutes(m *http.ServeMux, t string) {
	m.Handle("GET "+t+"/publications/{ref}/deliveries", s.tenant(s.listDeliveries))
	m.Handle("GET "+t+"/events/{id}/trace", s.tenant(s.traceEvent))
	if s.delivery != nil {
		m.Handle("POST "+t+"/events/{id}/publications/{ref}/retry", s.tenant(s.retryDelivery))
	}
}

// deliveriesQuery is what ?n= and ?status= ask for.
type deliveriesQuery struct {
	n      int
	status string // "", StatusDelivered, StatusFailed, StatusPending
}

// parseDeliveriesQuery reads the query of a delivery listing: n from 1 to
// MaxDeliveries (DefaultDeliveries when absent) and status.
func parseDeliveriesQuery(q url.Values) (deliveriesQuery, error) {
	out := deliveriesQuery{n: DefaultDeliveries}
	if raw, ok := q["n"]; ok {
		n, err := strconv.Atoi(strings.TrimSpace(first(raw)))
		if err != nil || n < 1 || n > MaxDeliveries {
			return out, Invalid("n must be a number from 1 to %d.", MaxDeliveries)
		}
		out.n = n
	}
	if raw, ok := q["status"]; ok {
		switch st := strings.ToLower(strings.TrimSpace(first(raw))); st {
		case StatusDelivered, StatusFailed, StatusPending:
			out.status = st
		default:
			return out, Invalid("status must be one of %s, %s or %s.", StatusFailed, StatusDelivered, StatusPending)
		}
	}
	return out, nil
}

func first(v []string) string {
	if len(v) == 0 {
		return ""
	}
	return v[0]
}

// checkEventID refuses event ids no event can have: empty, too long, not
// UTF-8 or with control characters.
func checkEventID(id string) error {
	if id == "" || len(id) > maxEventIDLength || !utf8.ValidString(id) || strings.ContainsFunc(id, unicode.IsControl) {
		return Invalid("%q is not an event id.", truncate(id, 64))
	}
	return nil
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return strings.ToValidUTF8(s[:n], "") + "…"
}

// attemptJSON is the JSON of one attempt.
type attemptJSON struct {
	Time          time.Time `json:"time"`
	EventID       string    `json:"event_id"`
	Attempt       int       `json:"attempt"`
	Outcome       string    `json:"outcome"`
	Status        int       `json:"status,omitempty"`
	LatencyMS     float64   `json:"latency_ms"`
	Response      string    `json:"response,omitempty"`
	Error         string    `json:"error,omitempty"`
	NextAttemptAt time.Time `json:"next_attempt_at,omitzero"`
	FirstTry      time.Time `json:"first_try,omitzero"`
}

func ms(d time.Duration) float64 { return math.Round(float64(d)/float64(time.Microsecond)) / 1000 }

func attemptView(e journal.Entry) attemptJSON {
	return attemptJSON{
		Time: e.Time.UTC(), EventID: e.EventID, Attempt: e.Attempt, Outcome: string(e.Outcome), Status: e.Status,
		LatencyMS: ms(e.Latency), Response: e.Response, Error: e.Error, NextAttemptAt: utc(e.NextAttempt), FirstTry: utc(e.FirstTry),
	}
}

func utc(t time.Time) time.Time {
	if t.IsZero() {
		return t
	}
	return t.UTC()
}

func (s *Server) listDeliveries(ctx context.Context, t config.Tenant, r *http.Request, _ []byte) (int, any, error) {
	q, err := parseDeliveriesQuery(r.URL.Query())
	if err != nil {
		return 0, nil, err
	}
	pub, err := s.findPublication(ctx, t.ID, r.PathValue("ref"))
	if err != nil {
		return 0, nil, err
	}
	var list []journal.Entry
	switch q.status {
	case StatusPending:
		all, err := s.journal.Attempts(ctx, t.ID, pub.Value.ID, journal.Query{Limit: journal.HealthSample, Since: s.now().Add(-journal.Window)})
		if err != nil {
			return 0, nil, fmt.Errorf("read deliveries: %w", err)
		}
		list = journal.Pending(all)
		list = list[:min(len(list), q.n)]
	default:
		jq := journal.Query{Limit: q.n}
		switch q.status {
		case StatusFailed:
			jq.Outcomes = journal.FailedOutcomes
		case StatusDelivered:
			jq.Outcomes = []journal.Outcome{journal.Delivered}
		}
		if list, err = s.journal.Attempts(ctx, t.ID, pub.Value.ID, jq); err != nil {
			return 0, nil, fmt.Errorf("read deliveries: %w", err)
		}
	}
	out := make([]attemptJSON, 0, len(list))
	for _, e := range list {
		out = append(out, attemptView(e))
	}
	return http.StatusOK, out, nil
}

// stepView is the JSON of one entry of a trace. Subscription and
// Publication are names (ids when the resource no longer exists).
type stepView struct {
	Time          time.Time `json:"time"`
	Stage         string    `json:"stage"`
	Subscription  string    `json:"subscription,omitempty"`
	Publication   string    `json:"publication,omitempty"`
	Via           string    `json:"via,omitempty"`
	Reason        string    `json:"reason,omitempty"`
	Attempt       int       `json:"attempt,omitempty"`
	Outcome       string    `json:"outcome,omitempty"`
	Status        int       `json:"status,omitempty"`
	LatencyMS     float64   `json:"latency_ms,omitempty"`
	Response      string    `json:"response,omitempty"`
	Error         string    `json:"error,omitempty"`
	NextAttemptAt time.Time `json:"next_attempt_at,omitzero"`
}

type traceView struct {
	EventID string     `json:"event_id"`
	Steps   []stepView `json:"steps"`
}

func (s *Server) traceEvent(ctx context.Context, t config.Tenant, r *http.Request, _ []byte) (int, any, error) {
	id := r.PathValue("id")
	if err := checkEventID(id); err != nil {
		return 0, nil, err
	}
	entries, err := s.journal.Event(ctx, t.ID, id)
	if err != nil {
		return 0, nil, fmt.Errorf("read trace: %w", err)
	}
	if len(entries) == 0 {
		return 0, nil, notFound(fmt.Sprintf("No trace of event %s for app %s: the delivery log keeps events for a limited time.", id, t.App))
	}
	g, err := s.loadGraph(ctx, t.ID)
	if err != nil {
		return 0, nil, err
	}
	name := func(id, kept string, byID func(string) (string, bool)) string {
		if id == "" {
			return kept
		}
		if n, ok := byID(id); ok {
			return n
		}
		return cmp.Or(kept, id)
	}
	subName := func(id string) (string, bool) { v, ok := g.subByID[id]; return v.Name, ok }
	pubName := func(id string) (string, bool) { v, ok := g.pubByID[id]; return v.Name, ok }
	v := traceView{EventID: id, Steps: make([]stepView, 0, len(entries))}
	for _, e := range entries {
		v.Steps = append(v.Steps, stepView{
			Time: e.Time.UTC(), Stage: string(e.Stage),
			Subscription: name(e.Subscription, e.SubscriptionName, subName),
			Publication:  name(e.Publication, e.PublicationName, pubName),
			Via:          e.Via, Reason: e.Reason, Attempt: e.Attempt, Outcome: string(e.Outcome), Status: e.Status,
			LatencyMS: ms(e.Latency), Response: e.Response, Error: e.Error, NextAttemptAt: utc(e.NextAttempt),
		})
	}
	return http.StatusOK, v, nil
}

type retryView struct {
	EventID     string `json:"event_id"`
	Publication string `json:"publication"`
}

// retryDelivery queues a fresh delivery (attempt 1, the publication's retry
// policy starting again) of an event to a publication, with the event as
// the journal kept it when it was first delivered there: it works for
// delivered, failed and dead-lettered events alike while the journal keeps
// that first attempt. A dead letter of the same delivery stays where it is:
// receivers de-duplicate on the event id.
func (s *Server) retryDelivery(ctx context.Context, t config.Tenant, r *http.Request, _ []byte) (int, any, error) {
	id := r.PathValue("id")
	if err := checkEventID(id); err != nil {
		return 0, nil, err
	}
	pub, err := s.findPublication(ctx, t.ID, r.PathValue("ref"))
	if err != nil {
		return 0, nil, err
	}
	entries, err := s.journal.Event(ctx, t.ID, id)
	if err != nil {
		return 0, nil, fmt.Errorf("read trace: %w", err)
	}
	ev := keptEvent(entries, pub.Value)
	if ev == nil {
		return 0, nil, notFound(fmt.Sprintf("The delivery log has no delivery of event %s to publication %s to retry: it keeps the event of a delivery's first attempt for a limited time (events over %d KiB are not kept). Redrive its dead letter instead.",
			id, pub.Value.Name, journal.MaxEventSize>>10))
	}
	body, err := json.Marshal(event.Delivery{Tenant: t.ID, Publication: pub.Value.ID, Event: *ev, FirstTry: s.now().UTC()})
	if err != nil {
		return 0, nil, fmt.Errorf("encode delivery: %w", err)
	}
	msg := queue.Message{Body: body, Attributes: map[string]string{queue.AttrTenant: t.ID, queue.AttrAttempt: "0"}}
	if err := s.delivery.Send(ctx, msg); err != nil {
		return 0, nil, fmt.Errorf("queue retry: %w", err)
	}
	s.log.InfoContext(ctx, "delivery retried", "tenant", t.ID, "event_id", id, "publication", pub.Value.ID)
	return http.StatusAccepted, retryView{EventID: id, Publication: pub.Value.Name}, nil
}

// keptEvent is the newest event kept by an attempt to pub: by its id, or by
// its name for a publication recreated under the same name.
func keptEvent(entries []journal.Entry, pub config.Publication) *event.Event {
	var byName *event.Event
	for i := len(entries) - 1; i >= 0; i-- {
		e := entries[i]
		if e.Stage != journal.Attempt || e.Event == nil {
			continue
		}
		if e.Publication == pub.ID {
			return e.Event
		}
		if byName == nil && e.PublicationName == pub.Name {
			byName = e.Event
		}
	}
	return byName
}

// ---- health ----

// healthView is the health of a publication or subscription: its state,
// last error, backlog and the last hour's attempts.
type healthView struct {
	// State is active, failing, disabled or paused.
	State       string        `json:"state"`
	Reason      string        `json:"reason,omitempty"`
	LastError   string        `json:"last_error,omitempty"`
	LastErrorAt time.Time     `json:"last_error_at,omitzero"`
	Backlog     backlogView   `json:"backlog"`
	NextRetryAt time.Time     `json:"next_retry_at,omitzero"`
	LastHour    *lastHourView `json:"last_hour,omitempty"`
}

// backlogView is the deliveries waiting for a retry.
type backlogView struct {
	Pending       int       `json:"pending"`
	OldestAt      time.Time `json:"oldest_at,omitzero"`
	OldestAgeSecs int64     `json:"oldest_age_s,omitempty"`
}

type lastHourView struct {
	Delivered int     `json:"delivered"`
	Failed    int     `json:"failed"`
	P50MS     float64 `json:"p50_ms"`
	P99MS     float64 `json:"p99_ms"`
	Sampled   bool    `json:"sampled,omitempty"`
}

// Health states.
const (
	StateActive   = "active"
	StateFailing  = "failing"
	StateDisabled = "disabled"
	StatePaused   = "paused"
)

// health reads the journal health of publications (ids). Without a
// journal there is no health: views leave it out.
func (s *Server) health(ctx context.Context, tenant string, pubs []string) (*healthView, error) {
	if s.journal == nil {
		return nil, nil
	}
	v := &healthView{State: StateActive}
	now := s.now()
	h, err := journal.HealthOf(ctx, s.journal, tenant, pubs, now)
	if err != nil {
		return nil, fmt.Errorf("read health: %w", err)
	}
	if h.Failing() {
		v.State = StateFailing
	}
	v.LastError, v.LastErrorAt = h.LastError, utc(h.LastErrorAt)
	v.Backlog = backlogView{Pending: h.Pending, OldestAt: utc(h.OldestPending)}
	if !h.OldestPending.IsZero() {
		v.Backlog.OldestAgeSecs = int64(max(now.Sub(h.OldestPending), 0) / time.Second)
	}
	v.NextRetryAt = utc(h.NextRetry)
	v.LastHour = &lastHourView{Delivered: h.Delivered, Failed: h.Failed, P50MS: ms(h.P50), P99MS: ms(h.P99), Sampled: h.Sampled}
	return v, nil
}

// publicationHealth is the health of pub: disabled and paused come from its
// configuration, failing from the journal.
func (s *Server) publicationHealth(ctx context.Context, tenant string, pub config.Publication) (*healthView, error) {
	v, err := s.health(ctx, tenant, []string{pub.ID})
	if err != nil || v == nil {
		return nil, err
	}
	switch {
	case pub.Disabled:
		v.State, v.Reason = StateDisabled, pub.DisabledReason
	case pub.Paused:
		v.State = StatePaused
	}
	return v, nil
}

// publicationWithHealth is a publication's JSON with its health.
type publicationWithHealth struct {
	publicationView
	Health *healthView `json:"health,omitempty"`
}

// subscriptionWithHealth is a subscription's JSON with its health.
type subscriptionWithHealth struct {
	subscriptionView
	Health *healthView `json:"health,omitempty"`
}

// withHealth adds the health of pub to its view.
func (s *Server) withHealth(ctx context.Context, tenant string, v publicationView, pub config.Publication) (publicationWithHealth, error) {
	h, err := s.publicationHealth(ctx, tenant, pub)
	if err != nil {
		return publicationWithHealth{}, err
	}
	return publicationWithHealth{publicationView: v, Health: h}, nil
}

// allWithHealth adds each publication's health to its view.
func (s *Server) allWithHealth(ctx context.Context, tenant string, g graph, views []publicationView) ([]publicationWithHealth, error) {
	out := make([]publicationWithHealth, 0, len(views))
	for _, v := range views {
		w, err := s.withHealth(ctx, tenant, v, g.pubByID[v.ID])
		if err != nil {
			return nil, err
		}
		out = append(out, w)
	}
	return out, nil
}

// subscriptionHealth is the health of sub: the journal health of the
// publications it streams to, failing too when the platform's runner says
// so (a polled subscription's last error).
func (s *Server) subscriptionHealth(ctx context.Context, tenant string, g graph, sub config.Subscription) (subscriptionWithHealth, error) {
	var targets []string
	for _, st := range g.streams {
		if st.Subscription == sub.ID {
			targets = append(targets, st.Publication)
		}
	}
	v, err := s.health(ctx, tenant, targets)
	if err != nil {
		return subscriptionWithHealth{}, err
	}
	if v == nil {
		return subscriptionWithHealth{subscriptionView: g.subscription(sub)}, nil
	}
	if st := sub.State; st != nil && st.Status == config.StatusFailing {
		v.State = StateFailing
		if st.LastError != "" {
			v.LastError, v.Reason = st.LastError, "the subscription is failing"
		}
	}
	return subscriptionWithHealth{subscriptionView: g.subscription(sub), Health: v}, nil
}
