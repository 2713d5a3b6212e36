package platform_test

import (
	"context"
	"errors"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/herokuevents/herokuevents/infra/embedded/filesealer"
	"github.com/herokuevents/herokuevents/shared/config"
	"github.com/herokuevents/herokuevents/shared/config/memstore"
	"github.com/herokuevents/herokuevents/shared/event"
	"github.com/herokuevents/herokuevents/shared/platform"
	"github.com/herokuevents/herokuevents/shared/platform/catalog"
	"github.com/herokuevents/herokuevents/shared/platform/platformtest"
	"github.com/herokuevents/herokuevents/shared/sink"
)

func deps(t *testing.T) platform.Deps {
	t.Helper()
	sealer, err := filesealer.New(make([]byte, filesealer.KeySize))
	require.NoError(t, err)
	return platform.Deps{Store: memstore.New(), Sealer: sealer, Egress: sink.NewEgress(nil)}
}

func TestNewRegistryRefusesMistakes(t *testing.T) {
	fake, _ := platformtest.Platform()
	noPublisher := fake
	noPublisher.Publication = &platform.Target{Validate: fake.Publication.Validate}
	tests := []struct {
		name      string
		d         func(platform.Deps) platform.Deps
		platforms []platform.Platform
		err       string
	}{
		{"catalog", nil, catalog.All(), ""},
		{"missing store", func(d platform.Deps) platform.Deps { d.Store = nil; return d }, catalog.All(), "Deps.Store"},
		{"listed twice", nil, append(catalog.All(), catalog.All()[0]), "listed twice"},
		{"bad name", nil, []platform.Platform{{Name: "Web-Hook", Subscription: fake.Subscription}}, "platform name"},
		{"neither side", nil, []platform.Platform{{Name: "empty"}}, "neither a source nor a target"},
		{"target without publisher", nil, []platform.Platform{noPublisher}, "Publisher are required"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := deps(t)
			if tt.d != nil {
				d = tt.d(d)
			}
			_, err := platform.NewRegistry(d, tt.platforms...)
			if tt.err == "" {
				assert.NoError(t, err)
				return
			}
			require.Error(t, err)
			assert.Contains(t, err.Error(), tt.err)
		})
	}
}

func TestRegistry(t *testing.T) {
	fake, rec := platformtest.Platform()
	r, err := platform.NewRegistry(deps(t), append(catalog.All(), fake)...)
	require.NoError(t, err)

	names := []string{}
	for _, p := range r.Platforms() {
		names = append(names, p.Name)
	}
	assert.Equal(t, []string{"webhook", "generate", "salesforce", "datacloud", "fake"}, names)

	_, err = r.Subscription(t.Context(), "t1", "nope", []byte(`{"name":"x"}`))
	assert.ErrorIs(t, err, config.ErrInvalid)
	assert.ErrorIs(t, err, platform.ErrUnsupported)
	assert.EqualError(t, err, "platform nope is not supported yet for subscriptions.")
	_, _, err = r.Publication(t.Context(), "t1", "nope", []byte(`{"name":"x"}`))
	assert.ErrorIs(t, err, platform.ErrUnsupported)
	assert.NoError(t, r.CheckPublication("fake"))
	assert.ErrorIs(t, r.CheckSubscription("nope"), platform.ErrUnsupported)

	sub, err := r.Subscription(t.Context(), "t1", "fake", []byte(`{"name":"c","color":"red"}`))
	require.NoError(t, err)
	assert.Equal(t, "red", sub.Params.Event)
	_, err = r.Subscription(t.Context(), "t1", "fake", []byte(`{"name":"c"}`))
	assert.ErrorIs(t, err, config.ErrInvalid)

	assert.True(t, r.Polled("generate"))
	assert.True(t, r.Polled("salesforce"))
	assert.False(t, r.Polled("webhook"))
	assert.False(t, r.Polled("fake"))
	assert.Len(t, r.Runners(), 2, "generate and salesforce run in the background")

	// Publishers need the deliver role's client and authorizations.
	_, err = r.Publishers(t.Context())
	require.Error(t, err)
	assert.Contains(t, err.Error(), "webhook publisher")

	only, err := platform.NewRegistry(deps(t), fake)
	require.NoError(t, err)
	pubs, err := only.Publishers(t.Context())
	require.NoError(t, err)
	require.Contains(t, pubs, "fake")
	require.NoError(t, pubs["fake"].Publish(t.Context(), "t1", config.Publication{Name: "p", Params: config.Params{Object: "b"}}, sampleEvent()))
	assert.Len(t, rec.Got(), 1)
}

func TestPublisherFunc(t *testing.T) {
	want := errors.New("boom")
	p := platform.PublisherFunc(func(context.Context, string, config.Publication, event.Event) error { return want })
	assert.ErrorIs(t, p.Publish(t.Context(), "t", config.Publication{}, sampleEvent()), want)
}

func sampleEvent() event.Event {
	return event.Event{ID: "e1", Source: "urn:test", Type: "com.example.test"}
}
