package api

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/herokuevents/herokuevents/shared/config"
	"github.com/herokuevents/herokuevents/shared/event"
	"github.com/herokuevents/herokuevents/shared/mapping"
	"github.com/herokuevents/herokuevents/shared/recent"
)

// Limits of the filter dry-run (POST /v1/tenants/{T}/streams/test).
const (
	// DefaultTestEvents is how many recent events a dry-run takes without
	// "limit"; MaxTestEvents the most it may ask for.
	DefaultTestEvents = 20
	MaxTestEvents     = 100
	// MaxTestOutput bounds the transformed output returned per event.
	MaxTestOutput = 64 << 10
)

// Results of one event in a dry-run.
const (
	TestKept        = "kept"        // passed unchanged
	TestTransformed = "transformed" // passed, changed by the filter
	TestDropped     = "dropped"     // the filter returned deleted()
	TestError       = "error"       // the filter failed on it: the filter role would dead-letter it
	TestSkipped     = "skipped"     // its data was too large to be kept: not tested
)

// streamTestRequest is the body of POST streams/test.
type streamTestRequest struct {
	// Source is the subscription whose recent events are tested (name or id).
	Source string `json:"source"`
	// Target, with no Filter, names the stream whose filter is tested.
	Target string `json:"target"`
	// Filter is the filter to test; absent or null: the stream's.
	Filter *string `json:"filter"`
	// Limit is how many of the most recent events to test.
	Limit *int `json:"limit"`
}

// streamTestView is the answer of a dry-run: each event, oldest first, and
// the count of each result.
type streamTestView struct {
	Source      string          `json:"source"`
	Target      string          `json:"target,omitempty"`
	Filter      *string         `json:"filter"`
	Events      []testEventView `json:"events"`
	Total       int             `json:"total"`
	Kept        int             `json:"kept"`
	Transformed int             `json:"transformed"`
	Dropped     int             `json:"dropped"`
	Errors      int             `json:"errors"`
	Skipped     int             `json:"skipped"`
}

type testEventView struct {
	ID     string    `json:"id"`
	Type   string    `json:"type"`
	Time   time.Time `json:"time,omitzero"`
	KeptAt time.Time `json:"kept_at,omitzero"`
	Result string    `json:"result"`
	// Data is the event's data as it arrived (absent when too large to keep).
	Data json.RawMessage `json:"data,omitempty"`
	// Output is what the filter made of a transformed event.
	Output json.RawMessage `json:"output,omitempty"`
	// OutputTruncated: the output was larger than MaxTestOutput.
	OutputTruncated bool   `json:"output_truncated,omitempty"`
	Error           string `json:"error,omitempty"`
}

// decodeStreamTest decodes and checks the body of POST streams/test.
func decodeStreamTest(body []byte) (streamTestRequest, error) {
	var req streamTestRequest
	if err := DecodeJSON(body, &req); err != nil {
		return req, err
	}
	req.Source, req.Target = strings.TrimSpace(req.Source), strings.TrimSpace(req.Target)
	if req.Source == "" {
		return req, Invalid("source is required: the name or id of a subscription whose recent events are tested.")
	}
	if req.Limit != nil && (*req.Limit < 1 || *req.Limit > MaxTestEvents) {
		return req, Invalid("limit must be a number from 1 to %d.", MaxTestEvents)
	}
	if req.Filter != nil && strings.TrimSpace(*req.Filter) == "" {
		req.Filter = nil
	}
	if req.Filter == nil && req.Target == "" {
		return req, Invalid("Give a filter to test, or a target: the publication whose stream's filter is tested.")
	}
	return req, nil
}

// testStream runs a filter over the most recent events of a subscription
// and answers what it would do with each. It has no side effect: nothing is
// enqueued, stored or changed.
func (s *Server) testStream(ctx context.Context, t config.Tenant, _ *http.Request, body []byte) (int, any, error) {
	req, err := decodeStreamTest(body)
	if err != nil {
		return 0, nil, err
	}
	sub, err := s.findSubscription(ctx, t.ID, req.Source)
	if err != nil {
		return 0, nil, err
	}
	view := streamTestView{Source: sub.Value.Name, Events: []testEventView{}}
	src := req.Filter
	if req.Target != "" {
		pub, err := s.findPublication(ctx, t.ID, req.Target)
		if err != nil {
			return 0, nil, err
		}
		view.Target = pub.Value.Name
		if src == nil {
			st, err := config.Load[config.Stream](ctx, s.store, t.ID, config.KindStream, config.StreamName(sub.Value.ID, pub.Value.ID))
			if err != nil {
				if errors.Is(err, config.ErrNotFound) {
					return 0, nil, notFound(fmt.Sprintf("Couldn't find that stream: %s does not stream to %s. Pass a filter to test one.", sub.Value.Name, pub.Value.Name))
				}
				return 0, nil, fmt.Errorf("load stream: %w", err)
			}
			src = filterOf(st.Value)
		}
	}
	var m *mapping.Mapping
	if src != nil {
		if m, err = mapping.Compile(*src); err != nil {
			return 0, nil, Invalid("filter: %s", err.Error())
		}
		view.Filter = src
	}
	n := DefaultTestEvents
	if req.Limit != nil {
		n = *req.Limit
	}
	// The store keeps events in the order the filter role saw them, which
	// concurrent batches can shuffle: read every kept one, then take the n
	// latest by the events' own time (publish order), oldest first.
	entries, err := s.recent.Latest(ctx, t.ID, sub.Value.ID, max(n, recent.DefaultPerSubscription))
	if err != nil {
		return 0, nil, fmt.Errorf("read recent events: %w", err)
	}
	slices.SortStableFunc(entries, func(a, b recent.Entry) int { return a.Event.Time.Compare(b.Event.Time) })
	entries = entries[max(0, len(entries)-n):]
	for _, e := range entries {
		v := testEvent(m, e.Event, e.Oversize, e.Size)
		v.KeptAt = e.Kept.UTC()
		view.Events = append(view.Events, v)
		view.Total++
		switch v.Result {
		case TestKept:
			view.Kept++
		case TestTransformed:
			view.Transformed++
		case TestDropped:
			view.Dropped++
		case TestError:
			view.Errors++
		case TestSkipped:
			view.Skipped++
		}
	}
	s.log.InfoContext(ctx, "stream tested", "tenant", t.ID, "subscription", sub.Value.Name, "target", view.Target,
		"events", view.Total, "kept", view.Kept, "transformed", view.Transformed, "dropped", view.Dropped, "errors", view.Errors)
	return http.StatusOK, view, nil
}

// testEvent runs m (nil: no filter, every event passes) on one event as the
// filter role does.
func testEvent(m *mapping.Mapping, ev event.Event, oversize bool, size int) testEventView {
	v := testEventView{ID: ev.ID, Type: ev.Type, Time: ev.Time.UTC(), Data: ev.Data}
	if ev.Time.IsZero() {
		v.Time = time.Time{}
	}
	switch {
	case oversize:
		v.Result = TestSkipped
		v.Error = fmt.Sprintf("The event's data (%d bytes) was too large to be kept for tests.", size)
		return v
	case m == nil:
		v.Result = TestKept
		return v
	}
	out, deleted, err := m.ApplyMeta(ev.Data, event.Meta(ev))
	switch {
	case err != nil:
		v.Result, v.Error = TestError, err.Error()
	case deleted:
		v.Result = TestDropped
	case bytes.Equal(out, ev.Data):
		v.Result = TestKept
	default:
		v.Result = TestTransformed
		if len(out) > MaxTestOutput {
			v.OutputTruncated = true
		} else if json.Valid(out) {
			v.Output = out
		}
	}
	return v
}
