package webhook

import (
	"github.com/herokuevents/herokuevents/shared/config"
)

// Delivery modes of a webhook publication (config.Params.Mode), the
// content modes of the CloudEvents HTTP protocol binding.
const (
	// ModeStructured: the whole CloudEvent as JSON in the body (the
	// default, stored as "").
	ModeStructured = "structured"
	// ModeBinary: the event's data as the body with its datacontenttype as
	// Content-Type, every other attribute (extensions included) in a
	// percent-encoded ce-* header.
	ModeBinary = "binary"
)

// ContentType is the media type of structured-mode CloudEvents requests.
const ContentType = "application/cloudevents+json"

// UserAgent identifies herokuevents to webhook receivers.
const UserAgent = "herokuevents-webhook/1"

// LegacyContentType is the Content-Type option of structured deliveries
// for receivers that want application/json (what the original product
// apparently sent): the body is the same structured CloudEvent.
const LegacyContentType = "application/json"

// CheckMode validates the delivery options of a create (or update) body
// and returns them as config.Params stores them: mode "" (structured, the
// default) or ModeBinary; contentType "" (application/cloudevents+json)
// or LegacyContentType, which only structured mode takes. Bad values are
// config.ErrInvalid problems.
func CheckMode(mode, contentType string) (string, string, error) {
	switch mode {
	case "", ModeStructured:
		mode = ""
	case ModeBinary:
	default:
		return "", "", config.Invalid("mode %q: use %s or %s.", mode, ModeStructured, ModeBinary)
	}
	switch contentType {
	case "", ContentType:
		contentType = ""
	case LegacyContentType:
		if mode == ModeBinary {
			return "", "", config.Invalid("content_type applies to structured mode; binary mode sends the data's own datacontenttype as Content-Type.")
		}
	default:
		return "", "", config.Invalid("content_type %q: use %s (the default) or %s.", contentType, ContentType, LegacyContentType)
	}
	return mode, contentType, nil
}
