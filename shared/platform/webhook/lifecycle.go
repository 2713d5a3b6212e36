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

// Delivery modes and structured-mode media types a webhook publication may
// be given (params mode and content_type; "" is the default: structured,
// application/cloudevents+json).
var (
	updateModes        = []string{"structured", "binary"}
	updateContentTypes = []string{ContentType, "application/json"}
)

// validateUpdate changes a webhook publication: url (checked as at
// create), token (sealed; "" removes it), mode and content_type. The
// signing secret changes only through rotateSecret.
func validateUpdate(ctx context.Context, d platform.Deps, _ string, current config.Publication, body []byte) (config.Publication, map[string]any, error) {
	var req struct {
		platform.UpdateFields
		URL         *string `json:"url"`
		Token       *string `json:"token"`
		Mode        *string `json:"mode"`
		ContentType *string `json:"content_type"`
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
	if req.Mode != nil {
		if *req.Mode != "" && !oneOf(*req.Mode, updateModes) {
			return config.Publication{}, nil, config.Invalid("mode %q: use %s.", *req.Mode, strings.Join(updateModes, " or "))
		}
		pub.Params.Mode = *req.Mode
	}
	if req.ContentType != nil {
		if *req.ContentType != "" && !oneOf(*req.ContentType, updateContentTypes) {
			return config.Publication{}, nil, config.Invalid("content_type %q: use %s.", *req.ContentType, strings.Join(updateContentTypes, " or "))
		}
		pub.Params.ContentType = *req.ContentType
	}
	return pub, nil, nil
}

func oneOf(v string, list []string) bool {
	for _, s := range list {
		if v == s {
			return true
		}
	}
	return false
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
