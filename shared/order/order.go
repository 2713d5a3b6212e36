// Package order computes the lane keys of ordered publications
// (config.Order, --ordered-by): the deliveries of one key go one at a
// time, in publish order (for Salesforce: replay order), through a queue
// group (queue.Message.Group) of their publication.
//
// The default key is computed here, without Bloblang: a CDC event's record
// id (ChangeEventHeader.recordIds[0]), else the CloudEvent subject. A
// custom expression is Bloblang run by shared/mapping's bounded workers
// (package keyer), planned beside the stream filters of a batch so that it
// costs no extra round trip; this package stays free of Bloblang, so that
// the ingest function, which computes default keys, does not link it.
package order

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"strings"

	"github.com/herokuevents/herokuevents/shared/config"
	"github.com/herokuevents/herokuevents/shared/event"
)

// MaxKey is the longest key kept as it is; a longer one becomes
// "sha256:" and its digest, so that lanes stay distinct and small.
const MaxKey = 128

// MaxExpression bounds the text of an --ordered-by expression.
const MaxExpression = 4 << 10

// ErrKey wraps the errors of a key expression that failed on an event.
var ErrKey = errors.New("ordering key")

// DefaultKey is ev's key under the default expression: the first record
// id of a Salesforce CDC event, else its subject ("" when it has none: the
// publication's keyless events share one lane).
func DefaultKey(ev event.Event) string {
	if ev.Type == event.TypeCDC {
		var cdc struct {
			Header struct {
				RecordIDs []string `json:"recordIds"`
			} `json:"ChangeEventHeader"`
		}
		if json.Unmarshal(ev.Data, &cdc) == nil && len(cdc.Header.RecordIDs) > 0 {
			return Bound(cdc.Header.RecordIDs[0])
		}
	}
	return Bound(ev.Subject)
}

// Source is the Bloblang mapping of an --ordered-by expression: its value
// is the key. The expression starts on the first line, so that the line
// numbers of its compile errors are its own; the closing parenthesis is
// on a line of its own, after any trailing comment.
func Source(expr string) string { return "root = (" + expr + "\n)" }

// Custom reports whether o has a custom expression (else its keys are
// DefaultKey's).
func Custom(o *config.Order) bool { return o != nil && strings.TrimSpace(o.By) != "" }

// Text is the key of a mapping's result: a JSON string's value, "" for
// null, any other value's JSON text; bounded (Bound).
func Text(out []byte) string {
	out = bytes.TrimSpace(out)
	var s string
	if json.Unmarshal(out, &s) == nil {
		return Bound(s)
	}
	if string(out) == "null" {
		return ""
	}
	return Bound(string(out))
}

// Bound keeps key as it is up to MaxKey bytes, else makes it "sha256:"
// and its digest.
func Bound(key string) string {
	if len(key) <= MaxKey {
		return key
	}
	sum := sha256.Sum256([]byte(key))
	return "sha256:" + hex.EncodeToString(sum[:])
}
