// Package stack reads the AWS SAM template of herokuevents (template.yaml,
// embedded by the root package) so that the other mode and the tools use the
// numbers and settings it declares: the SQS→Lambda settings of each consumer
// function (the embedded mode) and each function's environment (local invokes
// under the Lambda runtime interface emulator).
//
// The template is read at the YAML node level: CloudFormation short tags
// (!Ref, !GetAtt, !Sub, !If, ...) become their long forms ({"Ref": x},
// {"Fn::GetAtt": [resource, attribute]}, {"Fn::Sub": ...}). No intrinsic
// function is evaluated except a Ref to a parameter's default.
package samtemplate

import (
	"errors"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/herokuevents/herokuevents/shared/queue"
)

// Resource types read by this package.
const (
	TypeFunction = "AWS::Serverless::Function"
	TypeQueue    = "AWS::SQS::Queue"
)

// ErrNotFound is returned for a resource the template does not declare.
var ErrNotFound = errors.New("not in template")

// ErrInvalid is wrapped by errors about a template that does not have the
// shape this package requires.
var ErrInvalid = errors.New("invalid template")

// Template is a parsed SAM template. Values in Parameters, Globals and
// Resources are plain Go values: map[string]any, []any, string, int,
// float64, bool, nil; intrinsic functions in their long JSON form.
type Template struct {
	Parameters map[string]map[string]any
	Globals    map[string]any
	Resources  map[string]Resource
}

// Resource is one entry of the template's Resources.
type Resource struct {
	Type       string
	Properties map[string]any
	Metadata   map[string]any
	// Condition names the condition the resource is created under, ""
	// for always.
	Condition string
}

// Function is what a function resource declares, merged with the
// Globals.Function section.
type Function struct {
	ID           string
	CodeURI      string
	Handler      string
	Runtime      string
	Architecture string
	Timeout      time.Duration
	MemoryMB     int
	// Env holds the environment variables whose values are literals or a
	// Ref to a template parameter (replaced by its default).
	Env map[string]string
	// Unresolved holds the other environment variables (Ref to a resource,
	// GetAtt, Sub, ...), mapped to a short description of their value, such
	// as "Ref ConfigTable": only a deployment knows them.
	Unresolved map[string]string
	// Queue is the logical id of the SQS queue feeding the function, "" if
	// it has no SQS event: the queue of its first SQS event by name.
	Queue string
	// Queues are the queues of all its SQS events, by event name (the
	// deliver function has a second one, for the FIFO queue of ordered
	// lanes).
	Queues []string
}

// Parse parses a SAM template.
func Parse(template []byte) (*Template, error) {
	var doc yaml.Node
	if err := yaml.Unmarshal(template, &doc); err != nil {
		return nil, fmt.Errorf("parse template: %w", err)
	}
	if len(doc.Content) == 0 {
		return nil, fmt.Errorf("parse template: %w: empty document", ErrInvalid)
	}
	v, err := (&walker{}).value(doc.Content[0], 0)
	if err != nil {
		return nil, fmt.Errorf("parse template: %w", err)
	}
	root, ok := v.(map[string]any)
	if !ok {
		return nil, fmt.Errorf("parse template: %w: top level is not a mapping", ErrInvalid)
	}
	t := &Template{Parameters: map[string]map[string]any{}, Resources: map[string]Resource{}}
	t.Globals, _ = root["Globals"].(map[string]any)
	if ps, ok := root["Parameters"].(map[string]any); ok {
		for name, p := range ps {
			pm, _ := p.(map[string]any)
			t.Parameters[name] = pm
		}
	}
	rs, ok := root["Resources"].(map[string]any)
	if !ok {
		return nil, fmt.Errorf("parse template: %w: no Resources", ErrInvalid)
	}
	for id, r := range rs {
		rm, ok := r.(map[string]any)
		if !ok {
			return nil, fmt.Errorf("parse template: %w: resource %s is not a mapping", ErrInvalid, id)
		}
		res := Resource{}
		res.Type, _ = rm["Type"].(string)
		res.Properties, _ = rm["Properties"].(map[string]any)
		res.Metadata, _ = rm["Metadata"].(map[string]any)
		res.Condition, _ = rm["Condition"].(string)
		if res.Properties == nil {
			res.Properties = map[string]any{}
		}
		t.Resources[id] = res
	}
	return t, nil
}

// Bounds of a template's YAML: a self-referencing alias would recurse
// forever, aliases of aliases expand exponentially.
const (
	maxDepth = 100
	maxNodes = 1 << 20
)

// walker converts YAML nodes, counting them against maxNodes.
type walker struct{ nodes int }

// value converts a YAML node to a plain Go value, turning CloudFormation
// short-form tags into their long form.
func (w *walker) value(n *yaml.Node, depth int) (any, error) {
	if w.nodes++; w.nodes > maxNodes || depth > maxDepth {
		return nil, fmt.Errorf("line %d: %w: nested deeper than %d or larger than %d values (recursive alias?)", n.Line, ErrInvalid, maxDepth, maxNodes)
	}
	var v any
	switch n.Kind {
	case yaml.AliasNode:
		return w.value(n.Alias, depth+1)
	case yaml.MappingNode:
		m := make(map[string]any, len(n.Content)/2)
		for i := 0; i+1 < len(n.Content); i += 2 {
			var k string
			if err := n.Content[i].Decode(&k); err != nil {
				return nil, fmt.Errorf("line %d: %w", n.Content[i].Line, err)
			}
			cv, err := w.value(n.Content[i+1], depth+1)
			if err != nil {
				return nil, err
			}
			m[k] = cv
		}
		v = m
	case yaml.SequenceNode:
		s := make([]any, 0, len(n.Content))
		for _, c := range n.Content {
			cv, err := w.value(c, depth+1)
			if err != nil {
				return nil, err
			}
			s = append(s, cv)
		}
		v = s
	case yaml.ScalarNode:
		if isShortTag(n.Tag) {
			v = n.Value
		} else if err := n.Decode(&v); err != nil {
			return nil, fmt.Errorf("line %d: %w", n.Line, err)
		}
	default:
		return nil, fmt.Errorf("line %d: unexpected YAML node kind %d", n.Line, n.Kind)
	}
	if !isShortTag(n.Tag) {
		return v, nil
	}
	name := strings.TrimPrefix(n.Tag, "!")
	switch name {
	case "Ref", "Condition":
		return map[string]any{name: v}, nil
	case "GetAtt":
		if s, ok := v.(string); ok {
			res, attr, _ := strings.Cut(s, ".")
			v = []any{res, attr}
		}
	}
	return map[string]any{"Fn::" + name: v}, nil
}

// isShortTag reports whether tag is a CloudFormation short form such as
// !Ref (as opposed to a YAML core tag like !!str, or no tag).
func isShortTag(tag string) bool {
	return strings.HasPrefix(tag, "!") && !strings.HasPrefix(tag, "!!")
}

// Functions returns the logical ids of the function resources, sorted.
func (t *Template) Functions() []string {
	var ids []string
	for id, r := range t.Resources {
		if r.Type == TypeFunction {
			ids = append(ids, id)
		}
	}
	slices.Sort(ids)
	return ids
}

// Function returns the function resource id merged with Globals.Function.
func (t *Template) Function(id string) (Function, error) {
	r, ok := t.Resources[id]
	if !ok || r.Type != TypeFunction {
		return Function{}, fmt.Errorf("function %s: %w", id, ErrNotFound)
	}
	global, _ := t.Globals["Function"].(map[string]any)
	prop := func(name string) any {
		if v, ok := r.Properties[name]; ok {
			return v
		}
		return global[name]
	}
	f := Function{ID: id, Env: map[string]string{}, Unresolved: map[string]string{}}
	f.CodeURI, _ = prop("CodeUri").(string)
	f.Handler, _ = prop("Handler").(string)
	f.Runtime, _ = prop("Runtime").(string)
	f.Architecture = "x86_64"
	if archs, ok := prop("Architectures").([]any); ok && len(archs) == 1 {
		f.Architecture, _ = archs[0].(string)
	}
	timeout, err := intValue(prop("Timeout"), 3)
	if err != nil {
		return Function{}, fmt.Errorf("function %s: Timeout: %w", id, err)
	}
	f.Timeout = time.Duration(timeout) * time.Second
	if f.MemoryMB, err = intValue(prop("MemorySize"), 128); err != nil {
		return Function{}, fmt.Errorf("function %s: MemorySize: %w", id, err)
	}
	for _, scope := range []map[string]any{global, r.Properties} {
		env, _ := scope["Environment"].(map[string]any)
		vars, _ := env["Variables"].(map[string]any)
		for name, v := range vars {
			delete(f.Env, name)
			delete(f.Unresolved, name)
			if s, ok := t.literal(v); ok {
				f.Env[name] = s
			} else {
				f.Unresolved[name] = describe(v)
			}
		}
	}
	events, _ := r.Properties["Events"].(map[string]any)
	for _, name := range slices.Sorted(maps.Keys(events)) {
		ev, _ := events[name].(map[string]any)
		if ev["Type"] != "SQS" {
			continue
		}
		props, _ := ev["Properties"].(map[string]any)
		q, err := getAttResource(props["Queue"], "Arn")
		if err != nil {
			return Function{}, fmt.Errorf("function %s: event %s: Queue: %w", id, name, err)
		}
		if slices.Contains(f.Queues, q) {
			return Function{}, fmt.Errorf("function %s: %w: two SQS events of queue %s", id, ErrInvalid, q)
		}
		f.Queues = append(f.Queues, q)
	}
	if len(f.Queues) > 0 {
		f.Queue = f.Queues[0]
	}
	return f, nil
}

// literal returns v as a string when it is a literal or a Ref to a
// parameter with a default.
func (t *Template) literal(v any) (string, bool) {
	switch x := v.(type) {
	case string:
		return x, true
	case int, float64, bool:
		return fmt.Sprint(x), true
	case map[string]any:
		ref, ok := x["Ref"].(string)
		if !ok || len(x) != 1 {
			return "", false
		}
		p, ok := t.Parameters[ref]
		if !ok {
			return "", false
		}
		if d, ok := p["Default"]; ok {
			return fmt.Sprint(d), true
		}
	}
	return "", false
}

// describe renders an unresolved value briefly: "Ref X", "GetAtt X.Y", "Sub".
func describe(v any) string {
	m, ok := v.(map[string]any)
	if !ok || len(m) != 1 {
		return fmt.Sprint(v)
	}
	for k, x := range m {
		name := strings.TrimPrefix(k, "Fn::")
		switch y := x.(type) {
		case string:
			return name + " " + y
		case []any:
			if name == "GetAtt" && len(y) == 2 {
				return fmt.Sprintf("GetAtt %v.%v", y[0], y[1])
			}
		}
		return name
	}
	return ""
}

// getAttResource returns X of {"Fn::GetAtt": [X, attr]}.
func getAttResource(v any, attr string) (string, error) {
	m, _ := v.(map[string]any)
	ga, _ := m["Fn::GetAtt"].([]any)
	if len(ga) != 2 || ga[1] != attr {
		return "", fmt.Errorf("%w: want !GetAtt <Queue>.%s, have %v", ErrInvalid, attr, v)
	}
	id, ok := ga[0].(string)
	if !ok {
		return "", fmt.Errorf("%w: GetAtt resource is not a name", ErrInvalid)
	}
	return id, nil
}

// intValue reads an integer property given as a number or a numeric string;
// nil gives def.
func intValue(v any, def int) (int, error) {
	switch x := v.(type) {
	case nil:
		return def, nil
	case int:
		return x, nil
	case float64:
		if x == float64(int(x)) {
			return int(x), nil
		}
	case string:
		if n, err := strconv.Atoi(x); err == nil {
			return n, nil
		}
	}
	return 0, fmt.Errorf("%w: %v is not an integer", ErrInvalid, v)
}

// Settings returns the SQS→Lambda settings of the consumer function: batch
// size and window and maximum concurrency from its SQS event, the visibility
// timeout and max receives (RedrivePolicy maxReceiveCount) of its queue.
// Missing batch settings take the Lambda defaults (10, no window); a queue
// without a RedrivePolicy or an event without ScalingConfig
// MaximumConcurrency is an ErrInvalid error, as are settings that fail
// queue.Settings.Validate.
func (t *Template) Settings(function string) (queue.Settings, error) {
	f, err := t.Function(function)
	if err != nil {
		return queue.Settings{}, err
	}
	if f.Queue == "" {
		return queue.Settings{}, fmt.Errorf("function %s: %w: no SQS event", function, ErrInvalid)
	}
	return t.QueueSettings(function, f.Queue)
}

// QueueSettings is Settings of the function's SQS event of queue (a
// logical id among Function.Queues).
func (t *Template) QueueSettings(function, queueID string) (queue.Settings, error) {
	f, err := t.Function(function)
	if err != nil {
		return queue.Settings{}, err
	}
	if !slices.Contains(f.Queues, queueID) {
		return queue.Settings{}, fmt.Errorf("function %s: %w: no SQS event of queue %s", function, ErrInvalid, queueID)
	}
	f.Queue = queueID
	ev, _ := t.sqsEvent(function, queueID)
	q, ok := t.Resources[f.Queue]
	if !ok || q.Type != TypeQueue {
		return queue.Settings{}, fmt.Errorf("function %s: queue %s: %w", function, f.Queue, ErrNotFound)
	}
	var s queue.Settings
	if s.BatchSize, err = intValue(ev["BatchSize"], 10); err != nil {
		return queue.Settings{}, fmt.Errorf("function %s: BatchSize: %w", function, err)
	}
	window, err := intValue(ev["MaximumBatchingWindowInSeconds"], 0)
	if err != nil {
		return queue.Settings{}, fmt.Errorf("function %s: MaximumBatchingWindowInSeconds: %w", function, err)
	}
	s.BatchWindow = time.Duration(window) * time.Second
	scaling, _ := ev["ScalingConfig"].(map[string]any)
	if scaling["MaximumConcurrency"] == nil {
		return queue.Settings{}, fmt.Errorf("function %s: %w: no ScalingConfig MaximumConcurrency", function, ErrInvalid)
	}
	if s.Concurrency, err = intValue(scaling["MaximumConcurrency"], 0); err != nil {
		return queue.Settings{}, fmt.Errorf("function %s: MaximumConcurrency: %w", function, err)
	}
	vis, err := intValue(q.Properties["VisibilityTimeout"], 30)
	if err != nil {
		return queue.Settings{}, fmt.Errorf("queue %s: VisibilityTimeout: %w", f.Queue, err)
	}
	s.VisibilityTimeout = time.Duration(vis) * time.Second
	redrive, _ := q.Properties["RedrivePolicy"].(map[string]any)
	if redrive["maxReceiveCount"] == nil {
		return queue.Settings{}, fmt.Errorf("queue %s: %w: no RedrivePolicy maxReceiveCount", f.Queue, ErrInvalid)
	}
	if s.MaxReceives, err = intValue(redrive["maxReceiveCount"], 0); err != nil {
		return queue.Settings{}, fmt.Errorf("queue %s: maxReceiveCount: %w", f.Queue, err)
	}
	if err := s.Validate(); err != nil {
		return queue.Settings{}, fmt.Errorf("function %s: %w: %w", function, ErrInvalid, err)
	}
	return s, nil
}

// sqsEvent returns the Properties of the function's SQS event of queueID.
func (t *Template) sqsEvent(function, queueID string) (map[string]any, bool) {
	events, _ := t.Resources[function].Properties["Events"].(map[string]any)
	for _, e := range events {
		ev, _ := e.(map[string]any)
		if ev["Type"] == "SQS" {
			props, _ := ev["Properties"].(map[string]any)
			if q, err := getAttResource(props["Queue"], "Arn"); err == nil && q == queueID {
				return props, true
			}
		}
	}
	return nil, false
}

// ParseFunction is Parse of what function's settings come from: the
// Globals, the function and its queues when the template is laid out as
// template.yaml is (see resourcesText), the whole template otherwise or
// when that fails. Its Settings and QueueSettings of function are those of
// the whole template.
func ParseFunction(template []byte, function string) (*Template, error) {
	if t, err := subsetOf(template, function); err == nil {
		return t, nil
	}
	return Parse(template)
}

// Settings parses template (ParseFunction) and returns the settings of the
// consumer function (see Template.Settings).
func Settings(template []byte, function string) (queue.Settings, error) {
	t, err := ParseFunction(template, function)
	if err != nil {
		return queue.Settings{}, err
	}
	return t.Settings(function)
}

// MustSettings is Settings for the embedded template, known good by its
// tests: it panics on error.
func MustSettings(template []byte, function string) queue.Settings {
	s, err := Settings(template, function)
	if err != nil {
		panic(err)
	}
	return s
}
