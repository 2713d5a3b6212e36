package standin

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strings"
	"sync"
)

// The built-in Data Cloud Ingestion API object, shaped like the resource
// model's example publication.
const (
	DataCloudConnector = "salesConnector"
	DataCloudObject    = "HighPriorityOrder"
)

// dataCloudMaxBody is the Ingestion API body limit.
const dataCloudMaxBody = 200 << 10

// dataCloudTokenTTL is the expires_in of stand-in Data Cloud tokens (the
// real ones last about 2 hours).
const dataCloudTokenTTL = 7191

// dataCloud is the org's Data Cloud tenant: Ingestion API schemas, issued
// tokens, accepted records and injected faults.
type dataCloud struct {
	mu       sync.Mutex
	schemas  map[string][]string // connector/object → fields
	tokens   map[string]bool     // token → expired
	ingested map[string][]map[string]any
	faults   []Fault
}

// Fault is an answer the Ingestion API gives instead of processing a
// request (see FailIngest).
type Fault struct {
	Status     int
	RetryAfter string // Retry-After header value, if any
}

func (o *Org) dc() *dataCloud {
	o.dcOnce.Do(func() {
		o.dcState = &dataCloud{
			schemas:  map[string][]string{DataCloudConnector + "/" + DataCloudObject: {"OrderId", "TotalValue", "Status"}},
			tokens:   map[string]bool{},
			ingested: map[string][]map[string]any{},
		}
	})
	return o.dcState
}

// RegisterIngestionObject adds (or replaces) an object of an Ingestion API
// connector with its schema fields, all of which each record must carry.
func (o *Org) RegisterIngestionObject(connector, object string, fields ...string) {
	d := o.dc()
	d.mu.Lock()
	defer d.mu.Unlock()
	d.schemas[connector+"/"+object] = slices.Clone(fields)
}

// Ingested returns the records the Ingestion API accepted for a connector's
// object, in order.
func (o *Org) Ingested(connector, object string) []map[string]any {
	d := o.dc()
	d.mu.Lock()
	defer d.mu.Unlock()
	return slices.Clone(d.ingested[connector+"/"+object])
}

// ExpireDataCloudTokens makes every Data Cloud token issued so far answer
// 401; clients must exchange a core token again.
func (o *Org) ExpireDataCloudTokens() {
	d := o.dc()
	d.mu.Lock()
	defer d.mu.Unlock()
	for t := range d.tokens {
		d.tokens[t] = true
	}
}

// FailIngest makes the next ingest requests answer the given faults, one
// each, in order (after authentication, before validation).
func (o *Org) FailIngest(faults ...Fault) {
	d := o.dc()
	d.mu.Lock()
	defer d.mu.Unlock()
	d.faults = append(d.faults, faults...)
}

// DataCloudInstanceURL is the tenant endpoint the token exchange returns:
// the HTTP server's host and port WITHOUT a scheme, as the real exchange
// sometimes answers.
func (o *Org) DataCloudInstanceURL() string { return strings.TrimPrefix(o.baseURL, "http://") }

func (o *Org) dataCloudRoutes(mux *http.ServeMux) {
	mux.HandleFunc("POST /services/a360/token", o.handleDataCloudToken)
	mux.HandleFunc("POST /api/v1/ingest/sources/{connector}/{object}", func(w http.ResponseWriter, r *http.Request) { o.handleIngest(w, r, true) })
	mux.HandleFunc("POST /api/v1/ingest/sources/{connector}/{object}/actions/test", func(w http.ResponseWriter, r *http.Request) { o.handleIngest(w, r, false) })
	mux.HandleFunc("GET /_stand-in/ingested", func(w http.ResponseWriter, r *http.Request) {
		recs := o.Ingested(r.URL.Query().Get("connector"), r.URL.Query().Get("object"))
		if recs == nil {
			recs = []map[string]any{}
		}
		writeJSON(w, http.StatusOK, recs)
	})
}

func (o *Org) handleDataCloudToken(w http.ResponseWriter, r *http.Request) {
	if r.FormValue("grant_type") != "urn:salesforce:grant-type:external:cdp" {
		oauthError(w, http.StatusBadRequest, "unsupported_grant_type", "grant type not supported")
		return
	}
	if r.FormValue("subject_token_type") != "urn:ietf:params:oauth:token-type:access_token" {
		oauthError(w, http.StatusBadRequest, "invalid_request", "unsupported subject_token_type")
		return
	}
	if !o.validToken(r.FormValue("subject_token")) {
		oauthError(w, http.StatusBadRequest, "invalid_grant", "invalid subject token")
		return
	}
	tok := "eyJdc." + randomString(48)
	d := o.dc()
	d.mu.Lock()
	d.tokens[tok] = false
	d.mu.Unlock()
	writeJSON(w, http.StatusOK, map[string]any{
		"access_token": tok, "instance_url": o.DataCloudInstanceURL(), "token_type": "Bearer",
		"issued_token_type": "urn:ietf:params:oauth:token-type:jwt", "expires_in": dataCloudTokenTTL,
	})
}

func ingestError(w http.ResponseWriter, status int, code, msg string) {
	writeJSON(w, status, map[string]any{"error": code, "message": msg})
}

func (o *Org) handleIngest(w http.ResponseWriter, r *http.Request, store bool) {
	d := o.dc()
	tok, _ := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	d.mu.Lock()
	expired, known := d.tokens[tok]
	var fault *Fault
	if known && !expired && len(d.faults) > 0 {
		f := d.faults[0]
		fault, d.faults = &f, d.faults[1:]
	}
	key := r.PathValue("connector") + "/" + r.PathValue("object")
	fields, hasSchema := d.schemas[key]
	d.mu.Unlock()
	switch {
	case !known || expired:
		ingestError(w, http.StatusUnauthorized, "invalid_token", "JWT is invalid or expired")
		return
	case fault != nil:
		if fault.RetryAfter != "" {
			w.Header().Set("Retry-After", fault.RetryAfter)
		}
		ingestError(w, fault.Status, "injected", http.StatusText(fault.Status))
		return
	case !hasSchema:
		ingestError(w, http.StatusNotFound, "NOT_FOUND", fmt.Sprintf("unknown object %s of source %s", r.PathValue("object"), r.PathValue("connector")))
		return
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, dataCloudMaxBody+1))
	if err != nil {
		ingestError(w, http.StatusBadRequest, "BAD_REQUEST", "read body")
		return
	}
	if len(body) > dataCloudMaxBody {
		ingestError(w, http.StatusBadRequest, "PAYLOAD_TOO_LARGE", "request body is over 200 KB")
		return
	}
	recs, err := validateIngest(body, fields)
	if err != nil {
		ingestError(w, http.StatusBadRequest, "INVALID_RECORD", err.Error())
		return
	}
	if !store {
		writeJSON(w, http.StatusOK, map[string]any{"valid": true})
		return
	}
	d.mu.Lock()
	d.ingested[key] = append(d.ingested[key], recs...)
	d.mu.Unlock()
	o.log.Info("data cloud stand-in ingested", "connector", r.PathValue("connector"), "object", r.PathValue("object"), "records", len(recs))
	writeJSON(w, http.StatusAccepted, map[string]bool{"accepted": true})
}

// validateIngest checks {"data":[record…]}: every record an object with
// every schema field present, and each value a JSON scalar or null.
func validateIngest(body []byte, fields []string) ([]map[string]any, error) {
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	var req struct {
		Data []map[string]any `json:"data"`
	}
	if err := dec.Decode(&req); err != nil {
		return nil, fmt.Errorf("malformed body: %w", err)
	}
	if len(req.Data) == 0 {
		return nil, fmt.Errorf("data must hold at least one record")
	}
	for i, rec := range req.Data {
		if rec == nil {
			return nil, fmt.Errorf("record %d is not an object", i)
		}
		for _, f := range fields {
			if _, ok := rec[f]; !ok {
				return nil, fmt.Errorf("record %d: missing field %s (every schema field must be present)", i, f)
			}
		}
		for k, v := range rec {
			switch v.(type) {
			case map[string]any, []any:
				return nil, fmt.Errorf("record %d: field %s must be a string, number, boolean or null", i, k)
			}
		}
	}
	return req.Data, nil
}
