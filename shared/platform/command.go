package platform

import (
	"errors"
	"fmt"
	"net/url"
	"regexp"
	"strings"
	"sync"
)

// Command describes a platform's CLI create command; the CLI renders it
// (cobra flags, checks, the request body), so platforms link no CLI
// library. The command takes one argument, the resource's NAME, sent as
// "name".
type Command struct {
	// Use overrides "subscriptions:<platform>:create NAME" or
	// "publications:<platform>:create NAME" (e.g. "generate NAME").
	Use string
	// Short, Long and Example are the help texts.
	Short, Long, Example string
	// What names the resource in "Creating <What> NAME" ("publication" or
	// "subscription" when empty).
	What string
	// Flags are the platform's own flags, in help order.
	Flags []Flag
	// Link are the flags of the stream created at once: the other end
	// (--target for a subscription, --source for a publication) and its
	// filter. Shorthands are the command's; empty means none.
	Link LinkFlags
	// Next is printed to stderr after a successful create; "{name}" is the
	// new resource's name.
	Next string
	// Shown maps a field of the create response's "extra" to the line
	// printed (stdout, once) when it is set; "{value}" is its value.
	Shown []Shown
}

// LinkFlags are the shorthands of the link flags ("" = long form only).
type LinkFlags struct {
	Off    bool   // the command has no link flags
	End    string // shorthand of --target / --source
	Filter string // shorthand of --filter
}

// Shown is an extra field of the create response that the CLI prints once.
type Shown struct {
	Field string
	Lines string
}

// Flag is one flag of a create command; its value goes to the body field
// Field (the flag's name with '-' as '_' when empty). Empty values are
// omitted from the body.
type Flag struct {
	Name      string
	Shorthand string
	Usage     string
	Field     string
	// Bool flags take no value: given, the body field is true; absent, it
	// is omitted.
	Bool bool
	// Int flags take a whole number, sent as a JSON number ("--<name> %q:
	// give a whole number" otherwise).
	Int bool
	// File flags take a file name: its contents are sent (a PEM
	// certificate, a key), read by the CLI.
	File bool
	// Required flags must be set (cobra's "required flag" error) unless
	// an alias of it is.
	Required bool
	// AliasOf names another flag filling the same field (e.g. the v0.0.1
	// --org-name of --org-alias); giving both with different values is an
	// error.
	AliasOf string
	// Check validates a set value; its error is shown as it is.
	Check func(v string) error
	// NotEmpty refuses a value of only spaces with "--<name> must not be
	// empty".
	NotEmpty bool
}

// BodyField returns the body field of f.
func (f Flag) BodyField() string {
	if f.Field != "" {
		return f.Field
	}
	return strings.ReplaceAll(f.Name, "-", "_")
}

// Pattern returns a Check accepting values matching the regular expression
// expr, and otherwise the error fmt.Sprintf(format, value) (format has one
// %q). expr is compiled on the first check, not when the platform is
// built: the Lambda functions build every platform at init and check no
// flag. An invalid expr panics then.
func Pattern(expr, format string) func(string) error {
	re := sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(expr) })
	return func(v string) error {
		if !re().MatchString(v) {
			return fmt.Errorf(format, v)
		}
		return nil
	}
}

// OneOf returns a Check accepting only the given values, with the error
// "--<flag> %q: use a or b".
func OneOf(flag string, values ...string) func(string) error {
	return func(v string) error {
		for _, ok := range values {
			if v == ok {
				return nil
			}
		}
		return fmt.Errorf("--%s %q: use %s", flag, v, strings.Join(values, " or "))
	}
}

// AbsoluteURL is a Check accepting absolute http(s) URLs; the API applies
// the address rules.
func AbsoluteURL(flag string) func(string) error {
	return func(v string) error {
		u, err := url.Parse(v)
		if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
			return errors.New("--" + flag + " must be an absolute http or https URL")
		}
		return nil
	}
}
