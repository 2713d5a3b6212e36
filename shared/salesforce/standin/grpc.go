package standin

import (
	"context"
	"encoding/hex"
	"errors"
	"io"

	"github.com/google/uuid"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"

	"github.com/herokuevents/herokuevents/shared/salesforce/pubsubpb"
)

const errPrefix = "sfdc.platform.eventbus.grpc."

const maxPending = 100

type pubsubServer struct {
	pubsubpb.UnimplementedPubSubServer
	o *Org
}

// rpcError builds a Salesforce-shaped failure: the description ends in
// "rpcId: …" and the trailers carry error-code, rpc-id and type.
func rpcError(setTrailer func(metadata.MD), rpc, rpcID string, code codes.Code, suffix, msg string) error {
	setTrailer(metadata.Pairs("error-code", errPrefix+suffix, "rpc-id", rpcID, "type", rpc))
	return status.Error(code, msg+" rpcId: "+rpcID)
}

func unaryTrailer(ctx context.Context) func(metadata.MD) {
	return func(md metadata.MD) { _ = grpc.SetTrailer(ctx, md) }
}

const authMessage = "An authentication exception occurred. Provide valid authentication via metadata headers."

// authenticate checks the accesstoken, instanceurl and tenantid metadata.
func (s *pubsubServer) authenticate(ctx context.Context) (string, bool) {
	md, _ := metadata.FromIncomingContext(ctx)
	get := func(k string) string {
		if v := md.Get(k); len(v) > 0 {
			return v[0]
		}
		return ""
	}
	tok := get("accesstoken")
	if tok == "" || get("instanceurl") != s.o.InstanceURL() || get("tenantid") != s.o.OrgID() {
		return tok, false
	}
	return tok, s.o.validToken(tok)
}

func (s *pubsubServer) lookup(name string) (*topic, bool) {
	s.o.mu.Lock()
	defer s.o.mu.Unlock()
	t, ok := s.o.topics[name]
	return t, ok
}

func notFound(set func(metadata.MD), rpc, rpcID, name string) error {
	return rpcError(set, rpc, rpcID, codes.NotFound, "topic.not.found",
		"The topic information for org "+DefaultOrgID+" and topic "+name+" not found. Ensure the topic name is correct and that the topic exists.")
}

func (s *pubsubServer) GetTopic(ctx context.Context, req *pubsubpb.TopicRequest) (*pubsubpb.TopicInfo, error) {
	rpcID, set := uuid.NewString(), unaryTrailer(ctx)
	if _, ok := s.authenticate(ctx); !ok {
		return nil, rpcError(set, "GetTopic", rpcID, codes.Unauthenticated, "service.auth.error", authMessage)
	}
	if req.GetTopicName() == "" {
		return nil, rpcError(set, "GetTopic", rpcID, codes.InvalidArgument, "topic.validation.empty", "The topic name is empty.")
	}
	t, ok := s.lookup(req.GetTopicName())
	if !ok {
		return nil, notFound(set, "GetTopic", rpcID, req.GetTopicName())
	}
	s.o.mu.Lock()
	defer s.o.mu.Unlock()
	return &pubsubpb.TopicInfo{TopicName: t.name, TenantGuid: DefaultOrgID, CanPublish: t.canPublish,
		CanSubscribe: t.canSubscribe, SchemaId: t.schema.ID(), RpcId: rpcID}, nil
}

func (s *pubsubServer) GetSchema(ctx context.Context, req *pubsubpb.SchemaRequest) (*pubsubpb.SchemaInfo, error) {
	rpcID, set := uuid.NewString(), unaryTrailer(ctx)
	if _, ok := s.authenticate(ctx); !ok {
		return nil, rpcError(set, "GetSchema", rpcID, codes.Unauthenticated, "service.auth.error", authMessage)
	}
	s.o.mu.Lock()
	sc, ok := s.o.schemas[req.GetSchemaId()]
	s.o.mu.Unlock()
	if !ok {
		return nil, rpcError(set, "GetSchema", rpcID, codes.InvalidArgument, "schema.validation.failed",
			"The schema ID "+req.GetSchemaId()+" is not valid.")
	}
	return &pubsubpb.SchemaInfo{SchemaJson: sc.JSON(), SchemaId: sc.ID(), RpcId: rpcID}, nil
}

func (s *pubsubServer) Publish(ctx context.Context, req *pubsubpb.PublishRequest) (*pubsubpb.PublishResponse, error) {
	rpcID, set := uuid.NewString(), unaryTrailer(ctx)
	if _, ok := s.authenticate(ctx); !ok {
		return nil, rpcError(set, "Publish", rpcID, codes.Unauthenticated, "service.auth.error", authMessage)
	}
	if req.GetTopicName() == "" {
		return nil, rpcError(set, "Publish", rpcID, codes.InvalidArgument, "publish.topic.validation.empty", "The topic name is empty.")
	}
	t, ok := s.lookup(req.GetTopicName())
	if !ok {
		return nil, notFound(set, "Publish", rpcID, req.GetTopicName())
	}
	if n := len(req.GetEvents()); n == 0 || n > 200 {
		return nil, rpcError(set, "Publish", rpcID, codes.InvalidArgument, "publish.event.count.invalid", "The number of events must be between 1 and 200.")
	}
	s.o.mu.Lock()
	canPublish, current := t.canPublish, t.schema.ID()
	s.o.mu.Unlock()
	if !canPublish {
		return nil, rpcError(set, "Publish", rpcID, codes.PermissionDenied, "topic.meta.permission",
			"You don't have permission to publish to topic "+t.name+".")
	}
	resp := &pubsubpb.PublishResponse{SchemaId: current, RpcId: rpcID}
	for _, ev := range req.GetEvents() {
		resp.Results = append(resp.Results, s.publishOne(t, ev))
	}
	return resp, nil
}

func (s *pubsubServer) publishOne(t *topic, ev *pubsubpb.ProducerEvent) *pubsubpb.PublishResult {
	fail := func(msg string) *pubsubpb.PublishResult {
		return &pubsubpb.PublishResult{CorrelationKey: ev.GetId(), Error: &pubsubpb.Error{Code: pubsubpb.ErrorCode_PUBLISH, Msg: msg}}
	}
	if len(ev.GetId()) > 36 {
		return fail("The event ID exceeds 36 characters.")
	}
	if len(ev.GetPayload()) > 1<<20 {
		return fail("The event exceeds the maximum size of 1 MB.")
	}
	s.o.mu.Lock()
	known := t.schemaIDs[ev.GetSchemaId()]
	schema := s.o.schemas[ev.GetSchemaId()]
	s.o.mu.Unlock()
	if !known {
		return fail("The schema ID " + ev.GetSchemaId() + " is not a schema of topic " + t.name + ".")
	}
	data, err := schema.Decode(ev.GetPayload())
	if err != nil {
		return fail("The event payload can't be deserialized with schema " + schema.ID() + ": " + err.Error())
	}
	id := ev.GetId()
	if id == "" {
		id = uuid.NewString()
	}
	stored := &pubsubpb.ProducerEvent{Id: id, SchemaId: ev.GetSchemaId(), Payload: ev.GetPayload()}
	s.o.mu.Lock()
	replay := t.appendLocked(stored)
	s.o.published = append(s.o.published, Published{Topic: t.name, EventID: id, ReplayID: replay, SchemaID: schema.ID(), Data: data, Via: "pubsub"})
	s.o.mu.Unlock()
	s.o.log.Info("salesforce stand-in accepted published event", "topic", t.name, "event_id", id, "replay_id", hex.EncodeToString(replay))
	return &pubsubpb.PublishResult{ReplayId: replay, CorrelationKey: id}
}

func (s *pubsubServer) Subscribe(stream grpc.BidiStreamingServer[pubsubpb.FetchRequest, pubsubpb.FetchResponse]) error {
	rpcID := uuid.NewString()
	set := func(md metadata.MD) { stream.SetTrailer(md) }
	fail := func(code codes.Code, suffix, msg string) error {
		return rpcError(set, "Subscribe", rpcID, code, suffix, msg)
	}
	tok, ok := s.authenticate(stream.Context())
	if !ok {
		return fail(codes.Unauthenticated, "service.auth.error", authMessage)
	}
	first, err := stream.Recv()
	if err != nil {
		if errors.Is(err, io.EOF) {
			return nil
		}
		return err
	}
	if first.GetTopicName() == "" {
		return fail(codes.InvalidArgument, "subscription.fetch.request.invalid", "The topic name is required in the first fetch request.")
	}
	t, ok := s.lookup(first.GetTopicName())
	if !ok {
		return notFound(set, "Subscribe", rpcID, first.GetTopicName())
	}
	if first.GetNumRequested() <= 0 {
		return fail(codes.InvalidArgument, "subscription.fetch.requested.events.invalid", "The number of requested events must be greater than 0.")
	}
	s.o.mu.Lock()
	canSub := t.canSubscribe
	var pos int
	var posOK = true
	switch first.GetReplayPreset() {
	case pubsubpb.ReplayPreset_EARLIEST:
		pos = 0
	case pubsubpb.ReplayPreset_CUSTOM:
		if len(first.GetReplayId()) > 0 {
			pos, posOK = t.positionAfterLocked(first.GetReplayId())
		}
	default:
		pos = len(t.events)
	}
	s.o.mu.Unlock()
	if !canSub {
		return fail(codes.PermissionDenied, "subscription.topic.cannot.subscribe", "You can't subscribe to topic "+t.name+".")
	}
	if first.GetReplayPreset() == pubsubpb.ReplayPreset_CUSTOM && len(first.GetReplayId()) == 0 {
		return fail(codes.InvalidArgument, "subscription.fetch.replayid.validation.failed", "The replay ID validation failed. Provide a replay ID with the CUSTOM replay preset.")
	}
	if !posOK {
		return fail(codes.InvalidArgument, "subscription.fetch.replayid.corrupted", "The Replay ID validation failed. Ensure that the Replay ID is valid.")
	}

	s.o.countSubscribe(t.name)
	send := func(events []*pubsubpb.ConsumerEvent, latest []byte, pending int32) error {
		return stream.Send(&pubsubpb.FetchResponse{Events: events, LatestReplayId: latest, RpcId: rpcID, PendingNumRequested: pending})
	}
	recv := func() (int32, error) {
		r, err := stream.Recv()
		if err != nil {
			return 0, err
		}
		if r.GetTopicName() != "" && r.GetTopicName() != t.name {
			return 0, fail(codes.InvalidArgument, "subscription.fetch.topic.mismatch", "The topic name in the fetch request doesn't match the subscribed topic.")
		}
		if r.GetNumRequested() <= 0 {
			return 0, fail(codes.InvalidArgument, "subscription.fetch.requested.events.invalid", "The number of requested events must be greater than 0.")
		}
		return r.GetNumRequested(), nil
	}
	return s.serveEvents(stream.Context(), tok, t, pos, first.GetNumRequested(), recv, send, fail)
}
