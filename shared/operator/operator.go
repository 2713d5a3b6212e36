// Package operator holds the platform operator's credentials, checked by
// every HTTP role whose routes only the operator calls (the api role's
// provisioning routes, the partner API).
package operator

import (
	"crypto/subtle"
	"strings"

	"github.com/herokuevents/herokuevents/shared/config"
)

// Credentials are the operator's, presented as HTTP Basic auth
// "ID:password". Verify, when set, decides alone; otherwise the password's
// hex SHA-256 (config.HashKey) must equal PasswordHash, in any case. With
// neither set, every request is refused.
type Credentials struct {
	ID           string
	PasswordHash string
	Verify       func(id, password string) bool
}

// New returns the credentials of id with password, stored hashed.
func New(id, password string) Credentials {
	return Credentials{ID: id, PasswordHash: config.HashKey(password)}
}

// Lazy returns the credentials of id whose password is read with
// password at each check (a secret that may still be being fetched, or
// rotated); an empty password refuses every request.
func Lazy(id string, password func() string) Credentials {
	return Credentials{ID: id, Verify: func(gotID, got string) bool {
		want := password()
		if want == "" {
			return false
		}
		return New(id, want).Check(gotID, got)
	}}
}

// Check reports whether id and password are the operator's. The
// comparisons take constant time.
func (c Credentials) Check(id, password string) bool {
	if c.Verify != nil {
		return c.Verify(id, password)
	}
	if c.ID == "" || c.PasswordHash == "" {
		return false
	}
	idOK := subtle.ConstantTimeCompare([]byte(id), []byte(c.ID)) == 1
	passOK := config.KeyMatches(password, strings.ToLower(c.PasswordHash))
	return idOK && passOK
}
