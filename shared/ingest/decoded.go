package ingest

import "github.com/herokuevents/herokuevents/shared/config"

// What a publish reads of the store is read with config.Read: from the
// data plane's cache (config.Cached) each item is decoded once per change,
// not at every publish. These types hold only what a publish needs, and
// what they read is never modified.

// credentials are what a publish needs of its tenant.
type credentials struct {
	ID             string `json:"id"`
	Plan           string `json:"plan"`
	PublishKeyHash string `json:"publish_key_hash"`
}

// inbound is what a publish needs of a subscription.
type inbound struct {
	ID       string `json:"id"`
	Name     string `json:"name"`
	Platform string `json:"platform"`
}

// target is what a publish needs of a publication.
type target struct {
	Disabled bool          `json:"disabled"`
	Reason   string        `json:"disabled_reason"`
	Order    *config.Order `json:"order"`
}
