package main

import (
	"fmt"
	"strings"
	"time"

	"github.com/spf13/pflag"
)

// Ordered lanes of a publication: --ordered, --ordered-by EXPR and
// --on-failure skip|block at publications:<platform>:create and
// publications:update; publications:info shows the key and the blocked
// lanes.

// orderFlags are the ordering flags of a create or update command.
type orderFlags struct {
	ordered   bool
	by        string
	onFailure string
}

func addOrderFlags(fl *pflag.FlagSet, update bool) *orderFlags {
	o := &orderFlags{}
	usage := "deliver the events of one key one at a time, in publish order (key: a CDC event's record id, else the CloudEvent subject)"
	if update {
		usage += "; --ordered=false delivers unordered again"
	}
	fl.BoolVar(&o.ordered, "ordered", false, usage)
	fl.StringVar(&o.by, "ordered-by", "", "Bloblang expression over the event giving its ordering key, e.g. this.order_id (implies --ordered)")
	fl.StringVar(&o.onFailure, "on-failure", "", "ordered: when a lane's head outlives its retries, skip (dead-letter it, the lane goes on; the default) or block (the lane waits)")
	return o
}

// body adds the ordering fields the flags set to body; nothing when none
// was given.
func (o *orderFlags) body(fl *pflag.FlagSet, body map[string]any) error {
	if fl.Changed("on-failure") {
		v := strings.TrimSpace(o.onFailure)
		if v != "skip" && v != "block" {
			return fmt.Errorf("--on-failure %q: give skip or block", o.onFailure)
		}
		body["on_failure"] = v
	}
	if fl.Changed("ordered-by") {
		if strings.TrimSpace(o.by) == "" {
			return fmt.Errorf("--ordered-by must not be empty (use --ordered for the default key)")
		}
		body["ordered_by"] = o.by
	}
	if fl.Changed("ordered") {
		if !o.ordered && (fl.Changed("ordered-by") || fl.Changed("on-failure")) {
			return fmt.Errorf("--ordered=false cannot come with --ordered-by or --on-failure")
		}
		body["ordered"] = o.ordered
	}
	return nil
}

// orderInfo is an ordered publication's order, as the API shows it.
type orderInfo struct {
	By        string `json:"by"`
	OnFailure string `json:"on_failure"`
	Blocked   []struct {
		Key     string    `json:"key"`
		EventID string    `json:"event_id"`
		Since   time.Time `json:"since"`
	} `json:"blocked"`
}

// orderFields are the info fields of an ordered publication.
func (p publication) orderFields() []field {
	if p.Order == nil {
		return nil
	}
	fields := []field{{Key: "Ordered By", Values: values(p.Order.By)}, {Key: "On Failure", Values: values(p.Order.OnFailure)}}
	var blocked []string
	for _, b := range p.Order.Blocked {
		blocked = append(blocked, fmt.Sprintf("key %s at event %s since %s", b.Key, b.EventID, b.Since.UTC().Format(time.RFC3339)))
	}
	if len(blocked) > 0 {
		fields = append(fields, field{Key: "Blocked", Values: blocked})
	}
	return fields
}
