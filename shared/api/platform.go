package api

import (
	"time"

	"github.com/herokuevents/herokuevents/shared/config"
	"github.com/herokuevents/herokuevents/shared/platform"
)

// SubscriptionFields are the fields every subscription create body may carry.
type SubscriptionFields = platform.SubscriptionFields

// PublicationFields are the fields every publication create body may carry.
type PublicationFields = platform.PublicationFields

// IndexTime formats t as a config.Item Index (config.IndexTime).
func IndexTime(t time.Time) string { return config.IndexTime(t) }
