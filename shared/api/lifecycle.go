package api

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"net/http"
	"strings"
	"time"

	"github.com/herokuevents/herokuevents/shared/config"
	"github.com/herokuevents/herokuevents/shared/httpjson"
	"github.com/herokuevents/herokuevents/shared/platform"
	"github.com/herokuevents/herokuevents/shared/queue"
)

// Limits of a publication's delivery settings (publications:update).
const (
	// MinTimeout and platform.MaxTimeout bound a publication's timeout.
	MinTimeout = time.Second
	// MaxAttempts bounds a publication's max_attempts.
	MaxAttempts = 1000
	// MaxAge bounds a publication's max_age (how long retries go on).
	MaxAge = 7 * 24 * time.Hour
	// MaxRate bounds a publication's rate, in events per second.
	MaxRate = 10000
	// DefaultOverlap is how long the replaced signing secret keeps signing
	// after a rotation when the request names no overlap; MaxOverlap the
	// longest overlap.
	DefaultOverlap = 24 * time.Hour
	MaxOverlap     = 7 * 24 * time.Hour
	// modifyTries bounds re-reads after a concurrent change of the
	// resource being changed.
	modifyTries = 5
)

// lifecycleRoutes mounts the routes that change existing resources:
// update a publication, enable, pause, resume it and rotate its signing
// secret, update a stream's filter, purge dead letters.
func (s *Server) lifecycleRoutes(m *http.ServeMux, t string) {
	p := t + "/publications/{ref}"
	m.Handle("PATCH "+p, s.tenant(s.updatePublication))
	m.Handle("POST "+p+"/enable", s.tenant(s.enablePublication))
	m.Handle("POST "+p+"/pause", s.tenant(s.pausePublication))
	m.Handle("POST "+p+"/resume", s.tenant(s.resumePublication))
	m.Handle("POST "+p+"/rotate-secret", s.tenant(s.rotateSecret))
	m.Handle("PATCH "+t+"/streams/{source}/{target}", s.tenant(s.updateStream))
	if s.dead != nil {
		m.Handle("DELETE "+t+"/dead-letters", s.tenant(s.purgeDeadLetters))
	}
}

// ---- publications ----

// changePublication is a read-modify-write of the publication ref of the
// tenant (see config.Modify): 404 when it does not exist. change may run
// more than once.
func (s *Server) changePublication(ctx context.Context, tenant, ref string, change func(p *config.Publication) error) (config.Publication, error) {
	rec, err := config.Modify(ctx, s.store, tenant, config.KindPublication, ref, modifyTries, func(r *config.Record[config.Publication]) (bool, error) {
		return true, change(&r.Value)
	})
	switch {
	case errors.Is(err, config.ErrNotFound):
		return config.Publication{}, notFound(fmt.Sprintf("Couldn't find that publication: %s.", httpjson.Short(ref)))
	case errors.Is(err, config.ErrConflict):
		return config.Publication{}, conflict(fmt.Sprintf("Publication %s kept changing meanwhile; try again.", httpjson.Short(ref)), err)
	case err != nil:
		return config.Publication{}, err
	}
	return rec.Value, nil
}

// publicationAnswer renders pub with its links and extra.
func (s *Server) publicationAnswer(ctx context.Context, tenant string, pub config.Publication, extra map[string]any) (int, any, error) {
	g, err := s.loadGraph(ctx, tenant)
	if err != nil {
		return 0, nil, err
	}
	v := g.publication(pub)
	v.Extra = extra
	return http.StatusOK, v, nil
}

// delivery is the part of a publication update every platform shares:
// timeout, retry policy and rate, checked.
type delivery struct {
	fields  []string // the fields set, for the log
	timeout *time.Duration
	retry   func(*config.RetryPolicy)
	rate    *float64
	order   platform.OrderFields // checked when applied (order.go)
}

func parseDelivery(body []byte) (delivery, error) {
	var req platform.UpdateFields
	if err := decode(body, &req, false); err != nil {
		return delivery{}, err
	}
	var d delivery
	if req.Timeout != nil {
		t, err := optionalDuration("timeout", *req.Timeout, MinTimeout, platform.MaxTimeout)
		if err != nil {
			return d, err
		}
		d.timeout = &t
		d.fields = append(d.fields, "timeout")
	}
	var attempts *int
	var age *time.Duration
	if req.MaxAttempts != nil {
		if n := *req.MaxAttempts; n < 0 || n > MaxAttempts {
			return d, Invalid("max_attempts must be from 1 to %d (0: the default).", MaxAttempts)
		}
		attempts = req.MaxAttempts
		d.fields = append(d.fields, "max_attempts")
	}
	if req.MaxAge != nil {
		a, err := optionalDuration("max_age", *req.MaxAge, time.Second, MaxAge)
		if err != nil {
			return d, err
		}
		age = &a
		d.fields = append(d.fields, "max_age")
	}
	if attempts != nil || age != nil {
		d.retry = func(r *config.RetryPolicy) {
			if attempts != nil {
				r.MaxAttempts = *attempts
			}
			if age != nil {
				r.Horizon = *age
			}
		}
	}
	if req.Rate != nil {
		if r := *req.Rate; math.IsNaN(r) || r < 0 || r > MaxRate {
			return d, Invalid("rate must be from 0 (no cap) to %d events per second.", MaxRate)
		}
		d.rate = req.Rate
		d.fields = append(d.fields, "rate")
	}
	if _, _, err := changeOrder(req.OrderFields, nil); err != nil && (req.Ordered != nil || req.OrderedBy != nil) {
		return d, err
	}
	d.order = req.OrderFields
	return d, nil
}

// optionalDuration parses a duration field: "" or "0" is zero (the
// default), anything else must be a Go duration within [lo, hi].
func optionalDuration(field, raw string, lo, hi time.Duration) (time.Duration, error) {
	raw = strings.TrimSpace(raw)
	if raw == "" || raw == "0" {
		return 0, nil
	}
	d, err := time.ParseDuration(raw)
	if err != nil || d < lo || d > hi {
		return 0, Invalid("%s %q: use a duration from %s to %s, such as 30s or 2h (0: the default).", field, raw, formatDuration(lo), formatDuration(hi))
	}
	return d, nil
}

func (d delivery) apply(p *config.Publication) error {
	if d.timeout != nil {
		p.Timeout = *d.timeout
	}
	if d.retry != nil {
		d.retry(&p.Retry)
	}
	if d.rate != nil {
		p.Rate = *d.rate
	}
	o, changed, err := changeOrder(d.order, p.Order)
	if err != nil {
		return err
	}
	if changed {
		p.Order = o
		if o == nil {
			p.Blocked = nil
		}
	}
	return nil
}

// updatePublication changes a publication: its platform's parameters
// (validated by the platform, as at create) and its delivery settings.
func (s *Server) updatePublication(ctx context.Context, t config.Tenant, r *http.Request, body []byte) (int, any, error) {
	ref := r.PathValue("ref")
	d, err := parseDelivery(body)
	if err != nil {
		return 0, nil, err
	}
	if _, err := s.findPublication(ctx, t.ID, ref); err != nil {
		return 0, nil, err
	}
	var extra map[string]any
	pub, err := s.changePublication(ctx, t.ID, ref, func(p *config.Publication) error {
		updated, x, err := s.platforms.UpdatePublication(ctx, t.ID, *p, body)
		if err != nil {
			return err
		}
		// The identity is the api's, whatever the platform returned.
		updated.ID, updated.Name, updated.Platform, updated.Created = p.ID, p.Name, p.Platform, p.Created
		if err := d.apply(&updated); err != nil {
			return err
		}
		*p, extra = updated, x
		return nil
	})
	if err != nil {
		return 0, nil, err
	}
	s.log.InfoContext(ctx, "publication updated", "tenant", t.ID, "kind", config.KindPublication, "name", pub.Name,
		"id", pub.ID, "platform", pub.Platform, "fields", changedFields(body))
	return s.publicationAnswer(ctx, t.ID, pub, extra)
}

// changedFields lists the top-level fields of a JSON object body, for the
// log (never their values: a token is secret).
func changedFields(body []byte) []string {
	var m map[string]json.RawMessage
	if json.Unmarshal(body, &m) != nil {
		return nil
	}
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	return out
}

// enablePublication clears Disabled (set when the endpoint answered 410):
// the next events are delivered again. Dead letters stay: redrive them.
func (s *Server) enablePublication(ctx context.Context, t config.Tenant, r *http.Request, _ []byte) (int, any, error) {
	var was string
	pub, err := s.changePublication(ctx, t.ID, r.PathValue("ref"), func(p *config.Publication) error {
		was = p.DisabledReason
		p.Disabled, p.DisabledReason = false, ""
		return nil
	})
	if err != nil {
		return 0, nil, err
	}
	s.log.InfoContext(ctx, "publication enabled", "tenant", t.ID, "kind", config.KindPublication, "name", pub.Name,
		"id", pub.ID, "was_disabled", was)
	return s.publicationAnswer(ctx, t.ID, pub, nil)
}

// pausePublication holds the publication's deliveries: deliver makes no
// attempt and dead-letters nothing; they wait until resumePublication.
func (s *Server) pausePublication(ctx context.Context, t config.Tenant, r *http.Request, _ []byte) (int, any, error) {
	now := s.now().UTC()
	pub, err := s.changePublication(ctx, t.ID, r.PathValue("ref"), func(p *config.Publication) error {
		if !p.Paused {
			p.Paused, p.PausedAt = true, now
		}
		return nil
	})
	if err != nil {
		return 0, nil, err
	}
	s.log.InfoContext(ctx, "publication paused", "tenant", t.ID, "kind", config.KindPublication, "name", pub.Name, "id", pub.ID)
	return s.publicationAnswer(ctx, t.ID, pub, nil)
}

// resumePublication ends a pause; the held deliveries are woken at once
// when the mode can (Options.Wake), else each when its hold ends.
func (s *Server) resumePublication(ctx context.Context, t config.Tenant, r *http.Request, _ []byte) (int, any, error) {
	var since time.Time
	pub, err := s.changePublication(ctx, t.ID, r.PathValue("ref"), func(p *config.Publication) error {
		since = p.PausedAt
		p.Paused, p.PausedAt = false, time.Time{}
		return nil
	})
	if err != nil {
		return 0, nil, err
	}
	attrs := []any{"tenant", t.ID, "kind", config.KindPublication, "name", pub.Name, "id", pub.ID}
	if !since.IsZero() {
		attrs = append(attrs, "paused_s", int64(s.now().Sub(since).Seconds()))
	}
	if s.wake != nil {
		n, err := s.wake(ctx, t.ID, pub.ID)
		if err != nil {
			// Resumed anyway: the held deliveries come back when their
			// hold ends.
			s.log.ErrorContext(ctx, "wake held deliveries", append(attrs, "err", err)...)
		}
		attrs = append(attrs, "woken", n)
	}
	s.log.InfoContext(ctx, "publication resumed", attrs...)
	return s.publicationAnswer(ctx, t.ID, pub, nil)
}

// rotateSecret gives a publication a new signing secret, answered once in
// extra.signing_secret; the replaced one keeps signing until
// extra.previous_secret_expires_at (body {"overlap": "24h"}, DefaultOverlap
// when absent, "0" for none).
func (s *Server) rotateSecret(ctx context.Context, t config.Tenant, r *http.Request, body []byte) (int, any, error) {
	var req struct {
		Overlap *string `json:"overlap"`
	}
	if len(bytes.TrimSpace(body)) > 0 {
		if err := DecodeJSON(body, &req); err != nil {
			return 0, nil, err
		}
	}
	overlap := DefaultOverlap
	if req.Overlap != nil {
		raw := strings.TrimSpace(*req.Overlap)
		d, err := time.ParseDuration(raw)
		if raw == "0" {
			d, err = 0, nil
		}
		if err != nil || d < 0 || d > MaxOverlap {
			return 0, nil, Invalid("overlap %q: use a duration from 0 to %s, such as 24h.", raw, formatDuration(MaxOverlap))
		}
		overlap = d
	}
	ref := r.PathValue("ref")
	if _, err := s.findPublication(ctx, t.ID, ref); err != nil {
		return 0, nil, err
	}
	var extra map[string]any
	pub, err := s.changePublication(ctx, t.ID, ref, func(p *config.Publication) error {
		rotated, x, err := s.platforms.RotateSecret(ctx, t.ID, *p, overlap)
		if err != nil {
			return err
		}
		rotated.ID, rotated.Name, rotated.Platform, rotated.Created = p.ID, p.Name, p.Platform, p.Created
		*p, extra = rotated, x
		return nil
	})
	if err != nil {
		return 0, nil, err
	}
	s.log.InfoContext(ctx, "signing secret rotated", "tenant", t.ID, "kind", config.KindPublication, "name", pub.Name,
		"id", pub.ID, "overlap_s", int64(overlap.Seconds()))
	return s.publicationAnswer(ctx, t.ID, pub, extra)
}

// ---- former publications ----

// MaxFormerPublications bounds the deleted publications remembered per
// tenant (the oldest are forgotten first).
const MaxFormerPublications = 1000

// remember records a deleted publication, so that its deliveries and dead
// letters follow a publication recreated with its name. A failure is
// logged: the delete itself is done.
func (s *Server) remember(ctx context.Context, tenant string, pub publicationView) {
	former := config.FormerPublication{ID: pub.ID, Name: pub.Name, Deleted: s.timestamp()}
	it := config.Item{Tenant: tenant, Kind: config.KindFormerPublication, ID: pub.ID}
	if _, err := config.Insert(ctx, s.store, it, former); err != nil && !errors.Is(err, config.ErrConflict) {
		s.log.ErrorContext(ctx, "remember deleted publication", "tenant", tenant, "id", pub.ID, "name", pub.Name, "err", err)
		return
	}
	all, err := config.LoadAll[config.FormerPublication](ctx, s.store, tenant, config.KindFormerPublication)
	if err != nil || len(all) <= MaxFormerPublications {
		return
	}
	oldest := all[0]
	for _, r := range all[1:] {
		if r.Value.Deleted.Before(oldest.Value.Deleted) {
			oldest = r
		}
	}
	_ = s.store.Delete(ctx, tenant, config.KindFormerPublication, oldest.Item.ID, 0)
}

// ---- name exclusivity ----

// nameFree refuses a subscription (kind config.KindSubscription) or
// publication name that the other kind already uses: both would answer
// POST {publish URL}/{name}.
func (s *Server) nameFree(ctx context.Context, tenant, kind, name string) error {
	other, otherTitle := config.KindPublication, "publication"
	if kind == config.KindPublication {
		other, otherTitle = config.KindSubscription, "subscription"
	}
	it, err := s.store.Get(ctx, tenant, other, name)
	switch {
	case errors.Is(err, config.ErrNotFound) || (err == nil && it.Name != name):
		return nil
	case err != nil:
		return fmt.Errorf("check name %s: %w", name, err)
	}
	return conflict(fmt.Sprintf("Name %s is taken by the %s %s: subscriptions and publications share names "+
		"(POST $HEROKUEVENTS_PUBLISH_URL/%s reaches one of them); choose another name.", name, otherTitle, name, name), config.ErrConflict)
}

// ---- streams ----

// updateStream changes the filter of the stream source → target: body
// {"filter": "…"} (null or blank removes it).
func (s *Server) updateStream(ctx context.Context, t config.Tenant, r *http.Request, body []byte) (int, any, error) {
	var fields map[string]json.RawMessage
	if err := DecodeJSON(body, &fields); err != nil {
		return 0, nil, err
	}
	raw, ok := fields["filter"]
	for k := range fields {
		if k != "filter" {
			return 0, nil, Invalid("Unknown field %q: only filter can change.", k)
		}
	}
	if !ok {
		return 0, nil, Invalid("filter is required: the new Bloblang filter, or null to remove it.")
	}
	var f *string
	if err := json.Unmarshal(raw, &f); err != nil {
		return 0, nil, Invalid("Field \"filter\" must be a string or null.")
	}
	filter, err := normalizeFilter(f)
	if err != nil {
		return 0, nil, err
	}
	rec, v, err := s.findStream(ctx, t.ID, r)
	if err != nil {
		return 0, nil, err
	}
	saved, err := config.Modify(ctx, s.store, t.ID, config.KindStream, rec.Item.ID, modifyTries, func(r *config.Record[config.Stream]) (bool, error) {
		r.Value.Filter = ""
		if filter != nil {
			r.Value.Filter = *filter
		}
		return true, nil
	})
	switch {
	case errors.Is(err, config.ErrNotFound):
		return 0, nil, notFound(fmt.Sprintf("Couldn't find that stream: %s does not stream to %s.", v.Source, v.Target))
	case err != nil:
		return 0, nil, fmt.Errorf("update stream: %w", err)
	}
	s.log.InfoContext(ctx, "stream updated", "tenant", t.ID, "kind", config.KindStream, "name", rec.Item.Name,
		"id", rec.Item.ID, "filtered", filter != nil)
	v.Filter = filterOf(saved.Value)
	return http.StatusOK, v, nil
}

// ---- dead letters ----

type purgeResponse struct {
	Purged int `json:"purged"`
}

// purgeDeadLetters deletes the tenant's dead letters for good: those named
// by {"ids": […]}, or every one without a body.
func (s *Server) purgeDeadLetters(ctx context.Context, t config.Tenant, _ *http.Request, body []byte) (int, any, error) {
	ids, err := deadLetterIDs(body)
	if err != nil {
		return 0, nil, err
	}
	n, err := s.dead.Purge(ctx, t.ID, ids...)
	var missing *queue.MissingError
	switch {
	case errors.As(err, &missing):
		s.log.InfoContext(ctx, "purge refused", "tenant", t.ID, "missing", missing.IDs)
		noun := "dead letter"
		if len(missing.IDs) > 1 {
			noun = "dead letters"
		}
		return 0, nil, notFound(fmt.Sprintf("No %s %s for app %s.", noun, strings.Join(missing.IDs, ", "), t.App))
	case err != nil:
		s.log.ErrorContext(ctx, "purge failed", "tenant", t.ID, "purged", n, "err", err)
		return 0, nil, fmt.Errorf("purge dead letters: %w", err)
	}
	s.log.InfoContext(ctx, "dead letters purged", "tenant", t.ID, "purged", n, "ids", ids)
	return http.StatusOK, purgeResponse{Purged: n}, nil
}

// deadLetterIDs reads the optional {"ids": […]} body of a redrive or purge.
func deadLetterIDs(body []byte) ([]string, error) {
	var req redriveRequest
	if len(bytes.TrimSpace(body)) > 0 {
		if err := DecodeJSON(body, &req); err != nil {
			return nil, err
		}
	}
	if len(req.IDs) > MaxRedriveIDs {
		return nil, Invalid("ids: at most %d ids per request.", MaxRedriveIDs)
	}
	for _, id := range req.IDs {
		if id == "" || len(id) > maxIDLength || strings.ContainsFunc(id, func(r rune) bool { return r < 0x21 || r > 0x7e }) {
			return nil, Invalid("ids: %q is not a dead letter id.", id)
		}
	}
	return req.IDs, nil
}

// ---- views ----

// formatDuration renders d without zero units: 24h, 1h30m, 45s, 1.5s.
func formatDuration(d time.Duration) string {
	s := d.String()
	if strings.HasSuffix(s, "m0s") {
		s = strings.TrimSuffix(s, "0s")
	}
	if strings.HasSuffix(s, "h0m") {
		s = strings.TrimSuffix(s, "0m")
	}
	return s
}

// deliveryView is how a publication is delivered, when it is not the
// default.
type deliveryView struct {
	Timeout     string  `json:"timeout,omitempty"`
	MaxAttempts int     `json:"max_attempts,omitempty"`
	MaxAge      string  `json:"max_age,omitempty"`
	Rate        float64 `json:"rate,omitempty"`
}

func deliveryOf(p config.Publication) *deliveryView {
	v := deliveryView{MaxAttempts: p.Retry.MaxAttempts, Rate: p.Rate}
	if p.Timeout > 0 {
		v.Timeout = formatDuration(p.Timeout)
	}
	if p.Retry.Horizon > 0 {
		v.MaxAge = formatDuration(p.Retry.Horizon)
	}
	if v == (deliveryView{}) {
		return nil
	}
	return &v
}

// previousSecretUntil is when the secret replaced by a rotation stops
// signing, zero when none does any more.
func previousSecretUntil(p config.Publication, now time.Time) time.Time {
	if len(p.PreviousSecretSealed) == 0 || !now.Before(p.PreviousSecretUntil) {
		return time.Time{}
	}
	return p.PreviousSecretUntil.UTC()
}
