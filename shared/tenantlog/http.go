package tenantlog

import (
	"errors"
	"net/http"
	"strconv"
	"strings"

	"github.com/herokuevents/herokuevents/shared/config"
	"github.com/herokuevents/herokuevents/shared/httpjson"
)

// LinesPattern is the route of a tenant's kept lines (the embedded mode
// serves it; `herokuevents logs` reads it).
const LinesPattern = "GET /v1/tenants/{tenant}/logs"

// MaxLines is the most lines one read returns.
const MaxLines = 1500

// linesView is the answer of LinesPattern.
type linesView struct {
	Lines []lineView `json:"lines"`
	// Next is the seq to pass as ?after= to read only newer lines.
	Next uint64 `json:"next"`
}

type lineView struct {
	Seq  uint64 `json:"seq"`
	Line string `json:"line"`
}

var errUnauthorized = &httpjson.Error{Status: http.StatusUnauthorized, ID: "unauthorized", Message: "Invalid credentials provided."}

// LinesHandler serves LinesPattern: ?n= (1 to MaxLines, 100 by default)
// of the tenant's kept lines after ?after= (a seq), oldest first, as
// `heroku logs` prints them. The tenant authenticates with its API key
// (Bearer, or the password of Basic auth) as on the management API.
func (s *Shipper) LinesHandler(store config.Store) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		id := r.PathValue("tenant")
		t, err := config.Load[config.Tenant](r.Context(), store, "", config.KindTenant, id)
		key := apiKey(r)
		switch {
		case err != nil && !errors.Is(err, config.ErrNotFound):
			s.o.Logger.ErrorContext(r.Context(), "load tenant", "tenant", id, "err", err)
			httpjson.WriteError(w, err)
			return
		case err != nil || t.Value.ID != id || key == "" || !config.KeyMatches(key, t.Value.APIKeyHash):
			httpjson.WriteError(w, errUnauthorized)
			return
		}
		q := r.URL.Query()
		n, after := 100, uint64(0)
		if v := q.Get("n"); v != "" {
			if n, err = strconv.Atoi(v); err != nil || n < 1 || n > MaxLines {
				httpjson.WriteError(w, httpjson.BadRequest("n must be a number from 1 to %d.", MaxLines))
				return
			}
		}
		if v := q.Get("after"); v != "" {
			if after, err = strconv.ParseUint(v, 10, 64); err != nil {
				httpjson.WriteError(w, httpjson.BadRequest("after must be a line number."))
				return
			}
		}
		out := linesView{Lines: []lineView{}, Next: after}
		for _, l := range s.Lines(id, after, n) {
			out.Lines = append(out.Lines, lineView{Seq: l.Seq, Line: l.String()})
			out.Next = l.Seq
		}
		httpjson.WriteJSON(w, http.StatusOK, out)
	})
}

// apiKey is the key of "Authorization: Bearer K" or the password of Basic
// auth.
func apiKey(r *http.Request) string {
	if _, pass, ok := r.BasicAuth(); ok {
		return pass
	}
	scheme, token, ok := strings.Cut(r.Header.Get("Authorization"), " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") {
		return ""
	}
	return strings.TrimSpace(token)
}
