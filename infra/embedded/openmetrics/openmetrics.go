// Package openmetrics is the metric.Recorder of the embedded mode: it keeps
// the roles' counters and latency histograms in memory and renders them,
// with gauges read at scrape time (the queues' depth), in the OpenMetrics
// 1.0 text format for GET /metrics (the operator's Basic auth).
//
// Metric names map to families (Families): Ingested → herokuevents_accepted,
// FilteredOut → herokuevents_filtered_out, Delivered → herokuevents_delivered,
// Failed → herokuevents_delivery_failures, Retried → herokuevents_retried,
// DeadLettered → herokuevents_dead_lettered, DeliveryLatency →
// herokuevents_delivery_latency_seconds (a histogram); another name becomes
// herokuevents_<snake_case>. Dimensions and labels of a call become lower
// case labels (tenant, publication, subscription, platform, reason) and
// Role gives role. The text format is small and written by hand: no client
// library is linked.
package openmetrics

import (
	"bytes"
	"context"
	"encoding/binary"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"math"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode"

	"github.com/herokuevents/herokuevents/shared/httpjson"
	"github.com/herokuevents/herokuevents/shared/metric"
)

// ContentType is the media type of the rendered text.
const ContentType = "application/openmetrics-text; version=1.0.0; charset=utf-8"

// DefaultMaxSeries bounds the series a Registry keeps; a new series beyond
// it is dropped and counted in herokuevents_metrics_dropped_series_total.
const DefaultMaxSeries = 10000

// LatencyBuckets are the upper bounds, in seconds, of the latency
// histograms: from 5 ms to an hour (a delivery retried for a while).
var LatencyBuckets = []float64{0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 900, 3600}

type kind string

const (
	counter   kind = "counter"
	histogram kind = "histogram"
	gauge     kind = "gauge"
)

// Family describes one metric family.
type Family struct {
	Name string
	Type kind
	Unit string
	Help string
}

// Families are the families of the metric names of shared/metric.
var Families = map[string]Family{
	metric.Ingested:        {Name: "herokuevents_accepted", Type: counter, Help: "Events accepted from a source: the publish URL, a generator, a Salesforce subscription."},
	metric.FilteredOut:     {Name: "herokuevents_filtered_out", Type: counter, Help: "Events a stream's filter dropped, by publication."},
	metric.Delivered:       {Name: "herokuevents_delivered", Type: counter, Help: "Events a publication accepted."},
	metric.Failed:          {Name: "herokuevents_delivery_failures", Type: counter, Help: "Delivery attempts that failed (retried or dead-lettered)."},
	metric.Retried:         {Name: "herokuevents_retried", Type: counter, Help: "Failed delivery attempts scheduled again."},
	metric.DeadLettered:    {Name: "herokuevents_dead_lettered", Type: counter, Help: "Messages moved to a dead-letter queue."},
	metric.DeliveryLatency: {Name: "herokuevents_delivery_latency_seconds", Type: histogram, Unit: "seconds", Help: "Time from an event to its successful delivery."},
}

// label is one name="value" pair.
type label struct{ name, value string }

// series is one labelled counter or histogram.
type series struct {
	labels  []label
	value   float64  // counter
	buckets []uint64 // histogram: observations ≤ LatencyBuckets[i] (not cumulative)
	count   uint64
	sum     float64
}

// Registry is a metric.Recorder that renders OpenMetrics. Safe for
// concurrent use.
type Registry struct {
	mu       sync.Mutex
	families map[string]Family             // by family name
	series   map[string]map[string]*series // family name → label key → series
	// calls indexes series by the exact arguments of the calls that
	// recorded them (rawKey), so that a repeated call finds its series
	// without normalising its labels again; at most max entries.
	calls   map[string]*series
	nseries int
	max     int
	dropped float64
	gauges  []gaugeFamily
	log     *slog.Logger
}

// gaugeFamily is a gauge whose samples are read at scrape time.
type gaugeFamily struct {
	Family
	label   string
	collect func(ctx context.Context) (map[string]float64, error)
}

var _ metric.Recorder = (*Registry)(nil)

// New returns an empty Registry keeping at most DefaultMaxSeries series.
func New(logger *slog.Logger) *Registry {
	if logger == nil {
		logger = slog.Default()
	}
	return &Registry{families: map[string]Family{}, series: map[string]map[string]*series{}, calls: map[string]*series{}, max: DefaultMaxSeries, log: logger}
}

// SetMaxSeries changes the bound on series (tests).
func (r *Registry) SetMaxSeries(n int) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.max = n
}

// Role returns a Recorder that records into r with the label role=name.
func (r *Registry) Role(name string) metric.Recorder { return roleRecorder{reg: r, role: name} }

type roleRecorder struct {
	reg  *Registry
	role string
}

func (w roleRecorder) Count(ctx context.Context, name string, n int, dims ...string) {
	w.reg.record(name, counter, float64(n), dims, w.role, true)
}

func (w roleRecorder) Duration(ctx context.Context, name string, d time.Duration, dims ...string) {
	w.reg.record(name, histogram, d.Seconds(), dims, w.role, true)
}

func withRole(dims []string, role string) []string {
	return append(append(make([]string, 0, len(dims)+2), dims[:len(dims)&^1]...), "Role", role)
}

// Count implements metric.Recorder.
func (r *Registry) Count(_ context.Context, name string, n int, dims ...string) {
	r.record(name, counter, float64(n), dims, "", false)
}

// Duration implements metric.Recorder: one observation of a histogram in
// seconds.
func (r *Registry) Duration(_ context.Context, name string, d time.Duration, dims ...string) {
	r.record(name, histogram, d.Seconds(), dims, "", false)
}

// record adds v to the series of a call: the one a call with the same
// arguments found before (calls), else the one its normalised labels name
// (add), remembered for the next such call.
func (r *Registry) record(name string, k kind, v float64, dims []string, role string, withRoleLabel bool) {
	if math.IsNaN(v) || (k == counter && v < 0) {
		return
	}
	var buf [256]byte
	key := rawKey(buf[:0], name, k, dims, role, withRoleLabel)
	r.mu.Lock()
	if s := r.calls[string(key)]; s != nil {
		s.observe(k, v)
		r.mu.Unlock()
		return
	}
	r.mu.Unlock()
	if withRoleLabel {
		dims = withRole(dims, role)
	}
	r.add(name, k, v, dims, string(key))
}

// rawKey is the arguments of a call, each string prefixed with its
// length (so that no two calls share a key): the metric name, the kind,
// whether a role label is added and which, and the dimension pairs (an
// unpaired trailing name left out, as labelsOf and withRole do).
func rawKey(b []byte, name string, k kind, dims []string, role string, withRoleLabel bool) []byte {
	str := func(b []byte, s string) []byte { return append(binary.AppendUvarint(b, uint64(len(s))), s...) }
	b = str(b, name)
	b = str(b, string(k))
	if withRoleLabel {
		b = append(b, 1)
		b = str(b, role)
	} else {
		b = append(b, 0)
	}
	for _, d := range dims[:len(dims)&^1] {
		b = str(b, d)
	}
	return b
}

// Gauge adds a gauge family whose samples collect returns at each scrape,
// keyed by the value of its one label (e.g. queue).
func (r *Registry) Gauge(name, help, labelName string, collect func(ctx context.Context) (map[string]float64, error)) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.gauges = append(r.gauges, gaugeFamily{Family: Family{Name: name, Type: gauge, Help: help}, label: labelName, collect: collect})
}

// family returns the family a metric name and kind record into.
func family(name string, k kind) Family {
	if f, ok := Families[name]; ok && f.Type == k {
		return f
	}
	base := "herokuevents_" + snake(name)
	if k == histogram {
		return Family{Name: base + "_seconds", Type: histogram, Unit: "seconds", Help: name + " (seconds)."}
	}
	return Family{Name: base, Type: counter, Help: name + "."}
}

// add records v in the series its normalised labels name, creating it
// when there is room, and remembers it under the call's key.
func (r *Registry) add(name string, k kind, v float64, dims []string, call string) {
	f := family(name, k)
	labels := labelsOf(dims)
	key := labelKey(labels)
	r.mu.Lock()
	defer r.mu.Unlock()
	byKey := r.series[f.Name]
	s := byKey[key]
	if s == nil {
		if r.nseries >= r.max {
			r.dropped++
			return
		}
		if byKey == nil {
			byKey = map[string]*series{}
			r.series[f.Name] = byKey
			r.families[f.Name] = f
		}
		s = &series{labels: labels}
		if k == histogram {
			s.buckets = make([]uint64, len(LatencyBuckets))
		}
		byKey[key] = s
		r.nseries++
	}
	if len(r.calls) < r.max {
		r.calls[call] = s
	}
	s.observe(k, v)
}

// observe adds v to a counter, or one observation v to a histogram.
func (s *series) observe(k kind, v float64) {
	if k == counter {
		s.value += v
		return
	}
	s.count++
	s.sum += v
	if i, _ := slices.BinarySearch(LatencyBuckets, v); i < len(LatencyBuckets) {
		s.buckets[i]++
	}
}

// labelsOf turns name/value pairs into labels sorted by name: names lower
// case, characters outside [a-z0-9_] replaced by _, the first of a
// repeated name kept, an unpaired trailing name ignored.
func labelsOf(dims []string) []label {
	var out []label
	for i := 0; i+1 < len(dims); i += 2 {
		n := labelName(dims[i])
		if n == "" || n == "le" || slices.ContainsFunc(out, func(l label) bool { return l.name == n }) {
			continue
		}
		out = append(out, label{n, dims[i+1]})
	}
	slices.SortFunc(out, func(a, b label) int { return strings.Compare(a.name, b.name) })
	return out
}

func labelName(s string) string {
	var b strings.Builder
	for i, c := range strings.ToLower(s) {
		switch {
		case c >= 'a' && c <= 'z', c == '_', c >= '0' && c <= '9' && i > 0:
			b.WriteRune(c)
		default:
			b.WriteByte('_')
		}
	}
	return b.String()
}

func labelKey(ls []label) string {
	var b strings.Builder
	for _, l := range ls {
		b.WriteString(l.name)
		b.WriteByte(0)
		b.WriteString(l.value)
		b.WriteByte(0)
	}
	return b.String()
}

// snake turns CamelCase into snake_case: ReplayFallback → replay_fallback.
func snake(s string) string {
	var b strings.Builder
	for i, c := range s {
		switch {
		case unicode.IsUpper(c):
			if i > 0 {
				b.WriteByte('_')
			}
			b.WriteRune(unicode.ToLower(c))
		case c >= 'a' && c <= 'z', c >= '0' && c <= '9', c == '_':
			b.WriteRune(c)
		default:
			b.WriteByte('_')
		}
	}
	return b.String()
}

// WriteTo renders every family, sorted by name, in the OpenMetrics text
// format, ending with # EOF. Gauges are collected with ctx; a gauge whose
// collection fails is rendered without samples (and logged).
func (r *Registry) WriteTo(ctx context.Context, w io.Writer) error {
	r.mu.Lock()
	gauges := slices.Clone(r.gauges)
	r.mu.Unlock()
	type gaugeSamples struct {
		gaugeFamily
		values map[string]float64
	}
	var gs []gaugeSamples
	for _, g := range gauges {
		v, err := g.collect(ctx)
		if err != nil {
			r.log.WarnContext(ctx, "collect gauge", "metric", g.Name, "err", err)
			v = nil
		}
		gs = append(gs, gaugeSamples{g, v})
	}

	var b bytes.Buffer
	r.mu.Lock()
	names := make([]string, 0, len(r.families)+len(gs)+1)
	for n := range r.families {
		names = append(names, n)
	}
	byGauge := map[string]gaugeSamples{}
	for _, g := range gs {
		names = append(names, g.Name)
		byGauge[g.Name] = g
	}
	const droppedName = "herokuevents_metrics_dropped_series"
	names = append(names, droppedName)
	slices.Sort(names)
	names = slices.Compact(names)
	for _, n := range names {
		if g, ok := byGauge[n]; ok {
			header(&b, g.Family)
			for _, v := range slices.Sorted(maps.Keys(g.values)) {
				sample(&b, n, []label{{g.label, v}}, g.values[v])
			}
			continue
		}
		if n == droppedName {
			header(&b, Family{Name: n, Type: counter, Help: "Series not recorded because the registry holds its maximum."})
			sample(&b, n+"_total", nil, r.dropped)
			continue
		}
		f := r.families[n]
		header(&b, f)
		byKey := r.series[n]
		for _, k := range slices.Sorted(maps.Keys(byKey)) {
			s := byKey[k]
			if f.Type == counter {
				sample(&b, n+"_total", s.labels, s.value)
				continue
			}
			var cum uint64
			for i, le := range LatencyBuckets {
				cum += s.buckets[i]
				sample(&b, n+"_bucket", append(slices.Clone(s.labels), label{"le", leValue(le)}), float64(cum))
			}
			sample(&b, n+"_bucket", append(slices.Clone(s.labels), label{"le", "+Inf"}), float64(s.count))
			sample(&b, n+"_count", s.labels, float64(s.count))
			sample(&b, n+"_sum", s.labels, s.sum)
		}
	}
	r.mu.Unlock()
	b.WriteString("# EOF\n")
	_, err := w.Write(b.Bytes())
	return err
}

func header(b *bytes.Buffer, f Family) {
	fmt.Fprintf(b, "# TYPE %s %s\n", f.Name, f.Type)
	if f.Unit != "" {
		fmt.Fprintf(b, "# UNIT %s %s\n", f.Name, f.Unit)
	}
	fmt.Fprintf(b, "# HELP %s %s\n", f.Name, escape(f.Help, false))
}

func sample(b *bytes.Buffer, name string, labels []label, v float64) {
	b.WriteString(name)
	if len(labels) > 0 {
		b.WriteByte('{')
		for i, l := range labels {
			if i > 0 {
				b.WriteByte(',')
			}
			b.WriteString(l.name)
			b.WriteString(`="`)
			b.WriteString(escape(l.value, true))
			b.WriteByte('"')
		}
		b.WriteByte('}')
	}
	b.WriteByte(' ')
	b.WriteString(formatFloat(v))
	b.WriteByte('\n')
}

// escape escapes \ and newlines, and " in label values.
func escape(s string, quote bool) string {
	var b strings.Builder
	for _, c := range s {
		switch {
		case c == '\\':
			b.WriteString(`\\`)
		case c == '\n':
			b.WriteString(`\n`)
		case c == '"' && quote:
			b.WriteString(`\"`)
		default:
			b.WriteRune(c)
		}
	}
	return b.String()
}

// leValue is a bucket bound in canonical form: 0.005, 1.0, 3600.0.
func leValue(v float64) string {
	s := strconv.FormatFloat(v, 'f', -1, 64)
	if !strings.Contains(s, ".") {
		s += ".0"
	}
	return s
}

func formatFloat(v float64) string {
	switch {
	case math.IsInf(v, 1):
		return "+Inf"
	case math.IsInf(v, -1):
		return "-Inf"
	case v == math.Trunc(v) && math.Abs(v) < 1e15:
		return strconv.FormatFloat(v, 'f', -1, 64)
	}
	return strconv.FormatFloat(v, 'g', -1, 64)
}

// Handler serves GET /metrics to the operator: HTTP Basic credentials that
// check accepts, else 401 with a JSON error.
func (r *Registry) Handler(check func(user, pass string) bool) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		user, pass, ok := req.BasicAuth()
		if !ok || !check(user, pass) {
			r.log.InfoContext(req.Context(), "metrics request refused", "reason", "bad credentials")
			w.Header().Set("WWW-Authenticate", `Basic realm="herokuevents operator"`)
			httpjson.WriteError(w, httpjson.Unauthorized)
			return
		}
		ctx, cancel := context.WithTimeout(req.Context(), 5*time.Second)
		defer cancel()
		var b bytes.Buffer
		if err := r.WriteTo(ctx, &b); err != nil {
			httpjson.WriteError(w, err)
			return
		}
		w.Header().Set("Content-Type", ContentType)
		w.Header().Set("Cache-Control", "no-store")
		_, _ = w.Write(b.Bytes())
	})
}
