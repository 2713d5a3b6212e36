package api

import (
	"context"
	"errors"
	"fmt"
	"html"
	"io"
	"net/http"
	"strings"
	"time"

	"github.com/herokuevents/herokuevents/shared/authorization"
	"github.com/herokuevents/herokuevents/shared/config"
)

// CallbackPath is the path of the OAuth callback of the Salesforce web
// flow; the redirect URI is BaseURL + CallbackPath.
const CallbackPath = authorization.CallbackPath

// authorizationRoutes mounts the authorization routes (reference §4): list,
// get and delete by alias or id, create on the salesforce platform, and the
// OAuth callback, which has no tenant auth (its single-use state names the
// pending authorization).
func (s *Server) authorizationRoutes(m *http.ServeMux, t string) {
	m.Handle("GET "+t+"/authorizations", s.tenant(s.listAuthorizations))
	m.Handle("GET "+t+"/authorizations/{ref}", s.tenant(s.getAuthorization))
	m.Handle("DELETE "+t+"/authorizations/{ref}", s.tenant(s.deleteAuthorization))
	m.Handle("POST "+t+"/platforms/salesforce/authorizations", s.tenant(s.createAuthorization))
	m.HandleFunc("GET "+CallbackPath, s.oauthCallback)
}

// authorizationParams are the params of an authorization (reference §3):
// org_name is the alias, url the instance URL once connected (null before).
type authorizationParams struct {
	OrgName  string  `json:"org_name"`
	Alias    string  `json:"alias"`
	URL      *string `json:"url"`
	LoginURL string  `json:"login_url"`
}

// authorizationView is the JSON of an authorization. It never carries a
// token, secret, key or state.
type authorizationView struct {
	ID        string              `json:"id"`
	Platform  string              `json:"platform"`
	Params    authorizationParams `json:"params"`
	Status    string              `json:"status"`
	LastError string              `json:"last_error,omitempty"`
	Flow      string              `json:"flow"`
	OrgID     string              `json:"org_id,omitempty"`
	Username  string              `json:"username,omitempty"`
	CreatedAt time.Time           `json:"created_at"`
	Extra     map[string]any      `json:"extra,omitempty"`
}

func viewAuthorization(a config.Authorization) authorizationView {
	v := authorizationView{
		ID: a.ID, Platform: a.Platform,
		Params:    authorizationParams{OrgName: a.Alias, Alias: a.Alias, LoginURL: a.LoginURL},
		Status:    a.Status,
		LastError: a.LastError, Flow: a.Flow, OrgID: a.OrgID, Username: a.Username, CreatedAt: a.Created,
	}
	if a.InstanceURL != "" && a.Status == config.AuthConnected {
		u := a.InstanceURL
		v.Params.URL = &u
	}
	return v
}

// authorizationError gives the service's errors that are not domain
// errors their status: Salesforce unreachable is a 502 bad_gateway, a bad
// OAuth state a 400. The others are config problems (not found, exists =
// conflict, invalid or not connected = invalid) that WriteError maps.
func authorizationError(err error) error {
	msg := authorization.Message(err)
	switch {
	case msg == "":
		return err
	case errors.Is(err, authorization.ErrUnreachable):
		return &Error{Status: http.StatusBadGateway, ID: "bad_gateway", Message: msg, Err: err}
	case errors.Is(err, authorization.ErrState):
		return badRequest("%s", msg)
	}
	return err
}

func (s *Server) listAuthorizations(ctx context.Context, t config.Tenant, _ *http.Request, _ []byte) (int, any, error) {
	list, err := s.auth.List(ctx, t.ID)
	if err != nil {
		return 0, nil, err
	}
	out := make([]authorizationView, 0, len(list))
	for _, a := range list {
		out = append(out, viewAuthorization(a))
	}
	return http.StatusOK, out, nil
}

func (s *Server) getAuthorization(ctx context.Context, t config.Tenant, r *http.Request, _ []byte) (int, any, error) {
	a, err := s.auth.Get(ctx, t.ID, r.PathValue("ref"))
	if err != nil {
		return 0, nil, authorizationError(err)
	}
	return http.StatusOK, viewAuthorization(a), nil
}

func (s *Server) deleteAuthorization(ctx context.Context, t config.Tenant, r *http.Request, _ []byte) (int, any, error) {
	a, err := s.auth.Destroy(ctx, t.ID, r.PathValue("ref"))
	if err != nil {
		return 0, nil, authorizationError(err)
	}
	return http.StatusOK, viewAuthorization(a), nil
}

func (s *Server) createAuthorization(ctx context.Context, t config.Tenant, _ *http.Request, body []byte) (int, any, error) {
	var req struct {
		Alias        string `json:"alias"`
		OrgName      string `json:"org_name"` // v0.0.1 name of the alias
		LoginURL     string `json:"login_url"`
		ClientID     string `json:"client_id"`
		ClientSecret string `json:"client_secret"`
		Username     string `json:"username"`
		JWTKey       string `json:"jwt_key"`
		Allocation   int64  `json:"allocation"`
	}
	if err := DecodeJSON(body, &req); err != nil {
		return 0, nil, err
	}
	alias := strings.TrimSpace(req.Alias)
	if org := strings.TrimSpace(req.OrgName); org != "" {
		if alias != "" && alias != org {
			return 0, nil, Invalid("alias and org_name name the same thing; they differ (%q, %q).", alias, org)
		}
		alias = org
	}
	c, err := s.auth.Create(ctx, t.ID, authorization.Request{
		Alias: alias, LoginURL: req.LoginURL, ClientID: strings.TrimSpace(req.ClientID), ClientSecret: req.ClientSecret,
		Username: strings.TrimSpace(req.Username), JWTKey: req.JWTKey, Allocation: req.Allocation,
	})
	if err != nil {
		return 0, nil, authorizationError(err)
	}
	v := viewAuthorization(c.Authorization)
	if c.AuthorizeURL != "" {
		v.Extra = map[string]any{"redirect_uri": c.AuthorizeURL}
	}
	return http.StatusCreated, v, nil
}

// writeCallbackPage writes the small page the OAuth callback answers, its
// title and message HTML-escaped (a message may quote the org's
// error_description). html/template would do the same for two strings and
// link text/template and its reflection into the api function (DESIGN §4:
// its size budget).
func writeCallbackPage(w io.Writer, title, message string) error {
	t, m := html.EscapeString(title), html.EscapeString(message)
	_, err := fmt.Fprintf(w, `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>%s · Heroku Events</title>
<style>body{font-family:system-ui,sans-serif;max-width:36em;margin:4em auto;padding:0 1em;color:#222}</style></head>
<body><h1>%s</h1><p>%s</p></body></html>
`, t, t, m)
	return err
}

// oauthCallback completes the web flow and answers a small page for the
// user's browser.
func (s *Server) oauthCallback(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	q := r.URL.Query()
	a, err := s.auth.Callback(ctx, q.Get("state"), q.Get("code"), q.Get("error"), q.Get("error_description"))
	status, title, msg := http.StatusOK, "Connected",
		fmt.Sprintf("Heroku Events is connected to Salesforce as %s (%s). You can close this window.", a.Alias, a.InstanceURL)
	if err != nil {
		title, msg = "Not connected", authorization.Message(err)
		switch {
		case errors.Is(err, authorization.ErrState):
			status = http.StatusBadRequest
		case errors.Is(err, authorization.ErrNotConnected):
			status = http.StatusBadRequest
		default:
			status, msg = http.StatusInternalServerError, "Something went wrong while connecting to Salesforce. Please try again."
			s.log.ErrorContext(ctx, "oauth callback failed", "err", err)
		}
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("Referrer-Policy", "no-referrer")
	w.Header().Set("Content-Security-Policy", "default-src 'none'; style-src 'unsafe-inline'")
	w.WriteHeader(status)
	_ = writeCallbackPage(w, title, msg)
}
