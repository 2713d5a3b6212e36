package partner

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"net/http"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/herokuevents/herokuevents/shared/config"
	"github.com/herokuevents/herokuevents/shared/envelope"
	"github.com/herokuevents/herokuevents/shared/httpjson"
	"github.com/herokuevents/herokuevents/shared/operator"
	"github.com/herokuevents/herokuevents/shared/queue"
	"github.com/herokuevents/herokuevents/shared/secret"
)

// Options configure a Server.
type Options struct {
	// Store keeps partners, add-ons and attachments. Required.
	Store config.Store
	// Sealer seals partner passwords. Required.
	Sealer secret.Sealer
	// Queue is the partner queue notifications are sent to. Required.
	Queue queue.Sender
	// Operator authenticates every route (Basic auth). Required: without an
	// ID and PasswordHash, or Verify, every request would be refused.
	Operator operator.Credentials
	// URLCheck validates the base URL a new partner is notified at against
	// the egress policy; its message is shown. Nil checks nothing more.
	URLCheck func(ctx context.Context, raw string) error
	// Logger gets one line per mutation and platform event; slog.Default when nil.
	Logger *slog.Logger
	// Now is the clock; time.Now when nil.
	Now func() time.Time
	// NewID and NewResourceName replace the registry's id and resource
	// name makers (see Registry); tests set them.
	NewID           func() string
	NewResourceName func() (string, error)
}

// Server is the operator's HTTP API of partner notifications:
//
//	POST   /v1/platform/events                      platform event in (legacy envelope) → 202 {"queued": n}
//	POST   /v1/partners                             register a partner from its manifest
//	GET    /v1/partners, /v1/partners/{id}          list, show
//	DELETE /v1/partners/{id}                        remove, with its add-ons
//	GET    /v1/apps/{app}/addon-attachments         list an app's attachments
//	POST   /v1/apps/{app}/addon-attachments         attach (emits attach)
//	DELETE /v1/apps/{app}/addon-attachments/{name}  detach (emits detach)
//
// Every route needs the operator's Basic auth. Safe for concurrent use.
type Server struct {
	reg   *Registry
	queue queue.Sender
	op    operator.Credentials
	check func(ctx context.Context, raw string) error
	log   *slog.Logger
	mux   *http.ServeMux
}

// New returns a Server, or an error when Store, Sealer, Queue or the
// Operator's credentials are missing.
func New(o Options) (*Server, error) {
	if o.Store == nil || o.Sealer == nil || o.Queue == nil {
		return nil, errors.New("partner: Options.Store, Sealer and Queue are required")
	}
	if o.Operator.Verify == nil && (o.Operator.ID == "" || o.Operator.PasswordHash == "") {
		return nil, errors.New("partner: Options.Operator needs an ID and PasswordHash, or Verify")
	}
	s := &Server{
		reg:   &Registry{Store: o.Store, Sealer: o.Sealer, Now: o.Now, NewID: o.NewID, NewResourceName: o.NewResourceName},
		queue: o.Queue,
		op:    o.Operator,
		check: o.URLCheck,
		log:   o.Logger,
		mux:   http.NewServeMux(),
	}
	if s.log == nil {
		s.log = slog.Default()
	}
	m := s.mux
	m.Handle("POST /v1/platform/events", s.operator(s.platformEvent))
	m.Handle("POST /v1/partners", s.operator(s.createPartner))
	m.Handle("GET /v1/partners", s.operator(s.listPartners))
	m.Handle("GET /v1/partners/{id}", s.operator(s.getPartner))
	m.Handle("DELETE /v1/partners/{id}", s.operator(s.deletePartner))
	m.Handle("GET /v1/apps/{app}/addon-attachments", s.operator(s.listAttachments))
	m.Handle("POST /v1/apps/{app}/addon-attachments", s.operator(s.attach))
	m.Handle("DELETE /v1/apps/{app}/addon-attachments/{name}", s.operator(s.detach))
	return s, nil
}

// Registry returns the server's registry.
func (s *Server) Registry() *Registry { return s.reg }

// Handler returns the handler of every route; others answer a JSON 404.
func (s *Server) Handler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if _, pattern := s.mux.Handler(r); pattern == "" {
			httpjson.WriteError(w, httpjson.NotFoundRoute)
			return
		}
		s.mux.ServeHTTP(w, r)
	})
}

// Mount adds the server's paths to mux, beside other handlers.
func (s *Server) Mount(mux *http.ServeMux) {
	h := s.Handler()
	for _, p := range []string{"/v1/platform/", "/v1/partners", "/v1/partners/", "/v1/apps/"} {
		mux.Handle(p, h)
	}
}

type handler func(ctx context.Context, r *http.Request, body []byte) (int, any, error)

// operator checks the operator's Basic auth, reads the body and writes
// the answer as JSON.
func (s *Server) operator(h handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ctx := r.Context()
		id, pass, ok := r.BasicAuth()
		if !ok || !s.op.Check(id, pass) {
			s.log.InfoContext(ctx, "operator request refused", "path", r.URL.Path)
			w.Header().Set("WWW-Authenticate", `Basic realm="herokuevents"`)
			httpjson.WriteError(w, httpjson.Unauthorized)
			return
		}
		var body []byte
		if r.Method == http.MethodPost {
			b, err := httpjson.ReadBody(w, r)
			if err != nil {
				httpjson.WriteError(w, err)
				return
			}
			body = b
		}
		status, v, err := h(ctx, r, body)
		if err != nil {
			if httpjson.Internal(err) {
				s.log.ErrorContext(ctx, "partner request failed", "method", r.Method, "path", r.URL.Path, "err", err)
			}
			httpjson.WriteError(w, err)
			return
		}
		httpjson.WriteJSON(w, status, v)
	})
}

// PartnerView is a partner as the API shows it; the password never appears.
type PartnerView struct {
	ID            string    `json:"id"`
	ProductionURL string    `json:"production_url"`
	TestURL       string    `json:"test_url,omitempty"`
	Test          bool      `json:"test"`
	NotifyURL     string    `json:"notify_url"`
	Requires      []string  `json:"requires"`
	LogToken      bool      `json:"log_token"`
	MaxAttempts   int       `json:"max_attempts"`
	RetryHorizon  string    `json:"retry_horizon"`
	Created       time.Time `json:"created_at"`
}

func viewPartner(p Partner) PartnerView {
	req := p.Requires
	if req == nil {
		req = []string{}
	}
	return PartnerView{
		ID: p.ID, ProductionURL: p.ProductionURL, TestURL: p.TestURL, Test: p.Test,
		NotifyURL: strings.TrimSuffix(p.BaseURL(), "/") + "/:id/events",
		Requires:  req, LogToken: p.LogToken,
		MaxAttempts: p.Retry.attempts(), RetryHorizon: p.Retry.horizon().String(), Created: p.Created,
	}
}

// CreatePartnerRequest is the body of POST /v1/partners.
type CreatePartnerRequest struct {
	Manifest json.RawMessage `json:"manifest"`
	Test     bool            `json:"test"`
	// LogToken grants the partner the log_token of attachments.
	LogToken     bool   `json:"log_token"`
	MaxAttempts  int    `json:"max_attempts"`
	RetryHorizon string `json:"retry_horizon"`
}

func (s *Server) createPartner(ctx context.Context, _ *http.Request, body []byte) (int, any, error) {
	var req CreatePartnerRequest
	if err := httpjson.Decode(body, &req); err != nil {
		return 0, nil, err
	}
	if len(bytes.TrimSpace(req.Manifest)) == 0 {
		return 0, nil, invalid("manifest is required: the add-on manifest JSON.")
	}
	m, err := ParseManifest(req.Manifest, req.Test)
	if err != nil {
		return 0, nil, invalid("%s", err.Error())
	}
	o := CreateOptions{Test: req.Test, LogToken: req.LogToken, Retry: Retry{MaxAttempts: req.MaxAttempts}}
	if req.RetryHorizon != "" {
		d, err := time.ParseDuration(req.RetryHorizon)
		if err != nil || d <= 0 {
			return 0, nil, invalid("retry_horizon %q must be a positive duration such as 15m.", req.RetryHorizon)
		}
		o.Retry.Horizon = d
	}
	field, target := "api.production.base_url", m.API.Production.BaseURL
	if req.Test {
		field, target = "api.test.base_url", m.API.Test.BaseURL
	}
	if s.check != nil {
		if err := s.check(ctx, target); err != nil {
			return 0, nil, invalid("%s: %s", field, err.Error())
		}
	}
	p, err := s.reg.CreatePartner(ctx, m, o)
	if err != nil {
		return 0, nil, err
	}
	s.log.InfoContext(ctx, "partner created", "partner", p.ID, "test", p.Test, "requires", strings.Join(p.Requires, ","), "log_token", p.LogToken)
	return http.StatusCreated, viewPartner(p), nil
}

func (s *Server) listPartners(ctx context.Context, _ *http.Request, _ []byte) (int, any, error) {
	ps, err := s.reg.Partners(ctx)
	if err != nil {
		return 0, nil, err
	}
	out := make([]PartnerView, 0, len(ps))
	for _, p := range ps {
		out = append(out, viewPartner(p))
	}
	return http.StatusOK, out, nil
}

func (s *Server) getPartner(ctx context.Context, r *http.Request, _ []byte) (int, any, error) {
	p, err := s.reg.Partner(ctx, r.PathValue("id"))
	if err != nil {
		return 0, nil, err
	}
	return http.StatusOK, viewPartner(p), nil
}

func (s *Server) deletePartner(ctx context.Context, r *http.Request, _ []byte) (int, any, error) {
	id := r.PathValue("id")
	p, err := s.reg.Partner(ctx, id)
	if err != nil {
		return 0, nil, err
	}
	if err := s.reg.DeletePartner(ctx, id); err != nil {
		return 0, nil, err
	}
	s.log.InfoContext(ctx, "partner destroyed", "partner", id)
	return http.StatusOK, viewPartner(p), nil
}

// AttachmentView is an attachment as the API shows it.
type AttachmentView struct {
	ID         string    `json:"id"`
	Name       string    `json:"name"`
	Partner    string    `json:"partner"`
	ResourceID string    `json:"resource_id"`
	Addon      Ref       `json:"addon"`
	HerokuID   string    `json:"heroku_id"`
	App        Ref       `json:"app"`
	LogToken   string    `json:"log_token,omitempty"`
	Gone       bool      `json:"gone,omitempty"`
	GoneReason string    `json:"gone_reason,omitempty"`
	Created    time.Time `json:"created_at"`
	// Queued is how many notifications the attach or detach queued.
	Queued *int `json:"queued,omitempty"`
}

func viewAttachment(att Attachment, addon Addon) AttachmentView {
	return AttachmentView{
		ID: att.ID, Name: att.Name, Partner: att.Partner, ResourceID: addon.ResourceID,
		Addon: Ref{ID: addon.ID, Name: addon.Name}, HerokuID: att.HerokuID,
		App: Ref{ID: att.AppID, Name: att.AppName}, LogToken: att.LogToken,
		Gone: addon.Gone, GoneReason: addon.GoneReason, Created: att.Created,
	}
}

func (s *Server) listAttachments(ctx context.Context, r *http.Request, _ []byte) (int, any, error) {
	atts, err := s.reg.AppAttachments(ctx, r.PathValue("app"))
	if err != nil {
		return 0, nil, err
	}
	out := make([]AttachmentView, 0, len(atts))
	for _, a := range atts {
		addon, err := s.reg.Addon(ctx, a.Addon)
		if err != nil && !errors.Is(err, config.ErrNotFound) {
			return 0, nil, err
		}
		out = append(out, viewAttachment(a, addon))
	}
	return http.StatusOK, out, nil
}

func (s *Server) attach(ctx context.Context, r *http.Request, body []byte) (int, any, error) {
	var req AttachRequest
	if err := httpjson.Decode(body, &req); err != nil {
		return 0, nil, err
	}
	if req.App != "" && req.App != r.PathValue("app") {
		return 0, nil, invalid("app %q in the body differs from the path's %q.", req.App, r.PathValue("app"))
	}
	req.App = r.PathValue("app")
	att, addon, p, err := s.reg.Attach(ctx, req)
	if err != nil {
		return 0, nil, err
	}
	s.log.InfoContext(ctx, "add-on attached", "partner", p.ID, "addon", addon.ID, "resource_id", addon.ResourceID,
		"attachment", att.ID, "name", att.Name, "app", att.AppName, "heroku_id", att.HerokuID)
	n, err := s.notifyOne(ctx, EventAttach, p, addon, att)
	if err != nil {
		return 0, nil, err
	}
	v := viewAttachment(att, addon)
	v.Queued = &n
	return http.StatusCreated, v, nil
}

func (s *Server) detach(ctx context.Context, r *http.Request, _ []byte) (int, any, error) {
	att, addon, p, err := s.reg.Detach(ctx, r.PathValue("app"), r.PathValue("name"))
	if err != nil {
		return 0, nil, err
	}
	s.log.InfoContext(ctx, "add-on detached", "partner", p.ID, "addon", addon.ID, "resource_id", addon.ResourceID,
		"attachment", att.ID, "name", att.Name, "app", att.AppName, "heroku_id", att.HerokuID)
	n, err := s.notifyOne(ctx, EventDetach, p, addon, att)
	if err != nil {
		return 0, nil, err
	}
	v := viewAttachment(att, addon)
	v.Queued = &n
	return http.StatusOK, v, nil
}

// notifyOne queues the attach or detach notification of one attachment
// for its own partner when the partner opted in; it returns how many it queued.
func (s *Server) notifyOne(ctx context.Context, typ string, p Partner, addon Addon, att Attachment) (int, error) {
	if !p.wants(typ) || addon.Gone {
		return 0, nil
	}
	detail, err := marshal(attachDetail(p, addon, att))
	if err != nil {
		return 0, fmt.Errorf("encode %s detail: %w", typ, err)
	}
	payload, err := Envelope(att.HerokuID, typ, detail)
	if err != nil {
		return 0, err
	}
	msg, err := s.message(target{partner: p, addon: addon, att: att}, typ, payload)
	if err != nil {
		return 0, err
	}
	if err := s.queue.Send(ctx, msg); err != nil {
		return 0, fmt.Errorf("queue %s notification: %w", typ, err)
	}
	return 1, nil
}

func (s *Server) message(t target, typ string, payload []byte) (queue.Message, error) {
	n := Notification{
		ID: uuid.NewString(), Partner: t.partner.ID, Addon: t.addon.ID, ResourceID: t.addon.ResourceID,
		HerokuID: t.att.HerokuID, Event: typ, Payload: string(payload),
	}
	body, err := json.Marshal(n)
	if err != nil {
		return queue.Message{}, fmt.Errorf("encode notification: %w", err)
	}
	// At its largest (retried at a high attempt, dead-lettered) the
	// notification must still fit the queue, or it is refused now.
	wide := n
	wide.Attempt, wide.FirstTry = math.MaxInt, envelope.LongestTime
	wb, err := json.Marshal(wide)
	if err != nil {
		return queue.Message{}, fmt.Errorf("encode notification: %w", err)
	}
	if err := envelope.Fits(len(wb), t.partner.ID); err != nil {
		return queue.Message{}, httpjson.Errorf(http.StatusRequestEntityTooLarge, "payload_too_large", "The %s notification for resource %s is too large to be queued: %s.", typ, t.addon.ResourceID, err)
	}
	return queue.Message{Body: body, Attributes: map[string]string{queue.AttrTenant: t.partner.ID, queue.AttrAttempt: "0"}}, nil
}

// PlatformEvent is the legacy envelope the platform POSTs.
type PlatformEvent struct {
	HerokuID string          `json:"heroku_id"`
	Event    string          `json:"event"`
	Detail   json.RawMessage `json:"detail"`
}

func (s *Server) platformEvent(ctx context.Context, _ *http.Request, body []byte) (int, any, error) {
	var ev PlatformEvent
	if err := httpjson.Decode(body, &ev); err != nil {
		return 0, nil, err
	}
	n, err := s.Emit(ctx, ev)
	if err != nil {
		return 0, nil, err
	}
	return http.StatusAccepted, map[string]int{"queued": n}, nil
}

// Emit turns a platform event into one notification per opted-in add-on
// resource attached to the app and queues them all at once. A deploy
// detail is forwarded verbatim; attach and detach details are completed
// per resource. It returns how many notifications were queued.
func (s *Server) Emit(ctx context.Context, ev PlatformEvent) (int, error) {
	switch {
	case ev.HerokuID == "":
		return 0, invalid("heroku_id is required (e.g. app123@heroku.com).")
	case ev.Event != EventDeploy && ev.Event != EventAttach && ev.Event != EventDetach:
		return 0, invalid("event %q must be deploy, attach or detach.", ev.Event)
	}
	detail := bytes.TrimSpace(ev.Detail)
	if len(detail) == 0 || detail[0] != '{' {
		return 0, invalid("detail must be a JSON object.")
	}
	targets, err := s.reg.targets(ctx, ev.HerokuID, ev.Event)
	if err != nil {
		return 0, err
	}
	msgs := make([]queue.Message, 0, len(targets))
	for _, t := range targets {
		d := json.RawMessage(detail)
		if ev.Event != EventDeploy {
			full, err := completeDetail(detail, t)
			if err != nil {
				return 0, err
			}
			if d, err = marshal(full); err != nil {
				return 0, fmt.Errorf("encode %s detail: %w", ev.Event, err)
			}
		}
		payload, err := Envelope(ev.HerokuID, ev.Event, d)
		if err != nil {
			return 0, invalid("detail is not valid JSON.")
		}
		msg, err := s.message(t, ev.Event, payload)
		if err != nil {
			return 0, err
		}
		msgs = append(msgs, msg)
	}
	if len(msgs) > 0 {
		if err := s.queue.Send(ctx, msgs...); err != nil {
			return 0, fmt.Errorf("queue %d %s notifications: %w", len(msgs), ev.Event, err)
		}
	}
	s.log.InfoContext(ctx, "platform event", "heroku_id", ev.HerokuID, "event", ev.Event, "queued", len(msgs))
	return len(msgs), nil
}
