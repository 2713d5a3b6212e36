package config

import "time"

// Order is how an ordered publication puts its deliveries in lanes.
type Order struct {
	// By is the Bloblang expression over the event giving its key ("": the
	// default: a CDC event's record id, ChangeEventHeader.recordIds[0],
	// else the CloudEvent subject).
	By string `json:"by,omitempty"`
	// OnFailure is what happens to a lane whose head outlives its
	// retries: OnFailureSkip ("" too) dead-letters it and the lane moves
	// on; OnFailureBlock keeps the lane blocked (Publication.Blocked).
	OnFailure string `json:"on_failure,omitempty"`
}

// What an ordered lane does when its head outlives its retries.
const (
	OnFailureSkip  = "skip"
	OnFailureBlock = "block"
)

// Blocks reports whether a lane whose head outlived its retries stays
// blocked.
func (o *Order) Blocks() bool { return o != nil && o.OnFailure == OnFailureBlock }

// MaxBlocked bounds Publication.Blocked: lanes blocked past it are not
// listed (they are blocked all the same).
const MaxBlocked = 50

// BlockedLane is a lane of an ordered publication held by its head.
type BlockedLane struct {
	Key     string    `json:"key"`
	EventID string    `json:"event_id"`
	Since   time.Time `json:"since"`
	Reason  string    `json:"reason,omitempty"`
}
