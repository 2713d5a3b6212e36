// Package sealertest is the conformance suite of secret.Sealer: every
// implementation must pass Run.
package sealertest

import (
	"bytes"
	"fmt"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/herokuevents/herokuevents/shared/secret"
)

// Run checks s against the Sealer contract: round trips (including the
// empty plaintext), fresh randomness per Seal, ErrOpen on tampered,
// truncated or extended input, and concurrent use.
func Run(t *testing.T, s secret.Sealer) {
	t.Helper()
	t.Run("RoundTrip", func(t *testing.T) { roundTrip(t, s) })
	t.Run("Empty", func(t *testing.T) { empty(t, s) })
	t.Run("Distinct", func(t *testing.T) { distinct(t, s) })
	t.Run("Tamper", func(t *testing.T) { tamper(t, s) })
	t.Run("Concurrent", func(t *testing.T) { concurrent(t, s) })
}

func roundTrip(t *testing.T, s secret.Sealer) {
	for _, n := range []int{1, 16, 32, 100, 4096} {
		t.Run(fmt.Sprint(n), func(t *testing.T) {
			pt := bytes.Repeat([]byte("sk-"), n)[:n]
			sealed, err := s.Seal(t.Context(), pt)
			require.NoError(t, err)
			if n >= 8 {
				assert.False(t, bytes.Contains(sealed, pt), "sealed value contains the plaintext")
			}
			got, err := s.Open(t.Context(), sealed)
			require.NoError(t, err)
			assert.Equal(t, pt, got)
		})
	}
}

func empty(t *testing.T, s secret.Sealer) {
	for _, pt := range [][]byte{nil, {}} {
		sealed, err := s.Seal(t.Context(), pt)
		require.NoError(t, err)
		require.NotEmpty(t, sealed)
		got, err := s.Open(t.Context(), sealed)
		require.NoError(t, err)
		assert.Empty(t, got)
	}
}

func distinct(t *testing.T, s secret.Sealer) {
	pt := []byte("whsec_same-plaintext")
	a, err := s.Seal(t.Context(), pt)
	require.NoError(t, err)
	b, err := s.Seal(t.Context(), pt)
	require.NoError(t, err)
	assert.NotEqual(t, a, b, "two seals of the same plaintext must differ")
	for _, sealed := range [][]byte{a, b} {
		got, err := s.Open(t.Context(), sealed)
		require.NoError(t, err)
		assert.Equal(t, pt, got)
	}
}

func tamper(t *testing.T, s secret.Sealer) {
	pt := []byte("refresh-token-0123456789")
	sealed, err := s.Seal(t.Context(), pt)
	require.NoError(t, err)

	cases := map[string][]byte{
		"nil":       nil,
		"empty":     {},
		"one byte":  sealed[:1],
		"truncated": sealed[:len(sealed)-1],
		"half":      sealed[:len(sealed)/2],
		"extended":  append(bytes.Clone(sealed), 0),
	}
	// Flip a bit at both ends and at evenly spaced positions in between.
	step := max(1, len(sealed)/16)
	for i := 0; i < len(sealed); i += step {
		cases[fmt.Sprintf("flip %d", i)] = flip(sealed, i)
	}
	cases[fmt.Sprintf("flip %d", len(sealed)-1)] = flip(sealed, len(sealed)-1)

	for name, in := range cases {
		t.Run(name, func(t *testing.T) {
			got, err := s.Open(t.Context(), in)
			require.ErrorIs(t, err, secret.ErrOpen)
			assert.Nil(t, got)
		})
	}
	got, err := s.Open(t.Context(), sealed)
	require.NoError(t, err, "the original must still open")
	assert.Equal(t, pt, got)
}

func flip(b []byte, i int) []byte {
	c := bytes.Clone(b)
	c[i] ^= 0x01
	return c
}

func concurrent(t *testing.T, s secret.Sealer) {
	var wg sync.WaitGroup
	errs := make(chan error, 8)
	for g := range 8 {
		wg.Go(func() {
			for i := range 5 {
				pt := fmt.Appendf(nil, "secret-%d-%d", g, i)
				sealed, err := s.Seal(t.Context(), pt)
				if err != nil {
					errs <- err
					return
				}
				got, err := s.Open(t.Context(), sealed)
				if err != nil {
					errs <- err
					return
				}
				if !bytes.Equal(got, pt) {
					errs <- fmt.Errorf("round trip of %q gave %q", pt, got)
					return
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		assert.NoError(t, err)
	}
}
