package sink_test

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/herokuevents/herokuevents/shared/sink"
)

func TestNewSigningSecret(t *testing.T) {
	a, err := sink.NewSigningSecret()
	require.NoError(t, err)
	b, err := sink.NewSigningSecret()
	require.NoError(t, err)
	assert.NotEqual(t, a, b)
	for _, s := range []string{a, b} {
		enc, ok := strings.CutPrefix(s, "whsec_")
		require.True(t, ok, s)
		key, err := base64.StdEncoding.DecodeString(enc)
		require.NoError(t, err)
		assert.Len(t, key, 32)
	}
}

// The Standard Webhooks reference vector.
func TestSignStandardWebhooksVector(t *testing.T) {
	const secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
	body := []byte(`{"test": 2432232314}`)
	h := http.Header{}
	require.NoError(t, sink.Sign(h, secret, "msg_p5jXN8AQM9LWM0D4loKWxJek", time.Unix(1614265330, 0), body))
	assert.Equal(t, "msg_p5jXN8AQM9LWM0D4loKWxJek", h.Get("webhook-id"))
	assert.Equal(t, "1614265330", h.Get("webhook-timestamp"))
	assert.Equal(t, "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=", h.Get("webhook-signature"))

	m := hmac.New(sha256.New, []byte(secret))
	m.Write(body)
	assert.Equal(t, base64.StdEncoding.EncodeToString(m.Sum(nil)), h.Get("Heroku-Webhook-Hmac-SHA256"))

	require.NoError(t, sink.VerifyAt(secret, h, body, time.Unix(1614265330+60, 0)))
}

func TestVerify(t *testing.T) {
	secret, err := sink.NewSigningSecret()
	require.NoError(t, err)
	other, err := sink.NewSigningSecret()
	require.NoError(t, err)
	body := []byte(`{"specversion":"1.0","id":"e1"}`)
	now := time.Now()
	signed := func(t *testing.T, at time.Time) http.Header {
		h := http.Header{}
		require.NoError(t, sink.Sign(h, secret, "e1", at, body))
		return h
	}
	tests := []struct {
		name   string
		secret string
		header func(t *testing.T) http.Header
		body   []byte
		msg    string // "" = valid
	}{
		{name: "valid", secret: secret, header: func(t *testing.T) http.Header { return signed(t, now) }, body: body},
		{name: "rotation: several signatures", secret: secret, header: func(t *testing.T) http.Header {
			h := signed(t, now)
			h.Set("webhook-signature", "v1,bm9wZQ== "+h.Get("webhook-signature"))
			return h
		}, body: body},
		{name: "no heroku header is fine", secret: secret, header: func(t *testing.T) http.Header {
			h := signed(t, now)
			h.Del("Heroku-Webhook-Hmac-SHA256")
			return h
		}, body: body},
		{name: "tampered body", secret: secret, header: func(t *testing.T) http.Header { return signed(t, now) }, body: []byte(`{"id":"e2"}`), msg: "no v1 signature"},
		{name: "wrong secret", secret: other, header: func(t *testing.T) http.Header { return signed(t, now) }, body: body, msg: "no v1 signature"},
		{name: "stale", secret: secret, header: func(t *testing.T) http.Header { return signed(t, now.Add(-time.Hour)) }, body: body, msg: "too far"},
		{name: "future", secret: secret, header: func(t *testing.T) http.Header { return signed(t, now.Add(time.Hour)) }, body: body, msg: "too far"},
		{name: "changed id", secret: secret, header: func(t *testing.T) http.Header {
			h := signed(t, now)
			h.Set("webhook-id", "e9")
			return h
		}, body: body, msg: "no v1 signature"},
		{name: "missing headers", secret: secret, header: func(*testing.T) http.Header { return http.Header{} }, body: body, msg: "missing"},
		{name: "bad heroku header", secret: secret, header: func(t *testing.T) http.Header {
			h := signed(t, now)
			h.Set("Heroku-Webhook-Hmac-SHA256", "AAAA")
			return h
		}, body: body, msg: "Heroku-Webhook-Hmac-SHA256"},
		{name: "malformed secret", secret: "nope", header: func(t *testing.T) http.Header { return signed(t, now) }, body: body, msg: "whsec_"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := sink.Verify(tt.secret, tt.header(t), tt.body)
			if tt.msg == "" {
				require.NoError(t, err)
				return
			}
			require.ErrorIs(t, err, sink.ErrSignature)
			assert.Contains(t, err.Error(), tt.msg)
		})
	}
}

func TestSignRejectsMalformedSecret(t *testing.T) {
	for _, s := range []string{"", "secret", "whsec_", "whsec_!!!"} {
		assert.Error(t, sink.Sign(http.Header{}, s, "id", time.Now(), nil), s)
	}
}

func TestClassify(t *testing.T) {
	now := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	h := func(kv ...string) http.Header {
		out := http.Header{}
		for i := 0; i < len(kv); i += 2 {
			out.Set(kv[i], kv[i+1])
		}
		return out
	}
	tests := []struct {
		status int
		header http.Header
		class  sink.Class
		after  time.Duration
		loc    string
	}{
		{status: 200, class: sink.Delivered},
		{status: 204, class: sink.Delivered},
		{status: 299, class: sink.Delivered},
		{status: 429, class: sink.Retry},
		{status: 429, header: h("Retry-After", "30"), class: sink.Retry, after: 30 * time.Second},
		{status: 503, header: h("Retry-After", now.Add(90*time.Second).Format(http.TimeFormat)), class: sink.Retry, after: 90 * time.Second},
		{status: 503, header: h("Retry-After", now.Add(-time.Hour).Format(http.TimeFormat)), class: sink.Retry},
		{status: 500, header: h("Retry-After", "soon"), class: sink.Retry},
		{status: 502, class: sink.Retry},
		{status: 410, class: sink.Gone},
		{status: 400, class: sink.Permanent},
		{status: 401, class: sink.Permanent},
		{status: 404, class: sink.Permanent},
		{status: 400, header: h("Retry-After", "30"), class: sink.Permanent},
		{status: 301, header: h("Location", "https://elsewhere.example/"), class: sink.Permanent, loc: "https://elsewhere.example/"},
		{status: 101, class: sink.Permanent},
	}
	for _, tt := range tests {
		t.Run(http.StatusText(tt.status), func(t *testing.T) {
			hdr := tt.header
			if hdr == nil {
				hdr = http.Header{}
			}
			r := sink.Classify(tt.status, hdr, now)
			assert.Equal(t, tt.class, r.Class)
			assert.Equal(t, tt.status, r.Status)
			assert.Equal(t, tt.after, r.RetryAfter)
			assert.Equal(t, tt.loc, r.Location)
		})
	}
}

func TestParseRetryAfter(t *testing.T) {
	now := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	tests := []struct {
		in   string
		want time.Duration
		ok   bool
	}{
		{in: "", ok: false},
		{in: "0", want: 0, ok: true},
		{in: " 17 ", want: 17 * time.Second, ok: true},
		{in: "-3", ok: false},
		{in: "1.5", ok: false},
		{in: "Sun, 01 Mar 2026 12:05:00 GMT", want: 5 * time.Minute, ok: true},
		{in: "Sun, 01 Mar 2026 11:05:00 GMT", want: 0, ok: true},
		{in: "99999999999999999999", ok: false},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, ok := sink.ParseRetryAfter(tt.in, now)
			assert.Equal(t, tt.ok, ok)
			assert.Equal(t, tt.want, got)
		})
	}
}
