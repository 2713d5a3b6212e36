package standin

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"sort"
	"time"

	"github.com/google/uuid"
)

// DataAction is a data action the stand-in's Data Cloud sends to a webhook
// target (reference salesforce.md §5.3): one request carrying one
// DataObjectDataChgEvent per record, signed with the target's key.
type DataAction struct {
	// URL is the webhook target; Key its signing key.
	URL string `json:"url"`
	Key string `json:"key"`
	// Action is the data action's developer name (ActionDeveloperName,
	// the schemaId); Object the data model object that changed
	// (SourceObjectDeveloperName).
	Action string `json:"action"`
	Object string `json:"object"`
	// Prompt is EventPrompt: INSERT (default), UPDATE or DELETE.
	Prompt string `json:"prompt,omitempty"`
	// Records are the current values of the changed records (each sent as
	// the JSON string PayloadCurrentValue, as Data Cloud does).
	Records []json.RawMessage `json:"records"`
	// Created is the request's creationDateTime; now when zero.
	Created time.Time `json:"created,omitzero"`
}

// Body returns the request body Data Cloud sends for a: creationDateTime,
// count, the action's schema and the events.
func (a DataAction) Body() ([]byte, error) {
	if a.Action == "" || a.Object == "" || len(a.Records) == 0 {
		return nil, errors.New("data action: action, object and at least one record are required")
	}
	created := a.Created
	if created.IsZero() {
		created = time.Now()
	}
	prompt := a.Prompt
	if prompt == "" {
		prompt = "INSERT"
	}
	const layout = "2006-01-02T15:04:05.000Z"
	fields := map[string]bool{}
	events := make([]map[string]any, 0, len(a.Records))
	for i, r := range a.Records {
		var rec map[string]any
		if err := json.Unmarshal(r, &rec); err != nil {
			return nil, fmt.Errorf("data action record %d: not a JSON object: %w", i, err)
		}
		for k := range rec {
			fields[k] = true
		}
		events = append(events, map[string]any{
			"ActionDeveloperName":       a.Action,
			"EventCreationDateTime":     created.UTC().Format(layout),
			"EventPublishDateTime":      created.UTC().Format(layout),
			"EventPrompt":               prompt,
			"EventSchemaVersion":        "1",
			"EventType":                 "DataObjectDataChgEvent",
			"EventUuid":                 uuid.NewString(),
			"Offset":                    i,
			"PayloadCurrentValue":       string(r),
			"PayloadPrevValue":          nil,
			"SourceObjectDeveloperName": a.Object,
			"TriggerEntity":             a.Object,
		})
	}
	names := make([]map[string]string, 0, len(fields))
	keys := make([]string, 0, len(fields))
	for k := range fields {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		names = append(names, map[string]string{"name": k})
	}
	return json.Marshal(map[string]any{
		"creationDateTime": created.UTC().Format(layout),
		"count":            len(events),
		"schemas":          []map[string]any{{"schemaId": a.Action, "schema": map[string]any{"fields": names}}},
		"events":           events,
	})
}

// DataActionSignature is the x-signature of body with key: base64 of its
// HMAC-SHA256 (key and message as UTF-8), as Data Cloud signs.
func DataActionSignature(key string, body []byte) string {
	m := hmac.New(sha256.New, []byte(key))
	m.Write(body)
	return base64.StdEncoding.EncodeToString(m.Sum(nil))
}

// DataActionResult is the target's answer.
type DataActionResult struct {
	Status int             `json:"status"`
	Body   json.RawMessage `json:"body,omitempty"`
}

// SendDataAction POSTs a to its target with client and returns the answer.
func SendDataAction(ctx context.Context, client *http.Client, a DataAction) (DataActionResult, error) {
	if a.Key == "" || a.URL == "" {
		return DataActionResult{}, errors.New("data action: the target's url and signing key are required")
	}
	body, err := a.Body()
	if err != nil {
		return DataActionResult{}, err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, a.URL, bytes.NewReader(body))
	if err != nil {
		return DataActionResult{}, fmt.Errorf("data action: %w", err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("x-signature", DataActionSignature(a.Key, body))
	resp, err := client.Do(req)
	if err != nil {
		return DataActionResult{}, fmt.Errorf("send data action: %w", err)
	}
	defer resp.Body.Close()
	rb, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return DataActionResult{}, fmt.Errorf("read data action answer: %w", err)
	}
	res := DataActionResult{Status: resp.StatusCode}
	if json.Valid(rb) {
		res.Body = rb
	}
	return res, nil
}

// handleDataAction is POST /_stand-in/data-action: the org's Data Cloud
// sends the data action of the body ({url, key, action, object, prompt?,
// records}) and answers what the target answered.
func (o *Org) handleDataAction(w http.ResponseWriter, r *http.Request) {
	var a DataAction
	if err := json.NewDecoder(io.LimitReader(r.Body, 1<<20)).Decode(&a); err != nil {
		writeJSON(w, http.StatusBadRequest, map[string]string{"id": "invalid_params", "message": "body: " + err.Error()})
		return
	}
	res, err := SendDataAction(r.Context(), &http.Client{Timeout: 30 * time.Second}, a)
	if err != nil {
		writeJSON(w, http.StatusBadGateway, map[string]string{"id": "data_action_failed", "message": err.Error()})
		return
	}
	writeJSON(w, http.StatusOK, res)
}
