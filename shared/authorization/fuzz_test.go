package authorization_test

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"net/url"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/herokuevents/herokuevents/shared/authorization"
	"github.com/herokuevents/herokuevents/shared/salesforce"
)

// FuzzNormalizeLoginURL: a user's login URL is refused with ErrInvalid or
// normalised to a bare https (or loopback http) origin that normalises to
// itself.
func FuzzNormalizeLoginURL(f *testing.F) {
	for _, s := range []string{"", "https://login.salesforce.com", "https://test.salesforce.com/", "https://MyDomain.my.salesforce.com",
		"http://127.0.0.1:8443", "http://localhost:1", "http://example.com", "https://u:p@login.salesforce.com", "https://x/path",
		"https://x?q=1", "https://x#f", "ftp://x", "https://", " https://login.salesforce.com ", "http://[::1]:80", "https://%zz", strings.Repeat("a", 2049)} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, raw string) {
		got, err := authorization.NormalizeLoginURL(raw)
		if err != nil {
			require.ErrorIs(t, err, authorization.ErrInvalid)
			return
		}
		if strings.TrimSpace(raw) == "" {
			require.Equal(t, salesforce.DefaultLoginURL, got)
		}
		u, err := url.Parse(got)
		require.NoError(t, err)
		require.Contains(t, []string{"https", "http"}, u.Scheme)
		require.NotEmpty(t, u.Hostname())
		require.Nil(t, u.User)
		require.Empty(t, u.Path)
		require.Empty(t, u.RawQuery)
		again, err := authorization.NormalizeLoginURL(got)
		require.NoError(t, err)
		require.Equal(t, got, again)
	})
}

// FuzzParseKey: a JWT bearer key (PEM) parses to a valid RSA private key
// that round-trips through PKCS#8, or is refused with ErrInvalid.
func FuzzParseKey(f *testing.F) {
	rk, err := rsa.GenerateKey(rand.Reader, 2048)
	require.NoError(f, err)
	f.Add(pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(rk)}))
	p8, err := x509.MarshalPKCS8PrivateKey(rk)
	require.NoError(f, err)
	f.Add(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: p8}))
	ek, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	require.NoError(f, err)
	e8, err := x509.MarshalPKCS8PrivateKey(ek)
	require.NoError(f, err)
	f.Add(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: e8}))
	f.Add([]byte("-----BEGIN PRIVATE KEY-----\nnot base64\n-----END PRIVATE KEY-----\n"))
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, b []byte) {
		k, err := authorization.ParseKey(b)
		if err != nil {
			require.ErrorIs(t, err, authorization.ErrInvalid)
			return
		}
		require.NoError(t, k.Validate())
		der, err := x509.MarshalPKCS8PrivateKey(k)
		require.NoError(t, err)
		back, err := authorization.ParseKey(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}))
		require.NoError(t, err)
		require.True(t, k.Equal(back))
	})
}
