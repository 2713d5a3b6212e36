// Package standin is a faithful local stand-in for a Salesforce org:
// a TLS gRPC Pub/Sub API server (topics with replay logs, flow control,
// keepalives, per-RPC authentication, publish validation against Avro
// schemas) and an HTTP server with the OAuth endpoints, REST platform event
// publishing and a control API to emit events. Tests import it; the CLI runs
// it as `herokuevents dev:salesforce`.
//
// Everything lives in memory; an Org is safe for concurrent use.
package standin

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"encoding/base64"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/google/uuid"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"

	"github.com/herokuevents/herokuevents/shared/salesforce"
	"github.com/herokuevents/herokuevents/shared/salesforce/pubsub"
	"github.com/herokuevents/herokuevents/shared/salesforce/pubsubpb"
)

// Defaults of Options.
const (
	DefaultClientID     = "3MVG9standin.herokuevents.client"
	DefaultClientSecret = "standin-client-secret"
	DefaultUsername     = "admin@standin.example.com"
	DefaultPassword     = "standin-password"
	DefaultOrgID        = "00D5g000000StandAA"
	DefaultUserID       = "0055g000000StandAA"
)

// ErrUnknownTopic is returned for topics the org does not have.
var ErrUnknownTopic = errors.New("unknown topic")

// Options configures Start. The zero value works: loopback ports chosen by
// the system, a temporary directory for the certificate, built-in topics.
type Options struct {
	GRPCAddr string // Pub/Sub listen address; default 127.0.0.1:0
	HTTPAddr string // OAuth/REST/control listen address; default 127.0.0.1:0
	Dir      string // where the certificate is written; default a temp dir removed by Close

	ClientID, ClientSecret string           // the connected app; defaults above
	Username, Password     string           // the one user; defaults above
	JWTKeys                []*rsa.PublicKey // keys accepted for JWT bearer assertions

	// Keepalive is how long a subscription with pending requests waits
	// for events before an empty batch (default 60 s; Salesforce ≤ 270 s).
	Keepalive time.Duration
	// IdleTimeout closes subscriptions that have nothing requested for this
	// long (default 60 s).
	IdleTimeout time.Duration

	Topics     []TopicSpec // extra topics
	TopicsFile string      // JSON array of TopicSpec, extra topics
	Logger     *slog.Logger
}

// TopicSpec declares a topic. CanPublish defaults to true for /event/
// topics and false otherwise; CanSubscribe defaults to true.
type TopicSpec struct {
	Name         string          `json:"name"`
	Schema       json.RawMessage `json:"schema"`
	CanPublish   *bool           `json:"canPublish,omitempty"`
	CanSubscribe *bool           `json:"canSubscribe,omitempty"`
}

// Published is an event received through Pub/Sub Publish or REST.
type Published struct {
	Topic    string          `json:"topic"`
	EventID  string          `json:"eventId"`
	ReplayID []byte          `json:"replayId"`
	SchemaID string          `json:"schemaId"`
	Data     json.RawMessage `json:"data"` // Avro JSON, unions wrapped
	Via      string          `json:"via"`  // "pubsub" or "rest"
}

// Org is a running stand-in org.
type Org struct {
	opts    Options
	log     *slog.Logger
	tempDir string

	certFile string
	pool     *x509.CertPool

	grpcLis net.Listener
	grpcSrv *grpc.Server
	httpLis net.Listener
	httpSrv *http.Server
	baseURL string

	mu         sync.Mutex
	topics     map[string]*topic
	schemas    map[string]*pubsub.Schema
	access     map[string]*accessToken
	refresh    map[string]*refreshToken
	codes      map[string]*authCode
	jwtKeys    []*rsa.PublicKey
	published  []Published
	streams    map[*openStream]struct{}
	keepalive  time.Duration
	idle       time.Duration
	commitNum  int64
	stalled    bool                            // see Stall
	dropping   bool                            // see DropStreams
	subscribes map[string]int                  // topic → streams accepted (SubscribeCount)
	managed    map[string]*ManagedSubscription // id → managed subscription
	recordSeq  int
	closedOnce sync.Once

	dcOnce  sync.Once
	dcState *dataCloud // see datacloud.go
}

type topic struct {
	name         string
	schema       *pubsub.Schema  // current
	schemaIDs    map[string]bool // every version
	canPublish   bool
	canSubscribe bool
	base         uint64 // replay id before the first event
	events       []logged
	changed      chan struct{} // closed and replaced on append
}

type logged struct {
	replayID []byte
	event    *pubsubpb.ProducerEvent
}

type accessToken struct {
	refresh string
	expired bool
}

type refreshToken struct {
	revoked bool
}

type authCode struct {
	redirectURI, challenge, method string
}

type openStream struct {
	token  string
	cancel context.CancelCauseFunc
}

var errTokenExpired = errors.New("access token expired")

// Start runs a stand-in org until Close.
func Start(opts Options) (*Org, error) {
	o := &Org{
		opts: opts, log: opts.Logger,
		topics: map[string]*topic{}, schemas: map[string]*pubsub.Schema{},
		access: map[string]*accessToken{}, refresh: map[string]*refreshToken{}, codes: map[string]*authCode{},
		streams: map[*openStream]struct{}{}, jwtKeys: append([]*rsa.PublicKey(nil), opts.JWTKeys...),
		keepalive: opts.Keepalive, idle: opts.IdleTimeout,
		commitNum: 1736877279422521345,
	}
	if o.log == nil {
		o.log = slog.Default()
	}
	if o.keepalive <= 0 {
		o.keepalive = 60 * time.Second
	}
	if o.idle <= 0 {
		o.idle = 60 * time.Second
	}
	if o.opts.ClientID == "" {
		o.opts.ClientID = DefaultClientID
	}
	if o.opts.ClientSecret == "" {
		o.opts.ClientSecret = DefaultClientSecret
	}
	if o.opts.Username == "" {
		o.opts.Username = DefaultUsername
	}
	if o.opts.Password == "" {
		o.opts.Password = DefaultPassword
	}
	if err := o.addBuiltins(); err != nil {
		return nil, err
	}
	for _, t := range opts.Topics {
		if err := o.AddTopic(t); err != nil {
			return nil, err
		}
	}
	if opts.TopicsFile != "" {
		b, err := os.ReadFile(opts.TopicsFile)
		if err != nil {
			return nil, fmt.Errorf("read topics file: %w", err)
		}
		var specs []TopicSpec
		if err := json.Unmarshal(b, &specs); err != nil {
			return nil, fmt.Errorf("read topics file %s: %w", opts.TopicsFile, err)
		}
		for _, t := range specs {
			if err := o.AddTopic(t); err != nil {
				return nil, err
			}
		}
	}
	if err := o.start(); err != nil {
		o.Close()
		return nil, err
	}
	return o, nil
}

func (o *Org) addBuiltins() error {
	for _, t := range []TopicSpec{
		{Name: SystemStatusTopic, Schema: json.RawMessage(systemStatusSchema)},
		{Name: AccountChangeTopic, Schema: json.RawMessage(accountChangeSchema)},
	} {
		if err := o.AddTopic(t); err != nil {
			return err
		}
	}
	return nil
}

func (o *Org) start() error {
	dir := o.opts.Dir
	if dir == "" {
		d, err := os.MkdirTemp("", "salesforce-standin-")
		if err != nil {
			return fmt.Errorf("create cert dir: %w", err)
		}
		o.tempDir, dir = d, d
	}
	cert, certPEM, err := selfSigned()
	if err != nil {
		return err
	}
	o.certFile = filepath.Join(dir, "pubsub-ca.pem")
	if err := os.WriteFile(o.certFile, certPEM, 0o644); err != nil {
		return fmt.Errorf("write certificate: %w", err)
	}
	o.pool = x509.NewCertPool()
	o.pool.AppendCertsFromPEM(certPEM)

	addr := o.opts.GRPCAddr
	if addr == "" {
		addr = "127.0.0.1:0"
	}
	if o.grpcLis, err = net.Listen("tcp", addr); err != nil {
		return fmt.Errorf("listen pub/sub: %w", err)
	}
	creds := credentials.NewTLS(&tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12})
	o.grpcSrv = grpc.NewServer(grpc.Creds(creds), grpc.MaxRecvMsgSize(4<<20))
	pubsubpb.RegisterPubSubServer(o.grpcSrv, &pubsubServer{o: o})
	go func() { _ = o.grpcSrv.Serve(o.grpcLis) }()

	haddr := o.opts.HTTPAddr
	if haddr == "" {
		haddr = "127.0.0.1:0"
	}
	if o.httpLis, err = net.Listen("tcp", haddr); err != nil {
		return fmt.Errorf("listen http: %w", err)
	}
	o.baseURL = "http://" + o.httpLis.Addr().String()
	o.httpSrv = &http.Server{Handler: o.routes(), ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = o.httpSrv.Serve(o.httpLis) }()
	o.log.Info("salesforce stand-in started", "pubsub", o.PubSubEndpoint(), "http", o.baseURL, "org", DefaultOrgID)
	return nil
}

// Close stops both servers and removes the temporary directory.
func (o *Org) Close() error {
	o.closedOnce.Do(func() {
		o.mu.Lock()
		for s := range o.streams {
			s.cancel(context.Canceled)
		}
		o.mu.Unlock()
		if o.grpcSrv != nil {
			o.grpcSrv.Stop()
		}
		if o.httpSrv != nil {
			_ = o.httpSrv.Close()
		}
		if o.tempDir != "" {
			_ = os.RemoveAll(o.tempDir)
		}
	})
	return nil
}

// PubSubEndpoint is the host:port of the TLS gRPC server.
func (o *Org) PubSubEndpoint() string { return o.grpcLis.Addr().String() }

// CACertFile is the PEM file of the gRPC server's self-signed certificate
// (valid for 127.0.0.1, ::1 and localhost).
func (o *Org) CACertFile() string { return o.certFile }

// CertPool trusts the gRPC server's certificate.
func (o *Org) CertPool() *x509.CertPool { return o.pool }

// LoginURL is the base URL of the OAuth endpoints (plain HTTP on loopback).
func (o *Org) LoginURL() string { return o.baseURL }

// InstanceURL is the org's instance URL (the same server as LoginURL).
func (o *Org) InstanceURL() string { return o.baseURL }

// OrgID is the 18-character org id (the Pub/Sub tenantid).
func (o *Org) OrgID() string { return DefaultOrgID }

// UserID is the id of the org's one user.
func (o *Org) UserID() string { return DefaultUserID }

// Username is the login of the org's one user.
func (o *Org) Username() string { return o.opts.Username }

// Password is the password of the org's one user (password grant).
func (o *Org) Password() string { return o.opts.Password }

// ClientID is the connected app's consumer key.
func (o *Org) ClientID() string { return o.opts.ClientID }

// ClientSecret is the connected app's consumer secret.
func (o *Org) ClientSecret() string { return o.opts.ClientSecret }

// OAuth returns a client configuration for this org's connected app.
func (o *Org) OAuth(redirectURL string) *salesforce.OAuth {
	return &salesforce.OAuth{LoginURL: o.baseURL, ClientID: o.opts.ClientID, ClientSecret: o.opts.ClientSecret, RedirectURL: redirectURL}
}

// RegisterJWTKey accepts assertions signed by the key's private half.
func (o *Org) RegisterJWTKey(pub *rsa.PublicKey) {
	o.mu.Lock()
	o.jwtKeys = append(o.jwtKeys, pub)
	o.mu.Unlock()
}

// SetKeepalive changes the keepalive interval of new and open subscriptions.
func (o *Org) SetKeepalive(d time.Duration) {
	o.mu.Lock()
	o.keepalive = d
	o.mu.Unlock()
}

// IssueToken mints an access and a refresh token directly, as if the user
// had gone through the web-server flow.
func (o *Org) IssueToken() *salesforce.Token {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.issueLocked(true)
}

func (o *Org) issueLocked(withRefresh bool) *salesforce.Token {
	t := &salesforce.Token{
		AccessToken: DefaultOrgID[:15] + "!AQ" + randomString(32),
		InstanceURL: o.baseURL,
		ID:          o.baseURL + "/id/" + DefaultOrgID + "/" + DefaultUserID,
		IssuedAt:    fmt.Sprint(time.Now().UnixMilli()),
		Scope:       "api refresh_token",
		TokenType:   "Bearer",
	}
	at := &accessToken{}
	if withRefresh {
		t.RefreshToken = "5Aep" + randomString(40)
		o.refresh[t.RefreshToken] = &refreshToken{}
		at.refresh = t.RefreshToken
	}
	o.access[t.AccessToken] = at
	return t
}

// ExpireAccessTokens expires every access token issued so far and ends the
// subscriptions using them with UNAUTHENTICATED; clients must refresh.
func (o *Org) ExpireAccessTokens() {
	o.mu.Lock()
	defer o.mu.Unlock()
	for _, a := range o.access {
		a.expired = true
	}
	for s := range o.streams {
		s.cancel(errTokenExpired)
	}
	o.log.Info("salesforce stand-in expired all access tokens")
}

// RevokeRefreshToken revokes a refresh token and its access tokens,
// reporting whether it was known.
func (o *Org) RevokeRefreshToken(token string) bool {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.revokeLocked(token)
}

func (o *Org) revokeLocked(token string) bool {
	if rt, ok := o.refresh[token]; ok {
		rt.revoked = true
		for at, a := range o.access {
			if a.refresh == token {
				a.expired = true
				o.killStreamsLocked(at)
			}
		}
		return true
	}
	if _, ok := o.access[token]; ok {
		o.access[token].expired = true
		o.killStreamsLocked(token)
		return true
	}
	return false
}

func (o *Org) killStreamsLocked(token string) {
	for s := range o.streams {
		if s.token == token {
			s.cancel(errTokenExpired)
		}
	}
}

// validToken reports whether an access token may be used.
func (o *Org) validToken(token string) bool {
	o.mu.Lock()
	defer o.mu.Unlock()
	a, ok := o.access[token]
	return ok && !a.expired
}

// Published returns the events received through Publish and REST on topic,
// or on every topic for "".
func (o *Org) Published(topic string) []Published {
	o.mu.Lock()
	defer o.mu.Unlock()
	var out []Published
	for _, p := range o.published {
		if topic == "" || p.Topic == topic {
			out = append(out, p)
		}
	}
	return out
}

// AddTopic adds a topic, or a new schema version of an existing one (which
// becomes the topic's current schema; older versions stay valid for
// publishing and decoding).
func (o *Org) AddTopic(spec TopicSpec) error {
	if !strings.HasPrefix(spec.Name, "/event/") && !strings.HasPrefix(spec.Name, "/data/") {
		return fmt.Errorf("add topic %q: name must start with /event/ or /data/", spec.Name)
	}
	var compact bytes.Buffer
	if err := json.Compact(&compact, spec.Schema); err != nil {
		return fmt.Errorf("add topic %s: schema: %w", spec.Name, err)
	}
	sum := sha256.Sum256(compact.Bytes())
	id := base64.RawURLEncoding.EncodeToString(sum[:16])
	schema, err := pubsub.ParseSchema(id, compact.String())
	if err != nil {
		return fmt.Errorf("add topic %s: %w", spec.Name, err)
	}
	pub := strings.HasPrefix(spec.Name, "/event/")
	if spec.CanPublish != nil {
		pub = *spec.CanPublish
	}
	sub := true
	if spec.CanSubscribe != nil {
		sub = *spec.CanSubscribe
	}
	o.mu.Lock()
	defer o.mu.Unlock()
	o.schemas[id] = schema
	t, ok := o.topics[spec.Name]
	if !ok {
		var b [2]byte
		_, _ = rand.Read(b[:])
		t = &topic{name: spec.Name, schemaIDs: map[string]bool{}, base: 1000 + uint64(binary.BigEndian.Uint16(b[:])), changed: make(chan struct{})}
		o.topics[spec.Name] = t
	}
	t.schema = schema
	t.schemaIDs[id] = true
	t.canPublish, t.canSubscribe = pub, sub
	return nil
}

// Schema returns the current schema of a topic.
func (o *Org) Schema(topicName string) (*pubsub.Schema, error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	t, ok := o.topics[topicName]
	if !ok {
		return nil, fmt.Errorf("%w: %s", ErrUnknownTopic, topicName)
	}
	return t.schema, nil
}

func replayBytes(n uint64) []byte {
	b := make([]byte, 8)
	binary.BigEndian.PutUint64(b, n)
	return b
}

// appendLocked stores an event and wakes subscribers.
func (t *topic) appendLocked(ev *pubsubpb.ProducerEvent) []byte {
	id := replayBytes(t.base + uint64(len(t.events)) + 1)
	t.events = append(t.events, logged{replayID: id, event: ev})
	close(t.changed)
	t.changed = make(chan struct{})
	return id
}

// latestLocked is the replay id of the newest event, or the base id.
func (t *topic) latestLocked() []byte {
	if len(t.events) == 0 {
		return replayBytes(t.base)
	}
	return t.events[len(t.events)-1].replayID
}

// positionAfter returns the log index after replay id, or false when the id
// is not one this topic issued (corrupted).
func (t *topic) positionAfterLocked(id []byte) (int, bool) {
	if len(id) != 8 {
		return 0, false
	}
	n := binary.BigEndian.Uint64(id)
	if n < t.base || n > t.base+uint64(len(t.events)) {
		return 0, false
	}
	return int(n - t.base), true
}

// EmitResult is the outcome of Emit.
type EmitResult struct {
	Topic    string          `json:"topic"`
	EventID  string          `json:"eventId"`
	ReplayID []byte          `json:"replayId"`
	Data     json.RawMessage `json:"data"` // as subscribers decode it
}

// Emit puts an event on a topic as if something in the org had fired it.
// data is a JSON object with plain or union-wrapped values. Platform events
// get CreatedDate (now) and CreatedById (the user) when absent. Change
// events get their ChangeEventHeader completed: entityName, recordIds,
// changeType (CREATE), changeOrigin, transactionKey, sequenceNumber,
// commitTimestamp, commitNumber, commitUser, and the changedFields and
// nulledFields bitmaps computed from the fields present.
func (o *Org) Emit(topicName string, data []byte) (*EmitResult, error) {
	schema, err := o.Schema(topicName)
	if err != nil {
		return nil, err
	}
	var payload []byte
	if schema.IsChangeEvent() {
		payload, err = o.changeEvent(topicName, schema, data)
	} else {
		payload, err = schema.EncodeWith(data, o.peDefaults(schema))
	}
	if err != nil {
		return nil, fmt.Errorf("emit on %s: %w", topicName, err)
	}
	ev := &pubsubpb.ProducerEvent{Id: uuid.NewString(), SchemaId: schema.ID(), Payload: payload}
	o.mu.Lock()
	t := o.topics[topicName]
	id := t.appendLocked(ev)
	o.mu.Unlock()
	decoded, _ := schema.Decode(payload)
	o.log.Info("salesforce stand-in emitted event", "topic", topicName, "event_id", ev.Id, "replay_id", hex.EncodeToString(id))
	return &EmitResult{Topic: topicName, EventID: ev.Id, ReplayID: id, Data: decoded}, nil
}

func (o *Org) peDefaults(schema *pubsub.Schema) map[string]any {
	out := map[string]any{}
	for _, f := range schema.Fields() {
		switch f {
		case "CreatedDate":
			out[f] = time.Now().UnixMilli()
		case "CreatedById":
			out[f] = DefaultUserID
		}
	}
	return out
}

// entityName derives the sObject of a CDC topic: /data/AccountChangeEvent →
// Account, /data/Foo__ChangeEvent → Foo__c.
func entityName(topicName string) string {
	n := strings.TrimPrefix(topicName, "/data/")
	if strings.HasSuffix(n, "__ChangeEvent") {
		return strings.TrimSuffix(n, "__ChangeEvent") + "__c"
	}
	return strings.TrimSuffix(n, "ChangeEvent")
}

var keyPrefixes = map[string]string{"Account": "001", "Contact": "003", "Opportunity": "006", "Lead": "00Q", "Case": "500"}

func (o *Org) changeEvent(topicName string, schema *pubsub.Schema, data []byte) ([]byte, error) {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	var in map[string]any
	if err := dec.Decode(&in); err != nil {
		return nil, fmt.Errorf("%w: %w", pubsub.ErrInvalidPayload, err)
	}
	if in == nil {
		in = map[string]any{}
	}
	var changed, nulled []string
	for k, v := range in {
		if k == "ChangeEventHeader" {
			continue
		}
		children := schema.Children(k)
		rec, isObj := unwrapRecord(v, children)
		if children == nil || !isObj {
			changed = append(changed, k)
			if v == nil {
				nulled = append(nulled, k)
			}
			continue
		}
		for ck, cv := range rec {
			name := k + "." + ck
			changed = append(changed, name)
			if cv == nil {
				nulled = append(nulled, name)
			}
		}
	}
	changedBM, err := schema.ChangeBitmaps(sortedNames(schema, changed))
	if err != nil {
		return nil, fmt.Errorf("%w: %w", pubsub.ErrInvalidPayload, err)
	}
	nulledBM, err := schema.ChangeBitmaps(sortedNames(schema, nulled))
	if err != nil {
		return nil, fmt.Errorf("%w: %w", pubsub.ErrInvalidPayload, err)
	}
	header, _ := in["ChangeEventHeader"].(map[string]any)
	if header == nil {
		header = map[string]any{}
	}
	entity := entityName(topicName)
	prefix := keyPrefixes[entity]
	if prefix == "" {
		prefix = "a00"
	}
	o.mu.Lock()
	o.commitNum++
	o.recordSeq++
	commit, seq := o.commitNum, o.recordSeq
	o.mu.Unlock()
	defaults := map[string]any{
		"entityName":      entity,
		"recordIds":       []any{fmt.Sprintf("%s5g%010dAAA", prefix, seq)},
		"changeType":      "CREATE",
		"changeOrigin":    "com/salesforce/api/rest/62.0;client=herokuevents-stand-in",
		"transactionKey":  uuid.NewString(),
		"sequenceNumber":  1,
		"commitTimestamp": time.Now().UnixMilli(),
		"commitNumber":    commit,
		"commitUser":      DefaultUserID,
		"changedFields":   changedBM,
		"nulledFields":    nulledBM,
		"diffFields":      []string{},
	}
	known := map[string]bool{}
	for _, c := range schema.Children("ChangeEventHeader") {
		known[c] = true
	}
	for k, v := range defaults {
		if _, ok := header[k]; !ok && known[k] {
			header[k] = v
		}
	}
	in["ChangeEventHeader"] = header
	full, err := json.Marshal(in)
	if err != nil {
		return nil, err
	}
	return schema.Encode(full)
}

// unwrapRecord returns the fields of a compound value, plain or wrapped
// under its record name.
func unwrapRecord(v any, children []string) (map[string]any, bool) {
	m, ok := v.(map[string]any)
	if !ok {
		return nil, false
	}
	if len(m) == 1 {
		for k, inner := range m {
			if strings.Contains(k, ".") || !contains(children, k) {
				if im, ok := inner.(map[string]any); ok {
					return im, true
				}
			}
		}
	}
	return m, true
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// sortedNames orders field names by schema position for stable bitmaps.
func sortedNames(schema *pubsub.Schema, names []string) []string {
	var out []string
	for _, f := range schema.Fields() {
		for _, n := range names {
			if n == f {
				out = append(out, n)
			}
		}
		for _, c := range schema.Children(f) {
			for _, n := range names {
				if n == f+"."+c {
					out = append(out, n)
				}
			}
		}
	}
	// Unknown names are kept so that ChangeBitmaps reports them.
	for _, n := range names {
		if !contains(out, n) {
			out = append(out, n)
		}
	}
	return out
}

func randomString(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return base64.RawURLEncoding.EncodeToString(b)[:n]
}
