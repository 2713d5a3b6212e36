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
)

// Topic checks of the salesforce package, for the runner.
var (
	ValidSubscribeTopic = salesforce.ValidSubscribeTopic
	ValidPublishTopic   = salesforce.ValidPublishTopic
	IsChangeTopic       = salesforce.IsChangeTopic
)
