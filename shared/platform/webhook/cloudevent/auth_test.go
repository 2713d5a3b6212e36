package cloudevent_test

import (
	"crypto/tls"
	"encoding/json"
	"net"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/herokuevents/herokuevents/shared/config"
	"github.com/herokuevents/herokuevents/shared/event"
	"github.com/herokuevents/herokuevents/shared/platform/webhook/cloudevent"
	"github.com/herokuevents/herokuevents/shared/platform/webhook/webhooktest"
	"github.com/herokuevents/herokuevents/shared/queue"
	"github.com/herokuevents/herokuevents/shared/sink"
)

const clientSecret = "cs-very-secret-value"

// guarded is the deliver role's client allowed to reach loopback, trusting
// pool when given.
func guarded(t *testing.T, allowLoopback bool, pool *tls.Config) *http.Client {
	t.Helper()
	var allow []string
	if allowLoopback {
		allow = []string{"127.0.0.0/8"}
	}
	prefixes, err := sink.ParseAllow(join(allow))
	require.NoError(t, err)
	c := sink.NewEgress(prefixes).Client(5 * time.Second)
	if pool != nil {
		c.Transport.(*http.Transport).TLSClientConfig = pool
	}
	return c
}

func join(s []string) string {
	if len(s) == 0 {
		return ""
	}
	return s[0]
}

// receiver records the Authorization header of each POST and answers with
// next's status.
type receiver struct {
	mu    sync.Mutex
	auths []string
	codes []int
}

func (rc *receiver) record(auth string, code int) {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	rc.auths, rc.codes = append(rc.auths, auth), append(rc.codes, code)
}

func (rc *receiver) seen() ([]string, []int) {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	return append([]string(nil), rc.auths...), append([]int(nil), rc.codes...)
}

func oauth2Receiver(t *testing.T, te *webhooktest.TokenEndpoint) (*httptest.Server, *receiver) {
	rc := &receiver{}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		code := http.StatusNoContent
		if !te.Valid(r.Header.Get("Authorization")) {
			code = http.StatusUnauthorized
		}
		rc.record(r.Header.Get("Authorization"), code)
		w.WriteHeader(code)
	}))
	t.Cleanup(srv.Close)
	return srv, rc
}

func testEvent(id string) event.Event {
	return event.Event{ID: id, Source: "/test", Type: "test.event", Time: time.Now().UTC(), DataContentType: "application/json", Data: json.RawMessage(`{"n":1}`)}
}

// TestOAuth2: deliveries carry "Authorization: Bearer" with an access
// token of the publication's grant, fetched once and reused while fresh;
// a token the receiver refuses (revoked) is replaced within the same
// attempt; a token near its expiry is replaced before it is sent; the
// client secret and the tokens appear in no error.
func TestOAuth2(t *testing.T) {
	te := webhooktest.NewTokenEndpoint("cid", clientSecret, 60*time.Second)
	tokenSrv := httptest.NewServer(te)
	t.Cleanup(tokenSrv.Close)
	rcv, rc := oauth2Receiver(t, te)
	var offset atomic.Int64
	now := func() time.Time { return time.Now().Add(time.Duration(offset.Load())) }
	p := &cloudevent.Publisher{Sealer: nopSealer{}, Client: guarded(t, true, nil), Now: now}
	pub := config.Publication{ID: "p1", Name: "hook", Platform: config.PlatformWebhook, Params: config.Params{URL: rcv.URL},
		OAuth2: &config.OAuth2Client{TokenURL: tokenSrv.URL, ClientID: "cid", Scopes: []string{"events.write", "x"}, SecretSealed: []byte(clientSecret)}}
	ctx := t.Context()

	require.NoError(t, p.Publish(ctx, "t1", pub, testEvent("e1")))
	require.NoError(t, p.Publish(ctx, "t1", pub, testEvent("e2")))
	issued := te.IssuedTokens()
	require.Len(t, issued, 1, "one token for both deliveries")
	auths, codes := rc.seen()
	assert.Equal(t, []string{"Bearer " + issued[0], "Bearer " + issued[0]}, auths)
	assert.Equal(t, []int{204, 204}, codes)

	t.Run("revoked: 401, a new token, delivered in the same attempt", func(t *testing.T) {
		te.RevokeAll()
		require.NoError(t, p.Publish(ctx, "t1", pub, testEvent("e3")))
		issued := te.IssuedTokens()
		require.Len(t, issued, 2)
		auths, codes := rc.seen()
		assert.Equal(t, []string{"Bearer " + issued[0], "Bearer " + issued[1]}, auths[2:])
		assert.Equal(t, []int{401, 204}, codes[2:])
	})
	t.Run("near expiry: replaced before it is sent", func(t *testing.T) {
		offset.Store(int64(55 * time.Second)) // 5 s before the 60 s token expires
		require.NoError(t, p.Publish(ctx, "t1", pub, testEvent("e4")))
		issued := te.IssuedTokens()
		require.Len(t, issued, 3)
		auths, codes := rc.seen()
		assert.Equal(t, "Bearer "+issued[2], auths[len(auths)-1])
		assert.Equal(t, 204, codes[len(codes)-1], "no 401 on the way")
		offset.Store(0)
	})
	t.Run("concurrent deliveries share one fetch", func(t *testing.T) {
		before := len(te.IssuedTokens())
		other := pub
		other.ID = "p2"
		var wg sync.WaitGroup
		for i := range 16 {
			wg.Go(func() { assert.NoError(t, p.Publish(ctx, "t1", other, testEvent("c"+string(rune('a'+i))))) })
		}
		wg.Wait()
		assert.Len(t, te.IssuedTokens(), before+1)
	})
	t.Run("a receiver that keeps answering 401 is tried twice, then fails", func(t *testing.T) {
		never := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusUnauthorized) }))
		t.Cleanup(never.Close)
		other := pub
		other.ID, other.Params.URL = "p3", never.URL
		before := len(te.IssuedTokens())
		err := p.Publish(ctx, "t1", other, testEvent("e5"))
		var se *sink.Error
		require.ErrorAs(t, err, &se)
		assert.Equal(t, 401, se.Result.Status)
		assert.Len(t, te.IssuedTokens(), before+2)
	})
	t.Run("a wrong client secret is dead-lettered, the secret not in the error", func(t *testing.T) {
		other := pub
		other.ID = "p4"
		other.OAuth2 = &config.OAuth2Client{TokenURL: tokenSrv.URL, ClientID: "cid", SecretSealed: []byte("wrong-secret-zzz")}
		err := p.Publish(ctx, "t1", other, testEvent("e6"))
		require.Error(t, err)
		assert.True(t, queue.IsPermanent(err), "%v", err)
		assert.Contains(t, err.Error(), "HTTP 401")
		assert.Contains(t, err.Error(), "invalid_client")
		assert.NotContains(t, err.Error(), "wrong-secret-zzz")
	})
	t.Run("the token endpoint goes through the egress guard", func(t *testing.T) {
		strict := &cloudevent.Publisher{Sealer: nopSealer{}, Client: guarded(t, false, nil)}
		other := pub
		other.ID = "p5"
		before := len(te.IssuedTokens())
		err := strict.Publish(ctx, "t1", other, testEvent("e7"))
		require.ErrorIs(t, err, sink.ErrEgress)
		assert.True(t, queue.IsPermanent(err))
		assert.Len(t, te.IssuedTokens(), before)
	})
	t.Run("a token endpoint failing with 503 is retried", func(t *testing.T) {
		down := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusServiceUnavailable) }))
		t.Cleanup(down.Close)
		other := pub
		other.ID = "p6"
		other.OAuth2 = &config.OAuth2Client{TokenURL: down.URL, ClientID: "cid", SecretSealed: []byte(clientSecret)}
		err := p.Publish(ctx, "t1", other, testEvent("e8"))
		require.Error(t, err)
		assert.False(t, queue.IsPermanent(err))
		assert.Contains(t, err.Error(), "HTTP 503")
	})
}

// TestMTLS: a receiver requiring client certificates of its CA gets the
// delivery of a publication with a certificate of that CA, over one
// connection for several deliveries; without the certificate the TLS
// handshake fails and nothing is delivered.
func TestMTLS(t *testing.T) {
	ca := webhooktest.NewCA(t)
	var conns atomic.Int32
	var mu sync.Mutex
	var peers []string
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		peers = append(peers, r.TLS.PeerCertificates[0].Subject.CommonName)
		mu.Unlock()
		w.WriteHeader(http.StatusNoContent)
	}))
	srv.TLS = ca.ServerTLS(t)
	srv.Config.ConnState = func(_ net.Conn, s http.ConnState) {
		if s == http.StateNew {
			conns.Add(1)
		}
	}
	srv.StartTLS()
	t.Cleanup(srv.Close)

	certPEM, keyPEM := ca.Issue(t, "herokuevents-client", false, time.Now().Add(time.Hour))
	_, info, err := sink.ParseClientCert(certPEM, keyPEM, time.Now())
	require.NoError(t, err)
	p := &cloudevent.Publisher{Sealer: nopSealer{}, Client: guarded(t, true, &tls.Config{RootCAs: ca.Pool})}
	pub := config.Publication{ID: "p1", Name: "mtls", Platform: config.PlatformWebhook, Params: config.Params{URL: srv.URL},
		ClientCert: &config.ClientCert{CertPEM: certPEM, KeySealed: keyPEM, Subject: info.Subject, NotAfter: info.NotAfter, Fingerprint: info.Fingerprint}}

	for i := range 3 {
		require.NoError(t, p.Publish(t.Context(), "t1", pub, testEvent("m"+string(rune('0'+i)))))
	}
	mu.Lock()
	assert.Equal(t, []string{"herokuevents-client", "herokuevents-client", "herokuevents-client"}, peers)
	mu.Unlock()
	assert.Equal(t, int32(1), conns.Load(), "the connection is reused")

	t.Run("without the certificate", func(t *testing.T) {
		bare := pub
		bare.ID, bare.ClientCert = "p2", nil
		err := p.Publish(t.Context(), "t1", bare, testEvent("m9"))
		var se *sink.Error
		require.ErrorAs(t, err, &se)
		assert.Zero(t, se.Result.Status, "no response: the TLS handshake failed")
		mu.Lock()
		assert.Len(t, peers, 3)
		mu.Unlock()
	})
	t.Run("a certificate of another CA", func(t *testing.T) {
		otherPEM, otherKey := webhooktest.NewCA(t).Issue(t, "intruder", false, time.Now().Add(time.Hour))
		_, oi, err := sink.ParseClientCert(otherPEM, otherKey, time.Now())
		require.NoError(t, err)
		other := pub
		other.ClientCert = &config.ClientCert{CertPEM: otherPEM, KeySealed: otherKey, Fingerprint: oi.Fingerprint}
		require.Error(t, p.Publish(t.Context(), "t1", other, testEvent("m8")))
		require.NoError(t, p.Publish(t.Context(), "t1", pub, testEvent("m7")), "the publication's own certificate again")
	})
}
