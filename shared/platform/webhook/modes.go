package webhook

import (
	"fmt"
	"maps"
	"mime"
	"net/http"
	"slices"
	"strings"

	cloudevent "github.com/cloudevents/sdk-go/v2/event"
	"github.com/cloudevents/sdk-go/v2/types"

	"github.com/herokuevents/herokuevents/shared/config"
	"github.com/herokuevents/herokuevents/shared/event"
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

// Encode returns the headers and body of a delivery of ev to a
// publication with params p: Structured (Content-Type p.ContentType or
// ContentType) or, in ModeBinary, Binary. The signatures are made over
// these body bytes.
func Encode(ev event.Event, p config.Params) (http.Header, []byte, error) {
	if p.Mode == ModeBinary {
		return Binary(ev)
	}
	body, err := CloudEvent(ev)
	if err != nil {
		return nil, nil, err
	}
	ct := ContentType
	if p.ContentType != "" {
		ct = p.ContentType
	}
	return http.Header{"Content-Type": {ct}}, body, nil
}

// Binary encodes ev in the binary content mode of the CloudEvents HTTP
// binding: the body is ev.Data byte for byte, Content-Type its
// datacontenttype (ev.DataContentType when it is a JSON media type, else
// application/json), and every other attribute a ce-* header whose value
// is its canonical string percent-encoded (event.EncodeHeader):
// ce-specversion, ce-id, ce-source, ce-type, ce-time, ce-subject,
// ce-dataschema and one per extension attribute. The attributes are those
// CloudEvent writes (same checks, same time, same extensions left out).
func Binary(ev event.Event) (http.Header, []byte, error) {
	ce, err := newCloudEvent(ev, binaryType(ev.DataContentType))
	if err != nil {
		return nil, nil, err
	}
	h := http.Header{}
	set := func(name, v string) { h["Ce-"+strings.ToUpper(name[:1])+name[1:]] = []string{event.EncodeHeader(v)} }
	set("specversion", ce.SpecVersion())
	set("id", ce.ID())
	set("source", ce.Source())
	set("type", ce.Type())
	set("time", types.FormatTime(ce.Time()))
	if s := ce.Subject(); s != "" {
		set("subject", s)
	}
	if s := ce.DataSchema(); s != "" {
		set("dataschema", s)
	}
	ext := ce.Extensions()
	for _, k := range slices.Sorted(maps.Keys(ext)) {
		s, err := types.Format(ext[k])
		if err != nil {
			return nil, nil, fmt.Errorf("encode cloudevent %s: extension %s: %w", ev.ID, k, err)
		}
		set(k, s)
	}
	body := []byte(ev.Data)
	if len(body) > 0 {
		h.Set("Content-Type", ce.DataContentType())
	}
	return h, body, nil
}

// binaryType is the Content-Type of a binary-mode body: ct when it is a
// JSON media type (application/json, text/json, any +json), else
// application/json (the data of every event is JSON).
func binaryType(ct string) string {
	mt, _, err := mime.ParseMediaType(ct)
	if err == nil && (mt == cloudevent.ApplicationJSON || mt == cloudevent.TextJSON || strings.HasSuffix(mt, "+json")) {
		return ct
	}
	return cloudevent.ApplicationJSON
}
