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
	"regexp"
	"strings"

	"github.com/google/uuid"
)

// Errors, matched with errors.Is; every error the Service returns for bad
// input or state is an *Error that wraps one of them.
var (
	// ErrNotFound: no authorization with that alias or id in the tenant.
	ErrNotFound = errors.New("authorization not found")
	// ErrExists: the alias is taken by an authorization that is not failing.
	ErrExists = errors.New("authorization already exists")
	// ErrInvalid: bad input, or Salesforce refused the given credentials.
	ErrInvalid = errors.New("invalid authorization request")
	// ErrUnreachable: Salesforce could not be reached (transport error or
	// an unexpected answer); worth retrying later.
	ErrUnreachable = errors.New("salesforce unreachable")
	// ErrState: the OAuth callback's state is unknown, used or expired.
	ErrState = errors.New("invalid oauth state")
	// ErrNotConnected: the authorization is pending, failing or gone, so no
	// session can be had; the Message says what the user should do. Callers
	// such as the sfsubscribe role show it as a failing state and do not
	// retry before the user reconnects.
	ErrNotConnected = errors.New("authorization is not connected")
)

// Error is an error of the Service with a message meant for the user.
type Error struct {
	Kind    error  // one of the sentinels above
	Message string // shown to the user; never contains secrets
	Err     error  // the cause, if any
}

func (e *Error) Error() string { return e.Message }

// Unwrap returns the kind and the cause for errors.Is and errors.As.
func (e *Error) Unwrap() []error {
	if e.Err == nil {
		return []error{e.Kind}
	}
	return []error{e.Kind, e.Err}
}

func newError(kind, cause error, format string, args ...any) *Error {
	return &Error{Kind: kind, Message: fmt.Sprintf(format, args...), Err: cause}
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

// aliasPattern is the rule for aliases: like resource names, plus dots.
var aliasPattern = regexp.MustCompile(`^[A-Za-z][A-Za-z0-9_.-]{0,63}$`)

// ValidateAlias reports whether alias is acceptable.
func ValidateAlias(alias string) error {
	if alias == "" {
		return newError(ErrInvalid, nil, "alias is required.")
	}
	if !aliasPattern.MatchString(alias) {
		return newError(ErrInvalid, nil, "alias %q is invalid: use 1 to 64 letters, digits, '_', '.' or '-', starting with a letter.", alias)
	}
	if uuid.Validate(alias) == nil {
		return newError(ErrInvalid, nil, "alias %q must not look like an id.", alias)
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
