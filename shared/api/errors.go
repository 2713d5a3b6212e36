package api

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
)

// Error is an API error: an HTTP status and the JSON body {"id", "message"}.
// Err, when set, is the underlying cause (e.g. config.ErrConflict) for
// errors.Is; it is never shown.
type Error struct {
	Status  int
	ID      string
	Message string
	Err     error
}

func (e *Error) Error() string { return e.Message }

// Unwrap returns the cause.
func (e *Error) Unwrap() error { return e.Err }

// Invalid returns a 422 invalid_params error with a formatted message; use it
// from platform builders for bad parameters.
func Invalid(format string, args ...any) error {
	return &Error{Status: http.StatusUnprocessableEntity, ID: "invalid_params", Message: fmt.Sprintf(format, args...)}
}

func badRequest(format string, args ...any) error {
	return &Error{Status: http.StatusBadRequest, ID: "bad_request", Message: fmt.Sprintf(format, args...)}
}

func notFound(msg string) error {
	return &Error{Status: http.StatusNotFound, ID: "not_found", Message: msg}
}

func conflict(msg string, cause error) error {
	return &Error{Status: http.StatusConflict, ID: "conflict", Message: msg, Err: cause}
}

var errUnauthorized = &Error{Status: http.StatusUnauthorized, ID: "unauthorized", Message: "Invalid credentials provided."}

type errorBody struct {
	ID      string `json:"id"`
	Message string `json:"message"`
}

// WriteError writes err as the JSON body {"id", "message"} with its status.
// Errors that are not *Error are internal and shown without detail: the
// caller logs them. A 401 carries a WWW-Authenticate challenge for Bearer
// and Basic unless the caller has set one already (routes that take only
// Basic set their own).
func WriteError(w http.ResponseWriter, err error) {
	var e *Error
	if !errors.As(err, &e) {
		e = &Error{Status: http.StatusInternalServerError, ID: "internal_error", Message: "Internal error, please try again."}
	}
	if e.Status == http.StatusUnauthorized && w.Header().Get("WWW-Authenticate") == "" {
		w.Header().Set("WWW-Authenticate", `Bearer realm="herokuevents", Basic realm="herokuevents"`)
	}
	WriteJSON(w, e.Status, errorBody{ID: e.ID, Message: e.Message})
}

// WriteJSON writes v as a JSON answer with status, not to be cached; a value
// that does not encode becomes a 500 internal_error.
func WriteJSON(w http.ResponseWriter, status int, v any) {
	body, err := json.Marshal(v)
	if err != nil {
		status = http.StatusInternalServerError
		body = []byte(`{"id":"internal_error","message":"Internal error, please try again."}`)
	}
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_, _ = w.Write(append(body, '\n'))
}

// ReadBody reads the request body, at most MaxBody bytes. Its errors are
// *Error: 413 payload_too_large beyond MaxBody, 400 bad_request when the
// body cannot be read.
func ReadBody(w http.ResponseWriter, r *http.Request) ([]byte, error) {
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, MaxBody))
	if err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			return nil, &Error{Status: http.StatusRequestEntityTooLarge, ID: "payload_too_large",
				Message: fmt.Sprintf("Request body is larger than %d bytes.", MaxBody)}
		}
		return nil, badRequest("Cannot read request body.")
	}
	return body, nil
}

// DecodeJSON decodes a request body that must be one JSON object into v
// (a pointer to a struct). Unknown fields are rejected. The errors are *Error:
// 400 bad_request for malformed JSON, a non-object or nesting deeper than
// MaxDepth; 422 invalid_params for unknown fields and wrong types.
func DecodeJSON(body []byte, v any) error {
	return decode(body, v, true)
}

func decode(body []byte, v any, strict bool) error {
	trimmed := bytes.TrimSpace(body)
	if len(trimmed) == 0 {
		return badRequest("Request body must be a JSON object.")
	}
	if !json.Valid(trimmed) {
		return badRequest("Request body is not valid JSON.")
	}
	if trimmed[0] != '{' {
		return badRequest("Request body must be a JSON object.")
	}
	if depth(trimmed) > MaxDepth {
		return badRequest("Request body is nested deeper than %d levels.", MaxDepth)
	}
	dec := json.NewDecoder(bytes.NewReader(trimmed))
	if strict {
		dec.DisallowUnknownFields()
	}
	if err := dec.Decode(v); err != nil {
		var typeErr *json.UnmarshalTypeError
		switch {
		case errors.As(err, &typeErr) && typeErr.Field != "":
			return Invalid("Field %q must be %s.", typeErr.Field, kindName(typeErr.Type.Kind().String()))
		case strings.HasPrefix(err.Error(), "json: unknown field "):
			return Invalid("Unknown field %s.", strings.TrimPrefix(err.Error(), "json: unknown field "))
		default:
			return Invalid("Request body does not match the expected fields.")
		}
	}
	return nil
}

func kindName(k string) string {
	switch k {
	case "string":
		return "a string"
	case "map", "struct":
		return "an object"
	case "slice", "array":
		return "an array"
	case "bool":
		return "a boolean"
	case "ptr":
		return "a string or null"
	default:
		return "a number"
	}
}

// depth returns the deepest nesting of objects and arrays in valid JSON.
func depth(b []byte) int {
	d, max := 0, 0
	inString, escaped := false, false
	for _, c := range b {
		switch {
		case inString:
			switch {
			case escaped:
				escaped = false
			case c == '\\':
				escaped = true
			case c == '"':
				inString = false
			}
		case c == '"':
			inString = true
		case c == '{' || c == '[':
			d++
			if d > max {
				max = d
			}
		case c == '}' || c == ']':
			d--
		}
	}
	return max
}
