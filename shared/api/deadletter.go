package api

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/herokuevents/herokuevents/shared/config"
	"github.com/herokuevents/herokuevents/shared/queue"
	"github.com/herokuevents/herokuevents/shared/replay"
)

// Dead-letter limits of the API.
const (
	// DefaultDeadLetters is how many dead letters a listing returns without
	// ?limit=; MaxDeadLetters the most it may ask for.
	DefaultDeadLetters = 100
	MaxDeadLetters     = 1000
	// MaxRedriveIDs is the most ids one redrive request may name.
	MaxRedriveIDs = 1000
	maxIDLength   = 128
)

// deadLetterRoutes mounts the dead-letter routes (DESIGN §5): list the
// tenant's dead letters and redrive some or all of them.
func (s *Server) deadLetterRoutes(m *http.ServeMux, t string) {
	m.Handle("GET "+t+"/dead-letters", s.tenant(s.listDeadLetters))
	m.Handle("POST "+t+"/dead-letters/redrive", s.tenant(s.redriveDeadLetters))
}

// deadLetterView is the JSON of a dead letter. Target is the name of the
// publication (delivery queue) or subscription (ingest queue) it was bound
// for, or its id when that no longer exists.
type deadLetterView struct {
	ID             string    `json:"id"`
	Queue          string    `json:"queue"`
	EventID        string    `json:"event_id"`
	Target         string    `json:"target"`
	Reason         string    `json:"reason"`
	Attempt        int       `json:"attempt"`
	FirstTry       time.Time `json:"first_try,omitzero"`
	DeadLetteredAt time.Time `json:"dead_lettered_at,omitzero"`
}

func (s *Server) listDeadLetters(ctx context.Context, t config.Tenant, r *http.Request, _ []byte) (int, any, error) {
	limit := DefaultDeadLetters
	if raw := r.URL.Query().Get("limit"); raw != "" {
		n, err := strconv.Atoi(raw)
		if err != nil || n < 1 || n > MaxDeadLetters {
			return 0, nil, Invalid("limit must be a number from 1 to %d.", MaxDeadLetters)
		}
		limit = n
	}
	list, err := s.dead.List(ctx, t.ID, limit)
	if err != nil {
		return 0, nil, fmt.Errorf("list dead letters: %w", err)
	}
	names, err := s.targetNames(ctx, t.ID, list)
	if err != nil {
		return 0, nil, err
	}
	out := make([]deadLetterView, 0, len(list))
	for _, d := range list {
		target := d.Publication
		if target == "" {
			target = d.Subscription
		}
		if n, ok := names[target]; ok {
			target = n
		}
		out = append(out, deadLetterView{
			ID: d.ID, Queue: d.Queue, EventID: d.EventID, Target: target, Reason: d.Reason,
			Attempt: d.Attempt, FirstTry: d.FirstTry.UTC(), DeadLetteredAt: d.DeadLetteredAt.UTC(),
		})
	}
	return http.StatusOK, out, nil
}

// targetNames maps the ids of the tenant's publications and subscriptions
// the dead letters name to their names.
func (s *Server) targetNames(ctx context.Context, tenant string, list []queue.DeadLetter) (map[string]string, error) {
	names := map[string]string{}
	var pubs, subs bool
	for _, d := range list {
		pubs = pubs || d.Publication != ""
		subs = subs || d.Subscription != ""
	}
	if pubs {
		all, err := config.LoadAll[config.Publication](ctx, s.store, tenant, config.KindPublication)
		if err != nil {
			return nil, fmt.Errorf("list publications: %w", err)
		}
		for _, r := range all {
			names[r.Value.ID] = r.Value.Name
		}
		former, err := config.LoadAll[config.FormerPublication](ctx, s.store, tenant, config.KindFormerPublication)
		if err != nil {
			return nil, fmt.Errorf("list former publications: %w", err)
		}
		for _, r := range former {
			names[r.Value.ID] = r.Value.Name // deleted: a redrive goes to the one of that name, if any
		}
	}
	if subs {
		all, err := config.LoadAll[config.Subscription](ctx, s.store, tenant, config.KindSubscription)
		if err != nil {
			return nil, fmt.Errorf("list subscriptions: %w", err)
		}
		for _, r := range all {
			names[r.Value.ID] = r.Value.Name
		}
	}
	return names, nil
}

// redriveRequest names the dead letters to redrive: by id, or else every
// one of the tenant's that matches the optional selection — bound for
// Publication (name or id), dead-lettered From (included) To (excluded),
// RFC 3339 times or durations before now ("-1h"), as a replay's window.
type redriveRequest struct {
	IDs         []string `json:"ids"`
	Publication string   `json:"publication"`
	From        string   `json:"from"`
	To          string   `json:"to"`
}

type redriveResponse struct {
	Redriven int `json:"redriven"`
}

func (s *Server) redriveDeadLetters(ctx context.Context, t config.Tenant, _ *http.Request, body []byte) (int, any, error) {
	var req redriveRequest
	if len(bytes.TrimSpace(body)) > 0 {
		if err := DecodeJSON(body, &req); err != nil {
			return 0, nil, err
		}
	}
	if len(req.IDs) > MaxRedriveIDs {
		return 0, nil, Invalid("ids: at most %d ids per request.", MaxRedriveIDs)
	}
	for _, id := range req.IDs {
		if id == "" || len(id) > maxIDLength || strings.ContainsFunc(id, func(r rune) bool { return r < 0x21 || r > 0x7e }) {
			return 0, nil, Invalid("ids: %q is not a dead letter id.", id)
		}
	}
	if req.Publication != "" || req.From != "" || req.To != "" {
		if len(req.IDs) > 0 {
			return 0, nil, Invalid("Give ids, or a selection (publication, from, to), not both.")
		}
		ids, err := s.selectDeadLetters(ctx, t, req)
		if err != nil {
			return 0, nil, err
		}
		if len(ids) == 0 {
			return http.StatusOK, redriveResponse{Redriven: 0}, nil
		}
		req.IDs = ids
	}
	n, err := s.dead.Redrive(ctx, t.ID, req.IDs...)
	var missing *queue.MissingError
	switch {
	case errors.As(err, &missing):
		s.log.InfoContext(ctx, "redrive refused", "tenant", t.ID, "missing", missing.IDs)
		noun := "dead letter"
		if len(missing.IDs) > 1 {
			noun = "dead letters"
		}
		return 0, nil, notFound(fmt.Sprintf("No %s %s for app %s.", noun, strings.Join(missing.IDs, ", "), t.App))
	case err != nil:
		s.log.ErrorContext(ctx, "redrive failed", "tenant", t.ID, "redriven", n, "err", err)
		return 0, nil, fmt.Errorf("redrive dead letters: %w", err)
	}
	s.log.InfoContext(ctx, "dead letters redriven", "tenant", t.ID, "redriven", n, "ids", req.IDs)
	return http.StatusOK, redriveResponse{Redriven: n}, nil
}

// selectDeadLetters returns the ids of the tenant's dead letters that req
// selects, oldest first (at most MaxDeadLetters are looked at).
func (s *Server) selectDeadLetters(ctx context.Context, t config.Tenant, req redriveRequest) ([]string, error) {
	now := s.now()
	var from, to time.Time
	var err error
	if req.From != "" {
		if from, err = replay.ParseTime(req.From, now); err != nil {
			return nil, Invalid("from: %s.", err)
		}
	}
	if req.To != "" {
		if to, err = replay.ParseTime(req.To, now); err != nil {
			return nil, Invalid("to: %s.", err)
		}
	}
	if !from.IsZero() && !to.IsZero() && !from.Before(to) {
		return nil, Invalid("from must be before to.")
	}
	var pub string
	if req.Publication != "" {
		rec, err := s.findPublication(ctx, t.ID, req.Publication)
		if err != nil {
			return nil, err
		}
		pub = rec.Value.ID
	}
	list, err := s.dead.List(ctx, t.ID, MaxDeadLetters)
	if err != nil {
		return nil, fmt.Errorf("list dead letters: %w", err)
	}
	var ids []string
	for _, d := range list {
		switch {
		case pub != "" && d.Publication != pub:
		case !from.IsZero() && d.DeadLetteredAt.Before(from):
		case !to.IsZero() && !d.DeadLetteredAt.Before(to):
		default:
			ids = append(ids, d.ID)
		}
	}
	return ids, nil
}
