package sink

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// Signature headers set by Sign.
const (
	HeaderID        = "webhook-id"
	HeaderTimestamp = "webhook-timestamp"
	HeaderSignature = "webhook-signature"
	// HeaderHeroku is base64(HMAC-SHA256(secret, body)) where the key is the
	// bytes of the whole secret string ("whsec_…"), as Heroku webhooks do.
	HeaderHeroku = "Heroku-Webhook-Hmac-SHA256"
)

// SecretPrefix starts every signing secret.
const SecretPrefix = "whsec_"

// Tolerance is how far a webhook-timestamp may be from the receiver's clock
// for Verify to accept it.
const Tolerance = 5 * time.Minute

// ErrSignature is wrapped by Verify's errors.
var ErrSignature = errors.New("invalid webhook signature")

// NewSigningSecret returns a fresh Standard Webhooks secret: "whsec_" and the
// base64 of 32 random bytes.
func NewSigningSecret() (string, error) {
	key := make([]byte, 32)
	if _, err := rand.Read(key); err != nil {
		return "", fmt.Errorf("generate signing secret: %w", err)
	}
	return SecretPrefix + base64.StdEncoding.EncodeToString(key), nil
}

// secretKey decodes the HMAC key of a "whsec_…" secret.
func secretKey(secret string) ([]byte, error) {
	enc, ok := strings.CutPrefix(secret, SecretPrefix)
	if !ok {
		return nil, fmt.Errorf("signing secret must start with %q", SecretPrefix)
	}
	key, err := base64.StdEncoding.DecodeString(enc)
	if err != nil || len(key) == 0 {
		return nil, errors.New("signing secret is not valid base64 after the prefix")
	}
	return key, nil
}

func mac(key []byte, parts ...[]byte) []byte {
	m := hmac.New(sha256.New, key)
	for _, p := range parts {
		m.Write(p)
	}
	return m.Sum(nil)
}

func standardSignature(key []byte, id, ts string, body []byte) []byte {
	return mac(key, []byte(id), []byte("."), []byte(ts), []byte("."), body)
}

// Sign sets the signature headers of a webhook request on h:
// webhook-id = id, webhook-timestamp = at in unix seconds,
// webhook-signature = "v1," + base64(HMAC-SHA256(key, id.timestamp.body))
// with the key decoded from secret, and Heroku-Webhook-Hmac-SHA256 =
// base64(HMAC-SHA256(secret, body)). It fails only on a malformed secret.
func Sign(h http.Header, secret, id string, at time.Time, body []byte) error {
	return SignRotating(h, secret, "", id, at, body)
}

// SignRotating is Sign during a secret rotation: with previous not empty,
// webhook-signature holds two space-separated signatures, "v1,<with
// secret> v1,<with previous>" (Standard Webhooks), so that receivers
// verifying with either secret accept; Heroku-Webhook-Hmac-SHA256, which
// holds one value, is made with previous, so that receivers checking only
// it keep working until the rotation ends. With previous empty it is Sign.
func SignRotating(h http.Header, secret, previous, id string, at time.Time, body []byte) error {
	key, err := secretKey(secret)
	if err != nil {
		return fmt.Errorf("sign webhook: %w", err)
	}
	ts := strconv.FormatInt(at.Unix(), 10)
	sig := "v1," + base64.StdEncoding.EncodeToString(standardSignature(key, id, ts, body))
	legacy := secret
	if previous != "" {
		old, err := secretKey(previous)
		if err != nil {
			return fmt.Errorf("sign webhook with the previous secret: %w", err)
		}
		sig += " v1," + base64.StdEncoding.EncodeToString(standardSignature(old, id, ts, body))
		legacy = previous
	}
	h.Set(HeaderID, id)
	h.Set(HeaderTimestamp, ts)
	h.Set(HeaderSignature, sig)
	h.Set(HeaderHeroku, base64.StdEncoding.EncodeToString(mac([]byte(legacy), body)))
	return nil
}

// Verify checks a received webhook as a receiver should: the
// webhook-signature header must hold a "v1,…" signature (several may be
// given, space-separated, during secret rotation) matching the body, the id
// and a webhook-timestamp within Tolerance of now; when the
// Heroku-Webhook-Hmac-SHA256 header is present and only one signature is
// given it must match too (during a rotation it is made with the previous
// secret: see SignRotating).
// body must be the raw request body. Errors wrap ErrSignature.
func Verify(secret string, h http.Header, body []byte) error {
	return VerifyAt(secret, h, body, time.Now())
}

// VerifyAt is Verify with the receiver's clock reading now.
func VerifyAt(secret string, h http.Header, body []byte, now time.Time) error {
	key, err := secretKey(secret)
	if err != nil {
		return fmt.Errorf("%w: %w", ErrSignature, err)
	}
	id, ts, sigs := h.Get(HeaderID), h.Get(HeaderTimestamp), h.Get(HeaderSignature)
	if id == "" || ts == "" || sigs == "" {
		return fmt.Errorf("%w: missing %s, %s or %s header", ErrSignature, HeaderID, HeaderTimestamp, HeaderSignature)
	}
	sec, err := strconv.ParseInt(ts, 10, 64)
	if err != nil {
		return fmt.Errorf("%w: timestamp %q is not unix seconds", ErrSignature, ts)
	}
	if d := now.Sub(time.Unix(sec, 0)); d > Tolerance || d < -Tolerance {
		return fmt.Errorf("%w: timestamp %s is too far from now", ErrSignature, ts)
	}
	want := standardSignature(key, id, ts, body)
	ok, n := false, 0
	for s := range strings.FieldsSeq(sigs) {
		n++
		v, enc, found := strings.Cut(s, ",")
		if !found || v != "v1" {
			continue
		}
		got, err := base64.StdEncoding.DecodeString(enc)
		if err == nil && hmac.Equal(got, want) {
			ok = true
		}
	}
	if !ok {
		return fmt.Errorf("%w: no v1 signature matches", ErrSignature)
	}
	if hh := h.Get(HeaderHeroku); hh != "" && n == 1 {
		got, err := base64.StdEncoding.DecodeString(hh)
		if err != nil || !hmac.Equal(got, mac([]byte(secret), body)) {
			return fmt.Errorf("%w: %s does not match", ErrSignature, HeaderHeroku)
		}
	}
	return nil
}
