package api

import (
	"errors"
	"strings"
	"time"

	"github.com/herokuevents/herokuevents/shared/config"
	"github.com/herokuevents/herokuevents/shared/mapping"
	"github.com/herokuevents/herokuevents/shared/order"
	"github.com/herokuevents/herokuevents/shared/order/keyer"
	"github.com/herokuevents/herokuevents/shared/platform"
)

// Ordered lanes of a publication (config.Order): ordered, ordered_by and
// on_failure at create and update.

// changeOrder returns the order a publication whose order is current
// gets from the request's fields, and whether they change it. The
// expression is compiled and test-run (keyer.Check).
func changeOrder(f platform.OrderFields, current *config.Order) (*config.Order, bool, error) {
	if f.Ordered == nil && f.OrderedBy == nil && f.OnFailure == nil {
		return current, false, nil
	}
	if f.Ordered != nil && !*f.Ordered {
		if f.OrderedBy != nil || f.OnFailure != nil {
			return nil, false, Invalid("ordered false cannot come with ordered_by or on_failure.")
		}
		return nil, true, nil
	}
	next := config.Order{}
	if current != nil {
		next = *current
	}
	if f.Ordered == nil && f.OrderedBy == nil && current == nil {
		return nil, false, Invalid("on_failure applies to ordered publications: give ordered_by (or ordered) too.")
	}
	if f.OrderedBy != nil {
		by := strings.TrimSpace(*f.OrderedBy)
		if by != "" {
			if err := keyer.Check(by); err != nil {
				if errors.Is(err, mapping.ErrUnavailable) {
					return nil, false, err
				}
				return nil, false, Invalid("ordered_by: %s", err.Error())
			}
		}
		next.By = by
	}
	if f.OnFailure != nil {
		switch v := strings.TrimSpace(*f.OnFailure); v {
		case config.OnFailureSkip, config.OnFailureBlock:
			next.OnFailure = v
		default:
			return nil, false, Invalid("on_failure %q: use skip (dead-letter a lane's head after its retries and go on) or block (keep the lane blocked).", v)
		}
	}
	if next.OnFailure == "" {
		next.OnFailure = config.OnFailureSkip
	}
	return &next, true, nil
}

// orderView is how an ordered publication orders its deliveries, and the
// lanes its failing heads hold.
type orderView struct {
	By        string        `json:"by"`
	OnFailure string        `json:"on_failure"`
	Blocked   []blockedView `json:"blocked,omitempty"`
}

type blockedView struct {
	Key     string    `json:"key"`
	EventID string    `json:"event_id"`
	Since   time.Time `json:"since"`
	Reason  string    `json:"reason,omitempty"`
}

// defaultOrderedBy describes the default key.
const defaultOrderedBy = "default (CDC: ChangeEventHeader.recordIds[0]; others: subject)"

func orderOf(p config.Publication) *orderView {
	if p.Order == nil {
		return nil
	}
	v := &orderView{By: p.Order.By, OnFailure: p.Order.OnFailure}
	if !order.Custom(p.Order) {
		v.By = defaultOrderedBy
	}
	if v.OnFailure == "" {
		v.OnFailure = config.OnFailureSkip
	}
	for _, b := range p.Blocked {
		v.Blocked = append(v.Blocked, blockedView(b))
	}
	return v
}
