// Package cloudevent is the webhook platform's engine (platform.Engine):
// its publisher, which encodes events with the CloudEvents SDK and POSTs
// them signed. The processes that deliver (the deliver function, the
// embedded mode) wire it in (platform.Deps.Engines); the api function,
// which only validates webhook publications, links neither it nor the SDK.
package cloudevent

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"mime"
	"net/http"
	"time"

	sdk "github.com/cloudevents/sdk-go/v2/event"

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
// passed the handshake, the publication's token as
// "Authorization: Bearer" and Standard Webhooks plus
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
}

var _ platform.Publisher = (*Publisher)(nil)

// Publish posts ev to the publication's URL.
func (w *Publisher) Publish(ctx context.Context, tenant string, pub config.Publication, ev event.Event) error {
	if w.Client == nil {
		return queue.Permanent(errors.New("webhook publisher has no http client"))
	}
	u, err := sink.ParseURL(pub.Params.URL)
	if err != nil {
		return queue.Permanent(fmt.Errorf("publication %s: %w", pub.Name, err))
	}
	hdr, body, err := Encode(ev, pub.Params)
	if err != nil {
		return queue.Permanent(err)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, u.String(), bytes.NewReader(body))
	if err != nil {
		return queue.Permanent(fmt.Errorf("build webhook request: %w", err))
	}
	maps.Copy(req.Header, hdr)
	req.Header.Set("User-Agent", webhook.UserAgent)
	if pub.Params.Origin != "" { // the spec wants the handshake's origin on every delivery
		req.Header.Set(webhook.HeaderRequestOrigin, pub.Params.Origin)
	}
	if len(pub.TokenSealed) > 0 {
		token, err := w.open(ctx, pub.TokenSealed, "token")
		if err != nil {
			return err
		}
		req.Header.Set("Authorization", "Bearer "+string(token))
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
		if err := sink.SignRotating(req.Header, string(sec), string(previous), ev.ID, at, body); err != nil {
			return queue.Permanent(err)
		}
	}
	return sink.Do(w.client(pub), req).Err()
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

// Structured encodes ev as a CloudEvents 1.0 structured-mode JSON object.
// "time" is ev.Time, or the current time when it is zero (DESIGN §5 wants
// a time on every webhook). "data" is ev.Data byte for byte (it must be valid JSON); datacontenttype is
// ev.DataContentType when it is application/json or text/json (with any
// parameters), else application/json. dataschema is ev.DataSchema.
// Extension names are lower-cased; those CloudEvents does not allow (ASCII
// letters and digits only, not a spec attribute) are left out, and so are
// values of no CloudEvents type.
func Structured(ev event.Event) ([]byte, error) {
	ce, err := newCloudEvent(ev, jsonType(ev.DataContentType))
	if err != nil {
		return nil, err
	}
	// MarshalJSON directly: json.Marshal would re-compact the data bytes.
	b, err := ce.MarshalJSON()
	if err != nil {
		return nil, fmt.Errorf("encode cloudevent %s: %w", ev.ID, err)
	}
	return b, nil
}

// newCloudEvent is ev as an SDK event whose data has the media type
// dataType (a JSON type).
func newCloudEvent(ev event.Event, dataType string) (*sdk.Event, error) {
	if err := ev.Validate(); err != nil {
		return nil, fmt.Errorf("encode cloudevent: %w", err)
	}
	ce := sdk.New(sdk.CloudEventsVersionV1)
	ce.SetID(ev.ID)
	ce.SetSource(ev.Source)
	ce.SetType(ev.Type)
	if ev.Subject != "" {
		ce.SetSubject(ev.Subject)
	}
	at := ev.Time
	if at.IsZero() {
		at = time.Now().UTC()
	}
	ce.SetTime(at)
	if ev.DataSchema != "" {
		if err := ce.Context.SetDataSchema(ev.DataSchema); err != nil {
			return nil, fmt.Errorf("encode cloudevent %s: dataschema: %w", ev.ID, err)
		}
	}
	for k, v := range ev.Extensions {
		_ = ce.Context.SetExtension(k, v) // invalid or reserved names are refused: left out
	}
	if len(ev.Data) > 0 {
		if !json.Valid(ev.Data) {
			return nil, fmt.Errorf("encode cloudevent %s: data is not valid JSON", ev.ID)
		}
		if err := ce.SetData(dataType, []byte(ev.Data)); err != nil {
			return nil, fmt.Errorf("encode cloudevent %s: %w", ev.ID, err)
		}
		// SetData treats bytes as binary (data_base64); these bytes are the
		// JSON value itself, to be written verbatim as "data".
		ce.DataBase64 = false
	}
	if err := ce.Validate(); err != nil {
		return nil, fmt.Errorf("encode cloudevent %s: %w", ev.ID, err)
	}
	return &ce, nil
}

func jsonType(ct string) string {
	mt, _, err := mime.ParseMediaType(ct)
	// The SDK writes data verbatim only for these two media types.
	if err == nil && (mt == sdk.ApplicationJSON || mt == sdk.TextJSON) {
		return ct
	}
	return sdk.ApplicationJSON
}
