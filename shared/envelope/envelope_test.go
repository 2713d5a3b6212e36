package envelope_test

import (
	"encoding/json"
	"errors"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/herokuevents/herokuevents/shared/envelope"
	"github.com/herokuevents/herokuevents/shared/event"
	"github.com/herokuevents/herokuevents/shared/queue"
)

func sample(data string) event.Event {
	return event.Event{ID: "e-1", Source: "/tenants/t/publications/p", Type: event.TypePublish, Time: time.Date(2026, 1, 2, 3, 4, 5, 6, time.UTC),
		DataContentType: "application/json", Data: json.RawMessage(data), Extensions: map[string]any{"x": "y"}}
}

// TestWidestSetsEveryField fails when event.Delivery gains a field that
// Widest does not widen: the margin must follow the real envelope.
func TestWidestSetsEveryField(t *testing.T) {
	w := reflect.ValueOf(envelope.Widest(event.Delivery{}))
	for i := range w.NumField() {
		name := w.Type().Field(i).Name
		if name == "Event" || name == "Tenant" {
			continue // kept as given
		}
		assert.False(t, w.Field(i).IsZero(), "Widest leaves %s at its zero value", name)
	}
}

// TestChecksMeasureTheRealEncoding: the sizes checked are those of the
// widest delivery encoded whole, attributes added.
func TestChecksMeasureTheRealEncoding(t *testing.T) {
	ev := sample(`{"html":"<b>&</b>","n":1}`)
	d := event.Delivery{Tenant: "tenant-1", Publication: "p", Event: ev, FirstTry: time.Now()}
	whole, err := json.Marshal(envelope.Widest(d))
	require.NoError(t, err)
	want := envelope.Size(len(whole), envelope.Attributes("tenant-1"))

	for _, c := range []struct {
		name  string
		check func(limitShift int) error
	}{
		{"delivery", func(int) error {
			body, err := json.Marshal(d)
			require.NoError(t, err)
			return envelope.CheckDelivery(d, body)
		}},
		{"routed", func(int) error {
			r := event.Routed{Tenant: "tenant-1", Subscription: "sub-id", Event: ev}
			body, err := json.Marshal(r)
			require.NoError(t, err)
			return envelope.CheckRouted(r, body)
		}},
	} {
		t.Run(c.name, func(t *testing.T) { require.NoError(t, c.check(0)) })
	}
	// Pad the data so that the widest message is exactly the limit, then
	// one byte over.
	pad := queue.MaxBody - want
	for _, over := range []int{0, 1} {
		big := sample(`{"html":"<b>&</b>","n":1,"p":"` + strings.Repeat("a", pad+over-len(`,"p":""`)) + `"}`)
		d := event.Delivery{Tenant: "tenant-1", Publication: "p", Event: big, FirstTry: time.Now()}
		body, err := json.Marshal(d)
		require.NoError(t, err)
		err = envelope.CheckDelivery(d, body)
		if over == 0 {
			require.NoError(t, err)
			continue
		}
		require.ErrorIs(t, err, queue.ErrTooLarge)
		var e *envelope.Error
		require.True(t, errors.As(err, &e))
		assert.Equal(t, queue.MaxBody+1, e.Size)
	}
}

// TestRoutedNeedsRoomForItsDelivery: a routed event whose own message
// fits may still be refused, as its delivery is larger.
func TestRoutedNeedsRoomForItsDelivery(t *testing.T) {
	r := event.Routed{Tenant: "t", Subscription: "s", Event: sample(`{"p":"` + strings.Repeat("a", queue.MaxBody-3000) + `"}`)}
	body, err := json.Marshal(r)
	require.NoError(t, err)
	require.NoError(t, envelope.Fits(len(body), "t"))
	require.NoError(t, envelope.CheckRouted(r, body))
	r.Event.Data = json.RawMessage(`{"p":"` + strings.Repeat("a", queue.MaxBody-1000) + `"}`)
	body, err = json.Marshal(r)
	require.NoError(t, err)
	require.ErrorIs(t, envelope.CheckRouted(r, body), envelope.ErrTooLarge)
}
