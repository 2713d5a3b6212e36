package filter_test

import (
	"encoding/json"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/herokuevents/herokuevents/infra/embedded/sqlitejournal"
	"github.com/herokuevents/herokuevents/shared/config"
	"github.com/herokuevents/herokuevents/shared/config/memstore"
	"github.com/herokuevents/herokuevents/shared/event"
	"github.com/herokuevents/herokuevents/shared/filter"
	"github.com/herokuevents/herokuevents/shared/journal"
	"github.com/herokuevents/herokuevents/shared/queue"
)

// TestJournalRecordsEachStream: the delivery log gets each stream's
// decision with the reason, and the acceptance of events that did not come
// through ingest (generators, Salesforce).
func TestJournalRecordsEachStream(t *testing.T) {
	ctx := t.Context()
	st := memstore.New()
	t.Cleanup(func() { st.Close() })
	for _, s := range []config.Subscription{
		{ID: "sub-web", Name: "inbound", Platform: config.PlatformWebhook},
		{ID: "sub-gen", Name: "heartbeat", Platform: config.PlatformGenerate},
		{ID: "sub-none", Name: "lonely", Platform: config.PlatformWebhook},
	} {
		_, err := config.Insert(ctx, st, config.Item{Tenant: tenant, Kind: config.KindSubscription, ID: s.ID, Name: s.Name}, s)
		require.NoError(t, err)
	}
	for _, s := range []config.Stream{
		{ID: "s-1", Subscription: "sub-web", Publication: "pub-all"},
		{ID: "s-2", Subscription: "sub-web", Publication: "pub-drop", Filter: `root = if this.drop == true { deleted() } else { this }`},
		{ID: "s-3", Subscription: "sub-web", Publication: "pub-bad", Filter: `root = this.missing.number() + 1`},
		{ID: "s-4", Subscription: "sub-gen", Publication: "pub-all"},
	} {
		_, err := config.Insert(ctx, st, config.Item{Tenant: tenant, Kind: config.KindStream, ID: s.ID, Name: config.StreamName(s.Subscription, s.Publication)}, s)
		require.NoError(t, err)
	}
	j, err := sqlitejournal.Open(filepath.Join(t.TempDir(), "journal.db"), sqlitejournal.Options{PruneEvery: -1})
	require.NoError(t, err)
	t.Cleanup(func() { _ = j.Close() })
	h, err := filter.New(filter.Options{Store: st, Delivery: &recorder{}, Journal: j})
	require.NoError(t, err)

	msg := func(id, sub, data string, at time.Time) queue.Message {
		b, err := json.Marshal(event.Routed{Tenant: tenant, Subscription: sub, Event: event.Event{ID: id, Source: "/s", Type: "t", Time: at, Data: json.RawMessage(data)}})
		require.NoError(t, err)
		return queue.Message{ID: id, Body: b}
	}
	slot := time.Now().Add(-time.Minute).Truncate(time.Second).UTC()
	res := h.HandleBatch(ctx, []queue.Message{
		msg("e-web", "sub-web", `{"drop":true}`, time.Now()),
		msg("e-gen", "sub-gen", `{"n":1}`, slot),
		msg("e-none", "sub-none", `{}`, time.Now()),
	})
	require.Len(t, res.Failures, 1, "the failing filter dead-letters its event")

	type step struct {
		stage              journal.Stage
		publication, about string
	}
	steps := func(id string) []step {
		got, err := j.Event(ctx, tenant, id)
		require.NoError(t, err)
		var out []step
		for _, e := range got {
			assert.Equal(t, id, e.EventID)
			about := e.Reason + e.Via
			if len(about) > 18 {
				about = about[:18]
			}
			out = append(out, step{e.Stage, e.Publication, about})
		}
		return out
	}
	assert.ElementsMatch(t, []step{
		{journal.Routed, "pub-all", ""},
		{journal.FilteredOut, "pub-drop", "the filter dropped"},
		{journal.FilteredOut, "pub-bad", "the filter failed:"},
		{journal.DeadLettered, "", "stream to publicat"},
	}, steps("e-web"), "ingest records the acceptance of published events")
	gen, err := j.Event(ctx, tenant, "e-gen")
	require.NoError(t, err)
	require.Len(t, gen, 2)
	assert.Equal(t, journal.Accepted, gen[0].Stage)
	assert.Equal(t, journal.ViaGenerate, gen[0].Via)
	assert.Equal(t, "heartbeat", gen[0].SubscriptionName)
	assert.True(t, slot.Equal(gen[0].Time), "accepted at the event's time")
	assert.Equal(t, journal.Routed, gen[1].Stage)
	assert.Equal(t, []step{{journal.FilteredOut, "", "the subscription h"}}, steps("e-none"))
}
