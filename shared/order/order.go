// Package order computes the lane keys of ordered publications
// (config.Order, --ordered-by): the deliveries of one key go one at a
// time, in publish order (for Salesforce: replay order), through a queue
// group (queue.Message.Group) of their publication.
//
// The default key is computed here, without Bloblang: a CDC event's record
// id (ChangeEventHeader.recordIds[0]), else the CloudEvent subject. A
// custom expression is Bloblang run by shared/mapping's bounded workers,
// planned beside the stream filters of a batch so that it costs no extra
// round trip (Keyer.Plan).
package order

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"github.com/herokuevents/herokuevents/shared/config"
	"github.com/herokuevents/herokuevents/shared/event"
	"github.com/herokuevents/herokuevents/shared/mapping"
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
			return bound(cdc.Header.RecordIDs[0])
		}
	}
	return bound(ev.Subject)
}

// Source is the Bloblang mapping of an --ordered-by expression: its value
// is the key.
func Source(expr string) string { return "root = (\n" + expr + "\n)" }

// Check validates an --ordered-by expression as a create or update
// request does: not too long, compiles, and cannot only exceed a limit.
// The error wraps mapping.ErrCompile (or ErrLimit, ErrUnavailable).
func Check(expr string) error {
	if strings.TrimSpace(expr) == "" {
		return fmt.Errorf("%w: the expression is empty", mapping.ErrCompile)
	}
	if len(expr) > MaxExpression {
		return fmt.Errorf("%w: the expression is longer than %d bytes", mapping.ErrCompile, MaxExpression)
	}
	_, err := mapping.Check(Source(expr), []byte(`{}`), event.Meta(event.Event{ID: "x", Source: "/check", Type: "check"}))
	return err
}

// Keyer computes keys, compiling each custom expression once. Safe for
// concurrent use.
type Keyer struct {
	cache mapping.Cache
}

// Ref is a key being computed: known already, or the index of its job.
type Ref struct {
	key string
	job int
	err error
}

// Plan returns the key of ev under o, adding to jobs the evaluation of a
// custom expression (resolve it with Key once jobs ran).
func (k *Keyer) Plan(o *config.Order, ev event.Event, jobs *[]mapping.Job) Ref {
	if o == nil || strings.TrimSpace(o.By) == "" {
		return Ref{key: DefaultKey(ev), job: -1}
	}
	m, err := k.cache.Get(Source(o.By))
	if err != nil {
		return Ref{job: -1, err: fmt.Errorf("%w: %w", ErrKey, err)}
	}
	*jobs = append(*jobs, mapping.Job{Mapping: m, Data: ev.Data, Meta: event.Meta(ev)})
	return Ref{job: len(*jobs) - 1}
}

// Key resolves r with the results of the jobs Plan added to. An error
// wraps ErrKey, and mapping.ErrUnavailable when no worker could run it.
func (r Ref) Key(results []mapping.Result) (string, error) {
	if r.err != nil || r.job < 0 {
		return r.key, r.err
	}
	res := results[r.job]
	switch {
	case res.Err != nil:
		return "", fmt.Errorf("%w: %w", ErrKey, res.Err)
	case res.Deleted:
		return "", nil
	}
	return bound(text(res.Out)), nil
}

// Key computes one key (one round trip to the workers for a custom
// expression).
func (k *Keyer) Key(o *config.Order, ev event.Event) (string, error) {
	var jobs []mapping.Job
	r := k.Plan(o, ev, &jobs)
	return r.Key(mapping.ApplyAll(jobs))
}

// text is the key of a result: a JSON string's value, "" for null, any
// other value's JSON text.
func text(out []byte) string {
	out = bytes.TrimSpace(out)
	var s string
	if json.Unmarshal(out, &s) == nil {
		return s
	}
	if string(out) == "null" {
		return ""
	}
	return string(out)
}

func bound(key string) string {
	if len(key) <= MaxKey {
		return key
	}
	sum := sha256.Sum256([]byte(key))
	return "sha256:" + hex.EncodeToString(sum[:])
}
