// Package keyer computes the keys of custom --ordered-by expressions
// (config.Order.By) with shared/mapping's bounded workers; default keys
// come from order.DefaultKey.
package keyer

import (
	"errors"
	"fmt"
	"strings"

	"github.com/herokuevents/herokuevents/shared/config"
	"github.com/herokuevents/herokuevents/shared/event"
	"github.com/herokuevents/herokuevents/shared/mapping"
	"github.com/herokuevents/herokuevents/shared/order"
)

// Check validates an --ordered-by expression as a create or update
// request does: not too long, compiles, and cannot only exceed a limit.
// The error wraps mapping.ErrCompile (or ErrLimit, ErrUnavailable).
func Check(expr string) error {
	if strings.TrimSpace(expr) == "" {
		return fmt.Errorf("%w: the expression is empty", mapping.ErrCompile)
	}
	if len(expr) > order.MaxExpression {
		return fmt.Errorf("%w: the expression is longer than %d bytes", mapping.ErrCompile, order.MaxExpression)
	}
	_, err := mapping.Check(order.Source(expr), []byte(`{}`), event.Meta(event.Event{ID: "x", Source: "/check", Type: "check"}))
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
		return Ref{key: order.DefaultKey(ev), job: -1}
	}
	m, err := k.cache.Get(order.Source(o.By))
	if err != nil {
		return Ref{job: -1, err: keyErr(err)}
	}
	meta, js := event.MetaOrJSON(ev)
	*jobs = append(*jobs, mapping.Job{Mapping: m, Data: ev.Data, Meta: meta, MetaJSON: js})
	return Ref{job: len(*jobs) - 1}
}

// Key resolves r with the results of the jobs Plan added to. An error
// wraps order.ErrKey (the expression failed on the event), or
// mapping.ErrUnavailable when no worker could run it (worth retrying).
func (r Ref) Key(results []mapping.Result) (string, error) {
	if r.err != nil || r.job < 0 {
		return r.key, r.err
	}
	res := results[r.job]
	switch {
	case res.Err != nil:
		return "", keyErr(res.Err)
	case res.Deleted:
		return "", nil
	}
	return order.Text(res.Out), nil
}

// Key computes one key (one round trip to the workers for a custom
// expression).
func (k *Keyer) Key(o *config.Order, ev event.Event) (string, error) {
	var jobs []mapping.Job
	r := k.Plan(o, ev, &jobs)
	return r.Key(mapping.ApplyAll(jobs))
}

// keyErr wraps a mapping's error with order.ErrKey, unless no worker
// could run it: that is not the event's fault.
func keyErr(err error) error {
	if errors.Is(err, mapping.ErrUnavailable) {
		return err
	}
	return fmt.Errorf("%w: %w", order.ErrKey, err)
}
