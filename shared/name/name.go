// Package name holds the naming rules shared by several roles, one rule
// each: Heroku app names and authorization aliases. Callers that only need
// a yes or no use the Is functions; the Check functions return a
// config.ErrInvalid problem whose message says the rule.
package name

import (
	"regexp"
	"sync"

	"github.com/google/uuid"

	"github.com/herokuevents/herokuevents/shared/config"
)

// AppRule says what an app name is, for messages.
const AppRule = "use 2 to 30 lowercase letters, digits and dashes, starting with a letter"

// AliasRule says what an authorization alias is, for messages.
const AliasRule = "use 1 to 64 letters, digits, '_', '.' or '-', starting with a letter"

// The patterns compile at their first use, not in every function's init
// (a counted repetition compiles to a long program).
var (
	appPattern   = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`^[a-z][a-z0-9-]{1,29}$`) })
	aliasPattern = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`^[A-Za-z][A-Za-z0-9_.-]{0,63}$`) })
)

// IsApp reports whether s is a Heroku app name (AppRule).
func IsApp(s string) bool { return appPattern().MatchString(s) }

// CheckApp returns nil when s is an app name, otherwise a config.ErrInvalid
// problem: App name "s": AppRule.
func CheckApp(s string) error {
	if IsApp(s) {
		return nil
	}
	return config.Invalid("App name %q: %s.", s, AppRule)
}

// IsAlias reports whether s is an authorization alias: it follows
// AliasRule and does not look like an id (a uuid), so that a reference to
// an authorization by alias or by id is never ambiguous.
func IsAlias(s string) bool { return aliasPattern().MatchString(s) && !LooksLikeID(s) }

// CheckAlias returns nil when s is an alias, otherwise a config.ErrInvalid
// problem saying why, naming s by field ("alias", "org_name" …).
func CheckAlias(field, s string) error {
	switch {
	case s == "":
		return config.Invalid("%s is required.", field)
	case !aliasPattern().MatchString(s):
		return config.Invalid("%s %q is invalid: %s.", field, s, AliasRule)
	case LooksLikeID(s):
		return config.Invalid("%s %q must not look like an id.", field, s)
	}
	return nil
}

// LooksLikeID reports whether s has the shape of an id (a uuid), which
// names must not have.
func LooksLikeID(s string) bool { return uuid.Validate(s) == nil }
