package subscribe

import (
	"encoding/json"
	"fmt"
	"mime"
	"time"

	cloudevent "github.com/cloudevents/sdk-go/v2/event"

	"github.com/herokuevents/herokuevents/shared/event"
)

// Encode returns ev as a CloudEvents 1.0 structured-mode JSON object, as a
// webhook receives it (shared/platform/webhook/cloudevent.Structured, which this
// package does not import: the ingest function links no platform): data
// byte for byte, datacontenttype a JSON type, the dataschema and the
// extension attributes CloudEvents allows.
func Encode(ev event.Event) ([]byte, error) {
	if err := ev.Validate(); err != nil {
		return nil, fmt.Errorf("encode cloudevent: %w", err)
	}
	ce := cloudevent.New(cloudevent.CloudEventsVersionV1)
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
		_ = ce.Context.SetExtension(k, v) // names CloudEvents refuses are left out
	}
	if len(ev.Data) > 0 {
		if !json.Valid(ev.Data) {
			return nil, fmt.Errorf("encode cloudevent %s: data is not valid JSON", ev.ID)
		}
		ct := cloudevent.ApplicationJSON
		if mt, _, err := mime.ParseMediaType(ev.DataContentType); err == nil && (mt == cloudevent.ApplicationJSON || mt == cloudevent.TextJSON) {
			ct = ev.DataContentType
		}
		if err := ce.SetData(ct, []byte(ev.Data)); err != nil {
			return nil, fmt.Errorf("encode cloudevent %s: %w", ev.ID, err)
		}
		ce.DataBase64 = false // the bytes are the JSON value itself
	}
	if err := ce.Validate(); err != nil {
		return nil, fmt.Errorf("encode cloudevent %s: %w", ev.ID, err)
	}
	b, err := ce.MarshalJSON()
	if err != nil {
		return nil, fmt.Errorf("encode cloudevent %s: %w", ev.ID, err)
	}
	return b, nil
}
