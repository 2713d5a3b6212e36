// Package partner is the legacy Heroku add-on partner event notifications:
// a registry of partners (from their add-on manifests) and of their add-on
// resources attached to apps, kept as global items of the config store;
// the operator's HTTP API that manages them and takes platform events
// (POST /v1/platform/events); and the partnernotify role, a
// queue.BatchHandler that POSTs each notification to
// {base_url}/{resource_id}/events with the partner's Basic auth, retrying
// with backoff until the partner answers 200.
package partner

import (
	"bytes"
	"encoding/json"
	"fmt"
	"slices"
	"time"
)

// Kinds of the config store items of this package (all global: Tenant "").
const (
	// KindPartner items: ID = Name = manifest id.
	KindPartner = "partner"
	// KindAddon items: an add-on resource of a partner. ID = the add-on's
	// uuid, Name = partner id + "/" + the partner's resource id.
	KindAddon = "partner_addon"
	// KindAttachment items: an add-on attached to an app. ID = the
	// attachment's uuid, Name = app name + "/" + attachment name.
	KindAttachment = "partner_attachment"
)

// Event types of the legacy envelope.
const (
	EventDeploy = "deploy"
	EventAttach = "attach"
	EventDetach = "detach"
)

// Retry defaults: 5 attempts whose backoff ceilings add up to 15 minutes.
const (
	DefaultMaxAttempts = 5
	DefaultHorizon     = 15 * time.Minute
	// MaxAttempts bounds a partner's configured attempts.
	MaxAttempts = 20
	// MaxHorizon bounds a partner's configured retry horizon.
	MaxHorizon = 72 * time.Hour
)

// Retry is the retry policy of a partner's notifications; zero fields take
// the defaults.
type Retry struct {
	MaxAttempts int           `json:"max_attempts,omitempty"`
	Horizon     time.Duration `json:"horizon,omitempty"`
}

func (r Retry) attempts() int {
	if r.MaxAttempts <= 0 {
		return DefaultMaxAttempts
	}
	return r.MaxAttempts
}

func (r Retry) horizon() time.Duration {
	if r.Horizon <= 0 {
		return DefaultHorizon
	}
	return r.Horizon
}

// Partner is a registered add-on partner.
type Partner struct {
	ID string `json:"id"`
	// PasswordSealed is the manifest's api.password, sealed.
	PasswordSealed []byte `json:"password_sealed"`
	ProductionURL  string `json:"production_url"`
	TestURL        string `json:"test_url,omitempty"`
	// Test partners are notified at TestURL, the others at ProductionURL.
	Test     bool     `json:"test,omitempty"`
	Requires []string `json:"requires,omitempty"`
	// LogToken entitles the partner to the log_token of attachments.
	LogToken bool      `json:"log_token,omitempty"`
	Retry    Retry     `json:"retry,omitzero"`
	Created  time.Time `json:"created_at"`
}

// Has reports whether the manifest's api.requires has flag.
func (p Partner) Has(flag string) bool { return slices.Contains(p.Requires, flag) }

// BaseURL is where the partner is notified: the test or the production base URL.
func (p Partner) BaseURL() string {
	if p.Test {
		return p.TestURL
	}
	return p.ProductionURL
}

// wants reports whether the partner opted in to events of type typ.
func (p Partner) wants(typ string) bool {
	switch typ {
	case EventDeploy:
		return p.Has(RequireDeployNotify)
	case EventAttach, EventDetach:
		return p.Has(RequireAttachNotify)
	}
	return false
}

// Addon is an add-on resource provisioned by a partner.
type Addon struct {
	ID      string `json:"id"`   // herokuevents' uuid of the add-on
	Name    string `json:"name"` // e.g. writing-nobly-1234
	Partner string `json:"partner"`
	// ResourceID is the id the partner returned at provisioning: the :id of
	// /heroku/resources/:id/events.
	ResourceID string `json:"resource_id"`
	// Gone is set when the partner answered 410 to a notification.
	Gone       bool      `json:"gone,omitempty"`
	GoneReason string    `json:"gone_reason,omitempty"`
	Created    time.Time `json:"created_at"`
}

// Attachment is an add-on attached to an app.
type Attachment struct {
	ID       string    `json:"id"`
	Name     string    `json:"name"` // e.g. MYADDON_CYAN
	Addon    string    `json:"addon"`
	Partner  string    `json:"partner"`
	HerokuID string    `json:"heroku_id"`
	AppID    string    `json:"app_id"`
	AppName  string    `json:"app_name"`
	LogToken string    `json:"log_token,omitempty"`
	Created  time.Time `json:"created_at"`
}

// Ref is an {"id","name"} pair of a notification detail.
type Ref struct {
	ID   string `json:"id"`
	Name string `json:"name"`
}

// AttachDetail is the detail of attach and detach notifications, in the
// field order of the legacy payload.
type AttachDetail struct {
	ID       string `json:"id"`
	Name     string `json:"name"`
	LogToken string `json:"log_token,omitempty"`
	Resource Ref    `json:"resource"`
	App      Ref    `json:"app"`
}

// Notification is the body of a message on the partner queue: one payload
// bound for one add-on resource. Attempt counts the attempts already made.
type Notification struct {
	ID         string `json:"id"`
	Partner    string `json:"partner"`
	Addon      string `json:"addon"`
	ResourceID string `json:"resource_id"`
	HerokuID   string `json:"heroku_id"`
	Event      string `json:"event"`
	// Payload is the exact request body, kept as a string so that queueing
	// never re-encodes it.
	Payload  string    `json:"payload"`
	Attempt  int       `json:"attempt"`
	FirstTry time.Time `json:"first_try,omitzero"`
}

// Envelope builds the legacy request body {"heroku_id","event","detail"}
// with detail as given (compacted, key order and values untouched) and no
// HTML escaping, so the partner gets the detail verbatim.
func Envelope(herokuID, typ string, detail json.RawMessage) ([]byte, error) {
	var d bytes.Buffer
	if err := json.Compact(&d, detail); err != nil {
		return nil, fmt.Errorf("compact detail: %w", err)
	}
	var b bytes.Buffer
	b.WriteString(`{"heroku_id":`)
	writeString(&b, herokuID)
	b.WriteString(`,"event":`)
	writeString(&b, typ)
	b.WriteString(`,"detail":`)
	b.Write(d.Bytes())
	b.WriteByte('}')
	return b.Bytes(), nil
}

// marshal encodes v as JSON without HTML escaping and without a newline.
func marshal(v any) ([]byte, error) {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	return bytes.TrimSuffix(b.Bytes(), []byte("\n")), nil
}

func writeString(b *bytes.Buffer, s string) {
	out, _ := marshal(s) // a string always encodes
	b.Write(out)
}
