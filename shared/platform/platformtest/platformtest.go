// Package platformtest is a fake platform for tests that prove a platform
// is one unit: registered in one place, it is offered by the api, used by
// the deliver role and rendered by the CLI, in both modes.
package platformtest

import (
	"context"
	"sync"

	"github.com/herokuevents/herokuevents/shared/config"
	"github.com/herokuevents/herokuevents/shared/event"
	"github.com/herokuevents/herokuevents/shared/httpjson"
	"github.com/herokuevents/herokuevents/shared/platform"
)

// Name is the fake platform's name.
const Name = "fake"

// Delivered is what the fake publisher received.
type Delivered struct {
	Tenant      string
	Publication string
	Bucket      string
	Event       event.Event
}

// Recorder records the fake publisher's deliveries. Safe for concurrent use.
type Recorder struct {
	mu   sync.Mutex
	got  []Delivered
	wait chan struct{}
}

// Got returns the deliveries so far.
func (r *Recorder) Got() []Delivered {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]Delivered(nil), r.got...)
}

// Wait returns a channel closed at the first delivery.
func (r *Recorder) Wait() <-chan struct{} { return r.wait }

// Platform returns the fake platform and the recorder of its publisher: a
// source with a "color" parameter and a target with a "bucket" parameter
// (flag --bucket/-b, required) whose publisher records every event.
func Platform() (platform.Platform, *Recorder) {
	rec := &Recorder{wait: make(chan struct{})}
	var once sync.Once
	p := platform.Platform{
		Name: Name,
		Subscription: &platform.Source{
			Validate: func(_ context.Context, _ platform.Deps, _ string, body []byte) (config.Subscription, error) {
				var req struct {
					platform.SubscriptionFields
					Color string `json:"color"`
				}
				if err := httpjson.Decode(body, &req); err != nil {
					return config.Subscription{}, err
				}
				if req.Color == "" {
					return config.Subscription{}, config.Invalid("color is required.")
				}
				return config.Subscription{Params: config.Params{Event: req.Color}}, nil
			},
			Command: platform.Command{
				Short: "Create a fake subscription",
				Flags: []platform.Flag{{Name: "color", Usage: "a color (required)", Required: true}},
			},
		},
		Publication: &platform.Target{
			Validate: func(_ context.Context, _ platform.Deps, _ string, body []byte) (config.Publication, map[string]any, error) {
				var req struct {
					platform.PublicationFields
					Bucket string `json:"bucket"`
				}
				if err := httpjson.Decode(body, &req); err != nil {
					return config.Publication{}, nil, err
				}
				if req.Bucket == "" {
					return config.Publication{}, nil, config.Invalid("bucket is required.")
				}
				return config.Publication{Params: config.Params{Object: req.Bucket}}, map[string]any{"receipt": "fake-" + req.Bucket}, nil
			},
			Publisher: func(context.Context, platform.Deps) (platform.Publisher, error) {
				return platform.PublisherFunc(func(_ context.Context, tenant string, pub config.Publication, ev event.Event) error {
					rec.mu.Lock()
					rec.got = append(rec.got, Delivered{Tenant: tenant, Publication: pub.Name, Bucket: pub.Params.Object, Event: ev})
					rec.mu.Unlock()
					once.Do(func() { close(rec.wait) })
					return nil
				}), nil
			},
			Command: platform.Command{
				Short: "Create a fake publication",
				Flags: []platform.Flag{{Name: "bucket", Shorthand: "b", Usage: "a bucket (required)", Required: true}},
				Link:  platform.LinkFlags{End: "s", Filter: "f"},
				Shown: []platform.Shown{{Field: "receipt", Lines: "Receipt: {value}\n"}},
			},
		},
	}
	return p, rec
}
