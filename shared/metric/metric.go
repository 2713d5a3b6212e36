// Package metric records operational metrics of the roles (events ingested,
// filtered out, delivered, failed, dead-lettered, delivery latency).
//
// Drivers: infra/aws/emf writes CloudWatch Embedded Metric Format lines;
// Discard drops everything (tests, embedded mode).
package metric

import (
	"context"
	"time"
)

// Metric names recorded by the roles.
const (
	Ingested        = "Ingested"        // events accepted from a source
	FilteredOut     = "FilteredOut"     // events a stream filter dropped
	Delivered       = "Delivered"       // events a publication accepted
	Failed          = "Failed"          // delivery attempts that failed
	DeadLettered    = "DeadLettered"    // messages moved to a dead-letter queue
	DeliveryLatency = "DeliveryLatency" // time from event to successful delivery
)

// Namespace is the CloudWatch namespace of every herokuevents metric.
const Namespace = "herokuevents"

// Recorder records metrics. dims are dimension name/value pairs
// ("Platform", "webhook", ...); an unpaired trailing name is ignored.
// Recording never fails and never blocks on the network: metrics are best
// effort and a broken sink must not break event processing. Implementations
// are safe for concurrent use.
type Recorder interface {
	// Count adds n to the counter name.
	Count(ctx context.Context, name string, n int, dims ...string)
	// Duration records one observation d of the timer name.
	Duration(ctx context.Context, name string, d time.Duration, dims ...string)
}

// Discard is a Recorder that records nothing.
var Discard Recorder = discard{}

type discard struct{}

func (discard) Count(context.Context, string, int, ...string)              {}
func (discard) Duration(context.Context, string, time.Duration, ...string) {}
