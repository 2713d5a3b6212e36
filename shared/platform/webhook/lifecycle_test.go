package webhook_test

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/herokuevents/herokuevents/shared/config"
)

// TestRotateSecret: the new secret is shown once and sealed; the current
// one signs beside it for the overlap; a rotation during an overlap drops
// the oldest; no overlap drops the previous one at once.
func TestRotateSecret(t *testing.T) {
	r := registry(t)
	current := config.Publication{ID: "p1", Name: "hook", Platform: config.PlatformWebhook,
		Params: config.Params{URL: "https://example.com/"}, SecretSealed: []byte("whsec_b2xk")}
	start := time.Now()
	rotated, extra, err := r.RotateSecret(t.Context(), "t1", current, time.Hour)
	require.NoError(t, err)
	secret, _ := extra["signing_secret"].(string)
	require.NotEmpty(t, secret)
	assert.Equal(t, secret, string(rotated.SecretSealed), "sealed (the test sealer keeps it as is)")
	assert.Equal(t, "whsec_b2xk", string(rotated.PreviousSecretSealed))
	assert.WithinDuration(t, start.Add(time.Hour), rotated.PreviousSecretUntil, 2*time.Second)
	assert.Equal(t, rotated.PreviousSecretUntil, extra["previous_secret_expires_at"])
	assert.Equal(t, current.Params, rotated.Params)

	again, _, err := r.RotateSecret(t.Context(), "t1", rotated, 2*time.Hour)
	require.NoError(t, err)
	assert.Equal(t, secret, string(again.PreviousSecretSealed), "the oldest is dropped")
	assert.NotEqual(t, secret, string(again.SecretSealed))

	none, extra, err := r.RotateSecret(t.Context(), "t1", again, 0)
	require.NoError(t, err)
	assert.Empty(t, none.PreviousSecretSealed)
	assert.True(t, none.PreviousSecretUntil.IsZero())
	assert.NotContains(t, extra, "previous_secret_expires_at")
}

// TestUpdateToken: a token is checked as at create and sealed; "" removes it.
func TestUpdateToken(t *testing.T) {
	r := registry(t)
	current := config.Publication{ID: "p1", Name: "hook", Platform: config.PlatformWebhook,
		Params: config.Params{URL: "https://example.com/"}, TokenSealed: []byte("old")}
	pub, _, err := r.UpdatePublication(t.Context(), "t1", current, []byte(`{"token":"new"}`))
	require.NoError(t, err)
	assert.Equal(t, "new", string(pub.TokenSealed))
	pub, _, err = r.UpdatePublication(t.Context(), "t1", current, []byte(`{"token":""}`))
	require.NoError(t, err)
	assert.Empty(t, pub.TokenSealed)
	_, _, err = r.UpdatePublication(t.Context(), "t1", current, []byte(`{"token":"a\nb"}`))
	require.ErrorIs(t, err, config.ErrInvalid)
	assert.Contains(t, err.Error(), "token must be one line")
}
