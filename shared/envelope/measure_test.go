package envelope

import (
	"encoding/json"
	"errors"
	"math"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/herokuevents/herokuevents/shared/event"
	"github.com/herokuevents/herokuevents/shared/queue"
)

// encodedWiden is the measure as it was made before it was computed: the
// envelopes encoded and their lengths compared. The computed measure must
// give the same size, or the same error, for every delivery.
func encodedWiden(body []byte, from any, to event.Delivery) (int, error) {
	if d, ok := from.(event.Delivery); ok {
		d.Event = event.Event{}
		from = d
	}
	to.Event = event.Event{}
	a, err := json.Marshal(from)
	if err != nil {
		return 0, err
	}
	b, err := json.Marshal(Widest(to))
	if err != nil {
		return 0, err
	}
	if len(b) < len(a) {
		return 0, errors.New("smaller")
	}
	return len(body) + len(b) - len(a), nil
}

func encodedFits(n int, tenant string) error {
	if size := Size(n, Attributes(tenant)); size > queue.MaxBody {
		return &Error{Size: size, Limit: queue.MaxBody}
	}
	return nil
}

// checkBoth runs the computed and the encoded measure of d and r and
// fails when they differ.
func checkBoth(t *testing.T, d event.Delivery, subscription string) {
	t.Helper()
	body, err := json.Marshal(d)
	if err != nil {
		return // a delivery that cannot be encoded is never checked
	}
	want, wantErr := encodedWiden(body, d, d)
	from, ok := deliveryLen(d)
	require.True(t, ok, "an encodable delivery is measured")
	got, gotErr := widen(body, from, widestLen(d.Tenant, d.Publication))
	require.Equal(t, wantErr != nil, gotErr != nil, "delivery error: %v vs %v", wantErr, gotErr)
	require.Equal(t, want, got, "delivery %+v", d)
	assert.Equal(t, encodedFits(got, d.Tenant), Fits(got, d.Tenant))
	assert.Equal(t, encodedFits(len(body)*100, d.Tenant), Fits(len(body)*100, d.Tenant))

	r := event.Routed{Tenant: d.Tenant, Subscription: subscription, Event: d.Event}
	body, err = json.Marshal(r)
	require.NoError(t, err)
	want, wantErr = encodedWiden(body, event.Routed{Tenant: r.Tenant, Subscription: r.Subscription}, event.Delivery{Tenant: r.Tenant})
	got, gotErr = widen(body, routedLen(r.Tenant, r.Subscription), widestLen(r.Tenant, ""))
	require.Equal(t, wantErr != nil, gotErr != nil, "routed error: %v vs %v", wantErr, gotErr)
	require.Equal(t, want, got, "routed %+v", r)
}

// TestMeasureIsTheEncodedSize: the computed size of the widest delivery
// is the one the encoding gives.
func TestMeasureIsTheEncodedSize(t *testing.T) {
	now := time.Date(2026, 12, 3, 8, 0, 0, 123456789, time.UTC)
	ev := event.Event{ID: "e-1", Source: "/s", Type: "t", Time: now, Data: json.RawMessage(`{"a":"<b>"}`)}
	for _, d := range []event.Delivery{
		{},
		{Tenant: "t-1", Publication: "p", Event: ev, FirstTry: now},
		{Tenant: "t-1", Publication: "3f1c2a9e-0000-4000-8000-000000000001", Event: ev, FirstTry: now, Ordered: true, Key: "k"},
		{Tenant: "t-\"<>&\u2028é\xff", Publication: "pub\x00\x1f\x7f", Event: ev, Attempt: -12, Held: 3, HeldSince: now.In(time.FixedZone("", 3600)), RateSlot: now.Add(time.Nanosecond)},
		{Tenant: "t", Publication: "a-publication-id-longer-than-thirty-six-bytes", Attempt: math.MaxInt, Held: math.MinInt, FirstTry: time.Unix(0, 0), Key: "\x00\\"},
		Widest(event.Delivery{Tenant: "t"}),
	} {
		checkBoth(t, d, "sub-\"1\"")
	}
}

// TestMeasureOfATimeThatCannotBeEncoded: a delivery whose time cannot be
// encoded is measured by encoding it, and fails as the encoding does.
func TestMeasureOfATimeThatCannotBeEncoded(t *testing.T) {
	d := event.Delivery{Tenant: "t", Publication: "p", FirstTry: time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC)}
	_, ok := deliveryLen(d)
	assert.False(t, ok)
	err := CheckDelivery(d, []byte(`{}`))
	require.Error(t, err)
	assert.Contains(t, err.Error(), "encode envelope: json: error calling MarshalJSON for type time.Time")
}

func FuzzMeasureIsTheEncodedSize(f *testing.F) {
	f.Add("t-1", "pub", "sub", "key", 0, 0, int64(1_700_000_000), int64(0), 0, true)
	f.Add("<&>", "\xff\u2029", "\"", "\x00", -1, 7, int64(-62135596800), int64(999999999), -3600, false)
	f.Fuzz(func(t *testing.T, tenant, publication, subscription, key string, attempt, held int, sec, nsec int64, offset int, ordered bool) {
		at := time.Unix(sec, nsec).In(time.FixedZone("", offset%(100*3600)))
		d := event.Delivery{Tenant: tenant, Publication: publication, Attempt: attempt, Held: held, FirstTry: at, Ordered: ordered, Key: key,
			Event: event.Event{ID: "e", Source: "/s", Type: "t", Time: at}}
		if held%2 == 0 {
			d.HeldSince, d.RateSlot = at, at.Add(time.Duration(nsec))
		}
		checkBoth(t, d, subscription)
	})
}
