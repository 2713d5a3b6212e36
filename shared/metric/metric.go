// Package metric records operational metrics of the roles (events ingested,
// filtered out, delivered, failed, dead-lettered, delivery latency).
//
// Drivers: EMF writes CloudWatch Embedded Metric Format lines (on Lambda,
// stdout becomes CloudWatch Logs and CloudWatch extracts the metrics from
// them, no API call needed); Discard drops everything (tests, embedded mode).
package metric

import (
	"context"
	"encoding/json"
	"io"
	"sync"
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

// EMF is a Recorder that writes one CloudWatch Embedded Metric Format JSON
// object per line to W for every observation, in namespace "herokuevents",
// with dimension Role plus the dimensions given to the call. Counts use unit
// Count, durations Milliseconds. Write errors are ignored.
type EMF struct {
	w    io.Writer
	role string
	now  func() time.Time
	mu   sync.Mutex
}

// NewEMF returns an EMF recorder for role writing to w (os.Stdout on Lambda).
func NewEMF(w io.Writer, role string) *EMF {
	return &EMF{w: w, role: role, now: time.Now}
}

// Count implements Recorder.
func (e *EMF) Count(_ context.Context, name string, n int, dims ...string) {
	e.write(name, "Count", n, dims)
}

// Duration implements Recorder.
func (e *EMF) Duration(_ context.Context, name string, d time.Duration, dims ...string) {
	e.write(name, "Milliseconds", float64(d)/float64(time.Millisecond), dims)
}

type emfMetric struct {
	Name string `json:"Name"`
	Unit string `json:"Unit"`
}

type emfDirective struct {
	Namespace  string      `json:"Namespace"`
	Dimensions [][]string  `json:"Dimensions"`
	Metrics    []emfMetric `json:"Metrics"`
}

type emfMeta struct {
	Timestamp         int64          `json:"Timestamp"`
	CloudWatchMetrics []emfDirective `json:"CloudWatchMetrics"`
}

func (e *EMF) write(name, unit string, value any, dims []string) {
	doc := map[string]any{}
	keys := []string{"Role"}
	doc["Role"] = e.role
	for i := 0; i+1 < len(dims); i += 2 {
		k, v := dims[i], dims[i+1]
		if _, taken := doc[k]; taken || k == "_aws" || k == name || k == "" {
			continue
		}
		keys = append(keys, k)
		doc[k] = v
	}
	doc[name] = value
	doc["_aws"] = emfMeta{
		Timestamp: e.now().UnixMilli(),
		CloudWatchMetrics: []emfDirective{{
			Namespace:  Namespace,
			Dimensions: [][]string{keys},
			Metrics:    []emfMetric{{Name: name, Unit: unit}},
		}},
	}
	line, err := json.Marshal(doc)
	if err != nil {
		return
	}
	line = append(line, '\n')
	e.mu.Lock()
	defer e.mu.Unlock()
	_, _ = e.w.Write(line)
}
