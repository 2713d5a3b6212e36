package cloudevent

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net/http"
	"sync"
	"time"

	"golang.org/x/oauth2"
	"golang.org/x/oauth2/clientcredentials"

	"github.com/herokuevents/herokuevents/shared/config"
	"github.com/herokuevents/herokuevents/shared/platform/webhook"
	"github.com/herokuevents/herokuevents/shared/queue"
	"github.com/herokuevents/herokuevents/shared/sink"
)

// maxCached bounds the publications whose access token or TLS client are
// kept; beyond it one is dropped for each new one.
const maxCached = 4096

// send sends req, whose body can be read again (GetBody), with pub's
// credentials through pub's client (clientFor): the static token, or an
// access token of its OAuth2 grant. An access token the receiver answers
// 401 to is dropped and the request sent once more with a new one, within
// the same attempt.
func (w *Publisher) send(ctx context.Context, pub config.Publication, req *http.Request) error {
	client, err := w.clientFor(ctx, pub)
	if err != nil {
		return err
	}
	switch {
	case pub.OAuth2 != nil:
		tokens := w.tokens.of(pub)
		token, err := tokens.get(ctx, w, client, pub)
		if err != nil {
			return err
		}
		req.Header.Set("Authorization", "Bearer "+token)
		r := sink.Do(client, req)
		if r.Status != http.StatusUnauthorized || req.GetBody == nil {
			return r.Err()
		}
		// Revoked or rotated before its expiry: a new token, one more try.
		tokens.drop(token)
		if token, err = tokens.get(ctx, w, client, pub); err != nil {
			return err
		}
		again := req.Clone(ctx)
		if again.Body, err = req.GetBody(); err != nil {
			return queue.Permanent(fmt.Errorf("build webhook request: %w", err))
		}
		again.Header.Set("Authorization", "Bearer "+token)
		return sink.Do(client, again).Err()
	case len(pub.TokenSealed) > 0:
		token, err := w.open(ctx, pub.TokenSealed, "token")
		if err != nil {
			return err
		}
		req.Header.Set("Authorization", "Bearer "+string(token))
	}
	return sink.Do(client, req).Err()
}

// clientFor is the client of pub's deliveries: the deliver role's, or a
// copy presenting pub's client certificate (kept per publication and
// certificate, so that its connections are reused), with pub's timeout.
func (w *Publisher) clientFor(ctx context.Context, pub config.Publication) (*http.Client, error) {
	cc := pub.ClientCert
	if cc == nil {
		return w.client(pub), nil
	}
	base, err := w.certs.get(ctx, w, pub.ID, cc)
	if err != nil {
		return nil, err
	}
	if pub.Timeout <= 0 || pub.Timeout == base.Timeout {
		return base, nil
	}
	c := *base
	c.Timeout = pub.Timeout
	return &c, nil
}

// tokenCache keeps the access token of each publication's OAuth2 grant
// until shortly before it expires (webhook.TokenFresh): one per process,
// so one per Lambda instance on AWS.
type tokenCache struct {
	mu    sync.Mutex
	byPub map[string]*tokenEntry
}

// tokenEntry is one publication's grant and its current token. Its mutex
// is held while a token is fetched: concurrent deliveries wait for that one.
type tokenEntry struct {
	grant string // the grant's fields and sealed secret: a change starts anew
	mu    sync.Mutex
	conf  *clientcredentials.Config // with the secret, opened at the first fetch
	tok   *oauth2.Token
	at    time.Time // when tok was fetched
}

func (c *tokenCache) of(pub config.Publication) *tokenEntry {
	o := pub.OAuth2
	grant := fmt.Sprintf("%q %q %q %q %x", o.TokenURL, o.ClientID, o.Scopes, o.Audience, o.SecretSealed)
	c.mu.Lock()
	defer c.mu.Unlock()
	if e := c.byPub[pub.ID]; e != nil && e.grant == grant {
		return e
	}
	if c.byPub == nil {
		c.byPub = map[string]*tokenEntry{}
	}
	evict(c.byPub, pub.ID, func(*tokenEntry) {})
	e := &tokenEntry{grant: grant}
	c.byPub[pub.ID] = e
	return e
}

// get returns the current access token, fetched through client when there
// is none fresh. A token endpoint that refuses the credentials (or that
// the egress guard refuses) is queue.Permanent; other failures are
// retried.
func (e *tokenEntry) get(ctx context.Context, w *Publisher, client *http.Client, pub config.Publication) (string, error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	now := w.now()
	if webhook.TokenFresh(e.tok, e.at, now) {
		return e.tok.AccessToken, nil
	}
	if e.conf == nil {
		secret, err := w.open(ctx, pub.OAuth2.SecretSealed, "oauth2 client secret")
		if err != nil {
			return "", err
		}
		e.conf = webhook.OAuth2Config(pub.OAuth2, string(secret))
	}
	tok, err := webhook.FetchToken(ctx, client, e.conf)
	if err != nil {
		var te *webhook.TokenError
		if errors.As(err, &te) && te.Refused() {
			return "", queue.Permanent(fmt.Errorf("publication %s: %w", pub.Name, err))
		}
		return "", fmt.Errorf("publication %s: %w", pub.Name, err)
	}
	e.tok, e.at = tok, now
	return tok.AccessToken, nil
}

// drop forgets token, unless another delivery has replaced it already.
func (e *tokenEntry) drop(token string) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.tok != nil && e.tok.AccessToken == token {
		e.tok = nil
	}
}

// certCache keeps, per publication, a client presenting its client
// certificate, until the certificate changes.
type certCache struct {
	mu    sync.Mutex
	byPub map[string]*certClient
}

type certClient struct {
	fingerprint string
	client      *http.Client
}

func (c *certCache) get(ctx context.Context, w *Publisher, pubID string, cc *config.ClientCert) (*http.Client, error) {
	c.mu.Lock()
	cur := c.byPub[pubID]
	c.mu.Unlock()
	if cur != nil && cur.fingerprint == cc.Fingerprint {
		return cur.client, nil
	}
	key, err := w.open(ctx, cc.KeySealed, "client key")
	if err != nil {
		return nil, err
	}
	cert, err := tls.X509KeyPair(cc.CertPEM, key)
	if err != nil {
		return nil, queue.Permanent(fmt.Errorf("load client certificate: %w", err))
	}
	client, err := sink.WithClientCert(w.Client, cert)
	if err != nil {
		return nil, queue.Permanent(err)
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if cur := c.byPub[pubID]; cur != nil && cur.fingerprint == cc.Fingerprint {
		return cur.client, nil // another delivery built it meanwhile
	}
	if c.byPub == nil {
		c.byPub = map[string]*certClient{}
	}
	evict(c.byPub, pubID, func(old *certClient) { old.client.CloseIdleConnections() })
	c.byPub[pubID] = &certClient{fingerprint: cc.Fingerprint, client: client}
	return client, nil
}

// evict removes key from m, and one other entry when m is full.
func evict[V any](m map[string]V, key string, gone func(V)) {
	if old, ok := m[key]; ok {
		delete(m, key)
		gone(old)
		return
	}
	if len(m) < maxCached {
		return
	}
	for k, v := range m {
		delete(m, k)
		gone(v)
		return
	}
}

func (w *Publisher) now() time.Time {
	if w.Now != nil {
		return w.Now()
	}
	return time.Now()
}
