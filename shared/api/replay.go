package api

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/herokuevents/herokuevents/shared/archive"
	"github.com/herokuevents/herokuevents/shared/config"
	"github.com/herokuevents/herokuevents/shared/httpjson"
	"github.com/herokuevents/herokuevents/shared/replay"
)

// replayRoutes mounts the replay routes (shared/replay): start a replay of
// a subscription's archived events, list replays, show and cancel one.
func (s *Server) replayRoutes(m *http.ServeMux, t string) {
	m.Handle("POST "+t+"/subscriptions/{ref}/replays", s.tenant(s.createReplay))
	m.Handle("GET "+t+"/replays", s.tenant(s.listReplays))
	m.Handle("GET "+t+"/replays/{id}", s.tenant(s.getReplay))
	m.Handle("POST "+t+"/replays/{id}/cancel", s.tenant(s.cancelReplay))
}

// ReplayRequest is the body of POST .../subscriptions/{ref}/replays. From
// and To are RFC 3339 times or durations relative to now ("-1h"); Rate is
// in events per second (replay.DefaultRate when zero); Publication, when
// set, is the only publication replayed to (name or id).
type ReplayRequest struct {
	From        string  `json:"from"`
	To          string  `json:"to"`
	Publication string  `json:"publication"`
	Rate        float64 `json:"rate"`
}

// replayView is the JSON of a replay.
type replayView struct {
	ID           string    `json:"id"`
	Subscription string    `json:"subscription"`
	Publication  string    `json:"publication,omitempty"`
	From         time.Time `json:"from"`
	To           time.Time `json:"to"`
	Rate         float64   `json:"rate"`
	State        string    `json:"state"`
	Sent         int       `json:"sent"`
	Total        *int      `json:"total"` // null until counted
	Failed       int       `json:"failed"`
	LastError    string    `json:"last_error,omitempty"`
	CreatedAt    time.Time `json:"created_at"`
	StartedAt    time.Time `json:"started_at,omitzero"`
	FinishedAt   time.Time `json:"finished_at,omitzero"`
}

func viewReplay(j replay.Job) replayView {
	v := replayView{ID: j.ID, Subscription: j.SubscriptionName, Publication: j.PublicationName, From: j.From, To: j.To,
		Rate: j.Rate, State: j.State, Sent: j.Sent, Failed: j.Failed, LastError: j.LastError,
		CreatedAt: j.Created, StartedAt: j.Started, FinishedAt: j.Finished}
	if j.Counted {
		v.Total = &j.Total
	}
	return v
}

func (s *Server) createReplay(ctx context.Context, t config.Tenant, r *http.Request, body []byte) (int, any, error) {
	var req ReplayRequest
	if err := decode(body, &req, true); err != nil {
		return 0, nil, err
	}
	now := s.now()
	if req.From == "" || req.To == "" {
		return 0, nil, Invalid("Give the window to replay: from and to (RFC 3339 times, or durations before now such as -1h).")
	}
	from, err := replay.ParseTime(req.From, now)
	if err != nil {
		return 0, nil, Invalid("from: %s.", err)
	}
	to, err := replay.ParseTime(req.To, now)
	if err != nil {
		return 0, nil, Invalid("to: %s.", err)
	}
	switch {
	case !from.Before(to):
		return 0, nil, Invalid("from (%s) must be before to (%s).", from.Format(time.RFC3339), to.Format(time.RFC3339))
	case to.Sub(from) > archive.MaxRetention:
		return 0, nil, Invalid("The window is longer than the longest retention (%dh).", archive.MaxRetention/time.Hour)
	}
	rate := req.Rate
	if rate == 0 {
		rate = replay.DefaultRate
	}
	if rate < replay.MinRate || rate > replay.MaxRate {
		return 0, nil, Invalid("rate must be from %g to %g events per second.", replay.MinRate, replay.MaxRate)
	}
	sub, err := s.findSubscription(ctx, t.ID, r.PathValue("ref"))
	if err != nil {
		return 0, nil, err
	}
	j := replay.Job{ID: "rp_" + strings.ReplaceAll(uuid.NewString(), "-", "")[:20], Subscription: sub.Value.ID, SubscriptionName: sub.Value.Name,
		From: from, To: to, Rate: rate, State: replay.StateRunning, Created: now.UTC()}
	if req.Publication != "" {
		pub, err := s.findPublication(ctx, t.ID, req.Publication)
		if err != nil {
			return 0, nil, err
		}
		j.Publication, j.PublicationName = pub.Value.ID, pub.Value.Name
	}
	jobs, err := config.LoadAll[replay.Job](ctx, s.store, t.ID, replay.Kind)
	if err != nil {
		return 0, nil, fmt.Errorf("list replays: %w", err)
	}
	running := 0
	for _, o := range jobs {
		switch v := o.Value; {
		case v.State == replay.StateRunning:
			running++
		case !v.Finished.IsZero() && now.Sub(v.Finished) > replay.KeepFinished:
			// an ended replay is listed for a while, then forgotten
			if err := s.store.Delete(ctx, t.ID, replay.Kind, v.ID, o.Version); err != nil {
				s.log.WarnContext(ctx, "forget ended replay", "tenant", t.ID, "replay", v.ID, "err", err)
			}
		}
	}
	if running >= replay.MaxRunning {
		return 0, nil, &httpjson.Error{Status: http.StatusTooManyRequests, ID: "rate_limit",
			Message: fmt.Sprintf("%d replays are running already: wait for one to end, or cancel one (replays:cancel).", running)}
	}
	if _, err := config.Insert(ctx, s.store, replay.Item(t.ID, j), j); err != nil {
		return 0, nil, fmt.Errorf("create replay: %w", err)
	}
	if err := s.replays.Kick(ctx, t.ID, j.ID); err != nil {
		// the job stays running: the embedded runner finds it anyway;
		// on AWS it is cancelled so that it does not look stuck.
		s.log.ErrorContext(ctx, "start replay", "tenant", t.ID, "replay", j.ID, "err", err)
		_, _, _ = replay.Cancel(context.WithoutCancel(ctx), s.store, t.ID, j.ID, s.now())
		return 0, nil, fmt.Errorf("start replay: %w", err)
	}
	s.log.InfoContext(ctx, "replay created", "tenant", t.ID, "replay", j.ID, "subscription", j.SubscriptionName,
		"publication", j.PublicationName, "from", from, "to", to, "rate", rate)
	return http.StatusCreated, viewReplay(j), nil
}

func (s *Server) listReplays(ctx context.Context, t config.Tenant, _ *http.Request, _ []byte) (int, any, error) {
	jobs, err := config.LoadAll[replay.Job](ctx, s.store, t.ID, replay.Kind)
	if err != nil {
		return 0, nil, fmt.Errorf("list replays: %w", err)
	}
	out := make([]replayView, 0, len(jobs))
	for _, j := range jobs {
		out = append(out, viewReplay(j.Value))
	}
	slices.SortFunc(out, func(a, b replayView) int { return b.CreatedAt.Compare(a.CreatedAt) }) // newest first
	return http.StatusOK, out, nil
}

func (s *Server) getReplay(ctx context.Context, t config.Tenant, r *http.Request, _ []byte) (int, any, error) {
	id := r.PathValue("id")
	rec, err := config.Load[replay.Job](ctx, s.store, t.ID, replay.Kind, id)
	if errors.Is(err, config.ErrNotFound) {
		return 0, nil, notFound(fmt.Sprintf("Couldn't find that replay: %s.", httpjson.Short(id)))
	}
	if err != nil {
		return 0, nil, err
	}
	return http.StatusOK, viewReplay(rec.Value), nil
}

func (s *Server) cancelReplay(ctx context.Context, t config.Tenant, r *http.Request, _ []byte) (int, any, error) {
	id := r.PathValue("id")
	j, ok, err := replay.Cancel(ctx, s.store, t.ID, id, s.now())
	switch {
	case errors.Is(err, config.ErrNotFound):
		return 0, nil, notFound(fmt.Sprintf("Couldn't find that replay: %s.", httpjson.Short(id)))
	case err != nil:
		return 0, nil, err
	case !ok:
		return 0, nil, conflict(fmt.Sprintf("Replay %s is %s already.", id, j.State), nil)
	}
	s.log.InfoContext(ctx, "replay cancelled", "tenant", t.ID, "replay", id, "sent", j.Sent)
	return http.StatusOK, viewReplay(j), nil
}

// parseRetention reads a subscription's archive retention: "" for the
// default, else a Go duration within [archive.MinRetention,
// archive.MaxRetention].
func parseRetention(s string) (time.Duration, error) {
	if s == "" {
		return 0, nil
	}
	d, err := time.ParseDuration(s)
	if err != nil || d < archive.MinRetention || d > archive.MaxRetention {
		return 0, Invalid("retention must be a duration from %dh to %dh, such as 72h.", archive.MinRetention/time.Hour, archive.MaxRetention/time.Hour)
	}
	return d, nil
}

// retentionOf is how long sub's events are archived, as shown: "" for
// the default, whole hours as "72h".
func retentionOf(sub config.Subscription) string {
	d := sub.Retention
	switch {
	case d <= 0:
		return ""
	case d%time.Hour == 0:
		return fmt.Sprintf("%dh", d/time.Hour)
	}
	return d.String()
}
