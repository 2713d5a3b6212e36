package dashboard

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/json"
	"errors"
	"net/http"
	"strings"
	"time"
)

// CookieName is the session cookie.
const CookieName = "herokuevents_session"

// session is what the cookie carries, signed: the tenant it is scoped to,
// when it ends, its CSRF token and who signed in.
type session struct {
	Tenant  string `json:"t"`
	Expires int64  `json:"e"`
	CSRF    string `json:"c"`
	Email   string `json:"u,omitempty"`
}

// ErrSession is matched by the error of a cookie that is not a valid,
// current session.
var ErrSession = errors.New("no valid dashboard session")

// KeyFrom derives the session signing key from an operator secret (the
// operator password), so that every function of a deployment verifies
// the sessions of the others without a key of its own.
func KeyFrom(secret string) []byte {
	m := hmac.New(sha256.New, []byte(secret))
	m.Write([]byte("herokuevents dashboard session key v1"))
	return m.Sum(nil)
}

func (d *Dashboard) sign(payload []byte) []byte {
	m := hmac.New(sha256.New, d.o.Key)
	m.Write(payload)
	return m.Sum(nil)
}

// encode is the cookie value of s: base64url(JSON) "." base64url(HMAC).
func (d *Dashboard) encode(s session) string {
	b, _ := json.Marshal(s)
	return base64.RawURLEncoding.EncodeToString(b) + "." + base64.RawURLEncoding.EncodeToString(d.sign(b))
}

// decode verifies a cookie value and returns its session while it lasts.
func (d *Dashboard) decode(v string) (session, error) {
	p, sig, ok := strings.Cut(v, ".")
	if !ok || len(v) > 4096 {
		return session{}, ErrSession
	}
	b, err1 := base64.RawURLEncoding.DecodeString(p)
	mac, err2 := base64.RawURLEncoding.DecodeString(sig)
	if err1 != nil || err2 != nil || !hmac.Equal(mac, d.sign(b)) {
		return session{}, ErrSession
	}
	var s session
	if err := json.Unmarshal(b, &s); err != nil || s.Tenant == "" || s.CSRF == "" {
		return session{}, ErrSession
	}
	if d.o.Now().Unix() >= s.Expires {
		return session{}, ErrSession
	}
	return s, nil
}

// newSession is a session of tenant from now on.
func (d *Dashboard) newSession(tenant, email string) session {
	b := make([]byte, 24)
	_, _ = rand.Read(b)
	return session{Tenant: tenant, Expires: d.o.Now().Add(d.o.Session).Unix(), CSRF: base64.RawURLEncoding.EncodeToString(b), Email: email}
}

// setCookie writes the session cookie: HttpOnly, SameSite=Lax (the SSO
// POST is cross-site, its redirect must carry the cookie), Secure on https,
// scoped to the dashboard's path.
func (d *Dashboard) setCookie(w http.ResponseWriter, r *http.Request, s session) {
	http.SetCookie(w, &http.Cookie{
		Name: CookieName, Value: d.encode(s), Path: Path, Expires: time.Unix(s.Expires, 0),
		MaxAge: int(d.o.Session / time.Second), HttpOnly: true, Secure: isHTTPS(r), SameSite: http.SameSiteLaxMode,
	})
}

func isHTTPS(r *http.Request) bool {
	return r.TLS != nil || strings.EqualFold(r.Header.Get("X-Forwarded-Proto"), "https")
}

// current is the request's session.
func (d *Dashboard) current(r *http.Request) (session, error) {
	c, err := r.Cookie(CookieName)
	if err != nil {
		return session{}, ErrSession
	}
	return d.decode(c.Value)
}

// csrfOK reports whether a form carries the session's CSRF token.
func csrfOK(s session, got string) bool {
	return got != "" && subtle.ConstantTimeCompare([]byte(got), []byte(s.CSRF)) == 1
}
