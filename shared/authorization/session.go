package authorization

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sync"

	"github.com/herokuevents/herokuevents/shared/config"
	"github.com/herokuevents/herokuevents/shared/salesforce"
)

// Source is the session source of one authorization: a
// salesforce.SessionSource and salesforce.Invalidator, safe for concurrent
// use. It keeps the current access token in memory; after Invalidate (the
// Pub/Sub client calls it on UNAUTHENTICATED, REST callers on 401
// INVALID_SESSION_ID) the next Session re-reads the stored token, which
// another process may have refreshed already, and otherwise mints a new one
// (refresh token, JWT bearer or client credentials) and stores it sealed.
//
// Session errors: ErrNotConnected (*Error) when the authorization is
// pending, failing or destroyed, or when Salesforce refused the grant — the
// authorization is then marked failing with a LastError telling the user to
// reconnect; any other error (Salesforce unreachable, store down) is
// transient and worth retrying with a backoff.
type Source struct {
	svc        *Service
	tenant, id string
	alias      string
	mu         sync.Mutex
	tok        *salesforce.Token
	rejected   string // the last access token invalidated
}

var (
	_ salesforce.SessionSource = (*Source)(nil)
	_ salesforce.Invalidator   = (*Source)(nil)
)

// Sessions returns the session source of the tenant's authorization with
// that alias or id. Sources are shared: every call for the same
// authorization returns the same *Source. Errors: ErrNotFound,
// ErrNotConnected (pending or failing; the message carries LastError), or
// internal.
func (s *Service) Sessions(ctx context.Context, tenant, ref string) (*Source, error) {
	r, err := s.load(ctx, tenant, ref)
	if err != nil {
		return nil, err
	}
	if err := notConnected(r.Value); err != nil {
		return nil, err
	}
	key := tenant + "\x00" + r.Value.ID
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.sessions == nil {
		s.sessions = map[string]*Source{}
	}
	src, ok := s.sessions[key]
	if !ok {
		src = &Source{svc: s, tenant: tenant, id: r.Value.ID, alias: r.Value.Alias}
		s.sessions[key] = src
	}
	return src, nil
}

// drop forgets the cached source of an authorization (destroyed or
// reconnected).
func (s *Service) drop(tenant, id string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	key := tenant + "\x00" + id
	if src, ok := s.sessions[key]; ok {
		src.mu.Lock()
		src.tok = nil
		src.mu.Unlock()
		delete(s.sessions, key)
	}
}

// notConnected explains why a is not usable, or returns nil.
func notConnected(a config.Authorization) error {
	switch a.Status {
	case config.AuthConnected:
		return nil
	case config.AuthPending:
		return newError(ErrNotConnected, nil, "Authorization %s is waiting for the Salesforce login to finish.", a.Alias)
	default:
		msg := a.LastError
		if msg == "" {
			msg = reconnectHint(a.Alias)
		}
		return newError(ErrNotConnected, nil, "Authorization %s is failing: %s", a.Alias, msg)
	}
}

// Alias returns the alias of the authorization.
func (src *Source) Alias() string { return src.alias }

// Session returns the current session, minting a new access token when the
// last one was invalidated.
func (src *Source) Session(ctx context.Context) (salesforce.Session, error) {
	tok, err := src.Token(ctx)
	if err != nil {
		return salesforce.Session{}, err
	}
	return tok.Session(), nil
}

// Token returns a copy of the current token (for REST callers that need
// the instance URL and access token).
func (src *Source) Token(ctx context.Context) (*salesforce.Token, error) {
	src.mu.Lock()
	defer src.mu.Unlock()
	if src.tok == nil || src.tok.AccessToken == "" {
		tok, err := src.svc.fresh(ctx, src.tenant, src.id, src.rejected)
		if err != nil {
			return nil, err
		}
		src.tok = tok
	}
	t := *src.tok
	return &t, nil
}

// Invalidate drops accessToken if it is still the current one, so that
// concurrent callers rejected with the same token refresh once.
func (src *Source) Invalidate(accessToken string) {
	src.mu.Lock()
	defer src.mu.Unlock()
	if src.tok != nil && src.tok.AccessToken == accessToken {
		src.rejected = accessToken
		src.tok = nil
		src.svc.log().Info("authorization session invalidated", "tenant", src.tenant, "authorization", src.id, "alias", src.alias)
	}
}

// fresh returns the stored token of an authorization unless it is the
// rejected one, else mints and stores a new one.
func (s *Service) fresh(ctx context.Context, tenant, id, rejected string) (*salesforce.Token, error) {
	r, err := s.load(ctx, tenant, id)
	if errors.Is(err, ErrNotFound) {
		return nil, newError(ErrNotConnected, err, "The authorization was destroyed.")
	}
	if err != nil {
		return nil, err
	}
	a := r.Value
	if err := notConnected(a); err != nil {
		return nil, err
	}
	old, err := s.openToken(ctx, a)
	if err != nil {
		return nil, err
	}
	if old.AccessToken != "" && old.AccessToken != rejected {
		return old, nil
	}
	tok, err := s.mint(ctx, a, old)
	if err != nil {
		var oe *salesforce.OAuthError
		if !errors.As(err, &oe) || oe.Status/100 != 4 || oe.Code == "rate_limit_exceeded" {
			s.log().WarnContext(ctx, "authorization refresh failed", "tenant", tenant, "authorization", id, "alias", a.Alias,
				"flow", a.Flow, "err", salesforceCause(err))
			return nil, fmt.Errorf("refresh session of authorization %s: %w", a.Alias, err)
		}
		return nil, s.fail(ctx, tenant, a, oe)
	}
	if tok.InstanceURL == "" {
		tok.InstanceURL = old.InstanceURL
	}
	if tok.ID == "" {
		tok.ID = old.ID
	}
	raw, err := json.Marshal(tok)
	if err != nil {
		return nil, fmt.Errorf("encode token: %w", err)
	}
	sealed, err := s.Sealer.Seal(ctx, raw)
	if err != nil {
		return nil, fmt.Errorf("seal token: %w", err)
	}
	_, err = s.update(ctx, tenant, id, func(a *config.Authorization) error {
		if err := notConnected(*a); err != nil {
			return err
		}
		a.TokenSealed = sealed
		if tok.InstanceURL != "" {
			a.InstanceURL = tok.InstanceURL
		}
		return nil
	})
	if errors.Is(err, ErrNotFound) {
		return nil, newError(ErrNotConnected, err, "The authorization was destroyed.")
	}
	if err != nil {
		return nil, err
	}
	s.log().InfoContext(ctx, "authorization session refreshed", "tenant", tenant, "authorization", id, "alias", a.Alias, "flow", a.Flow)
	return tok, nil
}

// mint gets a new access token the way the authorization's flow allows.
func (s *Service) mint(ctx context.Context, a config.Authorization, old *salesforce.Token) (*salesforce.Token, error) {
	secret, err := s.clientSecret(ctx, a)
	if err != nil {
		return nil, err
	}
	o := s.oauth(a, secret)
	switch a.Flow {
	case config.FlowWeb:
		if old.RefreshToken == "" {
			return nil, &salesforce.OAuthError{Status: 400, Code: "invalid_grant", Description: "no refresh token stored"}
		}
		return o.Refresh(ctx, old.RefreshToken)
	case config.FlowJWT:
		pemKey, err := s.Sealer.Open(ctx, a.JWTKeySealed)
		if err != nil {
			return nil, fmt.Errorf("open jwt key: %w", err)
		}
		key, err := ParseKey(pemKey)
		if err != nil {
			return nil, err
		}
		return o.JWTBearer(ctx, a.Username, key)
	case config.FlowClientCredentials:
		return o.ClientCredentials(ctx)
	default:
		return nil, fmt.Errorf("authorization %s has unknown flow %q", a.Alias, a.Flow)
	}
}

// fail marks an authorization failing after Salesforce refused its grant
// and returns the ErrNotConnected error to report.
func (s *Service) fail(ctx context.Context, tenant string, a config.Authorization, oe *salesforce.OAuthError) error {
	var why string
	switch {
	case a.Flow == config.FlowWeb && oe.Code == "invalid_grant":
		why = "refresh token revoked or expired"
	case oe.Code == "invalid_grant":
		why = "Salesforce refused the " + flowName(a.Flow) + " grant (invalid_grant: " + redact(oe.Description) + ")"
	default:
		why = "Salesforce refused the " + flowName(a.Flow) + " grant (" + oe.Code + ": " + redact(oe.Description) + ")"
	}
	msg := why + ": " + reconnectHint(a.Alias)
	_, err := s.update(ctx, tenant, a.ID, func(a *config.Authorization) error {
		a.Status, a.LastError = config.AuthFailing, msg
		return nil
	})
	if err != nil && !errors.Is(err, ErrNotFound) {
		return fmt.Errorf("mark authorization %s failing: %w", a.Alias, err)
	}
	s.log().WarnContext(ctx, "authorization failing", "tenant", tenant, "authorization", a.ID, "alias", a.Alias,
		"flow", a.Flow, "reason", msg)
	return newError(ErrNotConnected, oe, "Authorization %s is failing: %s", a.Alias, msg)
}

func flowName(flow string) string {
	switch flow {
	case config.FlowJWT:
		return "JWT bearer"
	case config.FlowClientCredentials:
		return "client credentials"
	default:
		return "refresh token"
	}
}
