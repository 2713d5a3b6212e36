package sink

import (
	"context"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	"net/netip"
	"slices"
	"time"
)

// ErrClientCert is wrapped by the errors of ParseClientCert.
var ErrClientCert = errors.New("invalid client certificate")

// CertInfo describes the leaf of a TLS client certificate: what may be
// shown of it.
type CertInfo struct {
	Subject  string
	NotAfter time.Time
	// Fingerprint is the hex SHA-256 of the leaf's DER.
	Fingerprint string
}

// ParseClientCert parses a PEM certificate chain (leaf first) and the PEM
// private key that goes with it, for mutual TLS: the key must match the
// leaf, the leaf must be valid at now and, when it names extended key
// usages, be meant for client authentication. Errors wrap ErrClientCert
// and never quote the key.
func ParseClientCert(certPEM, keyPEM []byte, now time.Time) (tls.Certificate, CertInfo, error) {
	cert, err := tls.X509KeyPair(certPEM, keyPEM)
	if err != nil {
		// crypto/tls names the problem (no PEM data, a key that does not
		// match…) without quoting the input.
		return tls.Certificate{}, CertInfo{}, fmt.Errorf("%w: %v", ErrClientCert, err)
	}
	leaf := cert.Leaf
	if leaf == nil {
		if leaf, err = x509.ParseCertificate(cert.Certificate[0]); err != nil {
			return tls.Certificate{}, CertInfo{}, fmt.Errorf("%w: %v", ErrClientCert, err)
		}
		cert.Leaf = leaf
	}
	if now.After(leaf.NotAfter) {
		return tls.Certificate{}, CertInfo{}, fmt.Errorf("%w: it expired at %s", ErrClientCert, leaf.NotAfter.UTC().Format(time.RFC3339))
	}
	if now.Before(leaf.NotBefore) {
		return tls.Certificate{}, CertInfo{}, fmt.Errorf("%w: it is valid from %s only", ErrClientCert, leaf.NotBefore.UTC().Format(time.RFC3339))
	}
	if len(leaf.ExtKeyUsage) > 0 && !slices.Contains(leaf.ExtKeyUsage, x509.ExtKeyUsageClientAuth) && !slices.Contains(leaf.ExtKeyUsage, x509.ExtKeyUsageAny) {
		return tls.Certificate{}, CertInfo{}, fmt.Errorf("%w: its extended key usage does not include client authentication", ErrClientCert)
	}
	sum := sha256.Sum256(leaf.Raw)
	return cert, CertInfo{Subject: leaf.Subject.String(), NotAfter: leaf.NotAfter.UTC(), Fingerprint: hex.EncodeToString(sum[:])}, nil
}

// WithClientCert returns a copy of c whose connections present cert in
// the TLS handshake. c's transport must be an *http.Transport (the one of
// Egress.Client): it is cloned, guarded dialer and server trust included,
// so the copy keeps its own connections. Use one copy per certificate.
func WithClientCert(c *http.Client, cert tls.Certificate) (*http.Client, error) {
	t, ok := c.Transport.(*http.Transport)
	if !ok {
		return nil, fmt.Errorf("add client certificate: the client's transport is %T, not *http.Transport", c.Transport)
	}
	t = t.Clone()
	if t.TLSClientConfig == nil {
		t.TLSClientConfig = &tls.Config{}
	}
	t.TLSClientConfig.MinVersion = max(t.TLSClientConfig.MinVersion, tls.VersionTLS12)
	t.TLSClientConfig.Certificates = []tls.Certificate{cert}
	out := *c
	out.Transport = t
	return &out, nil
}

// AllowListed reports whether the host of raw (an absolute URL) is an
// address of the operator's allow list, or a name whose addresses all are:
// a destination the operator named, where plain http may be accepted.
func (e *Egress) AllowListed(ctx context.Context, raw string) bool {
	u, err := ParseURL(raw)
	if err != nil {
		return false
	}
	host := u.Hostname()
	if ip, err := netip.ParseAddr(host); err == nil {
		return e.allowed(ip.WithZone("").Unmap())
	}
	ips, err := e.resolver.LookupNetIP(ctx, "ip", host)
	if err != nil || len(ips) == 0 {
		return false
	}
	for _, ip := range ips {
		if !e.allowed(ip.WithZone("").Unmap()) {
			return false
		}
	}
	return true
}
