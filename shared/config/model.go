package config

import "time"

// Resource kinds.
const (
	KindTenant        = "tenant"
	KindSubscription  = "subscription"
	KindPublication   = "publication"
	KindStream        = "stream"
	KindAuthorization = "authorization"
)

// Platforms.
const (
	PlatformWebhook    = "webhook"
	PlatformSalesforce = "salesforce"
	PlatformGenerate   = "generate"
	PlatformDataCloud  = "datacloud"
)

// Tenant is one installed add-on: one app. Credentials are stored as hashes only.
type Tenant struct {
	ID      string    `json:"id"`
	App     string    `json:"app"`
	Created time.Time `json:"created_at"`
	// APIKeyHash and PublishKeyHash are hex SHA-256 digests of the random
	// credentials handed out as config vars.
	APIKeyHash     string `json:"api_key_hash"`
	PublishKeyHash string `json:"publish_key_hash"`
	// Plan is the add-on plan slug without the service prefix ("test",
	// "basic"), set at provisioning and by a plan change.
	Plan string `json:"plan,omitempty"`
	// HerokuID is the add-on resource's uuid of Heroku's Partner API v3
	// (also the tenant's ID when Heroku provisioned it); empty for a
	// standalone tenant.
	HerokuID string `json:"heroku_id,omitempty"`
	// AddonName is the add-on resource's name on Heroku, e.g.
	// herokuevents-shaped-12345 (users can rename it: never a key).
	AddonName string `json:"addon_name,omitempty"`
	// Region is the region of the app Heroku provisioned for, e.g.
	// amazon-web-services::us-east-1.
	Region string `json:"region,omitempty"`
	// LogInputURL is the Logplex HTTPS input of the app (it embeds a
	// credential: never log it).
	LogInputURL string `json:"log_input_url,omitempty"`
	// HerokuAppID is the Heroku id of the app (App is its name), learned
	// from the Platform API for Partners (GET /addons/{uuid}).
	HerokuAppID string `json:"heroku_app_id,omitempty"`
	// HerokuTokenSealed is the sealed OAuth token of the Platform API for
	// Partners (JSON of golang.org/x/oauth2.Token: access and refresh
	// tokens, expiry); see shared/heroku.
	HerokuTokenSealed []byte `json:"heroku_token_sealed,omitempty"`
	// ConfigSealed is the sealed JSON of the config vars handed out at
	// provisioning (keys are stored hashed only), so that a repeated
	// provision answers the same config.
	ConfigSealed []byte `json:"config_sealed,omitempty"`
}

// Params are the platform parameters of a subscription or publication, with
// the JSON names of the original product (reference §3). Empty ones are omitted.
type Params struct {
	Event    string `json:"event,omitempty"`
	OrgName  string `json:"org_name,omitempty"`
	Interval string `json:"interval,omitempty"`
	Mapping  string `json:"mapping,omitempty"`
	URL      string `json:"url,omitempty"`
	// OnReplayGap is what a Salesforce subscription does when Salesforce
	// refuses its stored replay id: "earliest" (default), "latest" or
	// "halt" (see shared/sfsub).
	OnReplayGap string `json:"on_replay_gap,omitempty"`
	// Data Cloud.
	Connector string `json:"connector,omitempty"`
	Object    string `json:"object,omitempty"`
	// Webhook delivery: the CloudEvents mode ("structured" or "binary";
	// structured when empty) and the Content-Type of structured requests
	// (application/cloudevents+json when empty). Their delivery is the
	// CloudEvents fidelity work's; publications:update sets them.
	Mode        string `json:"mode,omitempty"`
	ContentType string `json:"content_type,omitempty"`
	// Origin is the WebHook-Request-Origin a webhook target granted in the
	// CloudEvents webhook handshake (at create, or at an update of its
	// url), sent with every delivery; empty when the handshake was
	// skipped. AllowedRate is the WebHook-Allowed-Rate it answered, in
	// requests per minute (0: no limit given), which caps deliveries like
	// Rate.
	Origin      string `json:"origin,omitempty"`
	AllowedRate int    `json:"allowed_rate,omitempty"`
	// BatchSize, when set (2 to 100), makes a webhook publication deliver
	// up to that many events per request, as one signed
	// application/cloudevents-batch+json array (shared/deliver batch.go);
	// BatchWindow is how long a batch waits to fill, a Go duration ("100ms"
	// when batching is on). Both empty: one event per request.
	BatchSize   int    `json:"batch_size,omitempty"`
	BatchWindow string `json:"batch_window,omitempty"`
}

// Subscription is a source of events.
type Subscription struct {
	ID       string    `json:"id"`
	Name     string    `json:"name"`
	Platform string    `json:"platform"`
	Params   Params    `json:"params"`
	Created  time.Time `json:"created_at"`
	// Replay is the start point of a Salesforce subscription: "latest" or "earliest".
	Replay string `json:"replay,omitempty"`
	// State reports the health of a polling subscription (salesforce, generate).
	State *SourceState `json:"state,omitempty"`
	// Pull keeps every event of the subscription in its pull buffer, for
	// the app to GET from HEROKUEVENTS_SUBSCRIBE_URL/{name} (shared/pull),
	// beside its streams.
	Pull bool `json:"pull,omitempty"`
	// Retention is how long the subscription's accepted events are
	// archived for replay (shared/archive); the archive's default (7 days)
	// when zero.
	Retention time.Duration `json:"retention,omitempty"`
	// SecretSealed is the sealed key an inbound platform verifies requests
	// with (datacloud: the data action target's signing key).
	SecretSealed []byte `json:"secret_sealed,omitempty"`
}

// SourceState is the runtime state of a subscription that herokuevents polls.
type SourceState struct {
	Status     string    `json:"status,omitempty"` // "active", "failing"
	LastError  string    `json:"last_error,omitempty"`
	Checkpoint []byte    `json:"checkpoint,omitempty"` // opaque replay id
	CheckedAt  time.Time `json:"checkpoint_at,omitzero"`
	NextRun    time.Time `json:"next_run,omitzero"`
}

// RetryPolicy bounds delivery retries of a publication.
type RetryPolicy struct {
	MaxAttempts int           `json:"max_attempts,omitempty"`
	Horizon     time.Duration `json:"horizon,omitempty"`
}

// Publication is a target of events.
type Publication struct {
	ID       string    `json:"id"`
	Name     string    `json:"name"`
	Platform string    `json:"platform"`
	Params   Params    `json:"params"`
	Created  time.Time `json:"created_at"`
	// TokenSealed is the sealed webhook token sent as "Authorization: Bearer".
	TokenSealed []byte `json:"token_sealed,omitempty"`
	// SecretSealed is the sealed signing secret (Standard Webhooks "whsec_…").
	SecretSealed []byte      `json:"secret_sealed,omitempty"`
	Retry        RetryPolicy `json:"retry,omitzero"`
	// Disabled is set when the endpoint answered 410 Gone.
	Disabled       bool   `json:"disabled,omitempty"`
	DisabledReason string `json:"disabled_reason,omitempty"`
	// Paused holds deliveries without attempting them (publications:pause):
	// they wait in the delivery queue, nothing is dead-lettered.
	Paused   bool      `json:"paused,omitempty"`
	PausedAt time.Time `json:"paused_at,omitzero"`
	// Timeout bounds one delivery attempt; the deliver process's default
	// when zero.
	Timeout time.Duration `json:"timeout,omitempty"`
	// Rate caps deliveries to the publication, in events per second; no cap
	// when zero.
	Rate float64 `json:"rate,omitempty"`
	// Order, when set, delivers the publication's events in ordered lanes
	// (--ordered-by): one at a time per key, in publish order (order.go).
	Order *Order `json:"order,omitempty"`
	// Blocked lists the lanes of an Order with OnFailure OnFailureBlock
	// whose head outlived its retries (the deliver role keeps it).
	Blocked []BlockedLane `json:"blocked,omitempty"`
	// PreviousSecretSealed is the signing secret replaced by a rotation; it
	// keeps signing beside the new one until PreviousSecretUntil.
	PreviousSecretSealed []byte    `json:"previous_secret_sealed,omitempty"`
	PreviousSecretUntil  time.Time `json:"previous_secret_until,omitzero"`
	// OAuth2 is a webhook publication's OAuth2 client credentials grant:
	// its access token is sent as "Authorization: Bearer" instead of
	// TokenSealed (never both).
	OAuth2 *OAuth2Client `json:"oauth2,omitempty"`
	// ClientCert is a webhook publication's TLS client certificate (mTLS).
	ClientCert *ClientCert `json:"client_cert,omitempty"`
}

// OAuth2Client is the OAuth2 client credentials grant (RFC 6749 §4.4) of a
// webhook publication. Only SecretSealed is secret.
type OAuth2Client struct {
	TokenURL string   `json:"token_url"`
	ClientID string   `json:"client_id"`
	Scopes   []string `json:"scopes,omitempty"`
	// Audience is sent as the token request's "audience" parameter.
	Audience string `json:"audience,omitempty"`
	// SecretSealed is the sealed client secret.
	SecretSealed []byte `json:"client_secret_sealed"`
}

// ClientCert is the TLS client certificate of a webhook publication: the
// PEM chain in clear, its private key sealed, and what is shown of it.
type ClientCert struct {
	CertPEM   []byte `json:"cert_pem"`
	KeySealed []byte `json:"key_sealed"`
	// Subject, NotAfter and Fingerprint (hex SHA-256 of the leaf's DER)
	// describe the leaf certificate.
	Subject     string    `json:"subject"`
	NotAfter    time.Time `json:"not_after"`
	Fingerprint string    `json:"fingerprint"`
}

// KindFormerPublication records a deleted publication's id and name
// (FormerPublication), so that deliveries and dead letters addressed to it
// follow a publication recreated with the same name.
const KindFormerPublication = "former_publication"

// FormerPublication is a deleted publication, stored as
// Item{Tenant: T, Kind: KindFormerPublication, ID: ID} (no name: a name
// may be deleted several times).
type FormerPublication struct {
	ID      string    `json:"id"`
	Name    string    `json:"name"`
	Deleted time.Time `json:"deleted_at"`
}

// Stream links a subscription to a publication with an optional Bloblang filter.
type Stream struct {
	ID           string    `json:"id"`
	Subscription string    `json:"subscription"` // subscription id
	Publication  string    `json:"publication"`  // publication id
	Filter       string    `json:"filter,omitempty"`
	Created      time.Time `json:"created_at"`
}

// StreamName is the unique name of the stream from sub to pub (both ids).
func StreamName(sub, pub string) string { return sub + "->" + pub }

// Authorization flows.
const (
	FlowWeb               = "web"                // web-server flow with PKCE, refreshed with its refresh token
	FlowJWT               = "jwt"                // JWT bearer, re-minted with the key
	FlowClientCredentials = "client_credentials" // client credentials, re-minted with the secret
)

// Authorization statuses.
const (
	AuthPending   = "pending"   // web flow: waiting for the OAuth callback
	AuthConnected = "connected" // tokens are stored and usable
	AuthFailing   = "failing"   // the grant was refused; LastError says why
)

// Authorization is an OAuth connection to a Salesforce org, stored as
// Item{Tenant: T, Kind: KindAuthorization, ID: ID, Name: Alias}. Every secret
// is sealed (secret.Sealer); none is ever returned by the API.
type Authorization struct {
	ID          string `json:"id"`
	Alias       string `json:"alias"`
	Platform    string `json:"platform"`
	LoginURL    string `json:"login_url"`
	InstanceURL string `json:"instance_url,omitempty"` // set once connected
	OrgID       string `json:"org_id,omitempty"`
	UserID      string `json:"user_id,omitempty"`
	Username    string `json:"username,omitempty"`
	Flow        string `json:"flow"` // FlowWeb, FlowJWT, FlowClientCredentials
	// ClientID is the connected app's consumer key; empty means the
	// operator's default connected app (web flow only).
	ClientID           string `json:"client_id,omitempty"`
	ClientSecretSealed []byte `json:"client_secret_sealed,omitempty"`
	JWTKeySealed       []byte `json:"jwt_key_sealed,omitempty"` // PEM of the RSA private key
	// Allocation is the org's 24-hour event delivery allocation, when the
	// user told it (--allocation): subscriptions:info warns at 80 %.
	Allocation int64 `json:"allocation,omitempty"`
	// TokenSealed is the sealed JSON of the last salesforce.Token (access and
	// refresh tokens, instance URL, identity URL).
	TokenSealed []byte    `json:"token_sealed,omitempty"`
	Status      string    `json:"status"` // AuthPending, AuthConnected, AuthFailing
	LastError   string    `json:"last_error,omitempty"`
	ConnectedAt time.Time `json:"connected_at,omitzero"`
	// While pending (web flow): the sealed PKCE verifier, the hex SHA-256 of
	// the state's secret part, and when the state stops being accepted.
	VerifierSealed []byte    `json:"verifier_sealed,omitempty"`
	StateHash      string    `json:"state_hash,omitempty"`
	StateExpires   time.Time `json:"state_expires,omitzero"`
	Created        time.Time `json:"created_at"`
}

// Replay presets of a Salesforce subscription (Subscription.Replay): where
// it starts when it has no checkpoint, and where it resumes when its
// checkpoint is corrupted or expired.
const (
	ReplayLatest   = "latest"
	ReplayEarliest = "earliest"
)

// Status values of SourceState, set by the runners of polled platforms.
const (
	StatusPending = "pending" // created, not consumed yet
	StatusActive  = "active"  // consuming or emitting
	StatusFailing = "failing" // the last attempt failed; see LastError
)
