// Package dataaction is the inbound side of Data Cloud data actions: a
// `datacloud` subscription is a data action webhook target. Data Cloud
// POSTs a batch of DataObjectDataChgEvent records to the target's URL,
// signed with the target's signing key (reference salesforce.md §5.3):
//
//	POST {base}/dataactions/{tenant}/{subscription id}
//	x-signature: base64(HMAC-SHA256(key = signing key (UTF-8), msg = raw body))
//	{"creationDateTime":"…","count":n,"schemas":[…],"events":[{…},…]}
//
// A request is verified over its raw bytes in constant time, refused when
// its creationDateTime is further than MaxSkew from now (a replayed
// request), and split into one CloudEvent per event (type from the
// action, subject the object), each routed through the subscription's
// streams like any other subscription's events. Forged, stale or malformed
// requests are refused (401, 400) and nothing is enqueued.
package dataaction

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/herokuevents/herokuevents/shared/event"
	"github.com/herokuevents/herokuevents/shared/httpjson"
)

// Path is the path under which data action targets are served:
// {base}/dataactions/{tenant}/{subscription id}.
const Path = "/dataactions"

// HeaderSignature is the header Data Cloud signs requests in.
const HeaderSignature = "X-Signature"

// MaxSkew is how far a request's creationDateTime may be from now.
const MaxSkew = 5 * time.Minute

// MaxEvents bounds the events of one request.
const MaxEvents = 1000

// TypePrefix prefixes the action's developer name in the CloudEvent type.
const TypePrefix = "com.salesforce.datacloud.dataaction."

// Sign returns the x-signature of body with key: base64 of its
// HMAC-SHA256, as Data Cloud computes it.
func Sign(key string, body []byte) string {
	m := hmac.New(sha256.New, []byte(key))
	m.Write(body)
	return base64.StdEncoding.EncodeToString(m.Sum(nil))
}

// Verify reports whether signature is the HMAC-SHA256 of the raw body
// with key, in standard base64 (as documented) or hex, compared in
// constant time.
func Verify(key string, body []byte, signature string) bool {
	signature = strings.TrimSpace(signature)
	if key == "" || signature == "" {
		return false
	}
	m := hmac.New(sha256.New, []byte(key))
	m.Write(body)
	want := m.Sum(nil)
	got, err := base64.StdEncoding.DecodeString(signature)
	if err != nil || len(got) != len(want) {
		if got, err = hex.DecodeString(signature); err != nil {
			return false
		}
	}
	return hmac.Equal(got, want)
}

// Request is a decoded data action request.
type Request struct {
	// Created is the request's creationDateTime.
	Created time.Time
	// Schemas are the action schemas by schemaId (the action's name).
	Schemas map[string]json.RawMessage
	// Records are the events of the batch, as sent.
	Records []Record
}

// Record is one event of a batch: its raw JSON and the fields that name it.
type Record struct {
	Raw json.RawMessage
	// Action is ActionDeveloperName; Object SourceObjectDeveloperName.
	Action, Object string
	// UUID is EventUuid; Prompt is EventPrompt (INSERT, UPDATE, DELETE).
	UUID, Prompt string
	// Created is EventCreationDateTime (zero when absent or unreadable).
	Created time.Time
}

// wire is the request body.
type wire struct {
	CreationDateTime *string `json:"creationDateTime"`
	Count            *int    `json:"count"`
	Schemas          []struct {
		SchemaID string          `json:"schemaId"`
		Schema   json.RawMessage `json:"schema"`
	} `json:"schemas"`
	Events []json.RawMessage `json:"events"`
}

// fields are the keys of an event that name it (JSON keys match
// case-insensitively: the exact casing Data Cloud sends is not documented).
type fields struct {
	ActionDeveloperName       string `json:"ActionDeveloperName"`
	SourceObjectDeveloperName string `json:"SourceObjectDeveloperName"`
	EventUUID                 string `json:"EventUuid"`
	EventPrompt               string `json:"EventPrompt"`
	EventCreationDateTime     any    `json:"EventCreationDateTime"`
}

// Decode decodes a request body. Its errors are 400 *httpjson.Error with
// a message for the sender.
func Decode(body []byte) (Request, error) {
	trimmed := httpjson.TrimSpace(body)
	if len(trimmed) == 0 || trimmed[0] != '{' || !json.Valid(trimmed) {
		return Request{}, httpjson.BadRequest("The body must be a data action JSON object.")
	}
	if httpjson.Depth(trimmed) > httpjson.MaxDepth {
		return Request{}, httpjson.BadRequest("The JSON is nested deeper than %d levels.", httpjson.MaxDepth)
	}
	var w wire
	if err := json.Unmarshal(trimmed, &w); err != nil {
		return Request{}, httpjson.BadRequest("The body is not a data action: %s.", strings.TrimPrefix(err.Error(), "json: "))
	}
	if w.CreationDateTime == nil {
		return Request{}, httpjson.BadRequest("creationDateTime is required.")
	}
	created, ok := parseTime(*w.CreationDateTime)
	if !ok {
		return Request{}, httpjson.BadRequest("creationDateTime %q is not a date-time.", httpjson.Short(*w.CreationDateTime))
	}
	if len(w.Events) == 0 {
		return Request{}, httpjson.BadRequest("events is empty.")
	}
	if len(w.Events) > MaxEvents {
		return Request{}, httpjson.BadRequest("At most %d events per request.", MaxEvents)
	}
	if w.Count != nil && *w.Count != len(w.Events) {
		return Request{}, httpjson.BadRequest("count is %d but events holds %d.", *w.Count, len(w.Events))
	}
	req := Request{Created: created, Schemas: map[string]json.RawMessage{}}
	for _, s := range w.Schemas {
		if s.SchemaID != "" {
			req.Schemas[s.SchemaID] = s.Schema
		}
	}
	for i, raw := range w.Events {
		raw = json.RawMessage(httpjson.TrimSpace(raw))
		if len(raw) == 0 || raw[0] != '{' {
			return Request{}, httpjson.BadRequest("events[%d] is not a JSON object.", i)
		}
		var f fields
		if err := json.Unmarshal(raw, &f); err != nil {
			return Request{}, httpjson.BadRequest("events[%d]: %s.", i, strings.TrimPrefix(err.Error(), "json: "))
		}
		rec := Record{Raw: raw, Action: f.ActionDeveloperName, Object: f.SourceObjectDeveloperName, UUID: f.EventUUID, Prompt: f.EventPrompt}
		switch v := f.EventCreationDateTime.(type) {
		case string:
			rec.Created, _ = parseTime(v)
		case float64:
			rec.Created = time.UnixMilli(int64(v)).UTC()
		}
		if rec.Action == "" && len(w.Schemas) == 1 {
			rec.Action = w.Schemas[0].SchemaID
		}
		if rec.Action == "" {
			return Request{}, httpjson.BadRequest("events[%d]: ActionDeveloperName is required.", i)
		}
		req.Records = append(req.Records, rec)
	}
	return req, nil
}

// parseTime reads an ISO 8601 date-time (with or without fraction and
// zone, as Salesforce writes them) or epoch milliseconds.
func parseTime(s string) (time.Time, bool) {
	for _, layout := range []string{time.RFC3339Nano, "2006-01-02T15:04:05.000Z0700", "2006-01-02T15:04:05Z0700", "2006-01-02T15:04:05.000", "2006-01-02T15:04:05"} {
		if t, err := time.Parse(layout, s); err == nil {
			return t.UTC(), true
		}
	}
	return time.Time{}, false
}

// ErrStale: the request's creationDateTime is further than MaxSkew from now.
var ErrStale = errors.New("data action request is stale")

// CheckTime refuses a request created further than MaxSkew from now.
func CheckTime(created, now time.Time) error {
	if d := now.Sub(created); d > MaxSkew || d < -MaxSkew {
		return fmt.Errorf("%w: created %s, %s from now", ErrStale, created.Format(time.RFC3339), d.Round(time.Second))
	}
	return nil
}

// Events returns the CloudEvents of a request for the subscription source
// (event.Source of it): one per record, id EventUuid (or, without one, a
// digest of the subscription and the record, stable across Data Cloud's
// retries), type TypePrefix + the action, subject the object, time
// EventCreationDateTime (or the request's), data the record as sent.
func (r Request) Events(subscription, source string) []event.Event {
	out := make([]event.Event, 0, len(r.Records))
	for _, rec := range r.Records {
		id := rec.UUID
		if id == "" || len(id) > 128 {
			sum := sha256.Sum256(append([]byte(subscription+"\x00"), compact(rec.Raw)...))
			id = hex.EncodeToString(sum[:16])
		}
		at := rec.Created
		if at.IsZero() {
			at = r.Created
		}
		ev := event.Event{
			ID: id, Source: source, Type: TypePrefix + rec.Action, Subject: rec.Object, Time: at,
			DataContentType: "application/json", Data: rec.Raw,
		}
		out = append(out, ev)
	}
	return out
}

func compact(b []byte) []byte {
	var buf bytes.Buffer
	if json.Compact(&buf, b) != nil {
		return b
	}
	return buf.Bytes()
}
