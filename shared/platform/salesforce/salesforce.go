package sfsub

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"time"

	"github.com/herokuevents/herokuevents/shared/api"
	"github.com/herokuevents/herokuevents/shared/config"
)

// Replay presets of a Salesforce subscription (config.Subscription.Replay):
// where it starts when it has no checkpoint, and where it resumes when its
// checkpoint is corrupted or expired (see Runner).
const (
	ReplayLatest   = "latest"
	ReplayEarliest = "earliest"
)

// Status values of config.SourceState set by this package.
const (
	StatusPending = "pending" // created, not consumed yet
	StatusActive  = "active"  // consuming
	StatusFailing = "failing" // the last attempt failed; see LastError
)

var (
	platformEventTopic = regexp.MustCompile(`^/event/[A-Za-z][A-Za-z0-9_]*(__e|__chn)$`)
	publishTopic       = regexp.MustCompile(`^/event/[A-Za-z][A-Za-z0-9_]*__e$`)
	changeEventTopic   = regexp.MustCompile(`^/data/([A-Za-z][A-Za-z0-9_]*ChangeEvent|ChangeEvents|[A-Za-z][A-Za-z0-9_]*__chn)$`)
	aliasPattern       = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$`)
)

// ValidSubscribeTopic reports whether topic names a platform event
// (/event/X__e, /event/X__chn) or change event channel (/data/XChangeEvent,
// /data/X__ChangeEvent, /data/ChangeEvents, /data/X__chn).
func ValidSubscribeTopic(topic string) bool {
	return platformEventTopic.MatchString(topic) || changeEventTopic.MatchString(topic)
}

// ValidPublishTopic reports whether topic names a custom platform event
// (/event/X__e): change events cannot be published.
func ValidPublishTopic(topic string) bool {
	return publishTopic.MatchString(topic)
}

// IsChangeTopic reports whether topic is a change data capture channel.
func IsChangeTopic(topic string) bool { return changeEventTopic.MatchString(topic) }

// ErrNoAuthorization is returned by an AuthorizationCheck when the tenant
// has no authorization with that alias.
var ErrNoAuthorization = errors.New("no such authorization")

// AuthorizationCheck reports whether a tenant has an authorization with
// alias: nil when it exists, an error wrapping ErrNoAuthorization when not,
// any other error when the check itself failed.
type AuthorizationCheck func(ctx context.Context, tenant, alias string) error

// StoreAuthorizationCheck checks that an item of kind authorization named
// alias exists for the tenant in store.
func StoreAuthorizationCheck(store config.Store) AuthorizationCheck {
	return func(ctx context.Context, tenant, alias string) error {
		_, err := store.Get(ctx, tenant, config.KindAuthorization, alias)
		if errors.Is(err, config.ErrNotFound) {
			return fmt.Errorf("authorization %s: %w", alias, ErrNoAuthorization)
		}
		return err
	}
}

// WithTenant returns ctx carrying a tenant id, as the api role sets it for
// platform builders (api.WithTenant).
func WithTenant(ctx context.Context, tenant string) context.Context {
	return api.WithTenant(ctx, tenant)
}

// TenantFrom returns the tenant of an api request (api.TenantFrom).
func TenantFrom(ctx context.Context) (string, bool) { return api.TenantFrom(ctx) }

// Platforms builds the api role's "salesforce" platforms.
type Platforms struct {
	// Authorized checks that org_name names an authorization of the tenant.
	// It runs when the request context carries the tenant (the api role
	// sets it); nil skips the check. Either way the subscriber reports a missing
	// authorization in the subscription's state.
	Authorized AuthorizationCheck
	// Now is the clock; time.Now when nil.
	Now func() time.Time
}

func (p Platforms) checkAuthorization(ctx context.Context, alias string) error {
	if !aliasPattern.MatchString(alias) {
		return api.Invalid("org_name %q is not a valid authorization alias (letters, digits, '.', '_', '-').", alias)
	}
	tenant, ok := TenantFrom(ctx)
	if p.Authorized == nil || !ok {
		return nil
	}
	err := p.Authorized(ctx, tenant, alias)
	switch {
	case errors.Is(err, ErrNoAuthorization):
		return api.Invalid("org_name %s: no such authorization; create it first with authorizations:salesforce:create %s.", alias, alias)
	case err != nil:
		return fmt.Errorf("check authorization %s: %w", alias, err)
	}
	return nil
}

// Subscription is the api.SubscriptionPlatform of Salesforce:
// {name, event, org_name, replay?, target?, filter?}. The new subscription is
// due at once for the subscriber (State.NextRun = now).
func (p Platforms) Subscription(ctx context.Context, body []byte) (config.Subscription, error) {
	var req struct {
		api.SubscriptionFields
		Event   string `json:"event"`
		OrgName string `json:"org_name"`
		Replay  string `json:"replay"`
	}
	if err := api.DecodeJSON(body, &req); err != nil {
		return config.Subscription{}, err
	}
	if req.Event == "" {
		return config.Subscription{}, api.Invalid("event is required: a topic such as /event/Order_Created__e or /data/AccountChangeEvent.")
	}
	if !ValidSubscribeTopic(req.Event) {
		return config.Subscription{}, api.Invalid("event %q is not a Salesforce topic: use /event/Name__e, /data/ObjectChangeEvent or /data/ChangeEvents.", req.Event)
	}
	if req.OrgName == "" {
		return config.Subscription{}, api.Invalid("org_name is required: the alias of an authorization.")
	}
	switch req.Replay {
	case "":
		req.Replay = ReplayLatest
	case ReplayLatest, ReplayEarliest:
	default:
		return config.Subscription{}, api.Invalid("replay must be %q or %q.", ReplayLatest, ReplayEarliest)
	}
	if err := p.checkAuthorization(ctx, req.OrgName); err != nil {
		return config.Subscription{}, err
	}
	return config.Subscription{
		Params: config.Params{Event: req.Event, OrgName: req.OrgName},
		Replay: req.Replay,
		State:  &config.SourceState{Status: StatusPending, NextRun: p.now()},
	}, nil
}

// Publication is the api.PublicationPlatform of Salesforce:
// {name, event, org_name, source?, filter?}; event must be a platform event.
func (p Platforms) Publication(ctx context.Context, body []byte) (config.Publication, map[string]any, error) {
	var req struct {
		api.PublicationFields
		Event   string `json:"event"`
		OrgName string `json:"org_name"`
	}
	if err := api.DecodeJSON(body, &req); err != nil {
		return config.Publication{}, nil, err
	}
	if req.Event == "" {
		return config.Publication{}, nil, api.Invalid("event is required: a platform event topic such as /event/Order_Created__e.")
	}
	if !ValidPublishTopic(req.Event) {
		return config.Publication{}, nil, api.Invalid("event %q is not a platform event topic: use /event/Name__e (change events cannot be published).", req.Event)
	}
	if req.OrgName == "" {
		return config.Publication{}, nil, api.Invalid("org_name is required: the alias of an authorization.")
	}
	if err := p.checkAuthorization(ctx, req.OrgName); err != nil {
		return config.Publication{}, nil, err
	}
	return config.Publication{Params: config.Params{Event: req.Event, OrgName: req.OrgName}}, nil, nil
}

func (p Platforms) now() time.Time {
	if p.Now != nil {
		return p.Now().UTC()
	}
	return time.Now().UTC()
}
