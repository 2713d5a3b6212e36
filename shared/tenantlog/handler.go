package tenantlog

import (
	"context"
	"log/slog"
	"strings"
)

// decisions maps the messages of the roles' slog records that a tenant
// should see to the event= of its line.
var decisions = map[string]string{
	"salesforce subscribe":                                  "subscription_connected",
	"salesforce stream closed by the server; resubscribing": "subscription_stalled",
	"salesforce subscription lease lost":                    "subscription_stalled",
	"salesforce subscription failing":                       "subscription_failing",
	"salesforce subscription stopped":                       "subscription_stopped",
	"mapping failed":                                        "subscription_failing", // a generator's
	"generator stopped":                                     "subscription_stopped",
	"authorization connected":                               "authorization_connected",
	"authorization failed":                                  "authorization_failing",
	"authorization failing":                                 "authorization_failing",
	"authorization refresh failed":                          "authorization_failing",
	"salesforce session expired; refreshing":                "authorization_expiring",
	"salesforce session expired; refreshing and resuming from the checkpoint": "authorization_expiring",
}

// shown are the attributes of those records a line carries (others, such
// as tokens or org ids, never reach a tenant's log); errors are scrubbed.
var shown = map[string]bool{
	"subscription": true, "authorization": true, "alias": true, "publication": true,
	"name": true, "slot": true, "event_id": true, "failures": true, "retry_in": true, "reason": true, "err": true, "next_run": true, "replay": true,
}

// Handler returns a slog.Handler that passes every record to next and,
// for the records of a tenant's decisions (subscription connected,
// stalled or failing, authorization connected, failing or expiring; the
// tenant in a "tenant" attribute of the record or of its logger), records
// a line for that tenant.
func (s *Shipper) Handler(next slog.Handler) slog.Handler { return &handler{next: next, s: s} }

type handler struct {
	next  slog.Handler
	s     *Shipper
	attrs []slog.Attr // of With, outside any group
	group bool
}

func (h *handler) Enabled(ctx context.Context, l slog.Level) bool {
	return h.next.Enabled(ctx, l) || l >= slog.LevelInfo
}

func (h *handler) Handle(ctx context.Context, r slog.Record) error {
	if ev, ok := decisions[r.Message]; ok {
		h.record(ev, r)
	}
	if !h.next.Enabled(ctx, r.Level) {
		return nil
	}
	return h.next.Handle(ctx, r)
}

func (h *handler) record(ev string, r slog.Record) {
	tenant := ""
	l := newLine()
	defer l.free()
	l.put("event", ev)
	take := func(a slog.Attr) bool {
		if a.Key == "tenant" {
			tenant = a.Value.String()
			return true
		}
		if shown[a.Key] {
			v := a.Value.Resolve().String()
			if a.Key == "err" {
				a.Key = "error"
			}
			l.put(a.Key, Scrub(strings.TrimSpace(v)))
		}
		return true
	}
	for _, a := range h.attrs {
		take(a)
	}
	if !h.group {
		r.Attrs(take)
	}
	if tenant != "" {
		h.s.Log(tenant, r.Time, l.String())
	}
}

func (h *handler) WithAttrs(as []slog.Attr) slog.Handler {
	c := *h
	c.next = h.next.WithAttrs(as)
	if !h.group {
		c.attrs = append(append([]slog.Attr{}, h.attrs...), as...)
	}
	return &c
}

func (h *handler) WithGroup(name string) slog.Handler {
	c := *h
	c.next = h.next.WithGroup(name)
	c.group = true
	return &c
}
