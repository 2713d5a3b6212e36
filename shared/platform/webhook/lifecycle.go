package webhook

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/herokuevents/herokuevents/shared/config"
	"github.com/herokuevents/herokuevents/shared/httpjson"
	"github.com/herokuevents/herokuevents/shared/platform"
	"github.com/herokuevents/herokuevents/shared/sink"
)

// validateUpdate changes a webhook publication: url (checked as at
// create, and asked for consent by the CloudEvents webhook handshake
// unless skip_handshake, with the publication's credentials), token
// (sealed; "" removes it), the OAuth2 grant and client certificate
// (applyAuth, then checkAuth), mode and
// content_type (CheckMode, on the values the publication ends with),
// batch_size and batch_window (CheckBatch, likewise). The
// signing secret changes only through rotateSecret.
func validateUpdate(ctx context.Context, d platform.Deps, _ string, current config.Publication, body []byte) (config.Publication, map[string]any, error) {
	var req struct {
		platform.UpdateFields
		authFields
		URL           *string `json:"url"`
		Token         *string `json:"token"`
		Mode          *string `json:"mode"`
		ContentType   *string `json:"content_type"`
		SkipHandshake bool    `json:"skip_handshake"`
		BatchSize     *int    `json:"batch_size"`
		BatchWindow   *string `json:"batch_window"`
	}
	if err := httpjson.Decode(body, &req); err != nil {
		return config.Publication{}, nil, err
	}
	pub := current
	if req.URL != nil {
		if err := checkURL(ctx, d.URLCheck(), *req.URL); err != nil {
			return config.Publication{}, nil, err
		}
		pub.Params.URL = *req.URL
	}
	if req.Token != nil {
		sealed, err := sealToken(ctx, d, *req.Token)
		if err != nil {
			return config.Publication{}, nil, err
		}
		pub.TokenSealed = sealed
	}
	if err := applyAuth(ctx, d, &pub, req.authFields); err != nil {
		return config.Publication{}, nil, err
	}
	if err := checkAuth(pub); err != nil {
		return config.Publication{}, nil, err
	}
	if req.Mode != nil {
		pub.Params.Mode = *req.Mode
	}
	if req.ContentType != nil {
		pub.Params.ContentType = *req.ContentType
	}
	var err error
	if pub.Params.Mode, pub.Params.ContentType, err = CheckMode(pub.Params.Mode, pub.Params.ContentType); err != nil {
		return config.Publication{}, nil, err
	}
	if pub.Params.BatchSize, pub.Params.BatchWindow, err = updateBatch(pub.Params, req.BatchSize, req.BatchWindow); err != nil {
		return config.Publication{}, nil, err
	}
	if req.URL != nil && *req.URL != current.Params.URL {
		// The consent was the old URL's: ask the new one, or forget it.
		pub.Params.Origin, pub.Params.AllowedRate = "", 0
		if !req.SkipHandshake {
			grant, err := handshakeWith(ctx, d, *req.URL, pub)
			if err != nil {
				return config.Publication{}, nil, err
			}
			pub.Params.Origin, pub.Params.AllowedRate = grant.Origin, grant.Rate
		}
	}
	return pub, nil, nil
}

// sealToken checks a webhook token as create does and seals it; "" is no
// token.
func sealToken(ctx context.Context, d platform.Deps, token string) ([]byte, error) {
	if token == "" {
		return nil, nil
	}
	if len(token) > maxToken || strings.ContainsAny(token, "\r\n") {
		return nil, config.Invalid("token must be one line of at most %d bytes.", maxToken)
	}
	sealed, err := d.Sealer.Seal(ctx, []byte(token))
	if err != nil {
		return nil, fmt.Errorf("seal token: %w", err)
	}
	return sealed, nil
}

// rotateSecret gives the publication a new signing secret, shown once; the
// current one keeps signing beside it until overlap has passed (none when
// overlap is zero). A rotation during the overlap of another replaces the
// older secret.
func rotateSecret(ctx context.Context, d platform.Deps, _ string, current config.Publication, overlap time.Duration) (config.Publication, map[string]any, error) {
	newSecret := d.NewSecret
	if newSecret == nil {
		newSecret = sink.NewSigningSecret
	}
	signing, err := newSecret()
	if err != nil {
		return config.Publication{}, nil, fmt.Errorf("make signing secret: %w", err)
	}
	sealed, err := d.Sealer.Seal(ctx, []byte(signing))
	if err != nil {
		return config.Publication{}, nil, fmt.Errorf("seal signing secret: %w", err)
	}
	pub := current
	pub.SecretSealed = sealed
	pub.PreviousSecretSealed, pub.PreviousSecretUntil = nil, time.Time{}
	extra := map[string]any{"signing_secret": signing}
	if overlap > 0 && len(current.SecretSealed) > 0 {
		pub.PreviousSecretSealed = current.SecretSealed
		pub.PreviousSecretUntil = d.Clock()().UTC().Add(overlap).Truncate(time.Second)
		extra["previous_secret_expires_at"] = pub.PreviousSecretUntil
	}
	return pub, extra, nil
}
