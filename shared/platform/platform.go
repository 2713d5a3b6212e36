// Package platform defines the unit of a source or target kind of
// herokuevents (webhook, generate, salesforce, datacloud …): its name, how a
// subscription and a publication of it are validated, its publisher, its
// background runner, and how the CLI creates one. Each platform is one
// package under shared/platform/<name>; shared/platform/catalog lists them
// all, and both modes (infra/embedded, infra/aws/awsenv) hand that list to
// NewRegistry once.
//
// A Platform is a description: nothing is dialled or allocated until a
// Registry asks for a part. A Registry is safe for concurrent use.
package platform

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"slices"
	"time"

	"github.com/herokuevents/herokuevents/shared/authorization"
	"github.com/herokuevents/herokuevents/shared/config"
	"github.com/herokuevents/herokuevents/shared/event"
	"github.com/herokuevents/herokuevents/shared/httpjson"
	"github.com/herokuevents/herokuevents/shared/metric"
	"github.com/herokuevents/herokuevents/shared/queue"
	"github.com/herokuevents/herokuevents/shared/secret"
	"github.com/herokuevents/herokuevents/shared/sink"
)

// Platform is one kind of source and/or target.
type Platform struct {
	// Name is the `platform` field of its resources and the path segment of
	// POST /v1/tenants/{T}/platforms/{name}/…: lowercase letters and digits.
	Name string
	// Subscription makes the platform a source; nil when it is not one.
	Subscription *Source
	// Publication makes the platform a target; nil when it is not one.
	Publication *Target
	// Run, when set, is the platform's background runner in a long-running
	// process (the embedded mode): it returns when ctx is done. On AWS the
	// same work runs as a scheduled function.
	Run func(ctx context.Context, d Deps) error
}

// Source is the subscription side of a platform.
type Source struct {
	// Validate builds the platform part of a new subscription of tenant
	// from the create request body. It decodes the body (httpjson.Decode
	// into a struct embedding SubscriptionFields), checks its own
	// parameters and returns the subscription with Params (and Replay,
	// State) set; the api has already checked name, target and filter, and
	// sets ID, Name, Platform and Created. Bad input is a config.ErrInvalid
	// problem (config.Invalid); any other error is an internal failure.
	// Nothing may be stored.
	//
	// When the returned State has a NextRun, the stored item's Index is
	// config.IndexTime(NextRun), so that a scheduler finds it once due.
	Validate func(ctx context.Context, d Deps, tenant string, body []byte) (config.Subscription, error)
	// Polled reports that herokuevents polls the platform and keeps a
	// runtime state (shown by subscriptions:info).
	Polled bool
	// Command is the CLI's create command.
	Command Command
	// Shown, when set, returns what the create response shows once under
	// "extra" (e.g. an endpoint URL and its signing key) of the new
	// subscription sub of tenant (ID set); baseURL is the service's public
	// base URL. Nothing may be stored.
	Shown func(ctx context.Context, d Deps, tenant, baseURL string, sub config.Subscription) (map[string]any, error)
}

// Target is the publication side of a platform.
type Target struct {
	// Validate builds the platform part of a new publication, like
	// Source.Validate (the body struct embeds PublicationFields). extra is
	// returned once in the create response under "extra" (e.g. a signing
	// secret) and never stored in clear.
	Validate func(ctx context.Context, d Deps, tenant string, body []byte) (p config.Publication, extra map[string]any, err error)
	// Publisher builds the deliver role's publisher of the platform.
	// Required.
	Publisher func(ctx context.Context, d Deps) (Publisher, error)
	// Command is the CLI's create command.
	Command Command
	// Update, when set, validates a change of a publication of tenant
	// (PATCH /v1/tenants/{T}/publications/{ref}): it decodes the body
	// (httpjson.Decode into a struct embedding UpdateFields, every field a
	// pointer so that absent means unchanged), checks the platform's
	// parameters as Validate does at create and returns current with them
	// changed. extra is returned once in the answer. Nothing may be stored.
	// Without it, only the UpdateFields can change.
	Update func(ctx context.Context, d Deps, tenant string, current config.Publication, body []byte) (p config.Publication, extra map[string]any, err error)
	// RotateSecret, when set, gives the publication a new signing secret,
	// returned once in extra; the current one keeps signing beside it for
	// overlap (PreviousSecretSealed, PreviousSecretUntil). Nothing may be
	// stored.
	RotateSecret func(ctx context.Context, d Deps, tenant string, current config.Publication, overlap time.Duration) (p config.Publication, extra map[string]any, err error)
}

// Publisher sends one event to one publication of a platform, once.
//
// Publishers never retry; the deliver role does. The error tells it what to
// do: nil = delivered; an error wrapping *sink.Error = that result's class
// (sink.Retry with its RetryAfter, sink.Gone disables the publication,
// sink.Permanent dead-letters); an error marked with queue.Permanent is
// dead-lettered; any other error is retried with backoff. Implementations
// must be safe for concurrent use.
type Publisher interface {
	Publish(ctx context.Context, tenant string, pub config.Publication, ev event.Event) error
}

// PublisherFunc adapts a function to Publisher.
type PublisherFunc func(ctx context.Context, tenant string, pub config.Publication, ev event.Event) error

// Publish calls f.
func (f PublisherFunc) Publish(ctx context.Context, tenant string, pub config.Publication, ev event.Event) error {
	return f(ctx, tenant, pub, ev)
}

// Engine is the part of a platform that needs a heavy client library (the
// Salesforce Pub/Sub API over gRPC and Avro): its publisher and runner.
// The wiring of a process that delivers to or runs the platform puts it in
// Deps.Engines; a process that only validates (the api function) leaves
// it out and links none of it. Implementations are safe for concurrent use.
type Engine interface {
	Publisher(ctx context.Context, d Deps) (Publisher, error)
	Run(ctx context.Context, d Deps) error
}

// ErrNoEngine: the platform's engine is not wired into this process.
var ErrNoEngine = errors.New("platform engine not wired in this process")

// EnginePublisher is a Target.Publisher that takes the publisher of the
// platform name's engine.
func EnginePublisher(name string) func(ctx context.Context, d Deps) (Publisher, error) {
	return func(ctx context.Context, d Deps) (Publisher, error) {
		e, ok := d.Engines[name]
		if !ok || e == nil {
			return nil, fmt.Errorf("%s publisher: %w", name, ErrNoEngine)
		}
		return e.Publisher(ctx, d)
	}
}

// EngineRun is a Platform.Run that runs the platform name's engine.
func EngineRun(name string) func(ctx context.Context, d Deps) error {
	return func(ctx context.Context, d Deps) error {
		e, ok := d.Engines[name]
		if !ok || e == nil {
			return fmt.Errorf("%s runner: %w", name, ErrNoEngine)
		}
		return e.Run(ctx, d)
	}
}

// Program is a compiled Bloblang mapping (*mapping.Mapping).
type Program interface {
	Apply(data []byte) (out []byte, deleted bool, err error)
}

// Deps are what a platform's parts may use: the adapters of the mode, built
// once by its wiring. A part uses only the fields it documents.
type Deps struct {
	// Store holds the configuration. Required.
	Store config.Store
	// Sealer seals and opens stored secrets. Required.
	Sealer secret.Sealer
	// Egress guards outbound HTTP (URL checks at create, dial-time checks).
	// Required.
	Egress *sink.Egress
	// CheckURL checks a URL given at create beyond its shape (the egress
	// policy); Egress.CheckURL when nil. Its error message is shown.
	CheckURL func(ctx context.Context, raw string) error
	// Client is the deliver role's outbound HTTP client: guarded by Egress,
	// with the delivery timeout. Required by publishers.
	Client *http.Client
	// Ingest is the ingest queue, where runners put the events they produce.
	Ingest queue.Sender
	// Authorizations are the tenants' Salesforce connections.
	Authorizations *authorization.Service
	// Compile compiles tenants' Bloblang mappings in the pure environment
	// of shared/mapping (cached); nil in a process that runs none, so that
	// it links no Bloblang (platforms that need it refuse then).
	Compile func(src string) (Program, error)
	// Engines are the heavy parts of platforms, by platform name (see
	// Engine): set by the processes that deliver to or run them.
	Engines map[string]Engine
	// Getenv reads the process settings (os.Getenv in production).
	Getenv func(string) string
	// Logger; slog.Default() when nil.
	Logger *slog.Logger
	// Metrics records what the runners produce (Ingested); metric.Discard
	// when nil.
	Metrics metric.Recorder
	// Now is the clock; time.Now when nil.
	Now func() time.Time
	// NewSecret makes a new signing secret; nil uses the platform's default.
	NewSecret func() (string, error)
	// Origin names this service to webhook receivers: the
	// WebHook-Request-Origin of the CloudEvents webhook handshake, a DNS
	// name (the host of the service's public URL). DefaultOrigin when empty.
	Origin string
}

// DefaultOrigin is the WebHook-Request-Origin when Deps.Origin is empty.
const DefaultOrigin = "herokuevents"

// RequestOrigin returns d.Origin or DefaultOrigin.
func (d Deps) RequestOrigin() string {
	if d.Origin != "" {
		return d.Origin
	}
	return DefaultOrigin
}

// OriginOf returns the host name of a public base URL, the Deps.Origin of
// the processes it serves ("" when it has none).
func OriginOf(baseURL string) string {
	u, err := url.Parse(baseURL)
	if err != nil {
		return ""
	}
	return u.Hostname()
}

// Clock returns d.Now or time.Now.
func (d Deps) Clock() func() time.Time {
	if d.Now != nil {
		return d.Now
	}
	return time.Now
}

// URLCheck returns d.CheckURL, or Egress.CheckURL.
func (d Deps) URLCheck() func(ctx context.Context, raw string) error {
	if d.CheckURL != nil {
		return d.CheckURL
	}
	return d.Egress.CheckURL
}

// Log returns d.Logger or slog.Default().
func (d Deps) Log() *slog.Logger {
	if d.Logger != nil {
		return d.Logger
	}
	return slog.Default()
}

// Env reads a setting with d.Getenv ("" when Getenv is nil).
func (d Deps) Env(name string) string {
	if d.Getenv == nil {
		return ""
	}
	return d.Getenv(name)
}

// SubscriptionFields are the fields every subscription create body may
// carry. A platform's request struct embeds it so that httpjson.Decode
// accepts them.
type SubscriptionFields struct {
	Name string `json:"name"`
	// Target is the name or id of a publication to link at once.
	Target *string `json:"target"`
	// Filter is the Bloblang filter of that link; only with Target.
	Filter *string `json:"filter"`
	// Pull keeps the subscription's events for pulling from
	// HEROKUEVENTS_SUBSCRIBE_URL (config.Subscription.Pull); the api sets it.
	Pull bool `json:"pull"`
	// Retention is how long the subscription's events are archived for
	// replay, a Go duration such as "72h" (config.Subscription.Retention);
	// the api sets it.
	Retention string `json:"retention"`
}

// PublicationFields are the fields every publication create body may carry.
// A platform's request struct embeds it so that httpjson.Decode accepts them.
type PublicationFields struct {
	Name string `json:"name"`
	// Source is the name or id of a subscription to link at once.
	Source *string `json:"source"`
	// Filter is the Bloblang filter of that link; only with Source.
	Filter *string `json:"filter"`
	OrderFields
}

// OrderFields make a publication ordered (config.Order), at create and
// update: Ordered true (or an OrderedBy) delivers its events one at a
// time per key in publish order; OrderedBy is the Bloblang expression of
// the key ("" the default); OnFailure is "skip" or "block". An update's
// Ordered false makes it unordered again.
type OrderFields struct {
	Ordered   *bool   `json:"ordered"`
	OrderedBy *string `json:"ordered_by"`
	OnFailure *string `json:"on_failure"`
}

// UpdateFields are the fields every publication update body may carry
// besides the platform's parameters; the api applies them. A platform's
// update request struct embeds it so that httpjson.Decode accepts them.
type UpdateFields struct {
	// Timeout bounds one delivery attempt: a duration from 1s to
	// MaxTimeout, or "" (or "0") for the process's default.
	Timeout *string `json:"timeout"`
	// MaxAttempts bounds the attempts of one delivery (0: the default).
	MaxAttempts *int `json:"max_attempts"`
	// MaxAge is how long after the first attempt retries go on, a duration
	// ("" or "0": the default).
	MaxAge *string `json:"max_age"`
	// Rate caps deliveries in events per second (0: no cap).
	Rate *float64 `json:"rate"`
	OrderFields
}

// MaxTimeout is the longest delivery timeout a publication may set
// (sink.MaxTimeout, within the deliver function's own timeout).
const MaxTimeout = sink.MaxTimeout

// ErrUnsupported: no platform of that name offers that side.
var ErrUnsupported = errors.New("platform not supported")

// validName reports whether name is 2 to 30 lowercase letters and digits,
// a letter first. A loop, not a regexp: its bounded repeat made a large
// program, compiled at the package init of every function.
func validName(name string) bool {
	if len(name) < 2 || len(name) > 30 || name[0] < 'a' || name[0] > 'z' {
		return false
	}
	for i := 1; i < len(name); i++ {
		if c := name[i]; (c < 'a' || c > 'z') && (c < '0' || c > '9') {
			return false
		}
	}
	return true
}

// Registry is the platforms of one process with their dependencies. The
// api role validates through it, the deliver role takes its publishers and
// the embedded mode runs its runners.
type Registry struct {
	deps      Deps
	platforms []Platform
	byName    map[string]Platform
}

// NewRegistry checks the platforms (a valid, unique name each; a target
// has a publisher and a validator; a source has a validator) and the
// dependencies every platform needs.
func NewRegistry(d Deps, platforms ...Platform) (*Registry, error) {
	if d.Store == nil || d.Sealer == nil || d.Egress == nil {
		return nil, errors.New("new platform registry: Deps.Store, Sealer and Egress are required")
	}
	r := &Registry{deps: d, byName: make(map[string]Platform, len(platforms))}
	for _, p := range platforms {
		if !validName(p.Name) {
			return nil, fmt.Errorf("new platform registry: platform name %q: use 2 to 30 lowercase letters and digits", p.Name)
		}
		if _, dup := r.byName[p.Name]; dup {
			return nil, fmt.Errorf("new platform registry: platform %s is listed twice", p.Name)
		}
		if p.Subscription == nil && p.Publication == nil {
			return nil, fmt.Errorf("new platform registry: platform %s is neither a source nor a target", p.Name)
		}
		if p.Subscription != nil && p.Subscription.Validate == nil {
			return nil, fmt.Errorf("new platform registry: platform %s: Subscription.Validate is required", p.Name)
		}
		if p.Publication != nil && (p.Publication.Validate == nil || p.Publication.Publisher == nil) {
			return nil, fmt.Errorf("new platform registry: platform %s: Publication.Validate and Publisher are required", p.Name)
		}
		r.byName[p.Name] = p
		r.platforms = append(r.platforms, p)
	}
	return r, nil
}

// Deps returns the registry's dependencies.
func (r *Registry) Deps() Deps { return r.deps }

// Platforms returns the platforms in registration order.
func (r *Registry) Platforms() []Platform { return slices.Clone(r.platforms) }

// Subscription validates a new subscription of platform name for tenant.
// An unknown platform, or one that is not a source, is a config.ErrInvalid
// problem wrapping ErrUnsupported.
func (r *Registry) Subscription(ctx context.Context, tenant, name string, body []byte) (config.Subscription, error) {
	p, ok := r.byName[name]
	if !ok || p.Subscription == nil {
		return config.Subscription{}, unsupported(name, "subscriptions")
	}
	return p.Subscription.Validate(ctx, r.deps, tenant, body)
}

// Publication validates a new publication of platform name for tenant,
// like Subscription.
func (r *Registry) Publication(ctx context.Context, tenant, name string, body []byte) (config.Publication, map[string]any, error) {
	p, ok := r.byName[name]
	if !ok || p.Publication == nil {
		return config.Publication{}, nil, unsupported(name, "publications")
	}
	return p.Publication.Validate(ctx, r.deps, tenant, body)
}

// UpdatePublication validates a change of the publication current with the
// update body, through its platform's Update. A platform without one takes
// the UpdateFields only; any other field is a config.ErrInvalid problem.
func (r *Registry) UpdatePublication(ctx context.Context, tenant string, current config.Publication, body []byte) (config.Publication, map[string]any, error) {
	p, ok := r.byName[current.Platform]
	if !ok || p.Publication == nil {
		return config.Publication{}, nil, unsupported(current.Platform, "publications")
	}
	if p.Publication.Update != nil {
		return p.Publication.Update(ctx, r.deps, tenant, current, body)
	}
	var req struct {
		UpdateFields
	}
	if err := httpjson.Decode(body, &req); err != nil {
		return config.Publication{}, nil, fmt.Errorf("%s publications have no parameters to update: %w", current.Platform, err)
	}
	return current, nil, nil
}

// RotateSecret gives the publication current a new signing secret through
// its platform's RotateSecret; a config.ErrInvalid problem when the
// platform signs nothing.
func (r *Registry) RotateSecret(ctx context.Context, tenant string, current config.Publication, overlap time.Duration) (config.Publication, map[string]any, error) {
	p, ok := r.byName[current.Platform]
	if !ok || p.Publication == nil || p.Publication.RotateSecret == nil {
		return config.Publication{}, nil, config.Invalid("Publication %s is a %s publication: it has no signing secret to rotate.", current.Name, current.Platform)
	}
	return p.Publication.RotateSecret(ctx, r.deps, tenant, current, overlap)
}

// Shown returns what the create response of the new subscription sub of
// tenant shows once (Source.Shown), nil when its platform shows nothing.
func (r *Registry) Shown(ctx context.Context, tenant, baseURL string, sub config.Subscription) (map[string]any, error) {
	p, ok := r.byName[sub.Platform]
	if !ok || p.Subscription == nil || p.Subscription.Shown == nil {
		return nil, nil
	}
	return p.Subscription.Shown(ctx, r.deps, tenant, baseURL, sub)
}

// Polled reports whether subscriptions of platform name keep a runtime state.
func (r *Registry) Polled(name string) bool {
	p, ok := r.byName[name]
	return ok && p.Subscription != nil && p.Subscription.Polled
}

func unsupported(name, kind string) error {
	return &config.Problem{Kind: config.ErrInvalid, Cause: ErrUnsupported,
		Message: fmt.Sprintf("platform %s is not supported yet for %s.", name, kind)}
}

// Publishers builds the publisher of every target platform, by name.
func (r *Registry) Publishers(ctx context.Context) (map[string]Publisher, error) {
	out := map[string]Publisher{}
	for _, p := range r.platforms {
		if p.Publication == nil {
			continue
		}
		pub, err := p.Publication.Publisher(ctx, r.deps)
		if err != nil {
			return nil, fmt.Errorf("build %s publisher: %w", p.Name, err)
		}
		out[p.Name] = pub
	}
	return out, nil
}

// Runners returns the background runners of the platforms that have one,
// bound to the registry's dependencies.
func (r *Registry) Runners() []func(ctx context.Context) error {
	var out []func(ctx context.Context) error
	for _, p := range r.platforms {
		if p.Run == nil {
			continue
		}
		run := p.Run
		out = append(out, func(ctx context.Context) error { return run(ctx, r.deps) })
	}
	return out
}

// CheckSubscription returns the error Subscription gives for a platform
// that is not a source, or nil when it is one.
func (r *Registry) CheckSubscription(name string) error {
	if p, ok := r.byName[name]; ok && p.Subscription != nil {
		return nil
	}
	return unsupported(name, "subscriptions")
}

// CheckPublication returns the error Publication gives for a platform that
// is not a target, or nil when it is one.
func (r *Registry) CheckPublication(name string) error {
	if p, ok := r.byName[name]; ok && p.Publication != nil {
		return nil
	}
	return unsupported(name, "publications")
}
