package standin

import (
	"crypto/hmac"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/google/uuid"

	"github.com/herokuevents/herokuevents/shared/salesforce"
	"github.com/herokuevents/herokuevents/shared/salesforce/pubsubpb"
)

func (o *Org) routes() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /services/oauth2/authorize", o.handleAuthorize)
	mux.HandleFunc("POST /services/oauth2/token", o.handleToken)
	mux.HandleFunc("GET /services/oauth2/userinfo", o.handleUserInfo)
	mux.HandleFunc("POST /services/oauth2/revoke", o.handleRevoke)
	mux.HandleFunc("GET /services/oauth2/revoke", o.handleRevoke)
	mux.HandleFunc("POST /services/data/{version}/sobjects/{object}", o.handleSObject)
	mux.HandleFunc("POST /services/data/{version}/sobjects/{object}/", o.handleSObject)
	mux.HandleFunc("POST /_stand-in/emit/{topic...}", o.handleEmit)
	mux.HandleFunc("POST /_stand-in/data-action", o.handleDataAction)
	o.dataCloudRoutes(mux)
	mux.HandleFunc("GET /services/data", o.handleVersions)
	mux.HandleFunc("GET /services/data/{$}", o.handleVersions)
	// Anything else answers as Salesforce does: 404 with its JSON error array.
	mux.HandleFunc("/", func(w http.ResponseWriter, _ *http.Request) {
		restFail(w, http.StatusNotFound, "NOT_FOUND", "The requested resource does not exist")
	})
	mux.HandleFunc("POST /_stand-in/expire-tokens", func(w http.ResponseWriter, _ *http.Request) {
		o.ExpireAccessTokens()
		w.WriteHeader(http.StatusNoContent)
	})
	mux.HandleFunc("POST /_stand-in/revoke", func(w http.ResponseWriter, r *http.Request) {
		if !o.RevokeRefreshToken(r.FormValue("token")) {
			writeJSON(w, http.StatusNotFound, map[string]string{"id": "not_found", "message": "unknown token"})
			return
		}
		w.WriteHeader(http.StatusNoContent)
	})
	mux.HandleFunc("GET /_stand-in/published", func(w http.ResponseWriter, r *http.Request) {
		p := o.Published(r.URL.Query().Get("topic"))
		if p == nil {
			p = []Published{}
		}
		writeJSON(w, http.StatusOK, p)
	})
	return mux
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json;charset=UTF-8")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

func oauthError(w http.ResponseWriter, status int, code, desc string) {
	writeJSON(w, status, map[string]string{"error": code, "error_description": desc})
}

func (o *Org) handleAuthorize(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	if q.Get("client_id") != o.opts.ClientID {
		oauthError(w, http.StatusBadRequest, "invalid_client_id", "client identifier invalid")
		return
	}
	redirect := q.Get("redirect_uri")
	ru, err := url.Parse(redirect)
	if redirect == "" || err != nil || !ru.IsAbs() {
		oauthError(w, http.StatusBadRequest, "redirect_uri_mismatch", "redirect_uri must match configuration")
		return
	}
	if q.Get("response_type") != "code" {
		oauthError(w, http.StatusBadRequest, "unsupported_response_type", "response type not supported")
		return
	}
	method := q.Get("code_challenge_method")
	if q.Get("code_challenge") != "" && method == "" {
		method = "plain"
	}
	if method != "" && method != "S256" && method != "plain" {
		oauthError(w, http.StatusBadRequest, "invalid_request", "invalid code_challenge_method")
		return
	}
	code := "aPrx" + randomString(40)
	o.mu.Lock()
	o.codes[code] = &authCode{redirectURI: redirect, challenge: q.Get("code_challenge"), method: method}
	o.mu.Unlock()
	v := ru.Query()
	v.Set("code", code)
	if st := q.Get("state"); st != "" {
		v.Set("state", st)
	}
	ru.RawQuery = v.Encode()
	o.log.Info("salesforce stand-in approved authorization", "redirect_host", ru.Host, "pkce", method != "")
	http.Redirect(w, r, ru.String(), http.StatusFound)
}

func (o *Org) handleToken(w http.ResponseWriter, r *http.Request) {
	if err := r.ParseForm(); err != nil {
		oauthError(w, http.StatusBadRequest, "invalid_request", "malformed request")
		return
	}
	clientID, secret := r.PostForm.Get("client_id"), r.PostForm.Get("client_secret")
	if u, p, ok := r.BasicAuth(); ok {
		clientID, secret = u, p
	}
	grant := r.PostForm.Get("grant_type")
	checkClient := func(secretRequired bool) bool {
		if clientID != o.opts.ClientID {
			oauthError(w, http.StatusBadRequest, "invalid_client_id", "client identifier invalid")
			return false
		}
		if (secretRequired || secret != "") && secret != o.opts.ClientSecret {
			oauthError(w, http.StatusBadRequest, "invalid_client", "invalid client credentials")
			return false
		}
		return true
	}
	var tok *salesforce.Token
	switch grant {
	case "authorization_code":
		o.mu.Lock()
		c, ok := o.codes[r.PostForm.Get("code")]
		delete(o.codes, r.PostForm.Get("code"))
		o.mu.Unlock()
		if !checkClient(ok && c.challenge == "") {
			return
		}
		if !ok {
			oauthError(w, http.StatusBadRequest, "invalid_grant", "invalid authorization code")
			return
		}
		if r.PostForm.Get("redirect_uri") != c.redirectURI {
			oauthError(w, http.StatusBadRequest, "redirect_uri_mismatch", "redirect_uri must match configuration")
			return
		}
		if c.challenge != "" && !pkceOK(c, r.PostForm.Get("code_verifier")) {
			oauthError(w, http.StatusBadRequest, "invalid_grant", "invalid code verifier")
			return
		}
		o.mu.Lock()
		tok = o.issueLocked(true)
		o.mu.Unlock()
	case "refresh_token":
		if !checkClient(false) {
			return
		}
		rt := r.PostForm.Get("refresh_token")
		o.mu.Lock()
		ref, ok := o.refresh[rt]
		if ok && !ref.revoked {
			tok = o.issueLocked(false)
			o.access[tok.AccessToken].refresh = rt
		}
		o.mu.Unlock()
		if tok == nil {
			oauthError(w, http.StatusBadRequest, "invalid_grant", "expired access/refresh token")
			return
		}
	case "urn:ietf:params:oauth:grant-type:jwt-bearer":
		if err := o.checkAssertion(r.PostForm.Get("assertion")); err != nil {
			o.log.Info("salesforce stand-in refused jwt assertion", "error", err.Error())
			oauthError(w, http.StatusBadRequest, "invalid_grant", "invalid assertion")
			return
		}
		o.mu.Lock()
		tok = o.issueLocked(false)
		o.mu.Unlock()
	case "client_credentials":
		if !checkClient(true) {
			return
		}
		o.mu.Lock()
		tok = o.issueLocked(false)
		o.mu.Unlock()
	case "password":
		if !checkClient(true) {
			return
		}
		if r.PostForm.Get("username") != o.opts.Username || r.PostForm.Get("password") != o.opts.Password {
			oauthError(w, http.StatusBadRequest, "invalid_grant", "authentication failure")
			return
		}
		o.mu.Lock()
		tok = o.issueLocked(false)
		o.mu.Unlock()
	default:
		oauthError(w, http.StatusBadRequest, "unsupported_grant_type", "grant type not supported")
		return
	}
	mac := hmac.New(sha256.New, []byte(o.opts.ClientSecret))
	mac.Write([]byte(tok.ID + tok.IssuedAt))
	body := map[string]string{
		"access_token": tok.AccessToken, "instance_url": tok.InstanceURL, "id": tok.ID, "token_type": "Bearer",
		"issued_at": tok.IssuedAt, "scope": tok.Scope, "signature": base64.StdEncoding.EncodeToString(mac.Sum(nil)),
	}
	if tok.RefreshToken != "" {
		body["refresh_token"] = tok.RefreshToken
	}
	o.log.Info("salesforce stand-in issued token", "grant_type", grant, "refresh", tok.RefreshToken != "")
	writeJSON(w, http.StatusOK, body)
}

func pkceOK(c *authCode, verifier string) bool {
	if verifier == "" {
		return false
	}
	want := verifier
	if c.method == "S256" {
		sum := sha256.Sum256([]byte(verifier))
		want = base64.RawURLEncoding.EncodeToString(sum[:])
	}
	return hmac.Equal([]byte(want), []byte(c.challenge))
}

func (o *Org) checkAssertion(assertion string) error {
	o.mu.Lock()
	keys := append([]*rsa.PublicKey(nil), o.jwtKeys...)
	o.mu.Unlock()
	if len(keys) == 0 {
		return errors.New("no JWT key registered")
	}
	var lastErr error
	for _, k := range keys {
		_, err := jwt.ParseWithClaims(assertion, &jwt.RegisteredClaims{}, func(*jwt.Token) (any, error) { return k, nil },
			jwt.WithValidMethods([]string{"RS256"}), jwt.WithExpirationRequired(),
			jwt.WithIssuer(o.opts.ClientID), jwt.WithSubject(o.opts.Username),
			jwt.WithAudience(o.baseURL, salesforce.DefaultLoginURL, "https://test.salesforce.com"))
		if err == nil {
			return nil
		}
		lastErr = err
	}
	return lastErr
}

func (o *Org) bearer(r *http.Request) (string, bool) {
	h := r.Header.Get("Authorization")
	tok, ok := strings.CutPrefix(h, "Bearer ")
	if !ok {
		tok, ok = strings.CutPrefix(h, "OAuth ")
	}
	return tok, ok && o.validToken(tok)
}

func (o *Org) handleUserInfo(w http.ResponseWriter, r *http.Request) {
	if _, ok := o.bearer(r); !ok {
		w.Header().Set("WWW-Authenticate", `Bearer error="invalid_token"`)
		oauthError(w, http.StatusUnauthorized, "invalid_token", "Bad_OAuth_Token")
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{
		"sub": o.baseURL + "/id/" + DefaultOrgID + "/" + DefaultUserID, "user_id": DefaultUserID,
		"organization_id": DefaultOrgID, "preferred_username": o.opts.Username, "name": "Stand-in Admin",
		"email": o.opts.Username, "email_verified": true, "active": true, "user_type": "STANDARD",
	})
}

func (o *Org) handleRevoke(w http.ResponseWriter, r *http.Request) {
	token := r.FormValue("token")
	if !o.RevokeRefreshToken(token) {
		oauthError(w, http.StatusBadRequest, "unsupported_token_type", "this token type is not supported")
		return
	}
	o.log.Info("salesforce stand-in revoked token")
	w.WriteHeader(http.StatusOK)
}

type restError struct {
	Message   string   `json:"message"`
	ErrorCode string   `json:"errorCode"`
	Fields    []string `json:"fields,omitempty"`
}

// API versions the stand-in serves (Salesforce serves v31.0 and later).
const (
	minAPIVersion = 31
	maxAPIVersion = 65
)

// apiVersion reports whether v is a served REST API version ("v62.0").
func apiVersion(v string) bool {
	n, ok := strings.CutSuffix(strings.TrimPrefix(v, "v"), ".0")
	if !ok || !strings.HasPrefix(v, "v") || n == "" || len(n) > 3 || strings.Trim(n, "0123456789") != "" {
		return false
	}
	i, err := strconv.Atoi(n)
	return err == nil && i >= minAPIVersion && i <= maxAPIVersion
}

// handleVersions lists the served API versions, as GET /services/data does.
func (o *Org) handleVersions(w http.ResponseWriter, _ *http.Request) {
	type version struct {
		Label   string `json:"label"`
		URL     string `json:"url"`
		Version string `json:"version"`
	}
	out := make([]version, 0, maxAPIVersion-minAPIVersion+1)
	for i := minAPIVersion; i <= maxAPIVersion; i++ {
		v := fmt.Sprintf("%d.0", i)
		out = append(out, version{Label: "Stand-in " + v, URL: "/services/data/v" + v, Version: v})
	}
	writeJSON(w, http.StatusOK, out)
}

func restFail(w http.ResponseWriter, status int, code, msg string) {
	writeJSON(w, status, []restError{{Message: msg, ErrorCode: code}})
}

// handleSObject publishes a platform event through REST (201 with the
// EventUuid in an OPERATION_ENQUEUED "error", as recent API versions do).
func (o *Org) handleSObject(w http.ResponseWriter, r *http.Request) {
	if !apiVersion(r.PathValue("version")) {
		restFail(w, http.StatusNotFound, "NOT_FOUND", "The requested resource does not exist")
		return
	}
	if _, ok := o.bearer(r); !ok {
		restFail(w, http.StatusUnauthorized, "INVALID_SESSION_ID", "Session expired or invalid")
		return
	}
	object := r.PathValue("object")
	topicName := "/event/" + object
	if !strings.HasSuffix(object, "__e") {
		restFail(w, http.StatusNotFound, "NOT_FOUND", "The requested resource does not exist")
		return
	}
	schema, err := o.Schema(topicName)
	if err != nil {
		restFail(w, http.StatusNotFound, "NOT_FOUND", "The requested resource does not exist")
		return
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, 1<<20+1))
	if err != nil || len(body) > 1<<20 {
		restFail(w, http.StatusBadRequest, "JSON_PARSER_ERROR", "request body too large or unreadable")
		return
	}
	var probe map[string]json.RawMessage
	if err := json.Unmarshal(body, &probe); err != nil {
		restFail(w, http.StatusBadRequest, "JSON_PARSER_ERROR", "Unexpected character: "+err.Error())
		return
	}
	payload, err := schema.EncodeWith(body, o.peDefaults(schema))
	if err != nil {
		restFail(w, http.StatusBadRequest, "INVALID_FIELD", err.Error())
		return
	}
	id := uuid.NewString()
	data, _ := schema.Decode(payload)
	o.mu.Lock()
	t := o.topics[topicName]
	replay := t.appendLocked(&pubsubpb.ProducerEvent{Id: id, SchemaId: schema.ID(), Payload: payload})
	o.published = append(o.published, Published{Topic: topicName, EventID: id, ReplayID: replay, SchemaID: schema.ID(), Data: data, Via: "rest"})
	o.mu.Unlock()
	o.log.Info("salesforce stand-in accepted REST event", "topic", topicName, "event_id", id)
	writeJSON(w, http.StatusCreated, map[string]any{
		"id": "e00xx" + fmt.Sprintf("%013d", time.Now().UnixNano()%1e13), "success": true,
		"errors": []map[string]any{{"statusCode": "OPERATION_ENQUEUED", "message": id, "fields": []string{}}},
	})
}

// EmitResponse is the JSON answer of POST /_stand-in/emit/{topic}.
type EmitResponse struct {
	Topic    string          `json:"topic"`
	EventID  string          `json:"eventId"`
	ReplayID string          `json:"replayId"` // standard base64 of the 8 bytes
	Data     json.RawMessage `json:"data"`
}

func (o *Org) handleEmit(w http.ResponseWriter, r *http.Request) {
	topicName := "/" + r.PathValue("topic")
	body, err := io.ReadAll(io.LimitReader(r.Body, 1<<20))
	if err != nil {
		writeJSON(w, http.StatusBadRequest, map[string]string{"id": "invalid_params", "message": err.Error()})
		return
	}
	if len(strings.TrimSpace(string(body))) == 0 {
		body = []byte("{}")
	}
	res, err := o.Emit(topicName, body)
	switch {
	case errors.Is(err, ErrUnknownTopic):
		writeJSON(w, http.StatusNotFound, map[string]string{"id": "not_found", "message": err.Error()})
		return
	case err != nil:
		writeJSON(w, http.StatusBadRequest, map[string]string{"id": "invalid_params", "message": err.Error()})
		return
	}
	writeJSON(w, http.StatusCreated, EmitResponse{Topic: res.Topic, EventID: res.EventID,
		ReplayID: base64.StdEncoding.EncodeToString(res.ReplayID), Data: res.Data})
}
