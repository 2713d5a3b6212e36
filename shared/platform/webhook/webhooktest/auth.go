package webhooktest

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"math/big"
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"
)

// CA is a certificate authority made for one test.
type CA struct {
	cert *x509.Certificate
	key  *ecdsa.PrivateKey
	PEM  []byte
	Pool *x509.CertPool
}

// NewCA makes a CA valid for a day.
func NewCA(t testing.TB) *CA {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "herokuevents test CA"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, _ := x509.ParseCertificate(der)
	pool := x509.NewCertPool()
	pool.AddCert(cert)
	return &CA{cert: cert, key: key, PEM: pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), Pool: pool}
}

var serial = struct {
	sync.Mutex
	n int64
}{n: 1}

// Issue makes a certificate for cn signed by the CA, valid until notAfter:
// a server certificate for 127.0.0.1 and localhost when server, else a
// client certificate. It returns the PEM certificate and PEM key.
func (ca *CA) Issue(t testing.TB, cn string, server bool, notAfter time.Time) (certPEM, keyPEM []byte) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	serial.Lock()
	serial.n++
	n := serial.n
	serial.Unlock()
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(n), Subject: pkix.Name{CommonName: cn, Organization: []string{"herokuevents tests"}},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: notAfter,
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
	}
	if server {
		tmpl.ExtKeyUsage = []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}
		tmpl.IPAddresses = []net.IP{net.IPv4(127, 0, 0, 1)}
		tmpl.DNSNames = []string{"localhost"}
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.cert, &key.PublicKey, ca.key)
	if err != nil {
		t.Fatal(err)
	}
	kder, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: kder})
}

// ServerTLS is the TLS configuration of a server with a certificate of the
// CA that requires and verifies client certificates of the CA.
func (ca *CA) ServerTLS(t testing.TB) *tls.Config {
	t.Helper()
	certPEM, keyPEM := ca.Issue(t, "receiver", true, time.Now().Add(24*time.Hour))
	cert, err := tls.X509KeyPair(certPEM, keyPEM)
	if err != nil {
		t.Fatal(err)
	}
	return &tls.Config{Certificates: []tls.Certificate{cert}, ClientAuth: tls.RequireAndVerifyClientCert, ClientCAs: ca.Pool, MinVersion: tls.VersionTLS12}
}

// TokenEndpoint is an OAuth2 token endpoint (client credentials grant,
// client authentication by HTTP Basic or in the form) that issues opaque
// tokens living TTL, and Valid tells a receiver whether a token is one it
// issued, unexpired and not revoked.
type TokenEndpoint struct {
	ClientID, Secret string
	TTL              time.Duration

	mu      sync.Mutex
	n       int
	tokens  map[string]time.Time // token -> expiry
	Issued  []string
	Scopes  []string // the scope parameter of each request
	Refused int
}

// NewTokenEndpoint returns an endpoint for one client.
func NewTokenEndpoint(clientID, secret string, ttl time.Duration) *TokenEndpoint {
	return &TokenEndpoint{ClientID: clientID, Secret: secret, TTL: ttl, tokens: map[string]time.Time{}}
}

// ServeHTTP answers a token request.
func (te *TokenEndpoint) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	id, secret, ok := r.BasicAuth()
	if err := r.ParseForm(); err != nil || r.Method != http.MethodPost {
		http.Error(w, "bad request", http.StatusBadRequest)
		return
	}
	if !ok {
		id, secret = r.PostForm.Get("client_id"), r.PostForm.Get("client_secret")
	}
	te.mu.Lock()
	defer te.mu.Unlock()
	w.Header().Set("Content-Type", "application/json")
	if id != te.ClientID || secret != te.Secret || r.PostForm.Get("grant_type") != "client_credentials" {
		te.Refused++
		w.WriteHeader(http.StatusUnauthorized)
		_, _ = w.Write([]byte(`{"error":"invalid_client"}`))
		return
	}
	te.n++
	tok := fmt.Sprintf("tok-%d-%d", te.n, time.Now().UnixNano())
	te.tokens[tok] = time.Now().Add(te.TTL)
	te.Issued = append(te.Issued, tok)
	te.Scopes = append(te.Scopes, r.PostForm.Get("scope"))
	_ = json.NewEncoder(w).Encode(map[string]any{"access_token": tok, "token_type": "Bearer", "expires_in": int(te.TTL / time.Second)})
}

// Valid reports whether the Authorization header h carries a live token.
func (te *TokenEndpoint) Valid(h string) bool {
	tok, ok := strings.CutPrefix(h, "Bearer ")
	te.mu.Lock()
	defer te.mu.Unlock()
	exp, known := te.tokens[tok]
	return ok && known && time.Now().Before(exp)
}

// RevokeAll revokes every token issued so far.
func (te *TokenEndpoint) RevokeAll() {
	te.mu.Lock()
	defer te.mu.Unlock()
	clear(te.tokens)
}

// IssuedTokens returns the tokens issued so far.
func (te *TokenEndpoint) IssuedTokens() []string {
	te.mu.Lock()
	defer te.mu.Unlock()
	return append([]string(nil), te.Issued...)
}

// Protected answers 401 to requests without a live token of te, and passes
// the others to next.
func Protected(te *TokenEndpoint, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !te.Valid(r.Header.Get("Authorization")) {
			w.Header().Set("WWW-Authenticate", `Bearer error="invalid_token"`)
			http.Error(w, "invalid token", http.StatusUnauthorized)
			return
		}
		next.ServeHTTP(w, r)
	})
}
