package subscribe

import (
	"github.com/herokuevents/herokuevents/shared/cejson"
	"github.com/herokuevents/herokuevents/shared/event"
)

// Encode returns ev as a CloudEvents 1.0 structured-mode JSON object, as a
// webhook receives it (cejson.Structured, shared with the webhook engine).
func Encode(ev event.Event) ([]byte, error) { return cejson.Structured(ev) }
