// Package cloudevent is the webhook platform's engine (platform.Engine):
// its publisher, which encodes events with the CloudEvents SDK and POSTs
// them signed. The processes that deliver (the deliver function, the
// embedded mode) wire it in (platform.Deps.Engines); the api function,
// which only validates webhook publications, links neither it nor the SDK.
package cloudevent

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"maps"
	"net/http"
	"sync"
	"time"

	"github.com/herokuevents/herokuevents/shared/cejson"
	"github.com/herokuevents/herokuevents/shared/config"
	"github.com/herokuevents/herokuevents/shared/event"
	"github.com/herokuevents/herokuevents/shared/platform"
	"github.com/herokuevents/herokuevents/shared/platform/webhook"
	"github.com/herokuevents/herokuevents/shared/queue"
	"github.com/herokuevents/herokuevents/shared/secret"
	"github.com/herokuevents/herokuevents/shared/sink"
)

// Publisher publishes to webhook publications: one CloudEvents 1.0 POST to
// Params.URL in the publication's mode (Encode: structured JSON by
// default, or binary), with WebHook-Request-Origin when the publication
// passed the handshake, the publication's token or an access token of its
// OAuth2 grant as "Authorization: Bearer" (auth.go; a 401 fetches a new
// one and sends again, once), its client certificate in the TLS handshake
// and Standard Webhooks plus
// Heroku-Webhook-Hmac-SHA256 signatures made with its signing secret.
//
// Publish returns nil when the endpoint answered 2xx, a *sink.Error for any
// other response or transport failure (its class tells retry, gone or
// permanent), queue.Permanent for publications that cannot be sent (bad URL,
// unreadable sealed secret, invalid event), and a plain error when the
// Sealer failed transiently. It never retries. Safe for concurrent use.
type Publisher struct {
	// Sealer opens Publication.TokenSealed and SecretSealed.
	Sealer secret.Sealer
	// Client must be guarded (sink.Egress.Client). Required.
	Client *http.Client
	// Now stamps webhook-timestamp; time.Now when nil.
	Now func() time.Time

	// The access tokens of OAuth2 publications and the clients of mTLS
	// ones (auth.go).
	tokens tokenCache
	certs  certCache
	// The publications' URLs as checked and written back by sink.ParseURL.
	urls urlCache
}

// urlCache remembers what sink.ParseURL made of the URLs it was given (a
// pure function of its argument): a delivery does not parse its URL
// twice. At most maxURLs are kept; past it the cache starts over.
type urlCache struct {
	mu sync.Mutex
	m  map[string]parsedURL
}

type parsedURL struct {
	url string
	err error
}

const maxURLs = 4096

func (c *urlCache) target(raw string) (string, error) {
	c.mu.Lock()
	p, ok := c.m[raw]
	c.mu.Unlock()
	if ok {
		return p.url, p.err
	}
	u, err := sink.ParseURL(raw)
	if err == nil {
		p.url = u.String()
	}
	p.err = err
	c.mu.Lock()
	if c.m == nil || len(c.m) >= maxURLs {
		c.m = map[string]parsedURL{}
	}
	c.m[raw] = p
	c.mu.Unlock()
	return p.url, p.err
}

var _ platform.Publisher = (*Publisher)(nil)

// Publish posts ev to the publication's URL.
func (w *Publisher) Publish(ctx context.Context, tenant string, pub config.Publication, ev event.Event) error {
	hdr, body, err := Encode(ev, pub.Params)
	if err != nil {
		return queue.Permanent(err)
	}
	return w.post(ctx, pub, hdr, body, ev.ID)
}

// post sends one request of body with the headers hdr to the publication's
// URL, with its origin, authorization and signatures (msgID is the
// Standard Webhooks webhook-id): what Publish and PublishBatch share.
func (w *Publisher) post(ctx context.Context, pub config.Publication, hdr http.Header, body []byte, msgID string) error {
	if w.Client == nil {
		return queue.Permanent(errors.New("webhook publisher has no http client"))
	}
	u, err := w.urls.target(pub.Params.URL)
	if err != nil {
		return queue.Permanent(fmt.Errorf("publication %s: %w", pub.Name, err))
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, u, bytes.NewReader(body))
	if err != nil {
		return queue.Permanent(fmt.Errorf("build webhook request: %w", err))
	}
	maps.Copy(req.Header, hdr)
	req.Header.Set("User-Agent", webhook.UserAgent)
	if pub.Params.Origin != "" { // the spec wants the handshake's origin on every delivery
		req.Header.Set(webhook.HeaderRequestOrigin, pub.Params.Origin)
	}
	if len(pub.SecretSealed) > 0 {
		sec, err := w.open(ctx, pub.SecretSealed, "signing secret")
		if err != nil {
			return err
		}
		now := time.Now
		if w.Now != nil {
			now = w.Now
		}
		at := now()
		var previous []byte
		if len(pub.PreviousSecretSealed) > 0 && at.Before(pub.PreviousSecretUntil) {
			// A rotation's overlap: sign with both secrets.
			if previous, err = w.open(ctx, pub.PreviousSecretSealed, "previous signing secret"); err != nil {
				return err
			}
		}
		if err := sink.SignRotating(req.Header, string(sec), string(previous), msgID, at, body); err != nil {
			return queue.Permanent(err)
		}
	}
	return w.send(ctx, pub, req)
}

// client is the deliver role's client, with the publication's own timeout
// when it has one.
func (w *Publisher) client(pub config.Publication) *http.Client {
	if pub.Timeout <= 0 || pub.Timeout == w.Client.Timeout {
		return w.Client
	}
	c := *w.Client
	c.Timeout = pub.Timeout
	return &c
}

func (w *Publisher) open(ctx context.Context, sealed []byte, what string) ([]byte, error) {
	if w.Sealer == nil {
		return nil, queue.Permanent(fmt.Errorf("open %s: no sealer configured", what))
	}
	pt, err := w.Sealer.Open(ctx, sealed)
	switch {
	case errors.Is(err, secret.ErrOpen):
		return nil, queue.Permanent(fmt.Errorf("open %s: %w", what, err))
	case err != nil:
		return nil, fmt.Errorf("open %s: %w", what, err)
	}
	return pt, nil
}

// Structured encodes ev as a CloudEvents 1.0 structured-mode JSON object
// (cejson.Structured: what a webhook and a pull subscriber receive).
func Structured(ev event.Event) ([]byte, error) { return cejson.Structured(ev) }
