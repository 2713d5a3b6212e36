package pubsub

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strings"

	"github.com/google/uuid"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"

	"github.com/herokuevents/herokuevents/shared/salesforce"
	"github.com/herokuevents/herokuevents/shared/salesforce/pubsubpb"
)

// DefaultEndpoint is the production Pub/Sub API endpoint.
const DefaultEndpoint = "api.pubsub.salesforce.com:7443"

// Errors of the Pub/Sub API. Every RPC error is an *APIError that wraps one
// of these when it applies, so callers use errors.Is.
var (
	// ErrUnauthenticated: the access token was rejected (expired, revoked).
	// The client has already invalidated it on a salesforce.SessionSource that is an
	// salesforce.Invalidator; refresh and retry (resubscribe with ReplayCustom).
	ErrUnauthenticated = errors.New("salesforce pub/sub: unauthenticated")
	// ErrReplayCorrupted: the replay id is malformed, expired (over 72 h) or
	// missing with ReplayCustom. Resubscribe with a deliberate fallback
	// (ReplayLatest or ReplayEarliest); retrying with the same id fails again.
	ErrReplayCorrupted = errors.New("salesforce pub/sub: replay id corrupted")
	// ErrTopicNotFound: the topic does not exist or is not visible to the user.
	ErrTopicNotFound = errors.New("salesforce pub/sub: topic not found")
	// ErrPermission: the user may not subscribe to or publish on the topic.
	ErrPermission = errors.New("salesforce pub/sub: permission denied")
	// ErrUnavailable: the service is (temporarily) unavailable; retry with backoff.
	ErrUnavailable = errors.New("salesforce pub/sub: service unavailable")
	// ErrLimitExceeded: the org's delivery or publishing allocation is used
	// up; do not retry before the allocation resets.
	ErrLimitExceeded = errors.New("salesforce pub/sub: limit exceeded")
)

// APIError is a failed Pub/Sub RPC.
type APIError struct {
	Code      string // gRPC code name, e.g. "InvalidArgument"
	ErrorCode string // Salesforce error-code trailer, e.g. sfdc.platform.eventbus.grpc.subscription.fetch.replayid.corrupted
	Message   string
	RPCID     string
	kind      error
}

func (e *APIError) Error() string {
	msg := "salesforce pub/sub: " + e.Code + ": " + e.Message
	if e.ErrorCode != "" {
		msg += " [" + e.ErrorCode + "]"
	}
	return msg
}

// Unwrap returns the sentinel the error is an instance of, if any.
func (e *APIError) Unwrap() error { return e.kind }

// apiError converts a gRPC error into an *APIError; other errors pass through.
func apiError(err error, trailer metadata.MD) error {
	if err == nil {
		return nil
	}
	st, ok := status.FromError(err)
	if !ok {
		return err
	}
	e := &APIError{Code: st.Code().String(), Message: st.Message()}
	if v := trailer.Get("error-code"); len(v) > 0 {
		e.ErrorCode = v[0]
	}
	if v := trailer.Get("rpc-id"); len(v) > 0 {
		e.RPCID = v[0]
	}
	hint := e.ErrorCode + " " + e.Message
	switch st.Code() {
	case codes.Unauthenticated:
		e.kind = ErrUnauthenticated
	case codes.InvalidArgument:
		if strings.Contains(hint, "replayid.corrupted") || strings.Contains(hint, "replayid.validation.failed") {
			e.kind = ErrReplayCorrupted
		}
	case codes.NotFound:
		e.kind = ErrTopicNotFound
	case codes.PermissionDenied:
		e.kind = ErrPermission
	case codes.Unavailable:
		e.kind = ErrUnavailable
	case codes.Internal:
		if strings.Contains(hint, "service.unavailable") || strings.Contains(hint, "unavailable") {
			e.kind = ErrUnavailable
		}
	case codes.ResourceExhausted:
		e.kind = ErrLimitExceeded
	}
	if strings.Contains(hint, "limit.exceeded") {
		e.kind = ErrLimitExceeded
	}
	return e
}

// DialOption configures Dial.
type DialOption func(*dialConfig)

type dialConfig struct {
	roots    *x509.CertPool
	caFile   string
	insecure bool
	session  salesforce.SessionSource
	log      *slog.Logger
}

// WithCAFile trusts the PEM certificates in path in addition to the system
// roots (the local stand-in's certificate; callers read SALESFORCE_CA_CERT).
func WithCAFile(path string) DialOption { return func(c *dialConfig) { c.caFile = path } }

// WithRootCAs replaces the trusted roots with pool.
func WithRootCAs(pool *x509.CertPool) DialOption { return func(c *dialConfig) { c.roots = pool } }

// WithInsecure dials without TLS (plaintext HTTP/2); for tests only.
func WithInsecure() DialOption { return func(c *dialConfig) { c.insecure = true } }

// WithSession sets the source of the per-RPC credentials.
func WithSession(src salesforce.SessionSource) DialOption {
	return func(c *dialConfig) { c.session = src }
}

// WithLogger sets the logger (default slog.Default()).
func WithLogger(l *slog.Logger) DialOption { return func(c *dialConfig) { c.log = l } }

// Client is a Pub/Sub API client bound to one session source. It is safe for
// concurrent use; it does not retry failed RPCs (see the errors above for
// who retries what). Clients made with WithSessionSource share the
// connection and the schema cache.
type Client struct {
	conn    *grpc.ClientConn
	api     pubsubpb.PubSubClient
	session salesforce.SessionSource
	schemas *SchemaCache
	log     *slog.Logger
	owner   bool
}

// Dial connects to a Pub/Sub endpoint (host:port) over TLS with ALPN h2. The
// connection is made lazily; ctx is not used for it and errors surface on the
// first RPC.
func Dial(_ context.Context, endpoint string, opts ...DialOption) (*Client, error) {
	cfg := dialConfig{log: slog.Default()}
	for _, o := range opts {
		o(&cfg)
	}
	var creds credentials.TransportCredentials
	if cfg.insecure {
		creds = insecure.NewCredentials()
	} else {
		// Without a CA file the roots stay nil: crypto/tls then loads the
		// system roots at the first handshake, not here, in the function's
		// init (parsing them costs 20-40 ms).
		roots := cfg.roots
		if cfg.caFile != "" {
			if roots == nil {
				sys, err := x509.SystemCertPool()
				if err != nil {
					sys = x509.NewCertPool()
				}
				roots = sys
			}
			pem, err := os.ReadFile(cfg.caFile)
			if err != nil {
				return nil, fmt.Errorf("read CA file: %w", err)
			}
			roots = roots.Clone()
			if !roots.AppendCertsFromPEM(pem) {
				return nil, fmt.Errorf("read CA file %s: no PEM certificates", cfg.caFile)
			}
		}
		creds = credentials.NewTLS(&tls.Config{RootCAs: roots, MinVersion: tls.VersionTLS12})
	}
	conn, err := grpc.NewClient(endpoint, grpc.WithTransportCredentials(creds),
		grpc.WithDefaultCallOptions(grpc.MaxCallRecvMsgSize(16<<20)))
	if err != nil {
		return nil, fmt.Errorf("dial pub/sub %s: %w", endpoint, err)
	}
	c := &Client{conn: conn, api: pubsubpb.NewPubSubClient(conn), session: cfg.session, log: cfg.log, owner: true}
	c.schemas = NewSchemaCache(c.fetchSchema)
	return c, nil
}

// WithSessionSource returns a client sharing c's connection and schema cache
// but authenticating with src (another org). Closing it is a no-op.
func (c *Client) WithSessionSource(src salesforce.SessionSource) *Client {
	n := *c
	n.session = src
	n.owner = false
	return &n
}

// Close closes the connection (only on the client returned by Dial).
func (c *Client) Close() error {
	if !c.owner {
		return nil
	}
	return c.conn.Close()
}

func (c *Client) authCtx(ctx context.Context) (context.Context, string, error) {
	if c.session == nil {
		return ctx, "", nil
	}
	s, err := c.session.Session(ctx)
	if err != nil {
		return nil, "", fmt.Errorf("get session: %w", err)
	}
	md := metadata.Pairs("accesstoken", s.AccessToken, "instanceurl", s.InstanceURL, "tenantid", s.OrgID,
		"x-client-trace-id", uuid.NewString())
	return metadata.NewOutgoingContext(ctx, md), s.AccessToken, nil
}

func (c *Client) fail(err error, trailer metadata.MD, token string) error {
	e := apiError(err, trailer)
	if errors.Is(e, ErrUnauthenticated) {
		if inv, ok := c.session.(salesforce.Invalidator); ok {
			inv.Invalidate(token)
		}
	}
	return e
}

// Topic is the metadata of a topic.
type Topic struct {
	Name         string
	SchemaID     string // current schema; publish with it
	CanPublish   bool
	CanSubscribe bool
	TenantGUID   string
}

// GetTopic returns a topic's metadata. Errors: ErrTopicNotFound, ErrUnauthenticated, ….
func (c *Client) GetTopic(ctx context.Context, topic string) (*Topic, error) {
	ctx, tok, err := c.authCtx(ctx)
	if err != nil {
		return nil, err
	}
	var tr metadata.MD
	info, err := c.api.GetTopic(ctx, &pubsubpb.TopicRequest{TopicName: topic}, grpc.Trailer(&tr))
	if err != nil {
		return nil, fmt.Errorf("get topic %s: %w", topic, c.fail(err, tr, tok))
	}
	return &Topic{Name: info.GetTopicName(), SchemaID: info.GetSchemaId(), CanPublish: info.GetCanPublish(),
		CanSubscribe: info.GetCanSubscribe(), TenantGUID: info.GetTenantGuid()}, nil
}

// GetSchema returns a parsed schema, cached by schema id.
func (c *Client) GetSchema(ctx context.Context, schemaID string) (*Schema, error) {
	return c.schemas.Get(ctx, schemaID)
}

func (c *Client) fetchSchema(ctx context.Context, schemaID string) (string, error) {
	ctx, tok, err := c.authCtx(ctx)
	if err != nil {
		return "", err
	}
	var tr metadata.MD
	info, err := c.api.GetSchema(ctx, &pubsubpb.SchemaRequest{SchemaId: schemaID}, grpc.Trailer(&tr))
	if err != nil {
		return "", fmt.Errorf("get schema %s: %w", schemaID, c.fail(err, tr, tok))
	}
	return info.GetSchemaJson(), nil
}

// Message is one event to publish.
type Message struct {
	// ID is optional (≤ 36 chars); it comes back as the result's
	// CorrelationKey. Without it the server generates a UUID.
	ID string
	// Data is a JSON object of the event's fields, plain or union-wrapped
	// (see Schema.Encode).
	Data json.RawMessage
}

// PublishResult is the outcome of one published event, in request order.
type PublishResult struct {
	ReplayID       []byte // set on success
	CorrelationKey string
	Err            error // nil on success; a *PublishError or an ErrInvalidPayload
}

// PublishError is a per-event failure reported by the server.
type PublishError struct {
	Code string // "PUBLISH", "UNKNOWN", …
	Msg  string
}

func (e *PublishError) Error() string { return "publish event: " + e.Code + ": " + e.Msg }

// Publish checks that the topic is publishable (else ErrPermission),
// encodes msgs with the topic's current schema and publishes them
// in one synchronous batch (keep it ≤ 200 events and ≤ 3 MB). Each event has
// its own result; the error is for the whole call (topic not found,
// unauthenticated, …). Events that do not encode are not sent and get an
// ErrInvalidPayload result.
func (c *Client) Publish(ctx context.Context, topic string, msgs ...Message) ([]PublishResult, error) {
	t, err := c.GetTopic(ctx, topic)
	if err != nil {
		return nil, err
	}
	if !t.CanPublish {
		return nil, fmt.Errorf("publish to %s: %w", topic, &APIError{Code: "PermissionDenied", Message: "the topic is not publishable", kind: ErrPermission})
	}
	schema, err := c.GetSchema(ctx, t.SchemaID)
	if err != nil {
		return nil, err
	}
	results := make([]PublishResult, len(msgs))
	var events []*pubsubpb.ProducerEvent
	var index []int
	for i, m := range msgs {
		payload, err := schema.Encode(m.Data)
		if err != nil {
			results[i] = PublishResult{CorrelationKey: m.ID, Err: err}
			continue
		}
		events = append(events, &pubsubpb.ProducerEvent{Id: m.ID, SchemaId: schema.ID(), Payload: payload})
		index = append(index, i)
	}
	if len(events) == 0 {
		return results, nil
	}
	sent, err := c.PublishEvents(ctx, topic, events)
	if err != nil {
		return nil, err
	}
	for j, r := range sent {
		if j < len(index) {
			results[index[j]] = r
		}
	}
	return results, nil
}

// PublishEvents publishes already encoded events.
func (c *Client) PublishEvents(ctx context.Context, topic string, events []*pubsubpb.ProducerEvent) ([]PublishResult, error) {
	ctx, tok, err := c.authCtx(ctx)
	if err != nil {
		return nil, err
	}
	var tr metadata.MD
	resp, err := c.api.Publish(ctx, &pubsubpb.PublishRequest{TopicName: topic, Events: events}, grpc.Trailer(&tr))
	if err != nil {
		return nil, fmt.Errorf("publish to %s: %w", topic, c.fail(err, tr, tok))
	}
	out := make([]PublishResult, len(resp.GetResults()))
	for i, r := range resp.GetResults() {
		out[i] = PublishResult{ReplayID: r.GetReplayId(), CorrelationKey: r.GetCorrelationKey()}
		if r.GetError() != nil {
			out[i].Err = &PublishError{Code: r.GetError().GetCode().String(), Msg: r.GetError().GetMsg()}
			out[i].ReplayID = nil
		}
	}
	if len(out) != len(events) {
		return out, fmt.Errorf("publish to %s: %d results for %d events", topic, len(out), len(events))
	}
	return out, nil
}

// Replay selects where a subscription starts.
type Replay int

// Replay presets.
const (
	ReplayLatest   Replay = iota // only new events (the default)
	ReplayEarliest               // the oldest retained event (up to 72 h: may be many)
	ReplayCustom                 // after ReplayID, exclusive
)

// SubscribeRequest opens a subscription.
type SubscribeRequest struct {
	Topic    string
	Replay   Replay
	ReplayID []byte // with ReplayCustom: the last processed id, resent unchanged
	// BatchSize is the number of events kept requested (1..100, default
	// 100). More are requested when fewer than half remain pending, so the
	// stream never idles with nothing requested.
	BatchSize int32
}

// Event is one delivered event.
type Event struct {
	ID       string          // ProducerEvent.id (the EventUuid of a platform event)
	ReplayID []byte          // opaque; store it unchanged
	SchemaID string          // writer schema
	Payload  []byte          // raw Avro
	Data     json.RawMessage // Avro JSON, unions wrapped
	Schema   *Schema
}

// Batch is one FetchResponse. A batch with no events is a keepalive; its
// LatestReplayID may be ahead of the last event and should be stored too.
type Batch struct {
	Events         []Event
	LatestReplayID []byte
	Pending        int32
}

// Subscription is an open Subscribe stream. Recv is not safe for concurrent
// use; Close may be called from any goroutine.
type Subscription struct {
	c       *Client
	stream  grpc.BidiStreamingClient[pubsubpb.FetchRequest, pubsubpb.FetchResponse]
	cancel  context.CancelFunc
	token   string
	batch   int32
	pending int32
	topic   string
	ctx     context.Context
}

// Subscribe opens a stream on req.Topic and requests the first batch.
// Errors from the server (ErrReplayCorrupted, ErrTopicNotFound,
// ErrUnauthenticated, …) surface from the first Recv.
func (c *Client) Subscribe(ctx context.Context, req SubscribeRequest) (*Subscription, error) {
	if req.BatchSize <= 0 || req.BatchSize > 100 {
		req.BatchSize = 100
	}
	ctx, cancel := context.WithCancel(ctx)
	actx, tok, err := c.authCtx(ctx)
	if err != nil {
		cancel()
		return nil, err
	}
	stream, err := c.api.Subscribe(actx)
	if err != nil {
		cancel()
		return nil, fmt.Errorf("subscribe to %s: %w", req.Topic, c.fail(err, nil, tok))
	}
	first := &pubsubpb.FetchRequest{TopicName: req.Topic, NumRequested: req.BatchSize}
	switch req.Replay {
	case ReplayEarliest:
		first.ReplayPreset = pubsubpb.ReplayPreset_EARLIEST
	case ReplayCustom:
		first.ReplayPreset = pubsubpb.ReplayPreset_CUSTOM
		first.ReplayId = req.ReplayID
	default:
		first.ReplayPreset = pubsubpb.ReplayPreset_LATEST
	}
	s := &Subscription{c: c, stream: stream, cancel: cancel, token: tok, batch: req.BatchSize, pending: req.BatchSize, topic: req.Topic, ctx: ctx}
	if err := stream.Send(first); err != nil && !errors.Is(err, io.EOF) {
		cancel()
		return nil, fmt.Errorf("subscribe to %s: %w", req.Topic, c.fail(err, nil, tok))
	}
	c.log.Debug("salesforce subscribe", "topic", req.Topic, "replay", first.ReplayPreset.String(), "batch", req.BatchSize)
	return s, nil
}

// Recv waits for the next batch, decodes its events (fetching unknown
// schemas) and keeps events requested. It returns io.EOF when the server
// closed the stream normally (idle), ctx.Err() after cancellation, and
// *APIError otherwise.
func (s *Subscription) Recv() (*Batch, error) {
	resp, err := s.stream.Recv()
	if err != nil {
		if s.ctx.Err() != nil {
			return nil, s.ctx.Err()
		}
		if errors.Is(err, io.EOF) {
			return nil, io.EOF
		}
		return nil, fmt.Errorf("receive from %s: %w", s.topic, s.c.fail(err, s.stream.Trailer(), s.token))
	}
	b := &Batch{LatestReplayID: resp.GetLatestReplayId(), Pending: resp.GetPendingNumRequested()}
	for _, ce := range resp.GetEvents() {
		pe := ce.GetEvent()
		schema, err := s.c.GetSchema(s.ctx, pe.GetSchemaId())
		if err != nil {
			return nil, fmt.Errorf("receive from %s: %w", s.topic, err)
		}
		data, err := schema.Decode(pe.GetPayload())
		if err != nil {
			return nil, fmt.Errorf("receive from %s: event %s: %w", s.topic, pe.GetId(), err)
		}
		b.Events = append(b.Events, Event{ID: pe.GetId(), ReplayID: ce.GetReplayId(), SchemaID: pe.GetSchemaId(),
			Payload: pe.GetPayload(), Data: data, Schema: schema})
	}
	s.pending = resp.GetPendingNumRequested()
	if s.pending <= s.batch/2 {
		more := s.batch - s.pending
		if err := s.stream.Send(&pubsubpb.FetchRequest{TopicName: s.topic, NumRequested: more}); err != nil && !errors.Is(err, io.EOF) {
			return nil, fmt.Errorf("request events from %s: %w", s.topic, s.c.fail(err, nil, s.token))
		}
		s.pending += more
	}
	return b, nil
}

// Close ends the stream; call it when done (or cancel the Subscribe ctx).
func (s *Subscription) Close() error {
	s.cancel()
	return nil
}
