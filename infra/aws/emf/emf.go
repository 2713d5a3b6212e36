// Package emf is the metric.Recorder of the AWS mode: CloudWatch Embedded
// Metric Format lines on stdout, which Lambda sends to CloudWatch Logs and
// CloudWatch turns into metrics with no API call.
package emf

import (
	"context"
	"encoding/json"
	"io"
	"sync"
	"time"

	"github.com/herokuevents/herokuevents/shared/metric"
)

var _ metric.Recorder = (*Recorder)(nil)

// Recorder is a metric.Recorder that writes one CloudWatch Embedded Metric Format JSON
// object per line to W for every observation, in namespace "herokuevents",
// with dimension Role plus the dimensions given to the call. Labels
// (metric.IsLabel: Tenant, Publication, Subscription) are written as
// properties of the line, not dimensions: CloudWatch would make a metric of
// every tenant. Counts use unit Count, durations Milliseconds. Write errors
// are ignored.
type Recorder struct {
	w    io.Writer
	role string
	now  func() time.Time
	mu   sync.Mutex
}

// New returns a Recorder for role writing to w (os.Stdout on Lambda).
func New(w io.Writer, role string) *Recorder {
	return &Recorder{w: w, role: role, now: time.Now}
}

// Count implements metric.Recorder.
func (e *Recorder) Count(_ context.Context, name string, n int, dims ...string) {
	e.write(name, "Count", n, dims)
}

// Duration implements metric.Recorder.
func (e *Recorder) Duration(_ context.Context, name string, d time.Duration, dims ...string) {
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

func (e *Recorder) write(name, unit string, value any, dims []string) {
	doc := map[string]any{}
	keys := []string{"Role"}
	doc["Role"] = e.role
	for i := 0; i+1 < len(dims); i += 2 {
		k, v := dims[i], dims[i+1]
		if _, taken := doc[k]; taken || k == "_aws" || k == name || k == "" {
			continue
		}
		doc[k] = v
		if !metric.IsLabel(k) {
			keys = append(keys, k)
		}
	}
	doc[name] = value
	doc["_aws"] = emfMeta{
		Timestamp: e.now().UnixMilli(),
		CloudWatchMetrics: []emfDirective{{
			Namespace:  metric.Namespace,
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
