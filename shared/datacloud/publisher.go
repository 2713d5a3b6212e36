package datacloud

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"regexp"
	"sync"
	"time"

	"github.com/herokuevents/herokuevents/shared/authorization"
	"github.com/herokuevents/herokuevents/shared/config"
	"github.com/herokuevents/herokuevents/shared/event"
	"github.com/herokuevents/herokuevents/shared/platform"
	"github.com/herokuevents/herokuevents/shared/queue"
	"github.com/herokuevents/herokuevents/shared/salesforce"
	"github.com/herokuevents/herokuevents/shared/sink"
)

// ErrNotConnected marks a publication whose authorization cannot mint a
// core session (missing, pending, failing, revoked) or whose org refuses the
// Data Cloud exchange: the delivery is dead-lettered with the reason.
var ErrNotConnected = errors.New("data cloud authorization not connected")

// RefreshMargin is how long before its expiry a cached Data Cloud token is
// exchanged again.
const RefreshMargin = 5 * time.Minute

// IngestPath is the Streaming Ingestion API path of a connector's object.
func IngestPath(connector, object string) string {
	return "/api/v1/ingest/sources/" + url.PathEscape(connector) + "/" + url.PathEscape(object)
}

// NamePattern is the shape of an Ingestion API connector or object name.
const NamePattern = `^[A-Za-z][A-Za-z0-9_]{0,79}$`

// namePattern is NamePattern compiled on first use: its bounded repeat
// makes a large program, which every function linking this package would
// otherwise compile in its cold start.
var namePattern = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(NamePattern) })

// ValidName reports whether s can be an Ingestion API connector (source)
// or object name: a letter, then letters, digits and underscores.
func ValidName(s string) bool { return namePattern().MatchString(s) }

// Sessions resolves a tenant's authorization alias to its core session
// source (authorization.Service.Sessions).
type Sessions func(ctx context.Context, tenant, alias string) (salesforce.SessionSource, error)

// AuthorizationSessions resolves publications' authorizations with svc.
func AuthorizationSessions(svc *authorization.Service) Sessions {
	return func(ctx context.Context, tenant, alias string) (salesforce.SessionSource, error) {
		src, err := svc.Sessions(ctx, tenant, alias)
		if err != nil {
			return nil, err
		}
		return src, nil
	}
}

// Publisher is the platform.Publisher of Data Cloud publications: it sends
// each event's data as one record, {"data":[record]}, to the publication's
// Ingestion API connector and object, with Avro JSON unions unwrapped.
// The Data Cloud token of each authorization is cached until RefreshMargin
// before it expires.
//
// Outcomes: nil on 202 (Data Cloud accepted the record; it applies it
// minutes later, at least once); a *sink.Error of class Retry, with the
// Retry-After, for 429, 5xx and connection failures, and for a 401 that
// persists after one re-exchange of the token; a queue.Permanent error with
// the answer's excerpt for 400 and 404 (unknown connector or object, a
// record missing schema fields), data that is not a JSON object or is over
// 200 KB, and an authorization that is not connected or refused by the
// exchange. Safe for concurrent use; it never retries beyond the one
// re-exchange.
type Publisher struct {
	// Client sends the exchange and ingest requests; it must be guarded
	// (sink.Egress.Client). Required.
	Client *http.Client
	// Sessions resolves the publication's authorization. Required.
	Sessions Sessions
	// Logger; slog.Default() when nil.
	Logger *slog.Logger
	// Now is the clock; time.Now when nil.
	Now func() time.Time

	mu     sync.Mutex
	tokens map[string]*Token
}

var _ platform.Publisher = (*Publisher)(nil)

func (p *Publisher) now() time.Time {
	if p.Now != nil {
		return p.Now()
	}
	return time.Now()
}

func (p *Publisher) log() *slog.Logger {
	if p.Logger != nil {
		return p.Logger
	}
	return slog.Default()
}

// Publish implements platform.Publisher.
func (p *Publisher) Publish(ctx context.Context, tenant string, pub config.Publication, ev event.Event) error {
	connector, object, alias := pub.Params.Connector, pub.Params.Object, pub.Params.OrgName
	if !ValidName(connector) || !ValidName(object) {
		return queue.Permanent(fmt.Errorf("publication %s: connector %q and object %q must be Ingestion API names", pub.Name, connector, object))
	}
	body, err := Body(ev.Data)
	if err != nil {
		return queue.Permanent(fmt.Errorf("publication %s: event %s: %w", pub.Name, ev.ID, err))
	}
	src, err := p.Sessions(ctx, tenant, alias)
	if err != nil {
		return classifySession(pub, err)
	}
	key := tenant + "\x00" + alias
	log := p.log().With("tenant", tenant, "publication", pub.Name, "event_id", ev.ID)
	var res sink.Result
	for attempt := 0; attempt < 2; attempt++ {
		tok, err := p.token(ctx, key, src, attempt > 0)
		if err != nil {
			return classifySession(pub, err)
		}
		req, err := http.NewRequestWithContext(ctx, http.MethodPost, tok.InstanceURL+IngestPath(connector, object), bytes.NewReader(body))
		if err != nil {
			return queue.Permanent(fmt.Errorf("publication %s: %w", pub.Name, err))
		}
		req.Header.Set("Authorization", "Bearer "+tok.AccessToken)
		req.Header.Set("Content-Type", "application/json")
		res = sink.Do(p.Client, req)
		if res.Status != http.StatusUnauthorized {
			break
		}
		p.forget(key, tok.AccessToken)
		log.InfoContext(ctx, "data cloud token rejected; exchanging again", "attempt", attempt+1)
	}
	switch {
	case res.Class == sink.Delivered:
		log.InfoContext(ctx, "data cloud record accepted", "connector", connector, "object", object, "status", res.Status)
		return nil
	case res.Status == http.StatusUnauthorized:
		res.Class = sink.Retry
		return fmt.Errorf("publication %s: ingest %s/%s: %w", pub.Name, connector, object, &sink.Error{Result: res})
	case res.Class == sink.Retry:
		return fmt.Errorf("publication %s: ingest %s/%s: %w", pub.Name, connector, object, &sink.Error{Result: res})
	}
	res.Class = sink.Permanent // 410 is not a reason to disable a Data Cloud publication
	return queue.Permanent(fmt.Errorf("publication %s: ingest %s/%s: %w", pub.Name, connector, object, &sink.Error{Result: res}))
}

// token returns the cached Data Cloud token of key, or exchanges the core
// session for one. force skips the cache. A core token the exchange rejects
// is invalidated and the exchange tried once more with a fresh one.
func (p *Publisher) token(ctx context.Context, key string, src salesforce.SessionSource, force bool) (*Token, error) {
	if !force {
		p.mu.Lock()
		t := p.tokens[key]
		p.mu.Unlock()
		if t != nil && (t.Expiry.IsZero() || p.now().Add(RefreshMargin).Before(t.Expiry)) {
			return t, nil
		}
	}
	x := &Exchanger{HTTPClient: p.Client, Now: p.Now}
	var t *Token
	for attempt := 0; attempt < 2; attempt++ {
		s, err := src.Session(ctx)
		if err != nil {
			return nil, err
		}
		t, err = x.Exchange(ctx, s.InstanceURL, s.AccessToken)
		if err == nil {
			break
		}
		inv, ok := src.(salesforce.Invalidator)
		if !errors.Is(err, ErrCoreTokenRejected) || !ok || attempt == 1 {
			return nil, err
		}
		inv.Invalidate(s.AccessToken)
	}
	p.mu.Lock()
	if p.tokens == nil {
		p.tokens = map[string]*Token{}
	}
	p.tokens[key] = t
	p.mu.Unlock()
	return t, nil
}

// forget drops the cached token of key if it is still accessToken.
func (p *Publisher) forget(key, accessToken string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if t := p.tokens[key]; t != nil && t.AccessToken == accessToken {
		delete(p.tokens, key)
	}
}

// classifySession maps a failure to get a session or a Data Cloud token.
func classifySession(pub config.Publication, err error) error {
	var se *sink.Error
	switch {
	case errors.Is(err, salesforce.ErrInvalidGrant), errors.Is(err, authorization.ErrNotConnected),
		errors.Is(err, authorization.ErrNotFound), errors.Is(err, ErrCoreTokenRejected):
		return queue.Permanent(fmt.Errorf("publication %s: authorization %s: %w: %w", pub.Name, pub.Params.OrgName, ErrNotConnected, err))
	case errors.As(err, &se) && se.Result.Class != sink.Retry:
		return queue.Permanent(fmt.Errorf("publication %s: %w", pub.Name, err))
	}
	return fmt.Errorf("publication %s: %w", pub.Name, err)
}
