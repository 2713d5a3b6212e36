package sfsub_test

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/herokuevents/herokuevents/shared/authorization"
	"github.com/herokuevents/herokuevents/shared/config"
	"github.com/herokuevents/herokuevents/shared/event"
	"github.com/herokuevents/herokuevents/shared/queue"
	"github.com/herokuevents/herokuevents/shared/salesforce"
	"github.com/herokuevents/herokuevents/shared/salesforce/pubsub"
	"github.com/herokuevents/herokuevents/shared/salesforce/standin"
	"github.com/herokuevents/herokuevents/shared/sfsub"
)

func TestPublisher(t *testing.T) {
	e := setup(t)
	p := &sfsub.Publisher{Client: e.client, Sessions: func(_ context.Context, tn, alias string) (salesforce.SessionSource, error) {
		if alias != "example-org" {
			return nil, &authorization.Error{Kind: authorization.ErrNotFound, Message: "Authorization " + alias + " not found."}
		}
		return e.src, nil
	}}
	at := time.UnixMilli(1736877277000).UTC()
	pub := func(topic, alias string) config.Publication {
		return config.Publication{ID: "p1", Name: "status", Platform: config.PlatformSalesforce,
			Params: config.Params{Event: topic, OrgName: alias}}
	}
	tests := []struct {
		name      string
		pub       config.Publication
		data      string
		permanent bool
		retry     bool
		want      string // Avro JSON received by the org
	}{
		{name: "union-wrapped", pub: pub(standin.SystemStatusTopic, "example-org"),
			data: `{"CreatedDate":1736877277001,"CreatedById":"005am000004KT8PAAW","Context__c":{"string":"Quotes Generated: 3"}}`,
			want: `{"CreatedDate":1736877277001,"CreatedById":"005am000004KT8PAAW","Context__c":{"string":"Quotes Generated: 3"}}`},
		{name: "plain, CreatedDate from the event time", pub: pub(standin.SystemStatusTopic, "example-org"),
			data: `{"CreatedById":"005am000004KT8PAAW","Context__c":"up"}`,
			want: `{"CreatedDate":1736877277000,"CreatedById":"005am000004KT8PAAW","Context__c":{"string":"up"}}`},
		{name: "plain, CreatedById the authorized user", pub: pub(standin.SystemStatusTopic, "example-org"),
			data: `{"Context__c":"up"}`,
			want: `{"CreatedDate":1736877277000,"CreatedById":"` + standin.DefaultUserID + `","Context__c":{"string":"up"}}`},
		{name: "payload not fitting the schema", pub: pub(standin.SystemStatusTopic, "example-org"),
			data: `{"CreatedById":"005am000004KT8PAAW","Nope__c":"x"}`, permanent: true},
		{name: "unknown topic", pub: pub("/event/Missing__e", "example-org"),
			data: `{"CreatedById":"005am000004KT8PAAW"}`, permanent: true},
		{name: "change events are not publishable", pub: pub(standin.AccountChangeTopic, "example-org"),
			data: `{}`, permanent: true},
		{name: "authorization not connected", pub: pub(standin.SystemStatusTopic, "other-org"),
			data: `{"CreatedById":"005am000004KT8PAAW"}`, permanent: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before := len(e.org.Published(standin.SystemStatusTopic))
			ev := event.Event{ID: "0b8a8f3e-4a55-4c39-a3a1-6a5a0d5c1b11", Source: "/tenants/t/publications/status",
				Type: event.TypePublish, Time: at, Data: json.RawMessage(tt.data)}
			err := p.Publish(t.Context(), tenant, tt.pub, ev)
			if tt.permanent {
				require.Error(t, err)
				assert.True(t, queue.IsPermanent(err), "permanent: %v", err)
				assert.Len(t, e.org.Published(standin.SystemStatusTopic), before)
				return
			}
			require.NoError(t, err)
			got := e.org.Published(standin.SystemStatusTopic)
			require.Len(t, got, before+1)
			assert.JSONEq(t, tt.want, string(got[before].Data))
			assert.Equal(t, ev.ID, got[before].EventID, "the CloudEvent id is the event id")
			assert.Equal(t, "pubsub", got[before].Via)
		})
	}

	t.Run("expired token is refreshed", func(t *testing.T) {
		e.org.ExpireAccessTokens()
		ev := event.Event{ID: "e2", Source: "s", Type: "t", Time: at, Data: json.RawMessage(`{"CreatedById":"005am000004KT8PAAW","Context__c":{"string":"again"}}`)}
		require.NoError(t, p.Publish(t.Context(), tenant, pub(standin.SystemStatusTopic, "example-org"), ev))
		got := e.org.Published(standin.SystemStatusTopic)
		assert.Contains(t, string(got[len(got)-1].Data), `"again"`)
	})
	t.Run("revoked authorization is permanent", func(t *testing.T) {
		require.True(t, e.org.RevokeRefreshToken(e.tok.RefreshToken))
		ev := event.Event{ID: "e3", Source: "s", Type: "t", Time: at, Data: json.RawMessage(`{"CreatedById":"005am000004KT8PAAW"}`)}
		err := p.Publish(t.Context(), tenant, pub(standin.SystemStatusTopic, "example-org"), ev)
		require.Error(t, err)
		assert.True(t, queue.IsPermanent(err))
		assert.ErrorIs(t, err, sfsub.ErrNotConnected)
	})
}

func TestPublishedEventReachesASubscriber(t *testing.T) {
	e := setup(t)
	sub := e.subscribe(t, "status", standin.SystemStatusTopic, sfsub.ReplayEarliest, nil)
	p := &sfsub.Publisher{Client: e.client, Sessions: func(context.Context, string, string) (salesforce.SessionSource, error) { return e.src, nil }}
	ev := event.Event{ID: "c0ffee00-0000-4000-8000-000000000001", Source: "s", Type: "t", Time: time.Now(),
		Data: json.RawMessage(`{"CreatedById":"005am000004KT8PAAW","Context__c":{"string":"published by herokuevents"}}`)}
	require.NoError(t, p.Publish(t.Context(), tenant, config.Publication{Name: "out", Platform: config.PlatformSalesforce,
		Params: config.Params{Event: standin.SystemStatusTopic, OrgName: "example-org"}}, ev))
	runFor(t, e.runner(t), func() bool { return len(e.sink.all()) == 1 })
	got := e.sink.all()[0].Event
	assert.Equal(t, sub.ID, e.sink.all()[0].Subscription)
	assert.Contains(t, string(got.Data), `"Context__c":{"string":"published by herokuevents"}`)
	assert.Equal(t, ev.ID, got.Extensions[sfsub.ExtEventUUID])
	assert.Equal(t, ev.Time.UnixMilli(), got.Time.UnixMilli(), "time from CreatedDate")
}

func TestToEventTimeAndIDs(t *testing.T) {
	e := setup(t)
	res := e.emit(t, standin.AccountChangeTopic,
		`{"ChangeEventHeader":{"changeType":"UPDATE","recordIds":["001xx000003DGb2AAG"]},"Industry":"Energy","BillingAddress":{"City":"Paris"},"Phone":null}`)
	schema, err := e.org.Schema(standin.AccountChangeTopic)
	require.NoError(t, err)
	sub := config.Subscription{ID: "s1", Name: "acct", Params: config.Params{Event: standin.AccountChangeTopic}}
	ev := sfsub.ToEvent(tenant, sub, pubsub.Event{ID: res[0].EventID, ReplayID: res[0].ReplayID, Data: res[0].Data, Schema: schema}, time.Unix(0, 0))
	var data struct {
		Header struct {
			CommitTimestamp int64 `json:"commitTimestamp"`
		} `json:"ChangeEventHeader"`
	}
	require.NoError(t, json.Unmarshal(ev.Data, &data))
	assert.Equal(t, data.Header.CommitTimestamp, ev.Time.UnixMilli())
	assert.Equal(t, event.TypeCDC, ev.Type)
	assert.Equal(t, "Phone,Industry,BillingAddress.City", ev.Extensions[sfsub.ExtChangedFields])
	assert.Equal(t, "Phone", ev.Extensions[sfsub.ExtNulledFields])
	assert.NotContains(t, ev.Extensions, sfsub.ExtDiffFields)
	assert.Equal(t, sfsub.EventID("s1", standin.AccountChangeTopic, res[0].ReplayID), ev.ID)
	assert.NotEqual(t, sfsub.EventID("s2", standin.AccountChangeTopic, res[0].ReplayID), ev.ID)
	assert.NotEqual(t, sfsub.EventID("s1", standin.AccountChangeTopic, []byte{0, 0, 0, 0, 0, 0, 0, 1}), ev.ID)
}
