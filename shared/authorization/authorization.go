// Package authorization manages OAuth connections to Salesforce orgs
// (config.Authorization): the web-server flow with PKCE whose callback the
// api role serves, the headless JWT bearer and client credentials flows,
// revocation on destroy, and session sources that keep a current access
// token for the Pub/Sub API client and REST callers.
//
// Secrets (tokens, client secrets, JWT keys, PKCE verifiers) are sealed at
// rest with a secret.Sealer and are never logged nor returned.
//
// A Service is safe for concurrent use, also by several processes sharing
// one Store: token refreshes are persisted with conditional writes, and a
// session whose token another process already refreshed reuses that token.
package authorization

import (
	"errors"
	"fmt"
	"strings"

	"github.com/herokuevents/herokuevents/shared/config"
	"github.com/herokuevents/herokuevents/shared/name"
)

// Errors, matched with errors.Is; every error the Service returns for bad
// input or state is an *Error (a *config.Problem) whose Kind is one of
// them. ErrNotFound, ErrExists, ErrInvalid and ErrNotConnected are also,
// for errors.Is, config.ErrNotFound, config.ErrConflict and
// config.ErrInvalid: domain errors the HTTP edge maps to statuses like any
// other. ErrUnreachable and ErrState are this package's own.
var (
	// ErrNotFound: no authorization with that alias or id in the tenant
	// (a config.ErrNotFound).
	ErrNotFound = sentinel("authorization not found", config.ErrNotFound)
	// ErrExists: the alias is taken by an authorization that is not failing
	// (a config.ErrConflict).
	ErrExists = sentinel("authorization already exists", config.ErrConflict)
	// ErrInvalid: bad input, or Salesforce refused the given credentials
	// (a config.ErrInvalid).
	ErrInvalid = sentinel("invalid authorization request", config.ErrInvalid)
	// ErrUnreachable: Salesforce could not be reached (transport error or
	// an unexpected answer); worth retrying later.
	ErrUnreachable = errors.New("salesforce unreachable")
	// ErrState: the OAuth callback's state is unknown, used or expired.
	ErrState = errors.New("invalid oauth state")
	// ErrNotConnected: the authorization is pending, failing or gone, so no
	// session can be had; the Message says what the user should do. Callers
	// such as the sfsubscribe role show it as a failing state and do not
	// retry before the user reconnects. It is a config.ErrInvalid: a
	// request that needs a connected authorization cannot be served.
	ErrNotConnected = sentinel("authorization is not connected", config.ErrInvalid)
)

// kindError is a sentinel of this package that is also the config kind
// it unwraps to.
type kindError struct {
	msg  string
	base error
}

func (k *kindError) Error() string { return k.msg }
func (k *kindError) Unwrap() error { return k.base }

func sentinel(msg string, base error) error { return &kindError{msg: msg, base: base} }

// Error is an error of the Service with a message meant for the user: a
// config.Problem whose Kind is one of the sentinels above and whose Cause,
// if any, is kept for errors.Is and logs.
type Error = config.Problem

func newError(kind, cause error, format string, args ...any) *Error {
	return &Error{Kind: kind, Message: fmt.Sprintf(format, args...), Cause: cause}
}

// Message returns the user-facing message of an *Error in err's chain, or
// "" when there is none.
func Message(err error) string {
	var e *Error
	if errors.As(err, &e) {
		return e.Message
	}
	return ""
}

// ValidateAlias reports whether alias is acceptable (name.CheckAlias: one
// rule for aliases).
func ValidateAlias(alias string) error {
	if err := name.CheckAlias("alias", alias); err != nil {
		return newError(ErrInvalid, nil, "%s", err.Error())
	}
	return nil
}

// reconnectHint is appended to messages of a failing authorization.
func reconnectHint(alias string) string {
	return "reconnect with authorizations:salesforce:create " + alias
}

// redact shortens a Salesforce error description so that it can be shown.
func redact(s string) string {
	s = strings.TrimSpace(s)
	if len(s) > 200 {
		s = s[:200] + "…"
	}
	return s
}
