package sink_test

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"net/http"
	"strings"
	"testing"
	"time"

	standardwebhooks "github.com/standard-webhooks/standard-webhooks/libraries/go"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/herokuevents/herokuevents/shared/sink"
)

// TestSignRotating: during a rotation a receiver holding either secret
// accepts, checked with the Standard Webhooks reference library and with
// Verify; one holding a third secret refuses. The legacy header is made
// with the previous secret.
func TestSignRotating(t *testing.T) {
	newSecret, err := sink.NewSigningSecret()
	require.NoError(t, err)
	oldSecret, err := sink.NewSigningSecret()
	require.NoError(t, err)
	stranger, err := sink.NewSigningSecret()
	require.NoError(t, err)
	body := []byte(`{"specversion":"1.0","id":"e1","data":{"n":1}}`)
	h := http.Header{}
	require.NoError(t, sink.SignRotating(h, newSecret, oldSecret, "e1", time.Now(), body))

	sigs := strings.Split(h.Get("webhook-signature"), " ")
	require.Len(t, sigs, 2, "two space-separated signatures: %q", h.Get("webhook-signature"))
	for _, s := range sigs {
		assert.True(t, strings.HasPrefix(s, "v1,"), s)
	}
	m := hmac.New(sha256.New, []byte(oldSecret))
	m.Write(body)
	assert.Equal(t, base64.StdEncoding.EncodeToString(m.Sum(nil)), h.Get("Heroku-Webhook-Hmac-SHA256"))

	tests := []struct {
		name   string
		secret string
		ok     bool
	}{
		{"new secret", newSecret, true},
		{"old secret", oldSecret, true},
		{"another secret", stranger, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			wh, err := standardwebhooks.NewWebhook(tt.secret)
			require.NoError(t, err)
			ref := wh.Verify(body, h)
			own := sink.Verify(tt.secret, h, body)
			if tt.ok {
				assert.NoError(t, ref, "the reference library")
				assert.NoError(t, own, "Verify")
				return
			}
			assert.ErrorIs(t, ref, standardwebhooks.ErrNoMatchingSignature)
			assert.ErrorIs(t, own, sink.ErrSignature)
		})
	}
}

func TestSignRotatingWithoutPreviousIsSign(t *testing.T) {
	secret, err := sink.NewSigningSecret()
	require.NoError(t, err)
	at := time.Unix(1_800_000_000, 0)
	a, b := http.Header{}, http.Header{}
	require.NoError(t, sink.Sign(a, secret, "e1", at, []byte("{}")))
	require.NoError(t, sink.SignRotating(b, secret, "", "e1", at, []byte("{}")))
	assert.Equal(t, a, b)
	assert.Error(t, sink.SignRotating(http.Header{}, secret, "not-a-secret", "e1", at, nil), "a malformed previous secret")
}
