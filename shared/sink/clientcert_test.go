package sink_test

import (
	"bytes"
	"crypto/tls"
	"net/http"
	"net/netip"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/herokuevents/herokuevents/shared/platform/webhook/webhooktest"
	"github.com/herokuevents/herokuevents/shared/sink"
)

// TestAllowListed: only hosts on the operator's allow list are, by address.
func TestAllowListed(t *testing.T) {
	e := sink.NewEgress([]netip.Prefix{netip.MustParsePrefix("127.0.0.0/8"), netip.MustParsePrefix("10.1.0.0/16")})
	for raw, want := range map[string]bool{
		"http://127.0.0.1:8080/token": true,
		"http://10.1.2.3/token":       true,
		"http://10.2.0.1/token":       false,
		"http://[::1]/token":          false,
		"https://8.8.8.8/token":       false,
		"not a url":                   false,
		"http://u:p@127.0.0.1/token":  false,
	} {
		t.Run(raw, func(t *testing.T) { assert.Equal(t, want, e.AllowListed(t.Context(), raw)) })
	}
}

// TestWithClientCert: the copy presents the certificate and keeps the
// guard and the server trust of the original, which is left as it was.
func TestWithClientCert(t *testing.T) {
	ca := webhooktest.NewCA(t)
	certPEM, keyPEM := ca.Issue(t, "c", false, time.Now().Add(time.Hour))
	cert, _, err := sink.ParseClientCert(certPEM, keyPEM, time.Now())
	require.NoError(t, err)
	base := sink.NewEgress(nil).Client(time.Second)
	base.Transport.(*http.Transport).TLSClientConfig = &tls.Config{RootCAs: ca.Pool}
	c, err := sink.WithClientCert(base, cert)
	require.NoError(t, err)
	tr := c.Transport.(*http.Transport)
	assert.Len(t, tr.TLSClientConfig.Certificates, 1)
	assert.Same(t, ca.Pool, tr.TLSClientConfig.RootCAs)
	assert.NotNil(t, tr.DialContext)
	assert.Empty(t, base.Transport.(*http.Transport).TLSClientConfig.Certificates)
	_, err = sink.WithClientCert(&http.Client{Transport: http.NewFileTransport(http.Dir("."))}, cert)
	assert.Error(t, err)
}

// FuzzParseClientCert: any certificate and key input is refused with
// ErrClientCert or parsed; an error never quotes the key.
func FuzzParseClientCert(f *testing.F) {
	ca := webhooktest.NewCA(f)
	certPEM, keyPEM := ca.Issue(f, "c", false, time.Now().Add(time.Hour))
	f.Add(certPEM, keyPEM)
	f.Add(certPEM, certPEM)
	f.Add(keyPEM, certPEM)
	f.Add([]byte("-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n"), []byte("-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n"))
	f.Add([]byte{}, []byte{})
	f.Fuzz(func(t *testing.T, c, k []byte) {
		_, info, err := sink.ParseClientCert(c, k, time.Now())
		if err != nil {
			require.ErrorIs(t, err, sink.ErrClientCert)
			if len(k) > 8 {
				assert.False(t, bytes.Contains([]byte(err.Error()), k), "the error quotes the key")
			}
			return
		}
		assert.Len(t, info.Fingerprint, 64)
	})
}
