package standin

import (
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"sync"
	"time"

	"github.com/google/uuid"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"

	"github.com/herokuevents/herokuevents/shared/salesforce/pubsubpb"
)

// countSubscribe records an accepted Subscribe or ManagedSubscribe stream
// on a topic (SubscribeCount).
func (o *Org) countSubscribe(topic string) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.subscribes == nil {
		o.subscribes = map[string]int{}
	}
	o.subscribes[topic]++
}

// SubscribeCount is the number of subscription streams (Subscribe and
// ManagedSubscribe) the org accepted on a topic since it started.
func (o *Org) SubscribeCount(topic string) int {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.subscribes[topic]
}

// Stall makes every subscription stream go silent (no events, no
// keepalives) while on is true, as a stuck Salesforce stream does; open
// streams stay open. Stall(false) resumes them.
func (o *Org) Stall(on bool) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.stalled = on
	o.wakeLocked()
	o.log.Info("salesforce stand-in streams", "stalled", on)
}

// DropStreams makes the org end every subscription stream (Subscribe and
// ManagedSubscribe) normally right after accepting it, before any event or
// keepalive, while on is true, as a Salesforce that closes streams in a
// loop does; open streams end too. The client sees io.EOF at once; each
// accepted stream still counts in SubscribeCount. DropStreams(false)
// serves streams again.
func (o *Org) DropStreams(on bool) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.dropping = on
	o.wakeLocked()
	o.log.Info("salesforce stand-in streams", "dropping", on)
}

// wakeLocked wakes every stream to look at the org's switches again.
func (o *Org) wakeLocked() {
	for _, t := range o.topics {
		close(t.changed)
		t.changed = make(chan struct{})
	}
}

// serveEvents sends t's events from log position pos to a subscription
// stream with flow control (pending requested events, topped up by recv;
// recv answering 0 adds nothing), a keepalive (an empty batch with the
// latest replay id) every keepalive interval while events are requested,
// and closes the stream after the idle timeout with nothing requested.
func (s *pubsubServer) serveEvents(parent context.Context, tok string, t *topic, pos int, pending int32,
	recv func() (int32, error), send func([]*pubsubpb.ConsumerEvent, []byte, int32) error,
	fail func(codes.Code, string, string) error) error {
	ctx, cancel := context.WithCancelCause(parent)
	defer cancel(nil)
	reg := &openStream{token: tok, cancel: cancel}
	s.o.mu.Lock()
	s.o.streams[reg] = struct{}{}
	s.o.mu.Unlock()
	defer func() {
		s.o.mu.Lock()
		delete(s.o.streams, reg)
		s.o.mu.Unlock()
	}()

	more := make(chan int32)
	errc := make(chan error, 1)
	go func() {
		for {
			n, err := recv()
			if err != nil {
				errc <- err
				return
			}
			if n == 0 {
				continue
			}
			select {
			case more <- n:
			case <-ctx.Done():
				return
			}
		}
	}()

	pending = min(pending, maxPending)
	lastSend := time.Now()
	idleSince := time.Time{}
	for {
		s.o.mu.Lock()
		avail := t.events[pos:]
		changed := t.changed
		latest := t.latestLocked()
		keepalive, idle, stalled, dropping := s.o.keepalive, s.o.idle, s.o.stalled, s.o.dropping
		s.o.mu.Unlock()
		if dropping {
			s.o.log.Info("salesforce stand-in dropped subscription stream", "topic", t.name)
			return nil
		}
		if stalled {
			select {
			case n := <-more:
				pending = min(pending+n, maxPending)
			case <-changed:
			case err := <-errc:
				if errors.Is(err, io.EOF) {
					return nil
				}
				return err
			case <-ctx.Done():
				return s.ended(ctx, fail)
			}
			lastSend = time.Now() // a keepalive is due a full interval after the stall ends
			continue
		}
		if pending > 0 && len(avail) > 0 {
			n := min(int(pending), len(avail))
			events := make([]*pubsubpb.ConsumerEvent, 0, n)
			for _, l := range avail[:n] {
				events = append(events, &pubsubpb.ConsumerEvent{Event: l.event, ReplayId: l.replayID})
			}
			pending -= int32(n)
			pos += n
			if err := send(events, avail[n-1].replayID, pending); err != nil {
				return err
			}
			lastSend = time.Now()
			if pending == 0 {
				idleSince = lastSend
			}
			continue
		}
		var wait time.Duration
		if pending > 0 {
			wait = time.Until(lastSend.Add(keepalive))
		} else {
			if idleSince.IsZero() {
				idleSince = time.Now()
			}
			wait = time.Until(idleSince.Add(idle))
		}
		timer := time.NewTimer(max(wait, 0))
		select {
		case n := <-more:
			timer.Stop()
			pending = min(pending+n, maxPending)
			idleSince = time.Time{}
		case <-changed:
			timer.Stop()
		case <-timer.C:
			if pending == 0 {
				s.o.log.Debug("salesforce stand-in closed idle subscription", "topic", t.name)
				return nil
			}
			if err := send(nil, latest, pending); err != nil {
				return err
			}
			lastSend = time.Now()
		case err := <-errc:
			timer.Stop()
			if errors.Is(err, io.EOF) {
				return nil
			}
			return err
		case <-ctx.Done():
			timer.Stop()
			return s.ended(ctx, fail)
		}
	}
}

func (s *pubsubServer) ended(ctx context.Context, fail func(codes.Code, string, string) error) error {
	if errors.Is(context.Cause(ctx), errTokenExpired) {
		return fail(codes.Unauthenticated, "service.auth.error", authMessage)
	}
	return status.FromContextError(ctx.Err()).Err()
}

// PublishStream publishes each request's events as Publish does and
// answers each with a PublishResponse; a request the topic refuses
// (unknown, empty, no permission, bad count) ends the stream with that
// error, as Salesforce does.
func (s *pubsubServer) PublishStream(stream grpc.BidiStreamingServer[pubsubpb.PublishRequest, pubsubpb.PublishResponse]) error {
	rpcID := uuid.NewString()
	set := func(md metadata.MD) { stream.SetTrailer(md) }
	if _, ok := s.authenticate(stream.Context()); !ok {
		return rpcError(set, "PublishStream", rpcID, codes.Unauthenticated, "service.auth.error", authMessage)
	}
	for {
		req, err := stream.Recv()
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return err
		}
		if _, ok := s.authenticate(stream.Context()); !ok {
			return rpcError(set, "PublishStream", rpcID, codes.Unauthenticated, "service.auth.error", authMessage)
		}
		if req.GetTopicName() == "" {
			return rpcError(set, "PublishStream", rpcID, codes.InvalidArgument, "publish.topic.validation.empty", "The topic name is empty.")
		}
		t, ok := s.lookup(req.GetTopicName())
		if !ok {
			return notFound(set, "PublishStream", rpcID, req.GetTopicName())
		}
		if n := len(req.GetEvents()); n == 0 || n > 200 {
			return rpcError(set, "PublishStream", rpcID, codes.InvalidArgument, "publish.event.count.invalid", "The number of events must be between 1 and 200.")
		}
		s.o.mu.Lock()
		canPublish, current := t.canPublish, t.schema.ID()
		s.o.mu.Unlock()
		if !canPublish {
			return rpcError(set, "PublishStream", rpcID, codes.PermissionDenied, "topic.meta.permission",
				"You don't have permission to publish to topic "+t.name+".")
		}
		resp := &pubsubpb.PublishResponse{SchemaId: current, RpcId: rpcID}
		for _, ev := range req.GetEvents() {
			resp.Results = append(resp.Results, s.publishOne(t, ev))
		}
		if err := stream.Send(resp); err != nil {
			return err
		}
	}
}

// ManagedSubscription is a managed event subscription of the org (the
// ManagedEventSubscription metadata of Salesforce): a named subscription
// to a topic whose committed replay id Salesforce keeps.
type ManagedSubscription struct {
	ID            string `json:"id"`
	DeveloperName string `json:"developerName"`
	Topic         string `json:"topic"`
	// Earliest starts a subscription without a commit at the oldest
	// retained event (else at the next one published).
	Earliest bool `json:"earliest,omitempty"`
	// Committed is the last committed replay id (nil before the first).
	Committed []byte `json:"committed,omitempty"`
}

// AddManagedSubscription creates a managed subscription to a topic and
// returns its id (an 18-character 18x… id, as Salesforce's).
func (o *Org) AddManagedSubscription(developerName, topicName string, earliest bool) (string, error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if _, ok := o.topics[topicName]; !ok {
		return "", fmt.Errorf("add managed subscription %s: %w: %s", developerName, ErrUnknownTopic, topicName)
	}
	if o.managed == nil {
		o.managed = map[string]*ManagedSubscription{}
	}
	for _, m := range o.managed {
		if m.DeveloperName == developerName {
			return "", fmt.Errorf("add managed subscription %s: the name is taken", developerName)
		}
	}
	id := fmt.Sprintf("18x5g%013d", len(o.managed)+1)
	o.managed[id] = &ManagedSubscription{ID: id, DeveloperName: developerName, Topic: topicName, Earliest: earliest}
	return id, nil
}

// Managed returns a copy of a managed subscription by id or developer name.
func (o *Org) Managed(idOrName string) (ManagedSubscription, bool) {
	o.mu.Lock()
	defer o.mu.Unlock()
	m := o.managedLocked(idOrName, idOrName)
	if m == nil {
		return ManagedSubscription{}, false
	}
	c := *m
	c.Committed = append([]byte(nil), m.Committed...)
	return c, true
}

func (o *Org) managedLocked(id, name string) *ManagedSubscription {
	if m, ok := o.managed[id]; ok && id != "" {
		return m
	}
	for _, m := range o.managed {
		if name != "" && m.DeveloperName == name {
			return m
		}
	}
	return nil
}

// ManagedSubscribe serves a managed subscription: it starts after the
// subscription's committed replay id (or at its preset without one), and
// a request carrying a CommitReplayRequest stores that replay id as the
// committed one and is answered with a CommitReplayResponse.
func (s *pubsubServer) ManagedSubscribe(stream grpc.BidiStreamingServer[pubsubpb.ManagedFetchRequest, pubsubpb.ManagedFetchResponse]) error {
	rpcID := uuid.NewString()
	set := func(md metadata.MD) { stream.SetTrailer(md) }
	fail := func(code codes.Code, suffix, msg string) error {
		return rpcError(set, "ManagedSubscribe", rpcID, code, suffix, msg)
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
	if first.GetSubscriptionId() == "" && first.GetDeveloperName() == "" {
		return fail(codes.InvalidArgument, "managed.subscription.fetch.request.invalid",
			"The subscription ID or developer name is required in the first managed fetch request.")
	}
	if first.GetNumRequested() <= 0 {
		return fail(codes.InvalidArgument, "subscription.fetch.requested.events.invalid", "The number of requested events must be greater than 0.")
	}
	s.o.mu.Lock()
	m := s.o.managedLocked(first.GetSubscriptionId(), first.GetDeveloperName())
	var t *topic
	var pos int
	posOK := true
	var subID string
	if m != nil {
		subID = m.ID
		t = s.o.topics[m.Topic]
		switch {
		case len(m.Committed) > 0:
			pos, posOK = t.positionAfterLocked(m.Committed)
		case m.Earliest:
			pos = 0
		default:
			pos = len(t.events)
		}
	}
	s.o.mu.Unlock()
	if m == nil {
		return fail(codes.NotFound, "managed.subscription.not.found",
			"The managed subscription "+first.GetSubscriptionId()+first.GetDeveloperName()+" wasn't found. Ensure the subscription ID or developer name is correct.")
	}
	if !posOK {
		return fail(codes.InvalidArgument, "subscription.fetch.replayid.corrupted", "The Replay ID validation failed. Ensure that the Replay ID is valid.")
	}
	s.o.countSubscribe(t.name)
	var sendMu sync.Mutex
	send := func(resp *pubsubpb.ManagedFetchResponse) error {
		sendMu.Lock()
		defer sendMu.Unlock()
		resp.RpcId = rpcID
		return stream.Send(resp)
	}
	commit := func(c *pubsubpb.CommitReplayRequest) error {
		start := time.Now()
		resp := &pubsubpb.CommitReplayResponse{CommitRequestId: c.GetCommitRequestId(), ReplayId: c.GetReplayId()}
		s.o.mu.Lock()
		if _, ok := t.positionAfterLocked(c.GetReplayId()); ok {
			s.o.managed[subID].Committed = append([]byte(nil), c.GetReplayId()...)
		} else {
			resp.Error = &pubsubpb.Error{Code: pubsubpb.ErrorCode_COMMIT, Msg: "The replay ID " + hex.EncodeToString(c.GetReplayId()) + " is not valid for the subscription."}
		}
		s.o.mu.Unlock()
		resp.ProcessTime = time.Since(start).Milliseconds()
		s.o.log.Info("salesforce stand-in managed commit", "subscription", subID, "replay_id", hex.EncodeToString(c.GetReplayId()), "ok", resp.Error == nil)
		return send(&pubsubpb.ManagedFetchResponse{CommitResponse: resp})
	}
	if c := first.GetCommitReplayIdRequest(); c != nil {
		if err := commit(c); err != nil {
			return err
		}
	}
	recv := func() (int32, error) {
		r, err := stream.Recv()
		if err != nil {
			return 0, err
		}
		if c := r.GetCommitReplayIdRequest(); c != nil {
			if err := commit(c); err != nil {
				return 0, err
			}
		} else if r.GetNumRequested() <= 0 {
			return 0, fail(codes.InvalidArgument, "subscription.fetch.requested.events.invalid", "The number of requested events must be greater than 0.")
		}
		return max(r.GetNumRequested(), 0), nil
	}
	sendEvents := func(events []*pubsubpb.ConsumerEvent, latest []byte, pending int32) error {
		return send(&pubsubpb.ManagedFetchResponse{Events: events, LatestReplayId: latest, PendingNumRequested: pending})
	}
	return s.serveEvents(stream.Context(), tok, t, pos, first.GetNumRequested(), recv, sendEvents, fail)
}
