// Package metric records operational metrics of the roles (events ingested,
// filtered out, delivered, failed, retried, dead-lettered, delivery latency).
//
// Every metric name has one set of dimensions (Dimensions): each call that
// records it passes exactly those, so that CloudWatch sees one metric per
// name and dimension values, never the same name under two dimension sets
// (scripts/archtest checks every call of the module). A call may add
// labels (Labels: tenant, publication, subscription): too many values to be
// CloudWatch dimensions, the EMF driver writes them as properties of the
// log line (searchable with Logs Insights) and the embedded mode's
// OpenMetrics endpoint as labels.
//
// Drivers: infra/aws/emf writes CloudWatch Embedded Metric Format lines;
// infra/embedded/openmetrics keeps them in memory for GET /metrics;
// Discard drops everything (tests).
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
	Retried         = "Retried"         // delivery attempts that failed and were scheduled again
)

// Dimension names, besides Role which every driver adds (the role that
// records).
const (
	DimPlatform = "Platform" // the platform of the publication or subscription
	DimReason   = "Reason"   // why a message was dead-lettered (Reason*)
)

// Reasons of DeadLettered.
const (
	ReasonPermanent   = "Permanent"   // a role failed the message for good (refused, gone, invalid)
	ReasonMaxReceives = "MaxReceives" // received MaxReceives times without being settled
)

// Label names: high-cardinality values recorded with a metric but never
// CloudWatch dimensions.
const (
	LabelTenant       = "Tenant"
	LabelPublication  = "Publication"  // publication id
	LabelSubscription = "Subscription" // subscription id
)

// Dimensions is the one dimension set of each metric name of this
// package, Role aside. Role-specific metrics (sfsub.ReplayFallback,
// generate.MetricErrors) have one set too: Platform.
var Dimensions = map[string][]string{
	Ingested:        {DimPlatform},
	FilteredOut:     {},
	Delivered:       {DimPlatform},
	Failed:          {DimPlatform},
	Retried:         {DimPlatform},
	DeadLettered:    {DimReason},
	DeliveryLatency: {DimPlatform},
}

// IsLabel reports whether name is a label, not a dimension.
func IsLabel(name string) bool {
	return name == LabelTenant || name == LabelPublication || name == LabelSubscription
}

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
