// Package httpjson is the JSON edge shared by every HTTP role (api, ingest,
// partner): request bodies read and decoded with one set of limits, and
// errors written as a status plus {"id": …, "message": …}.
//
// Domain packages return domain errors (config.ErrNotFound, ErrConflict,
// ErrInvalid, usually as a *config.Problem); WriteError is the one place
// that maps them to HTTP statuses.
package httpjson

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"

	"github.com/herokuevents/herokuevents/shared/config"
)

// MaxBody is the largest request body accepted (the SQS message limit).
const MaxBody = 1 << 20

// MaxDepth is the deepest JSON nesting accepted in a request body.
const MaxDepth = 32

// Error is an HTTP error: a status and the JSON body {"id", "message"}.
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

// Errorf returns an *Error with a formatted message.
func Errorf(status int, id, format string, args ...any) error {
	return &Error{Status: status, ID: id, Message: fmt.Sprintf(format, args...)}
}

// BadRequest returns a 400 bad_request error.
func BadRequest(format string, args ...any) error {
	return Errorf(http.StatusBadRequest, "bad_request", format, args...)
}

// Unauthorized is the answer to missing or wrong credentials.
var Unauthorized = &Error{Status: http.StatusUnauthorized, ID: "unauthorized", Message: "Invalid credentials provided."}

// NotFoundRoute is the answer to a path no route serves.
var NotFoundRoute = &Error{Status: http.StatusNotFound, ID: "not_found", Message: "No such route."}

// internal is what a client sees of an unexpected error; the caller logs it.
var internal = &Error{Status: http.StatusInternalServerError, ID: "internal_error", Message: "Internal error, please try again."}

// AsError returns the HTTP form of err: an *Error as it is; a
// *config.Problem with the status of its kind (ErrInvalid 422
// invalid_params, ErrNotFound 404 not_found, ErrConflict 409 conflict);
// anything else is a 500 internal_error whose detail is not shown.
func AsError(err error) *Error {
	var e *Error
	if errors.As(err, &e) {
		return e
	}
	var p *config.Problem
	if errors.As(err, &p) {
		switch {
		case errors.Is(p.Kind, config.ErrInvalid):
			return &Error{Status: http.StatusUnprocessableEntity, ID: "invalid_params", Message: p.Message, Err: err}
		case errors.Is(p.Kind, config.ErrNotFound):
			return &Error{Status: http.StatusNotFound, ID: "not_found", Message: p.Message, Err: err}
		case errors.Is(p.Kind, config.ErrConflict):
			return &Error{Status: http.StatusConflict, ID: "conflict", Message: p.Message, Err: err}
		}
	}
	return internal
}

// Internal reports whether err is shown as a 500 internal_error (the caller
// should log it).
func Internal(err error) bool { return AsError(err) == internal }

type body struct {
	ID      string `json:"id"`
	Message string `json:"message"`
}

// WriteError writes err (see AsError) as the JSON body {"id", "message"}
// with its status. A 401 carries a WWW-Authenticate challenge for Bearer and
// Basic unless the caller has set one already.
func WriteError(w http.ResponseWriter, err error) {
	e := AsError(err)
	if e.Status == http.StatusUnauthorized && w.Header().Get("WWW-Authenticate") == "" {
		w.Header().Set("WWW-Authenticate", `Bearer realm="herokuevents", Basic realm="herokuevents"`)
	}
	WriteJSON(w, e.Status, body{ID: e.ID, Message: e.Message})
}

// WriteJSON writes v as a JSON answer with status, not to be cached; a value
// that does not encode becomes a 500 internal_error.
func WriteJSON(w http.ResponseWriter, status int, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		status = http.StatusInternalServerError
		b = []byte(`{"id":"internal_error","message":"Internal error, please try again."}`)
	}
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_, _ = w.Write(append(b, '\n'))
}

// ReadBody reads the request body, at most MaxBody bytes. Its errors are
// *Error: 413 payload_too_large beyond MaxBody, 408 request_timeout when
// the server's read deadline passed, 400 bad_request when the body cannot
// be read otherwise.
func ReadBody(w http.ResponseWriter, r *http.Request) ([]byte, error) {
	b, err := io.ReadAll(http.MaxBytesReader(w, r.Body, MaxBody))
	if err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			return nil, Errorf(http.StatusRequestEntityTooLarge, "payload_too_large", "Request body is larger than %d bytes.", MaxBody)
		}
		if errors.Is(err, os.ErrDeadlineExceeded) {
			return nil, Errorf(http.StatusRequestTimeout, "request_timeout", "The request body was not received in time.")
		}
		return nil, BadRequest("Cannot read request body.")
	}
	return b, nil
}

// Decode decodes a request body that must be one JSON object into v (a
// pointer to a struct). Unknown fields are rejected. The errors: 400
// bad_request (*Error) for malformed JSON, a non-object or nesting deeper
// than MaxDepth; config.ErrInvalid problems (422) for unknown fields and
// wrong types.
func Decode(b []byte, v any) error { return decode(b, v, true) }

// DecodeLenient is Decode that ignores unknown fields.
func DecodeLenient(b []byte, v any) error { return decode(b, v, false) }

func decode(b []byte, v any, strict bool) error {
	if err := CheckObject(b); err != nil {
		return err
	}
	dec := json.NewDecoder(bytes.NewReader(TrimSpace(b)))
	if strict {
		dec.DisallowUnknownFields()
	}
	if err := dec.Decode(v); err != nil {
		var typeErr *json.UnmarshalTypeError
		switch {
		case errors.As(err, &typeErr) && typeErr.Field != "":
			return config.Invalid("Field %q must be %s.", typeErr.Field, kindName(typeErr.Type.Kind().String()))
		case strings.HasPrefix(err.Error(), "json: unknown field "):
			return config.Invalid("Unknown field %s.", strings.TrimPrefix(err.Error(), "json: unknown field "))
		default:
			return config.Invalid("Request body does not match the expected fields.")
		}
	}
	return nil
}

// CheckObject accepts b when it is one valid JSON object nested at most
// MaxDepth deep; otherwise it returns a 400 bad_request *Error saying why.
func CheckObject(b []byte) error {
	trimmed := TrimSpace(b)
	if len(trimmed) == 0 {
		return BadRequest("Request body must be a JSON object.")
	}
	if !json.Valid(trimmed) {
		return BadRequest("Request body is not valid JSON.")
	}
	if trimmed[0] != '{' {
		return BadRequest("Request body must be a JSON object.")
	}
	if Depth(trimmed) > MaxDepth {
		return BadRequest("Request body is nested deeper than %d levels.", MaxDepth)
	}
	return nil
}

// ShortLen is how many characters of a name or id an error message shows.
const ShortLen = 64

// Short returns s for an error message: its first ShortLen characters and
// an ellipsis when it is longer (a name or id taken from a request may be
// megabytes long).
func Short(s string) string {
	n := 0
	for i := range s {
		if n == ShortLen {
			return strings.ToValidUTF8(s[:i], "") + "…"
		}
		n++
	}
	return s
}

// TrimSpace returns b without the leading and trailing whitespace JSON
// allows (space, tab, CR, LF). Other Unicode spaces (\v, \f, U+0085,
// U+00A0) are not JSON whitespace: a body wrapped in them is invalid JSON
// (bytes.TrimSpace would drop them, and the body would pass a check that
// encoding it later fails).
func TrimSpace(b []byte) []byte { return bytes.Trim(b, " \t\r\n") }

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

// Depth returns the deepest nesting of objects and arrays in valid JSON.
func Depth(b []byte) int {
	d, deepest := 0, 0
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
			deepest = max(deepest, d)
		case c == '}' || c == ']':
			d--
		}
	}
	return deepest
}
