package sfsub

import (
	"bytes"
	"encoding/hex"
	"encoding/json"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/herokuevents/herokuevents/shared/config"
	"github.com/herokuevents/herokuevents/shared/event"
	"github.com/herokuevents/herokuevents/shared/salesforce/pubsub"
)

// CloudEvent extension attributes set on Salesforce events. The data is the
// Avro JSON of the event exactly as Salesforce's schema has it (unions
// wrapped, bitmaps raw, as the original product delivered); these carry what
// herokuevents decoded beside it.
const (
	// ExtReplayID is the event's replay id, hex-encoded.
	ExtReplayID = "sfreplayid"
	// ExtEventUUID is the Salesforce EventUuid (ProducerEvent id).
	ExtEventUUID = "sfeventuuid"
	// ExtChangedFields, ExtNulledFields and ExtDiffFields are the decoded
	// ChangeEventHeader bitmaps of a change event: field names joined with
	// ",", compound children as "Parent.Child" (e.g. "Name,BillingAddress.City").
	// Absent when the list is empty.
	ExtChangedFields = "changedfields"
	ExtNulledFields  = "nulledfields"
	ExtDiffFields    = "difffields"
	// ExtChangeType is a change event's ChangeEventHeader.changeType
	// (CREATE, UPDATE, …, GAP_CREATE … GAP_OVERFLOW).
	ExtChangeType = "sfchangetype"
	// ExtGap is true on a CDC gap event (changeType GAP_*): Salesforce
	// could not capture the change itself, only that records changed;
	// read them again from the org.
	ExtGap = "sfgap"
)

// idSpace is the UUIDv5 namespace of Salesforce event ids.
var idSpace = uuid.MustParse("6f1b3c1e-5a3d-4f7e-9a51-7d0c2b8e4a10")

// EventID is the CloudEvent id of the event with replayID on topic received
// by subscription subID: a UUIDv5, so a redelivery keeps it.
func EventID(subID, topic string, replayID []byte) string {
	return uuid.NewSHA1(idSpace, []byte(subID+"\x00"+topic+"\x00"+hex.EncodeToString(replayID))).String()
}

// ToEvent converts a received Salesforce event into the CloudEvent that
// enters herokuevents: id from (subscription, topic, replay id), source
// /tenants/T/subscriptions/NAME, subject = the topic, type
// com.salesforce.platformevent or com.salesforce.cdc, time from CreatedDate or
// ChangeEventHeader.commitTimestamp (else now), data = the Avro JSON.
func ToEvent(tenant string, sub config.Subscription, ev pubsub.Event, now time.Time) event.Event {
	topic := sub.Params.Event
	out := event.Event{
		ID:              EventID(sub.ID, topic, ev.ReplayID),
		Source:          event.Source(tenant, "subscriptions", sub.Name),
		Type:            event.TypePlatformEvent,
		Subject:         topic,
		Time:            now.UTC(),
		DataContentType: "application/json",
		Data:            ev.Data,
		Extensions:      map[string]any{ExtReplayID: hex.EncodeToString(ev.ReplayID)},
	}
	if ev.ID != "" {
		out.Extensions[ExtEventUUID] = ev.ID
	}
	change := ev.Schema != nil && ev.Schema.IsChangeEvent()
	if change {
		out.Type = event.TypeCDC
		if ct := changeType(ev.Data); ct != "" {
			out.Extensions[ExtChangeType] = ct
			if strings.HasPrefix(ct, "GAP_") {
				out.Extensions[ExtGap] = true
			}
		}
		if cf, err := ev.Schema.ChangeFields(ev.Data); err == nil {
			for k, v := range map[string][]string{ExtChangedFields: cf.Changed, ExtNulledFields: cf.Nulled, ExtDiffFields: cf.Diff} {
				if len(v) > 0 {
					out.Extensions[k] = strings.Join(v, ",")
				}
			}
		}
	}
	if t, ok := eventTime(ev.Data, change); ok {
		out.Time = t
	}
	return out
}

// eventTime reads CreatedDate (platform events) or
// ChangeEventHeader.commitTimestamp (change events), epoch milliseconds,
// plain or union-wrapped.
func eventTime(data []byte, change bool) (time.Time, bool) {
	var fields map[string]json.RawMessage
	if json.Unmarshal(data, &fields) != nil {
		return time.Time{}, false
	}
	raw := fields["CreatedDate"]
	if change {
		var h map[string]json.RawMessage
		if json.Unmarshal(unwrap(fields["ChangeEventHeader"]), &h) != nil {
			return time.Time{}, false
		}
		raw = h["commitTimestamp"]
	}
	var ms int64
	if json.Unmarshal(unwrap(raw), &ms) != nil || ms <= 0 {
		return time.Time{}, false
	}
	return time.UnixMilli(ms).UTC(), true
}

// unwrap returns the value of a one-key union object ({"long": 1}), or raw.
func unwrap(raw json.RawMessage) json.RawMessage {
	if !bytes.HasPrefix(bytes.TrimSpace(raw), []byte("{")) {
		return raw
	}
	var m map[string]json.RawMessage
	if json.Unmarshal(raw, &m) != nil || len(m) != 1 {
		return raw
	}
	for _, v := range m {
		return v
	}
	return raw
}

// changeType reads ChangeEventHeader.changeType (an Avro enum: a plain
// string, or union-wrapped), or "".
func changeType(data []byte) string {
	var ev struct {
		Header struct {
			ChangeType json.RawMessage `json:"changeType"`
		} `json:"ChangeEventHeader"`
	}
	if json.Unmarshal(data, &ev) != nil {
		return ""
	}
	var s string
	if json.Unmarshal(unwrap(ev.Header.ChangeType), &s) != nil {
		return ""
	}
	return s
}
