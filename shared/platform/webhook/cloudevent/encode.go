package cloudevent

import (
	"fmt"
	"maps"
	"mime"
	"net/http"
	"slices"
	"strings"

	sdk "github.com/cloudevents/sdk-go/v2/event"
	"github.com/cloudevents/sdk-go/v2/types"

	"github.com/herokuevents/herokuevents/shared/cejson"
	"github.com/herokuevents/herokuevents/shared/config"
	"github.com/herokuevents/herokuevents/shared/event"
	"github.com/herokuevents/herokuevents/shared/platform/webhook"
)

// Encode returns the headers and body of a delivery of ev to a
// publication with params p: Structured (Content-Type p.ContentType or
// webhook.ContentType) or, in webhook.ModeBinary, Binary. The signatures are made over
// these body bytes.
func Encode(ev event.Event, p config.Params) (http.Header, []byte, error) {
	if p.Mode == webhook.ModeBinary {
		return Binary(ev)
	}
	body, err := Structured(ev)
	if err != nil {
		return nil, nil, err
	}
	ct := webhook.ContentType
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
// Structured writes (same checks, same time, same extensions left out).
func Binary(ev event.Event) (http.Header, []byte, error) {
	ce, err := cejson.New(ev, binaryType(ev.DataContentType))
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
	if err == nil && (mt == sdk.ApplicationJSON || mt == sdk.TextJSON || strings.HasSuffix(mt, "+json")) {
		return ct
	}
	return sdk.ApplicationJSON
}
