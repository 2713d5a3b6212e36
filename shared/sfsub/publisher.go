package sfsub

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strings"

	"github.com/herokuevents/herokuevents/shared/authorization"
	"github.com/herokuevents/herokuevents/shared/config"
	"github.com/herokuevents/herokuevents/shared/event"
	"github.com/herokuevents/herokuevents/shared/platform"
	"github.com/herokuevents/herokuevents/shared/queue"
	"github.com/herokuevents/herokuevents/shared/salesforce"
	"github.com/herokuevents/herokuevents/shared/salesforce/pubsub"
)

// ErrNotConnected marks a publication whose authorization cannot mint a
// session (missing, pending, failing, or its grant revoked): the delivery is
// dead-lettered with the reason. Other session errors are retried.
var ErrNotConnected = errors.New("salesforce authorization not connected")

// Publisher is the platform.Publisher of Salesforce publications: it
// publishes each event's data on the publication's platform event topic with
// the Pub/Sub API, encoded against the topic's current schema (GetTopic →
// schema id → GetSchema, cached by the client). Data may be union-wrapped
// Avro JSON or plain JSON; an absent CreatedDate is taken from the event
// time and an absent CreatedById is the authorized user (Salesforce
// requires both, and flows and triggers skip events of an unknown user).
// The CloudEvent id (≤ 36 characters) is sent as the event id and
// comes back as the correlation key.
//
// Outcomes: nil when Salesforce accepted the event; a retryable error for
// UNAUTHENTICATED (after one immediate retry with a refreshed token),
// service unavailable, allocation limits and connection failures; a
// queue.Permanent error carrying the Salesforce message for an unknown or
// unpublishable topic, a payload that does not fit the schema, a per-event
// publish error, and an authorization that is not connected. Safe for
// concurrent use; it never retries beyond the one token refresh.
type Publisher struct {
	// Client is the Pub/Sub client, made by Dial or DialEnv. Required.
	Client *pubsub.Client
	// Sessions resolves the publication's authorization. Required.
	Sessions Sessions
	// Logger; slog.Default() when nil.
	Logger *slog.Logger
}

var _ platform.Publisher = (*Publisher)(nil)

// Publish implements platform.Publisher.
func (p *Publisher) Publish(ctx context.Context, tenant string, pub config.Publication, ev event.Event) error {
	log := p.Logger
	if log == nil {
		log = slog.Default()
	}
	topic, alias := pub.Params.Event, pub.Params.OrgName
	if !ValidPublishTopic(topic) {
		return queue.Permanent(fmt.Errorf("publication %s: %q is not a platform event topic", pub.Name, topic))
	}
	src, err := p.Sessions(ctx, tenant, alias)
	if err != nil {
		return classifyPublish(pub, err)
	}
	sess, err := src.Session(ctx)
	if err != nil {
		return classifyPublish(pub, err)
	}
	data, err := withDefaults(ev, sess.UserID)
	if err != nil {
		return queue.Permanent(fmt.Errorf("publication %s: event %s: %w", pub.Name, ev.ID, err))
	}
	msg := pubsub.Message{Data: data}
	if len(ev.ID) <= 36 {
		msg.ID = ev.ID
	}
	pctx := WithSessionSource(ctx, src)
	var results []pubsub.PublishResult
	for attempt := 0; attempt < 2; attempt++ {
		results, err = p.Client.Publish(pctx, topic, msg)
		if !errors.Is(err, pubsub.ErrUnauthenticated) {
			break
		}
		log.InfoContext(ctx, "salesforce session expired; refreshing", "tenant", tenant, "publication", pub.Name, "event_id", ev.ID)
	}
	if err != nil {
		return classifyPublish(pub, err)
	}
	if len(results) != 1 {
		return fmt.Errorf("publish to %s: %d results for 1 event", topic, len(results))
	}
	if rerr := results[0].Err; rerr != nil {
		var pe *pubsub.PublishError
		if errors.As(rerr, &pe) && strings.Contains(strings.ToLower(pe.Msg), "unavailable") {
			return fmt.Errorf("publish to %s: %w", topic, rerr)
		}
		return queue.Permanent(fmt.Errorf("publish to %s: %w", topic, rerr))
	}
	log.InfoContext(ctx, "salesforce event published", "tenant", tenant, "publication", pub.Name, "event_id", ev.ID,
		"topic", topic, "correlation_key", results[0].CorrelationKey)
	return nil
}

// classifyPublish maps a failed Publish call to retry or permanent.
func classifyPublish(pub config.Publication, err error) error {
	switch {
	case errors.Is(err, salesforce.ErrInvalidGrant), errors.Is(err, authorization.ErrNotConnected), errors.Is(err, authorization.ErrNotFound):
		return queue.Permanent(fmt.Errorf("publication %s: authorization %s: %w: %w", pub.Name, pub.Params.OrgName, ErrNotConnected, err))
	case errors.Is(err, pubsub.ErrTopicNotFound), errors.Is(err, pubsub.ErrPermission):
		return queue.Permanent(fmt.Errorf("publication %s: %w", pub.Name, err))
	case errors.Is(err, pubsub.ErrInvalidPayload):
		return queue.Permanent(fmt.Errorf("publication %s: %w", pub.Name, err))
	}
	return fmt.Errorf("publication %s: %w", pub.Name, err)
}

// withDefaults returns the event data with CreatedDate set to the event
// time and CreatedById to user where the object lacks them.
func withDefaults(ev event.Event, user string) ([]byte, error) {
	var obj map[string]json.RawMessage
	if err := json.Unmarshal(ev.Data, &obj); err != nil || obj == nil {
		return nil, fmt.Errorf("%w: event data must be a JSON object", pubsub.ErrInvalidPayload)
	}
	set := false
	if _, ok := obj["CreatedDate"]; !ok && !ev.Time.IsZero() {
		obj["CreatedDate"], set = json.RawMessage(fmt.Sprint(ev.Time.UnixMilli())), true
	}
	if _, ok := obj["CreatedById"]; !ok && user != "" {
		b, err := json.Marshal(user)
		if err != nil {
			return nil, err
		}
		obj["CreatedById"], set = b, true
	}
	if !set {
		return ev.Data, nil
	}
	return json.Marshal(obj)
}
