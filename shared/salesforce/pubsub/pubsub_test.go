package pubsub_test

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/herokuevents/herokuevents/shared/salesforce"
	"github.com/herokuevents/herokuevents/shared/salesforce/pubsub"
	"github.com/herokuevents/herokuevents/shared/salesforce/pubsubpb"
	"github.com/herokuevents/herokuevents/shared/salesforce/salesforcetest"
	"github.com/herokuevents/herokuevents/shared/salesforce/standin"
)

func startOrg(t *testing.T, opts standin.Options) *standin.Org {
	return salesforcetest.StartOrg(t, opts)
}

func dial(t *testing.T, org *standin.Org, src salesforce.SessionSource) *pubsub.Client {
	return salesforcetest.Dial(t, org, src)
}

func tokenSource(org *standin.Org) *salesforce.TokenSource {
	return org.OAuth("").RefreshTokenSource(org.IssueToken(), nil)
}

func emit(t *testing.T, org *standin.Org, topic, data string) *standin.EmitResult {
	t.Helper()
	res, err := org.Emit(topic, []byte(data))
	require.NoError(t, err)
	return res
}

// recvEvents receives until n events arrived, skipping keepalives.
func recvEvents(t *testing.T, sub *pubsub.Subscription, n int) []pubsub.Event {
	t.Helper()
	var out []pubsub.Event
	for len(out) < n {
		b, err := sub.Recv()
		require.NoError(t, err)
		out = append(out, b.Events...)
	}
	return out
}

func contextValue(t *testing.T, e pubsub.Event) string {
	t.Helper()
	var v struct {
		Context struct {
			S string `json:"string"`
		} `json:"Context__c"`
	}
	require.NoError(t, json.Unmarshal(e.Data, &v))
	return v.Context.S
}

func TestGetTopicAndSchema(t *testing.T) {
	org := startOrg(t, standin.Options{})
	c := dial(t, org, tokenSource(org))
	topic, err := c.GetTopic(t.Context(), standin.SystemStatusTopic)
	require.NoError(t, err)
	assert.True(t, topic.CanPublish)
	assert.True(t, topic.CanSubscribe)
	assert.Len(t, topic.SchemaID, 22)
	s, err := c.GetSchema(t.Context(), topic.SchemaID)
	require.NoError(t, err)
	assert.Equal(t, []string{"CreatedDate", "CreatedById", "Context__c"}, s.Fields())

	cdc, err := c.GetTopic(t.Context(), standin.AccountChangeTopic)
	require.NoError(t, err)
	assert.False(t, cdc.CanPublish)

	_, err = c.GetTopic(t.Context(), "/event/Nope__e")
	require.ErrorIs(t, err, pubsub.ErrTopicNotFound)
	var apiErr *pubsub.APIError
	require.ErrorAs(t, err, &apiErr)
	assert.Equal(t, "sfdc.platform.eventbus.grpc.topic.not.found", apiErr.ErrorCode)
	assert.NotEmpty(t, apiErr.RPCID)
}

func TestUnauthenticated(t *testing.T) {
	org := startOrg(t, standin.Options{})
	for name, s := range map[string]salesforce.Session{
		"unknown token": {AccessToken: "00Dbogus!AQ", InstanceURL: org.InstanceURL(), OrgID: org.OrgID()},
		"wrong tenant":  {AccessToken: org.IssueToken().AccessToken, InstanceURL: org.InstanceURL(), OrgID: "00D000000000000AAA"},
	} {
		t.Run(name, func(t *testing.T) {
			c := dial(t, org, salesforce.StaticSession(s))
			_, err := c.GetTopic(t.Context(), standin.SystemStatusTopic)
			require.ErrorIs(t, err, pubsub.ErrUnauthenticated)
		})
	}
}

func TestSubscribeReplayPresets(t *testing.T) {
	org := startOrg(t, standin.Options{})
	c := dial(t, org, tokenSource(org))
	topic := standin.SystemStatusTopic
	first := emit(t, org, topic, `{"Context__c":"one"}`)
	emit(t, org, topic, `{"Context__c":{"string":"two"}}`)

	t.Run("earliest", func(t *testing.T) {
		sub, err := c.Subscribe(t.Context(), pubsub.SubscribeRequest{Topic: topic, Replay: pubsub.ReplayEarliest})
		require.NoError(t, err)
		defer sub.Close()
		evs := recvEvents(t, sub, 2)
		assert.Equal(t, "one", contextValue(t, evs[0]))
		assert.Equal(t, "two", contextValue(t, evs[1]))
		assert.Equal(t, first.ReplayID, evs[0].ReplayID)
		assert.Len(t, evs[0].ReplayID, 8)
		assert.Equal(t, first.EventID, evs[0].ID)
	})
	t.Run("custom resumes after the stored id", func(t *testing.T) {
		sub, err := c.Subscribe(t.Context(), pubsub.SubscribeRequest{Topic: topic, Replay: pubsub.ReplayCustom, ReplayID: first.ReplayID})
		require.NoError(t, err)
		defer sub.Close()
		evs := recvEvents(t, sub, 1)
		assert.Equal(t, "two", contextValue(t, evs[0]))
	})
	t.Run("latest gets only new events", func(t *testing.T) {
		org.SetKeepalive(50 * time.Millisecond)
		defer org.SetKeepalive(time.Minute)
		sub, err := c.Subscribe(t.Context(), pubsub.SubscribeRequest{Topic: topic})
		require.NoError(t, err)
		defer sub.Close()
		b, err := sub.Recv() // a keepalive proves the stream is open before emitting
		require.NoError(t, err)
		assert.Empty(t, b.Events)
		emit(t, org, topic, `{"Context__c":"three"}`)
		evs := recvEvents(t, sub, 1)
		assert.Equal(t, "three", contextValue(t, evs[0]))
	})
	for name, id := range map[string][]byte{
		"corrupted id": {0, 0, 0, 0, 0, 0, 0, 1},
		"short id":     {1, 2, 3},
		"missing id":   nil,
	} {
		t.Run("custom "+name, func(t *testing.T) {
			sub, err := c.Subscribe(t.Context(), pubsub.SubscribeRequest{Topic: topic, Replay: pubsub.ReplayCustom, ReplayID: id})
			require.NoError(t, err)
			defer sub.Close()
			_, err = sub.Recv()
			require.ErrorIs(t, err, pubsub.ErrReplayCorrupted)
		})
	}
	t.Run("unknown topic", func(t *testing.T) {
		sub, err := c.Subscribe(t.Context(), pubsub.SubscribeRequest{Topic: "/event/Nope__e"})
		require.NoError(t, err)
		defer sub.Close()
		_, err = sub.Recv()
		require.ErrorIs(t, err, pubsub.ErrTopicNotFound)
	})
}

func TestSubscribeFlowControlAndKeepalive(t *testing.T) {
	org := startOrg(t, standin.Options{Keepalive: 50 * time.Millisecond})
	c := dial(t, org, tokenSource(org))
	topic := standin.SystemStatusTopic
	for range 7 {
		emit(t, org, topic, `{"Context__c":"x"}`)
	}
	sub, err := c.Subscribe(t.Context(), pubsub.SubscribeRequest{Topic: topic, Replay: pubsub.ReplayEarliest, BatchSize: 3})
	require.NoError(t, err)
	defer sub.Close()
	var got []pubsub.Event
	var keepalive *pubsub.Batch
	for keepalive == nil {
		b, err := sub.Recv()
		require.NoError(t, err)
		assert.LessOrEqual(t, len(b.Events), 3, "never more than requested")
		assert.GreaterOrEqual(t, b.Pending, int32(0))
		got = append(got, b.Events...)
		if len(b.Events) == 0 {
			keepalive = b
		}
	}
	require.Len(t, got, 7, "the client re-requested before pending reached 0")
	assert.Equal(t, got[6].ReplayID, keepalive.LatestReplayID, "keepalive carries the latest replay id")
	assert.Positive(t, keepalive.Pending)

	t.Run("keepalive on an empty topic has a usable replay id", func(t *testing.T) {
		require.NoError(t, org.AddTopic(standin.TopicSpec{Name: "/event/Empty__e", Schema: json.RawMessage(peSchema)}))
		sub, err := c.Subscribe(t.Context(), pubsub.SubscribeRequest{Topic: "/event/Empty__e"})
		require.NoError(t, err)
		b, err := sub.Recv()
		require.NoError(t, err)
		sub.Close()
		require.Len(t, b.LatestReplayID, 8)
		emit(t, org, "/event/Empty__e", `{"Amount__c":1}`)
		sub, err = c.Subscribe(t.Context(), pubsub.SubscribeRequest{Topic: "/event/Empty__e", Replay: pubsub.ReplayCustom, ReplayID: b.LatestReplayID})
		require.NoError(t, err)
		defer sub.Close()
		assert.Len(t, recvEvents(t, sub, 1), 1)
	})
}

// rawStream drives the stand-in with hand-made FetchRequests, checking its
// flow-control validation independent of the client.
func TestStandInFlowControlRules(t *testing.T) {
	org := startOrg(t, standin.Options{Keepalive: 30 * time.Millisecond, IdleTimeout: 100 * time.Millisecond})
	c := dial(t, org, tokenSource(org))
	topic := standin.SystemStatusTopic
	for range 120 {
		emit(t, org, topic, `{}`)
	}
	t.Run("pending is capped at 100", func(t *testing.T) {
		sub, err := c.Subscribe(t.Context(), pubsub.SubscribeRequest{Topic: topic, Replay: pubsub.ReplayEarliest, BatchSize: 100})
		require.NoError(t, err)
		defer sub.Close()
		b, err := sub.Recv()
		require.NoError(t, err)
		assert.Len(t, b.Events, 100)
		assert.Equal(t, int32(0), b.Pending)
	})
	t.Run("invalid num_requested", func(t *testing.T) {
		st := salesforcetest.NewRawSubscriber(t, org)
		require.NoError(t, st.Send(&pubsubpb.FetchRequest{TopicName: topic, NumRequested: 0}))
		_, err := st.Recv()
		require.Equal(t, codes.InvalidArgument, status.Code(err))
		assert.Equal(t, []string{"sfdc.platform.eventbus.grpc.subscription.fetch.requested.events.invalid"}, st.Trailer().Get("error-code"))
	})
	t.Run("idle stream closes", func(t *testing.T) {
		st := salesforcetest.NewRawSubscriber(t, org)
		require.NoError(t, st.Send(&pubsubpb.FetchRequest{TopicName: topic, ReplayPreset: pubsubpb.ReplayPreset_EARLIEST, NumRequested: 5}))
		resp, err := st.Recv()
		require.NoError(t, err)
		assert.Len(t, resp.GetEvents(), 5)
		assert.Equal(t, int32(0), resp.GetPendingNumRequested())
		_, err = st.Recv()
		require.ErrorIs(t, err, io.EOF)
	})
}

func TestPublishSubscribeRoundTrip(t *testing.T) {
	org := startOrg(t, standin.Options{})
	c := dial(t, org, tokenSource(org))
	topic := standin.SystemStatusTopic
	res, err := c.Publish(t.Context(), topic,
		pubsub.Message{ID: "corr-1", Data: json.RawMessage(`{"CreatedDate":1736877277000,"CreatedById":"005am000004KT8PAAW","Context__c":{"string":"Quotes Generated: 3"}}`)},
		pubsub.Message{Data: json.RawMessage(`{"CreatedDate":1,"CreatedById":"005","Context__c":"plain"}`)},
		pubsub.Message{ID: "bad", Data: json.RawMessage(`{"CreatedDate":1,"CreatedById":"005","Unknown__c":"x"}`)},
	)
	require.NoError(t, err)
	require.Len(t, res, 3)
	require.NoError(t, res[0].Err)
	assert.Equal(t, "corr-1", res[0].CorrelationKey)
	assert.Len(t, res[0].ReplayID, 8)
	require.NoError(t, res[1].Err)
	assert.Len(t, res[1].CorrelationKey, 36, "a generated UUID")
	require.ErrorIs(t, res[2].Err, pubsub.ErrInvalidPayload)

	pub := org.Published(topic)
	require.Len(t, pub, 2)
	assert.JSONEq(t, `{"CreatedDate":1736877277000,"CreatedById":"005am000004KT8PAAW","Context__c":{"string":"Quotes Generated: 3"}}`, string(pub[0].Data))

	sub, err := c.Subscribe(t.Context(), pubsub.SubscribeRequest{Topic: topic, Replay: pubsub.ReplayEarliest})
	require.NoError(t, err)
	defer sub.Close()
	evs := recvEvents(t, sub, 2)
	assert.Equal(t, "corr-1", evs[0].ID)
	assert.Equal(t, res[0].ReplayID, evs[0].ReplayID)
	assert.JSONEq(t, string(pub[0].Data), string(evs[0].Data))
	assert.Equal(t, "plain", contextValue(t, evs[1]))

	t.Run("server rejects a payload that does not match the schema", func(t *testing.T) {
		topicInfo, err := c.GetTopic(t.Context(), topic)
		require.NoError(t, err)
		out, err := c.PublishEvents(t.Context(), topic, []*pubsubpb.ProducerEvent{
			{Id: "junk", SchemaId: topicInfo.SchemaID, Payload: []byte{0xff, 0xff, 0xff}},
			{Id: "wrong-schema", SchemaId: "nope", Payload: []byte{0}},
		})
		require.NoError(t, err)
		require.Len(t, out, 2)
		var pe *pubsub.PublishError
		require.ErrorAs(t, out[0].Err, &pe)
		assert.Equal(t, "PUBLISH", pe.Code)
		assert.Equal(t, "junk", out[0].CorrelationKey)
		require.Error(t, out[1].Err)
	})
	t.Run("CDC topics are not publishable", func(t *testing.T) {
		_, err := c.Publish(t.Context(), standin.AccountChangeTopic, pubsub.Message{Data: json.RawMessage(`{}`)})
		require.ErrorIs(t, err, pubsub.ErrPermission)
	})
}

func TestChangeEventFromStandIn(t *testing.T) {
	org := startOrg(t, standin.Options{})
	c := dial(t, org, tokenSource(org))
	topic := standin.AccountChangeTopic
	emit(t, org, topic, `{"ChangeEventHeader":{"changeType":"UPDATE","recordIds":["001xx000003DGb2AAG"]},
		"Name":"Acme","Industry":{"string":"Energy"},"Phone":null,"BillingAddress":{"City":"Paris","Street":null}}`)
	sub, err := c.Subscribe(t.Context(), pubsub.SubscribeRequest{Topic: topic, Replay: pubsub.ReplayEarliest})
	require.NoError(t, err)
	defer sub.Close()
	ev := recvEvents(t, sub, 1)[0]

	var data struct {
		Header struct {
			EntityName      string   `json:"entityName"`
			ChangeType      string   `json:"changeType"`
			RecordIDs       []string `json:"recordIds"`
			CommitNumber    json.Number
			CommitTimestamp int64    `json:"commitTimestamp"`
			CommitUser      string   `json:"commitUser"`
			TransactionKey  string   `json:"transactionKey"`
			SequenceNumber  int      `json:"sequenceNumber"`
			ChangeOrigin    string   `json:"changeOrigin"`
			Changed         []string `json:"changedFields"`
			Nulled          []string `json:"nulledFields"`
		} `json:"ChangeEventHeader"`
		Name     map[string]string `json:"Name"`
		Industry map[string]string `json:"Industry"`
	}
	require.NoError(t, json.Unmarshal(ev.Data, &data))
	h := data.Header
	assert.Equal(t, "Account", h.EntityName)
	assert.Equal(t, "UPDATE", h.ChangeType)
	assert.Equal(t, []string{"001xx000003DGb2AAG"}, h.RecordIDs)
	assert.Equal(t, org.UserID(), h.CommitUser)
	assert.NotEmpty(t, h.TransactionKey)
	assert.Equal(t, 1, h.SequenceNumber)
	assert.NotEmpty(t, h.ChangeOrigin)
	assert.InDelta(t, time.Now().UnixMilli(), h.CommitTimestamp, 60000)
	assert.Equal(t, map[string]string{"string": "Acme"}, data.Name)
	assert.Equal(t, map[string]string{"string": "Energy"}, data.Industry)
	assert.Equal(t, []string{"0xA2", "4-0x03"}, h.Changed)
	assert.Equal(t, []string{"0x20", "4-0x01"}, h.Nulled)

	cf, err := ev.Schema.ChangeFields(ev.Data)
	require.NoError(t, err)
	assert.Equal(t, []string{"Name", "Phone", "Industry", "BillingAddress.Street", "BillingAddress.City"}, cf.Changed)
	assert.Equal(t, []string{"Phone", "BillingAddress.Street"}, cf.Nulled)
	assert.Empty(t, cf.Diff)
}

func TestExpiredTokenEndsStreamAndRefreshes(t *testing.T) {
	org := startOrg(t, standin.Options{Keepalive: 50 * time.Millisecond})
	ts := tokenSource(org)
	c := dial(t, org, ts)
	topic := standin.SystemStatusTopic
	sub, err := c.Subscribe(t.Context(), pubsub.SubscribeRequest{Topic: topic})
	require.NoError(t, err)
	defer sub.Close()
	_, err = sub.Recv()
	require.NoError(t, err)
	before, err := ts.Token(t.Context())
	require.NoError(t, err)

	org.ExpireAccessTokens()
	for {
		_, err = sub.Recv()
		if err != nil {
			break
		}
	}
	require.ErrorIs(t, err, pubsub.ErrUnauthenticated)

	// The client invalidated the token; the next call refreshes.
	_, err = c.GetTopic(t.Context(), topic)
	require.NoError(t, err)
	after, err := ts.Token(t.Context())
	require.NoError(t, err)
	assert.NotEqual(t, before.AccessToken, after.AccessToken)
	assert.Equal(t, before.RefreshToken, after.RefreshToken)

	t.Run("revoked refresh token", func(t *testing.T) {
		require.True(t, org.RevokeRefreshToken(after.RefreshToken))
		_, err := c.GetTopic(t.Context(), topic)
		require.ErrorIs(t, err, pubsub.ErrUnauthenticated)
		_, err = c.GetTopic(t.Context(), topic)
		require.ErrorIs(t, err, salesforce.ErrInvalidGrant)
	})
}

func TestContextCancelEndsRecv(t *testing.T) {
	org := startOrg(t, standin.Options{})
	c := dial(t, org, tokenSource(org))
	ctx, cancel := context.WithCancel(t.Context())
	sub, err := c.Subscribe(ctx, pubsub.SubscribeRequest{Topic: standin.SystemStatusTopic})
	require.NoError(t, err)
	time.AfterFunc(50*time.Millisecond, cancel)
	_, err = sub.Recv()
	require.True(t, errors.Is(err, context.Canceled), "got %v", err)
}
