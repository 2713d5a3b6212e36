package standin_test

import (
	"encoding/json"
	"io"
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/herokuevents/herokuevents/shared/salesforce/pubsubpb"
	"github.com/herokuevents/herokuevents/shared/salesforce/salesforcetest"
	"github.com/herokuevents/herokuevents/shared/salesforce/standin"
)

func TestPublishStream(t *testing.T) {
	org := start(t, standin.Options{})
	client, ctx := salesforcetest.NewRawClient(t, org)
	schema, err := org.Schema(standin.SystemStatusTopic)
	require.NoError(t, err)
	payload, err := schema.EncodeWith([]byte(`{"Context__c":"streamed"}`), map[string]any{"CreatedDate": int64(1), "CreatedById": org.UserID()})
	require.NoError(t, err)

	stream, err := client.PublishStream(ctx)
	require.NoError(t, err)
	for i, ids := range [][]string{{"a-1", "a-2"}, {"b-1"}} {
		req := &pubsubpb.PublishRequest{TopicName: standin.SystemStatusTopic}
		for _, id := range ids {
			req.Events = append(req.Events, &pubsubpb.ProducerEvent{Id: id, SchemaId: schema.ID(), Payload: payload})
		}
		require.NoError(t, stream.Send(req))
		resp, err := stream.Recv()
		require.NoError(t, err, "batch %d", i)
		require.Len(t, resp.GetResults(), len(ids))
		for j, r := range resp.GetResults() {
			assert.Nil(t, r.GetError())
			assert.Equal(t, ids[j], r.GetCorrelationKey())
			assert.Len(t, r.GetReplayId(), 8)
		}
	}
	assert.Len(t, org.Published(standin.SystemStatusTopic), 3)

	t.Run("unknown topic ends the stream with NOT_FOUND", func(t *testing.T) {
		stream, err := client.PublishStream(ctx)
		require.NoError(t, err)
		require.NoError(t, stream.Send(&pubsubpb.PublishRequest{TopicName: "/event/Nope__e",
			Events: []*pubsubpb.ProducerEvent{{Id: "x", SchemaId: schema.ID(), Payload: payload}}}))
		_, err = stream.Recv()
		assert.Equal(t, codes.NotFound, status.Code(err))
	})
}

func TestManagedSubscribeCommits(t *testing.T) {
	org := start(t, standin.Options{Keepalive: time.Hour})
	id, err := org.AddManagedSubscription("Status_Sub", standin.SystemStatusTopic, true)
	require.NoError(t, err)
	for _, c := range []string{"one", "two", "three"} {
		_, err := org.Emit(standin.SystemStatusTopic, []byte(`{"Context__c":"`+c+`"}`))
		require.NoError(t, err)
	}
	client, ctx := salesforcetest.NewRawClient(t, org)

	// First session: reads the three, commits the second.
	stream, err := client.ManagedSubscribe(ctx)
	require.NoError(t, err)
	require.NoError(t, stream.Send(&pubsubpb.ManagedFetchRequest{DeveloperName: "Status_Sub", NumRequested: 10}))
	resp, err := stream.Recv()
	require.NoError(t, err)
	require.Len(t, resp.GetEvents(), 3)
	second := resp.GetEvents()[1].GetReplayId()
	require.NoError(t, stream.Send(&pubsubpb.ManagedFetchRequest{CommitReplayIdRequest: &pubsubpb.CommitReplayRequest{CommitRequestId: "c1", ReplayId: second}}))
	resp, err = stream.Recv()
	require.NoError(t, err)
	require.NotNil(t, resp.GetCommitResponse())
	assert.Equal(t, "c1", resp.GetCommitResponse().GetCommitRequestId())
	assert.Nil(t, resp.GetCommitResponse().GetError())
	m, ok := org.Managed(id)
	require.True(t, ok)
	assert.Equal(t, second, m.Committed)

	// A refused commit answers with an error and keeps the committed id.
	require.NoError(t, stream.Send(&pubsubpb.ManagedFetchRequest{CommitReplayIdRequest: &pubsubpb.CommitReplayRequest{CommitRequestId: "c2", ReplayId: []byte("garbage")}}))
	resp, err = stream.Recv()
	require.NoError(t, err)
	assert.Equal(t, pubsubpb.ErrorCode_COMMIT, resp.GetCommitResponse().GetError().GetCode())
	require.NoError(t, stream.CloseSend())

	// Second session (by id): resumes after the committed id.
	stream, err = client.ManagedSubscribe(ctx)
	require.NoError(t, err)
	require.NoError(t, stream.Send(&pubsubpb.ManagedFetchRequest{SubscriptionId: id, NumRequested: 10}))
	resp, err = stream.Recv()
	require.NoError(t, err)
	require.Len(t, resp.GetEvents(), 1)
	assert.Equal(t, 2, org.SubscribeCount(standin.SystemStatusTopic))

	t.Run("unknown subscription", func(t *testing.T) {
		stream, err := client.ManagedSubscribe(ctx)
		require.NoError(t, err)
		require.NoError(t, stream.Send(&pubsubpb.ManagedFetchRequest{DeveloperName: "Nope", NumRequested: 1}))
		_, err = stream.Recv()
		assert.Equal(t, codes.NotFound, status.Code(err))
	})
}

func TestStallSilencesStreams(t *testing.T) {
	org := start(t, standin.Options{Keepalive: 50 * time.Millisecond})
	stream := salesforcetest.NewRawSubscriber(t, org)
	require.NoError(t, stream.Send(&pubsubpb.FetchRequest{TopicName: standin.SystemStatusTopic, NumRequested: 5}))
	resp, err := stream.Recv() // a keepalive
	require.NoError(t, err)
	assert.Empty(t, resp.GetEvents())

	org.Stall(true)
	got := make(chan *pubsubpb.FetchResponse, 10)
	go func() {
		for {
			r, err := stream.Recv()
			if err != nil {
				close(got)
				return
			}
			got <- r
		}
	}()
	// Drain a keepalive that may have been in flight, then expect silence.
	time.Sleep(100 * time.Millisecond)
	for len(got) > 0 {
		<-got
	}
	select {
	case r := <-got:
		t.Fatalf("stalled stream sent %v", r)
	case <-time.After(300 * time.Millisecond):
	}
	_, err = org.Emit(standin.SystemStatusTopic, []byte(`{}`))
	require.NoError(t, err)
	org.Stall(false)
	select {
	case r := <-got:
		assert.Len(t, r.GetEvents(), 1, "the event published during the stall comes after it")
	case <-time.After(5 * time.Second):
		t.Fatal("no event after the stall ended")
	}
}

func TestDropStreamsEndsEveryStreamAtOnce(t *testing.T) {
	org := start(t, standin.Options{Keepalive: 50 * time.Millisecond})
	topic := standin.SystemStatusTopic
	open := func() grpc.BidiStreamingClient[pubsubpb.FetchRequest, pubsubpb.FetchResponse] {
		t.Helper()
		stream := salesforcetest.NewRawSubscriber(t, org)
		require.NoError(t, stream.Send(&pubsubpb.FetchRequest{TopicName: topic, NumRequested: 5}))
		return stream
	}
	served := open()
	_, err := served.Recv() // a keepalive
	require.NoError(t, err)
	require.Equal(t, 1, org.SubscribeCount(topic))

	org.DropStreams(true)
	for {
		_, err := served.Recv() // a keepalive may have been in flight
		if err != nil {
			assert.ErrorIs(t, err, io.EOF, "an open stream ends normally")
			break
		}
	}
	for i := range 3 {
		_, err := open().Recv()
		assert.ErrorIs(t, err, io.EOF, "stream %d ends before any event or keepalive", i)
	}
	assert.Equal(t, 4, org.SubscribeCount(topic), "each dropped stream was accepted first")

	org.DropStreams(false)
	resp, err := open().Recv()
	require.NoError(t, err, "served again")
	assert.Empty(t, resp.GetEvents())
	assert.Equal(t, 5, org.SubscribeCount(topic))
}

func TestRESTUnknownPaths(t *testing.T) {
	org := start(t, standin.Options{})
	tok := org.IssueToken().AccessToken
	tests := []struct {
		name, method, path string
		status             int
		code               string
	}{
		{"unknown path", http.MethodGet, "/services/nope", http.StatusNotFound, "NOT_FOUND"},
		{"invalid version", http.MethodPost, "/services/data/vfoo/sobjects/System_Status__e", http.StatusNotFound, "NOT_FOUND"},
		{"too old a version", http.MethodPost, "/services/data/v20.0/sobjects/System_Status__e", http.StatusNotFound, "NOT_FOUND"},
		{"version without a resource", http.MethodGet, "/services/data/vfoo/", http.StatusNotFound, "NOT_FOUND"},
		{"root", http.MethodGet, "/", http.StatusNotFound, "NOT_FOUND"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			req, err := http.NewRequestWithContext(t.Context(), tc.method, org.InstanceURL()+tc.path, nil)
			require.NoError(t, err)
			req.Header.Set("Authorization", "Bearer "+tok)
			resp, err := http.DefaultClient.Do(req)
			require.NoError(t, err)
			defer resp.Body.Close()
			assert.Equal(t, tc.status, resp.StatusCode)
			assert.Contains(t, resp.Header.Get("Content-Type"), "application/json")
			b, err := io.ReadAll(resp.Body)
			require.NoError(t, err)
			var errs []struct{ Message, ErrorCode string }
			require.NoError(t, json.Unmarshal(b, &errs), string(b))
			require.Len(t, errs, 1)
			assert.Equal(t, tc.code, errs[0].ErrorCode)
			assert.NotEmpty(t, errs[0].Message)
		})
	}
	t.Run("versions list", func(t *testing.T) {
		resp, err := http.Get(org.InstanceURL() + "/services/data")
		require.NoError(t, err)
		defer resp.Body.Close()
		var vs []struct{ Version string }
		require.NoError(t, json.NewDecoder(resp.Body).Decode(&vs))
		require.NotEmpty(t, vs)
		assert.Contains(t, vs, struct{ Version string }{"62.0"})
	})
}
