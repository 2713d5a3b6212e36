package sfsub

import (
	"github.com/herokuevents/herokuevents/shared/config"
	"github.com/herokuevents/herokuevents/shared/salesforce"
)

// Replay presets of a Salesforce subscription (config.Subscription.Replay):
// where it starts when it has no checkpoint, and where it resumes when its
// checkpoint is corrupted or expired (see Runner).
const (
	ReplayLatest   = config.ReplayLatest
	ReplayEarliest = config.ReplayEarliest
)

// Status values of config.SourceState set by this package.
const (
	StatusPending = config.StatusPending // created, not consumed yet
	StatusActive  = config.StatusActive  // consuming
	StatusFailing = config.StatusFailing // the last attempt failed; see LastError
	// StatusStalled: neither events nor keepalives came for twice the
	// keepalive interval; the stream is being reconnected.
	StatusStalled = "stalled"
)

// Gap policies (config.Params.OnReplayGap): where a subscription resumes
// when Salesforce refuses its stored replay id (expired after 72 h, or
// corrupted).
const (
	GapEarliest = "earliest" // the oldest retained event (the default): nothing newer is skipped
	GapLatest   = "latest"   // the next event published: events since the checkpoint are skipped
	GapHalt     = "halt"     // stay failing at the checkpoint, retrying with backoff: nothing is skipped
)

// GapPolicy is a subscription's gap policy, GapEarliest when unset.
func GapPolicy(sub config.Subscription) string {
	if sub.Params.OnReplayGap == "" {
		return GapEarliest
	}
	return sub.Params.OnReplayGap
}

// Topic checks of the salesforce package, for the runner.
var (
	ValidSubscribeTopic = salesforce.ValidSubscribeTopic
	ValidPublishTopic   = salesforce.ValidPublishTopic
	IsChangeTopic       = salesforce.IsChangeTopic
)
