package kmssealer

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"os"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kms"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/herokuevents/herokuevents/infra/aws/awstest"
	"github.com/herokuevents/herokuevents/shared/secret"
	"github.com/herokuevents/herokuevents/shared/secret/sealertest"
)

var moto *awstest.Server

func TestMain(m *testing.M) {
	var err error
	if moto, err = awstest.Start(); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	code := m.Run()
	if err := moto.Close(); err != nil {
		fmt.Fprintln(os.Stderr, err)
	}
	os.Exit(code)
}

func client() *kms.Client { return kms.NewFromConfig(moto.Config()) }

// newKey creates a symmetric KMS key and returns its id.
func newKey(t *testing.T, c *kms.Client) string {
	t.Helper()
	out, err := c.CreateKey(t.Context(), &kms.CreateKeyInput{Description: aws.String(t.Name())})
	require.NoError(t, err)
	return aws.ToString(out.KeyMetadata.KeyId)
}

func TestConformance(t *testing.T) {
	c := client()
	key := newKey(t, c)
	t.Run("cached", func(t *testing.T) { sealertest.Run(t, New(c, key)) })
	t.Run("uncached", func(t *testing.T) {
		s := New(c, key)
		s.CacheTTL = 0
		sealertest.Run(t, s)
	})
}

func TestAliasKeyID(t *testing.T) {
	c := client()
	key := newKey(t, c)
	alias := "alias/herokuevents-test-" + rand.Text()[:8] // moto outlives one -count
	_, err := c.CreateAlias(t.Context(), &kms.CreateAliasInput{AliasName: aws.String(alias), TargetKeyId: aws.String(key)})
	require.NoError(t, err)
	s := New(c, alias)
	sealed, err := s.Seal(t.Context(), []byte("refresh-token"))
	require.NoError(t, err)

	// A fresh sealer (no cache) on the key id opens it through KMS.
	got, err := New(c, key).Open(t.Context(), sealed)
	require.NoError(t, err)
	assert.Equal(t, []byte("refresh-token"), got)
}

func TestOtherKeyCannotOpen(t *testing.T) {
	c := client()
	a, b := New(c, newKey(t, c)), New(c, newKey(t, c))
	sealed, err := a.Seal(t.Context(), []byte("whsec_x"))
	require.NoError(t, err)
	_, err = b.Open(t.Context(), sealed)
	require.ErrorIs(t, err, secret.ErrOpen)
}

// counting wraps the KMS client and counts its calls.
type counting struct {
	api
	generate, decrypt atomic.Int32
	fail              error
}

func (c *counting) GenerateDataKey(ctx context.Context, in *kms.GenerateDataKeyInput, opts ...func(*kms.Options)) (*kms.GenerateDataKeyOutput, error) {
	c.generate.Add(1)
	if c.fail != nil {
		return nil, c.fail
	}
	return c.api.GenerateDataKey(ctx, in, opts...)
}

func (c *counting) Decrypt(ctx context.Context, in *kms.DecryptInput, opts ...func(*kms.Options)) (*kms.DecryptOutput, error) {
	c.decrypt.Add(1)
	if c.fail != nil {
		return nil, c.fail
	}
	return c.api.Decrypt(ctx, in, opts...)
}

func TestDataKeyCache(t *testing.T) {
	kc := client()
	key := newKey(t, kc)
	c := &counting{api: kc}
	now := time.Now()
	s := newSealer(c, key)
	s.now = func() time.Time { return now }

	sealed, err := s.Seal(t.Context(), []byte("a"))
	require.NoError(t, err)
	second, err := s.Seal(t.Context(), []byte("b"))
	require.NoError(t, err)
	assert.EqualValues(t, 2, c.generate.Load(), "one data key per Seal")

	for range 3 {
		got, err := s.Open(t.Context(), sealed)
		require.NoError(t, err)
		assert.Equal(t, []byte("a"), got)
	}
	assert.Zero(t, c.decrypt.Load(), "keys generated here are cached")

	cold := newSealer(c, key)
	cold.now = s.now
	for range 3 {
		_, err := cold.Open(t.Context(), second)
		require.NoError(t, err)
	}
	assert.EqualValues(t, 1, c.decrypt.Load(), "a decrypted key is cached")

	now = now.Add(DefaultCacheTTL)
	_, err = cold.Open(t.Context(), second)
	require.NoError(t, err)
	assert.EqualValues(t, 2, c.decrypt.Load(), "expired keys are decrypted again")
}

func TestKMSUnavailableIsNotErrOpen(t *testing.T) {
	kc := client()
	key := newKey(t, kc)
	sealed, err := New(kc, key).Seal(t.Context(), []byte("x"))
	require.NoError(t, err)

	down := errors.New("connection refused")
	s := newSealer(&counting{api: kc, fail: down}, key)
	_, err = s.Open(t.Context(), sealed)
	require.ErrorIs(t, err, down)
	assert.NotErrorIs(t, err, secret.ErrOpen, "callers may retry an outage")
	_, err = s.Seal(t.Context(), []byte("x"))
	require.ErrorIs(t, err, down)
}
