// Package salesforce talks to Salesforce: the Pub/Sub API (gRPC over TLS,
// Avro payloads) for subscribing to platform events and Change Data Capture
// and for publishing platform events, and OAuth 2.0 (web-server flow with
// PKCE, JWT bearer, client credentials, refresh, revoke, userinfo).
//
// It is the only package of herokuevents that speaks gRPC. Events are
// exposed as Avro JSON with wrapped unions ({"Context__c":{"string":"x"}}),
// the form the original product delivered; change event bitmaps can be
// decoded into field names with Schema.ChangeFields.
//
// Retries are the caller's: on ErrUnauthenticated the client has already
// invalidated the token of an Invalidator session source, so retrying the
// call (or resubscribing with ReplayCustom) refreshes it; ErrReplayCorrupted
// needs a deliberate fallback preset; ErrUnavailable is worth a backoff.
// The standin package is a local stand-in org, served by `herokuevents dev:salesforce` and used by tests.
package salesforce
