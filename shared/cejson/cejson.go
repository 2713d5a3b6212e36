// Package cejson is the CloudEvents JSON event format of herokuevents
// events, with the CloudEvents SDK: what a webhook receives in structured
// mode and what a pull subscriber gets. It links the SDK only; the webhook
// engine (shared/platform/webhook/cloudevent) and the subscribe URL
// (shared/subscribe) share it.
package cejson

import (
	"encoding/json"
	"fmt"
	"mime"
	"time"

	sdk "github.com/cloudevents/sdk-go/v2/event"

	"github.com/herokuevents/herokuevents/shared/event"
)

// Structured encodes ev as a CloudEvents 1.0 structured-mode JSON object.
// "time" is ev.Time, or the current time when it is zero (DESIGN §5 wants
// a time on every webhook). "data" is ev.Data byte for byte (it must be valid JSON); datacontenttype is
// ev.DataContentType when it is application/json or text/json (with any
// parameters), else application/json. dataschema is ev.DataSchema.
// Extension names are lower-cased; those CloudEvents does not allow (ASCII
// letters and digits only, not a spec attribute) are left out, and so are
// values of no CloudEvents type.
func Structured(ev event.Event) ([]byte, error) {
	ce, err := New(ev, JSONType(ev.DataContentType))
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

// New is ev as an SDK event whose data has the media type
// dataType (a JSON type).
func New(ev event.Event, dataType string) (*sdk.Event, error) {
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

// JSONType is ct when the SDK writes data of that type verbatim
// (application/json or text/json, with any parameters), else application/json.
func JSONType(ct string) string {
	mt, _, err := mime.ParseMediaType(ct)
	// The SDK writes data verbatim only for these two media types.
	if err == nil && (mt == sdk.ApplicationJSON || mt == sdk.TextJSON) {
		return ct
	}
	return sdk.ApplicationJSON
}
